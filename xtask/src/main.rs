//! Project automation, run as `cargo xtask TASK` (alias in .cargo/config.toml).
//! One module per task.

mod bench;
mod demo;
mod doctor;
mod e2e;
mod emulator;
mod prereq;
mod test;

use std::process::ExitCode;

const HELP: &str = "\
cargo xtask TASK [OPTIONS]

Tasks:
  demo [--tool s3fs|rclone] [--keep]
                       the whole job end to end through the real binaries, against two
                       embedded S3 emulators: check, seed, mount (s3fs or rclone, and
                       mergerfs), upload through the mount, backup without the mounts,
                       replicate, unmount. Needs /dev/fuse; as root on Debian it installs
                       s3fs, mergerfs and fuse3 when missing. Cleans up, also on Ctrl-C
                       (--keep keeps the working directory).
  test                 what CI runs: cargo fmt --check, clippy -D warnings, every unit,
                       integration and snapshot test, then the end-to-end suites against
                       both emulators. Missing prerequisites fail under CI=true; otherwise
                       they are installed when running as root on Debian.
  e2e [--emulator embedded|moto] [--endpoint URL]
                       the end-to-end suites against the embedded emulator (default), moto,
                       or a real endpoint (credentials from AWS_ACCESS_KEY_ID,
                       AWS_SECRET_ACCESS_KEY, region from AWS_REGION)
  emulator [--port P]  run the embedded S3 emulator in the foreground and print its endpoint
                       and credentials as shell assignments (eval them); Ctrl-C stops it
  bench seed [--files N] [--videos N] [--jobs N]
                       adt-seed against tar xzf + rclone copy on a generated webroot of
                       20,000 files, then both again with nothing changed
  bench backup [--files N]
                       adt-backup create against rsync --exclude-from + tar czf, with the
                       asset directory an s3fs mount that must not be read
  doctor               what is present and missing (/dev/fuse, s3fs, rclone, mergerfs,
                       python3 venv, moto), with the command that installs each
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rest = args.get(1..).unwrap_or_default();
    let result = match args.first().map(String::as_str) {
        Some("test") => test::run(rest),
        Some("demo") => demo::run(rest),
        Some("e2e") => e2e::run(rest),
        Some("emulator") => emulator::run(rest),
        Some("doctor") => doctor::run(rest),
        Some("bench") => bench::run(rest),
        Some("-h" | "--help" | "help") => {
            print!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Some(other) => Err(format!("unknown task `{other}`\n\n{HELP}")),
        None => Err(HELP.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Runs `cargo ARGS` from the workspace root with extra environment,
/// failing with the step's name.
pub(crate) fn cargo(step: &str, args: &[&str], env: &[(&str, &str)]) -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let shown: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    eprintln!("xtask: {step}: {} cargo {}", shown.join(" "), args.join(" "));
    let status = std::process::Command::new(&cargo)
        .args(args)
        .envs(env.iter().copied())
        .current_dir(workspace_root())
        .status()
        .map_err(|e| format!("{step}: cannot run {cargo}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{step} failed ({status})"))
    }
}

pub(crate) fn workspace_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace root")
        .to_path_buf()
}

/// `--name value` from an argument list.
pub(crate) fn option<'a>(args: &'a [String], name: &str) -> Result<Option<&'a str>, String> {
    match args.iter().position(|a| a == name) {
        None => Ok(None),
        Some(i) => args
            .get(i + 1)
            .map(|v| Some(v.as_str()))
            .ok_or_else(|| format!("{name} needs a value")),
    }
}

/// Refuses arguments other than the given `--options` (each with a value).
pub(crate) fn only_options(args: &[String], allowed: &[&str]) -> Result<(), String> {
    let mut i = 0;
    while i < args.len() {
        if !allowed.contains(&args[i].as_str()) {
            return Err(format!(
                "unexpected argument `{}` (accepted: {})",
                args[i],
                allowed.join(", ")
            ));
        }
        i += 2;
    }
    Ok(())
}
