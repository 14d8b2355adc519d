//! `cargo xtask bench NAME`: benchmarks that print a comparison table.
//! Results are recorded by hand in docs/benchmarks.md with the command.

mod backup;
mod measure;
mod mounts;
mod replicate;
mod seed;
mod sync;

#[derive(clap::Subcommand)]
pub(crate) enum Bench {
    /// adt-seed against tar xzf + rclone copy, uploading the images/ of a generated backup to the
    /// embedded emulator, then each again with nothing changed
    ///
    /// The backup (target/bench/seed-FILES-VIDEOS) is made once and reused. First runs are timed
    /// three times, each against a fresh emulator process, and the median kept. Needs tar and
    /// rclone.
    Seed(seed::SeedArgs),
    /// adt-backup create against rsync -a --exclude-from + tar czf, with images/ an s3fs mount
    /// that adt-backup must not read
    ///
    /// The webroot (target/bench/backup-FILES) is made once and reused; its images/ is an s3fs
    /// mount of an embedded-emulator bucket, through a proxy that counts requests. Each side runs
    /// three times and the median is kept. Needs rsync, tar, s3fs and fusermount3.
    Backup(backup::Args),
    /// adt-replicate against rclone copy between two emulator processes, then each again with
    /// nothing changed
    ///
    /// Each of three rounds seeds a fresh emulator with adt-seed (not timed), then copies its
    /// bucket to another fresh one with adt-replicate and to a third with rclone copy; the median
    /// is kept. The backup (target/bench/seed-FILES-VIDEOS) is shared with `bench seed`. Needs tar
    /// and rclone.
    Replicate(replicate::Args),
    /// adt-sync on three nodes: a cycle with nothing changed, 100 changed files reaching two
    /// peers in one cycle, peak memory; against ADT's rsync --dry-run --checksum against a
    /// shadow copy + tar czf on the same change set
    ///
    /// The webroot (target/bench/sync-FILES) is made once and reused; each run starts fresh
    /// nodes and a fresh emulator behind a proxy that counts requests. Timed runs are medians
    /// of three. Needs rsync and tar. `--files 200000` checks the memory target.
    Sync(sync::Args),
    /// Two webservers (two mounts of one bucket, as adt-mount makes them) per tool: how long
    /// after an upload, overwrite or delete on one the other reads it whole, against the tool's
    /// stated bound; small-file writes per second; a listing from the other webserver
    ///
    /// The embedded emulator sits behind a proxy adding --latency ms to every request. Needs
    /// root, /dev/fuse, s3fs, rclone and fusermount3.
    Mounts(mounts::Args),
}

pub(crate) fn run(bench: Bench) -> Result<(), String> {
    match bench {
        Bench::Seed(args) => seed::run(args),
        Bench::Backup(args) => backup::run(args),
        Bench::Replicate(args) => replicate::run(args),
        Bench::Sync(args) => sync::run(args),
        Bench::Mounts(args) => mounts::run(args),
    }
}

/// Builds these binaries of adt-cli (and xtask, for the emulator) with
/// the release profile; returns target/release.
fn build_release(bins: &[&str]) -> Result<std::path::PathBuf, String> {
    let mut args = vec![
        "build",
        "--release",
        "--locked",
        "-p",
        "adt-cli",
        "-p",
        "xtask",
        "--bin",
        "xtask",
    ];
    for bin in bins {
        args.extend(["--bin", bin]);
    }
    crate::cargo(&format!("build {} (release)", bins.join(", ")), &args, &[])?;
    Ok(crate::target_dir().join("release"))
}
