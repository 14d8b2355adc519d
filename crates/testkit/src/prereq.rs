//! Tests that need outside tools (s3fs, rclone, mergerfs, /dev/fuse) ask
//! here first. Under CI=true a missing tool fails the test, naming it;
//! elsewhere the test says it is skipped and how to install what is missing.

use std::path::Path;

/// True when every tool is on PATH (and /dev/fuse exists, if asked for).
/// Panics under CI=true when something is missing.
pub fn require_tools(tools: &[&str], fuse: bool) -> bool {
    let mut missing: Vec<String> = tools
        .iter()
        .filter(|t| which(t).is_none())
        .map(|t| t.to_string())
        .collect();
    if fuse && !Path::new("/dev/fuse").exists() {
        missing.push("/dev/fuse".into());
    }
    if missing.is_empty() {
        return true;
    }
    let message = format!(
        "missing prerequisites: {}; `cargo xtask doctor` lists them with the commands that install them (`cargo xtask test` installs them as root on Debian)",
        missing.join(", ")
    );
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{message}");
    }
    eprintln!("SKIPPED (not in CI): {message}");
    false
}

/// The full path of `tool` on PATH.
pub fn which(tool: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(tool))
        .find(|candidate| candidate.is_file())
}
