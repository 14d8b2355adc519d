//! `cargo xtask bench NAME`: benchmarks that print a comparison table.
//! Results are recorded by hand in docs/benchmarks.md with the command.

mod backup;
mod measure;
mod replicate;
mod seed;

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    match args.first().map(String::as_str) {
        Some("seed") => seed::run(&args[1..]),
        Some("backup") => backup::run(&args[1..]),
        Some("replicate") => replicate::run(&args[1..]),
        Some(other) => Err(format!("unknown benchmark `{other}` (known: seed, backup, replicate)")),
        None => Err("which benchmark? cargo xtask bench seed|backup|replicate".into()),
    }
}

/// Builds these binaries of adt-assets (and xtask, for the emulator) with
/// the release profile; returns target/release.
fn build_release(bins: &[&str]) -> Result<std::path::PathBuf, String> {
    let mut args = vec![
        "build",
        "--release",
        "--locked",
        "-p",
        "adt-assets",
        "-p",
        "xtask",
        "--bin",
        "xtask",
    ];
    for bin in bins {
        args.extend(["--bin", bin]);
    }
    crate::cargo(&format!("build {} (release)", bins.join(", ")), &args, &[])?;
    Ok(crate::workspace_root().join("target/release"))
}
