//! `cargo xtask e2e`: the end-to-end and conformance suites against one S3.
//! The suites choose their S3 from ADT_TEST_S3 (see adt_testkit::TestEndpoint);
//! each creates uniquely named buckets and removes them.

/// (package, integration test target) of every suite that talks to S3.
const SUITES: &[(&str, &str)] = &[
    ("adt-datastore", "conformance"),
    ("adt-seeder", "seed"),
    ("adt-mount", "e2e"),
    ("adt-backup", "store"),
    ("adt-replicate", "replicate"),
];

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    crate::only_options(args, &["--emulator", "--endpoint"])?;
    let emulator = crate::option(args, "--emulator")?;
    let endpoint = crate::option(args, "--endpoint")?;
    match (emulator, endpoint) {
        (Some(_), Some(_)) => Err("give --emulator or --endpoint, not both".into()),
        (None, Some(url)) => {
            for var in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
                if std::env::var_os(var).is_none() {
                    return Err(format!("--endpoint needs {var} in the environment"));
                }
            }
            suites(&[("ADT_TEST_S3", "external"), ("ADT_TEST_ENDPOINT", url)])
        }
        (Some("embedded") | None, None) => suites(&[("ADT_TEST_S3", "embedded")]),
        (Some("moto"), None) => {
            if !crate::prereq::venv_dir().join("bin/moto_server").exists() {
                if std::env::var("CI").is_ok_and(|v| v == "true") {
                    return Err("moto_server is missing under CI=true; .ci/run must install it".into());
                }
                eprintln!("xtask: moto is not installed; installing it into target/moto-venv");
                crate::prereq::install_moto()?;
            }
            suites(&[("ADT_TEST_S3", "moto")])
        }
        (Some(other), None) => Err(format!("--emulator {other}: expected embedded or moto")),
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
