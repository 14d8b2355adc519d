//! `cargo xtask test`: the whole check CI runs, in the order that fails
//! fastest: prerequisites, formatting, lints, tests, then the suites that
//! talk S3 again against moto (the plain test run used the embedded emulator),
//! the embedding example (`crates/assets/examples/embed.rs`), then `cargo xtask demo`, whole and interrupted with Ctrl-C while mounted.

pub(crate) fn run() -> Result<(), String> {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        eprintln!("xtask: CI=true: missing prerequisites and new or changed snapshots fail");
    }
    crate::prereq::ensure()?;
    crate::cargo("format", &["fmt", "--all", "--", "--check"], &[])?;
    crate::cargo(
        "lint",
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--locked",
            "--",
            "-D",
            "warnings",
        ],
        &[],
    )?;
    crate::cargo(
        "tests (embedded emulator)",
        &["test", "--workspace", "--locked"],
        &[("ADT_TEST_S3", "embedded")],
    )?;
    crate::cargo(
        "the embedding example (front door, in-memory store)",
        &["run", "--locked", "-p", "adt-assets", "--example", "embed"],
        &[],
    )?;
    crate::e2e::run(&crate::e2e::Args {
        emulator: crate::e2e::Emulator::Moto,
        endpoint: None,
    })?;
    eprintln!("xtask: the demo, then the demo interrupted while mounted");
    crate::demo::run(&crate::demo::Args::default())?;
    crate::demo::check_interrupt()?;
    eprintln!("xtask: all checks passed");
    Ok(())
}
