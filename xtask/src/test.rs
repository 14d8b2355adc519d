//! `cargo xtask test`: the whole check CI runs, in the order that fails
//! fastest (formatting, then lints, then tests).

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    if let Some(extra) = args.first() {
        return Err(format!("`test` takes no arguments (got `{extra}`)"));
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        eprintln!("xtask: CI=true: new or changed snapshots fail instead of being written");
    }
    crate::cargo("format", &["fmt", "--all", "--", "--check"])?;
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
    )?;
    crate::cargo("tests", &["test", "--workspace", "--locked"])?;
    eprintln!("xtask: all checks passed");
    Ok(())
}
