//! Which S3 a conformance or end-to-end test talks to, chosen by
//! ADT_TEST_S3: `embedded` (default), `moto`, or `external` (a real
//! endpoint: ADT_TEST_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
//! AWS_REGION). A target that cannot start fails the test: nothing is skipped.

use crate::emulator::{self, Emulator};
use crate::moto::Moto;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum S3Target {
    Embedded,
    Moto,
    External,
}

impl S3Target {
    pub fn from_env() -> S3Target {
        match std::env::var("ADT_TEST_S3").as_deref() {
            Ok("moto") => S3Target::Moto,
            Ok("external") => S3Target::External,
            Ok("embedded") | Ok("") | Err(_) => S3Target::Embedded,
            Ok(other) => panic!("ADT_TEST_S3={other}: expected embedded, moto or external"),
        }
    }
}

enum Guard {
    Embedded(#[allow(dead_code)] Emulator),
    Moto(#[allow(dead_code)] Moto),
    None,
}

/// An S3 endpoint for a test, kept alive as long as this value.
pub struct TestEndpoint {
    pub target: S3Target,
    pub endpoint: String,
    pub access_key: String,
    pub secret_key: String,
    pub region: String,
    _guard: Guard,
}

impl TestEndpoint {
    /// A datastore client for this endpoint.
    pub fn store(&self) -> adt_datastore::Store {
        let endpoint = adt_datastore::Endpoint::parse(&self.endpoint, Some(&self.region)).expect("the test endpoint");
        adt_datastore::Store::connect(&adt_datastore::Connection::new(
            endpoint,
            adt_datastore::Secret::new(&self.access_key),
            adt_datastore::Secret::new(&self.secret_key),
        ))
        .expect("a client for the test endpoint")
    }

    /// The endpoint ADT_TEST_S3 asks for. Panics, naming what is missing,
    /// when it cannot be had: a test must fail rather than skip.
    pub fn from_env() -> TestEndpoint {
        TestEndpoint::start(S3Target::from_env())
    }

    pub fn start(target: S3Target) -> TestEndpoint {
        match target {
            S3Target::Embedded => {
                let emulator = Emulator::start().expect("start the embedded S3 emulator");
                TestEndpoint {
                    target,
                    endpoint: emulator.endpoint(),
                    access_key: emulator::ACCESS_KEY.into(),
                    secret_key: emulator::SECRET_KEY.into(),
                    region: emulator::REGION.into(),
                    _guard: Guard::Embedded(emulator),
                }
            }
            S3Target::Moto => {
                let moto = Moto::start().unwrap_or_else(|e| panic!("{e}"));
                TestEndpoint {
                    target,
                    endpoint: moto.endpoint(),
                    access_key: "moto-test-access".into(),
                    secret_key: "moto-test-secret".into(),
                    region: "us-east-1".into(),
                    _guard: Guard::Moto(moto),
                }
            }
            S3Target::External => {
                let var =
                    |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("ADT_TEST_S3=external needs {name}"));
                TestEndpoint {
                    target,
                    endpoint: var("ADT_TEST_ENDPOINT"),
                    access_key: var("AWS_ACCESS_KEY_ID"),
                    secret_key: var("AWS_SECRET_ACCESS_KEY"),
                    region: std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into()),
                    _guard: Guard::None,
                }
            }
        }
    }
}
