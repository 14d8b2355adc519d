//! Project automation, run as `cargo xtask TASK` (alias in .cargo/config.toml).
//! One module per task.

mod bench;
mod demo;
mod dist;
mod doctor;
mod e2e;
mod emulator;
mod prereq;
mod test;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Project automation, run as `cargo xtask TASK` (an alias in .cargo/config.toml).
#[derive(Parser)]
#[command(name = "xtask", bin_name = "cargo xtask", arg_required_else_help = true)]
#[command(subcommand_value_name = "TASK", subcommand_help_heading = "Tasks")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// The whole job end to end through the real binaries, against two embedded S3 emulators;
    /// cleans up, also on Ctrl-C
    ///
    /// Builds the binaries, starts two `cargo xtask emulator` processes (datastores 1 and 2) and
    /// writes a small Joomla-like site, then: its hourly backup (adt-backup create), adt-check of
    /// its template, adt-seed of its asset buckets from that backup, adt-mount of the buckets in
    /// place of images/ and media/ (s3fs or rclone, and mergerfs), a new upload through the mount,
    /// adt-backup with the mounts left out, adt-replicate to datastore 2, adt-mount unmount. Every
    /// step checks its outcome. It works in $TMPDIR/adt-demo-PID, removed at the end (also when a
    /// step fails or on Ctrl-C) unless --keep.
    ///
    /// Needs /dev/fuse, and root or `user_allow_other` in /etc/fuse.conf; as root on Debian it
    /// installs fuse3, mergerfs and the mount tool when missing.
    Demo(demo::Args),
    /// What CI runs: prerequisites, fmt, clippy, every test, the embedding example, the S3 suites
    /// against moto, then the demo, whole and interrupted
    ///
    /// In order, stopping at the first failure: the prerequisites (see `cargo xtask doctor`),
    /// `cargo fmt --all -- --check`, `cargo clippy --workspace --all-targets --locked -- -D
    /// warnings`, `cargo test --workspace --locked` against the embedded emulator, `cargo run -p
    /// adt-assets --example embed`, `cargo xtask e2e --emulator moto`, `cargo xtask demo`, then a demo interrupted with Ctrl-C while mounted,
    /// which must exit 130 and leave nothing mounted or behind.
    ///
    /// Under CI=true a missing prerequisite fails the run (as do new or changed snapshots);
    /// otherwise missing prerequisites are installed when running as root on Debian, or the
    /// commands that install them are printed.
    Test,
    /// The S3 end-to-end and conformance suites against one S3: the embedded emulator (default),
    /// moto, or a real endpoint
    ///
    /// Runs each integration suite that talks to S3 (the list is in xtask/src/e2e.rs) with
    /// ADT_TEST_S3 set accordingly; each suite creates uniquely named buckets and removes them.
    E2e(e2e::Args),
    /// The embedded S3 emulator in the foreground; prints its endpoint and credentials as shell
    /// assignments (eval them); Ctrl-C stops it
    ///
    /// Prints AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_REGION on stdout.
    /// It listens on 127.0.0.1, path-style, and checks SigV4 signatures. Ctrl-C or SIGTERM stops
    /// it.
    Emulator(emulator::Args),
    /// Benchmarks against the usual tools, each printing a comparison table (recorded by hand in
    /// docs/benchmarks.md)
    ///
    /// Each builds what it measures with the release profile and works under target/bench, where
    /// the generated input is kept for the next run with the same sizes.
    #[command(subcommand_value_name = "BENCHMARK", subcommand_help_heading = "Benchmarks")]
    #[command(arg_required_else_help = true)]
    Bench {
        #[command(subcommand)]
        bench: bench::Bench,
    },
    /// What a release ships, in target/dist/: the release binaries, man pages, shell completions
    /// and a Debian package
    ///
    /// Builds adt-cli with the release profile; each binary writes its man pages (one per
    /// subcommand too) and its bash, zsh and fish completions; then dpkg-deb packages them with
    /// the README and docs as the `[package.metadata.deb]` table of crates/cli/Cargo.toml says
    /// (Depends: fuse3, s3fs; Recommends: mergerfs, rclone). Install with `apt install
    /// ./target/dist/adt-tools_VERSION_ARCH.deb`.
    Dist,
    /// What is present and missing (/dev/fuse, fusermount3, s3fs, rclone, mergerfs, rsync, python3
    /// venv, moto_server), with the command that installs each
    ///
    /// Fails when anything is missing; `cargo xtask test` installs what is missing when run as
    /// root on Debian.
    Doctor,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.task {
        Task::Test => test::run(),
        Task::Demo(args) => demo::run(&args),
        Task::E2e(args) => e2e::run(&args),
        Task::Emulator(args) => emulator::run(&args),
        Task::Doctor => doctor::run(),
        Task::Dist => dist::run(),
        Task::Bench { bench } => bench::run(bench),
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

/// Where cargo builds: `cargo metadata`'s target directory, which honours
/// CARGO_TARGET_DIR and `build.target-dir` in any .cargo/config.toml
/// (else `target/` in the workspace).
pub(crate) fn target_dir() -> std::path::PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    std::process::Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
        .current_dir(workspace_root())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| serde_json::from_slice::<serde_json::Value>(&o.stdout).ok())
        .and_then(|m| m["target_directory"].as_str().map(std::path::PathBuf::from))
        .unwrap_or_else(|| workspace_root().join("target"))
}

pub(crate) fn workspace_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace root")
        .to_path_buf()
}
