//! `cargo xtask e2e`: the end-to-end and conformance suites against one S3.
//! The suites choose their S3 from ADT_TEST_S3 (see adt_testkit::TestEndpoint);
//! each creates uniquely named buckets and removes them.

/// (package, integration test target) of every suite that talks to S3.
const SUITES: &[(&str, &str)] = &[
    ("adt-datastore", "conformance"),
    ("adt-seeder", "seed"),
    ("adt-mounts", "e2e"),
    ("adt-mounts", "webservers"),
    ("adt-backups", "store"),
    ("adt-replication", "replicate"),
    ("adt-assets", "site"),
    ("adt-webroot-sync", "nodes"),
];

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The emulator the suites start
    #[arg(long, value_enum, default_value_t = Emulator::Embedded, conflicts_with = "endpoint")]
    pub emulator: Emulator,
    /// A real S3 endpoint instead: credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY
    /// (required), region from AWS_REGION (default us-east-1)
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub(crate) enum Emulator {
    /// The embedded emulator (Rustack's S3), started inside the test processes
    Embedded,
    /// moto_server from target/moto-venv, installed there when missing (except under CI=true)
    Moto,
}

pub(crate) fn run(args: &Args) -> Result<(), String> {
    match (args.emulator, args.endpoint.as_deref()) {
        (_, Some(url)) => {
            for var in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
                if std::env::var_os(var).is_none() {
                    return Err(format!("--endpoint needs {var} in the environment"));
                }
            }
            suites(&[("ADT_TEST_S3", "external"), ("ADT_TEST_ENDPOINT", url)])
        }
        (Emulator::Embedded, None) => suites(&[("ADT_TEST_S3", "embedded")]),
        (Emulator::Moto, None) => {
            if !crate::prereq::venv_dir().join("bin/moto_server").exists() {
                if std::env::var("CI").is_ok_and(|v| v == "true") {
                    return Err("moto_server is missing under CI=true; .ci/run must install it".into());
                }
                eprintln!("xtask: moto is not installed; installing it into target/moto-venv");
                crate::prereq::install_moto()?;
            }
            suites(&[("ADT_TEST_S3", "moto")])
        }
    }
}

fn suites(env: &[(&str, &str)]) -> Result<(), String> {
    for (package, test) in SUITES {
        crate::cargo(
            &format!("e2e {package}/{test}"),
            &["test", "--locked", "-p", package, "--test", test],
            env,
        )?;
    }
    Ok(())
}
