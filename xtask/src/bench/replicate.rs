//! `cargo xtask bench replicate`: adt-replicate against `rclone copy`
//! between two S3 endpoints (ADT copies asset buckets with rclone), both
//! copying the same seeded bucket from one emulator process to a fresh
//! other one over loopback, then each again with nothing changed.

use std::path::Path;
use std::process::Command;

use super::measure::{self, Measured};
use super::seed::{Config, count, median, prepare};
use crate::emulator::EmulatorProcess;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// Objects in the seeded bucket (files under images/ of the generated backup), videos included
    #[arg(long, value_name = "N", default_value_t = 5_000)]
    files: usize,
    /// How many of those objects are 20 MiB videos
    #[arg(long, value_name = "N", default_value_t = 3)]
    videos: usize,
    /// adt-replicate --jobs, and rclone copy --transfers and --checkers
    #[arg(long, value_name = "N", default_value_t = 32)]
    jobs: usize,
}

pub(crate) fn run(args: Args) -> Result<(), String> {
    let config = Config::new(args.files, args.videos, args.jobs)?;
    let release = super::build_release(&["adt-seed", "adt-replicate"])?;
    let root = crate::workspace_root();
    let work = root.join(format!("target/bench/seed-{}-{}", config.files, config.videos));
    let archive = prepare(&work, &config)?;
    let xtask = release.join("xtask");
    let site = work.join("site-replicate");
    std::fs::create_dir_all(&site).map_err(|e| e.to_string())?;

    // Each round: a fresh primary seeded with adt-seed (not timed), then
    // adt-replicate to one fresh emulator and rclone copy to another.
    let (mut adt_runs, mut rclone_runs) = (Vec::new(), Vec::new());
    let (mut adt_again, mut rclone_again) = (None, None);
    for round in 0..3 {
        let start = |name: &str| EmulatorProcess::start(&xtask, &work.join(format!("emulator-tmp-{name}")));
        let (primary, to_adt, to_rclone) = (start("primary")?, start("adt")?, start("rclone")?);
        let url = format!("bench{}r{round}.example.com", std::process::id());
        let bucket = adt_template::derive_bucket_name(&url, "images");
        let template = site.join("site.tmpl");
        let (key, secret) = (adt_testkit::ACCESS_KEY, adt_testkit::SECRET_KEY);
        std::fs::write(
            &template,
            format!(
                "export APPLICATION=\"joomla\"\nexport WEBSITE_URL=\"{url}\"\nexport BUILD_ARCHIVE_CHOICE=\"hourly\"\n\
                 export S3_ACCESS_KEY=\"{key}|{key}\"\nexport S3_SECRET_KEY=\"{secret}|{secret}\"\n\
                 export S3_HOST_BASE=\"{}|{}\"\nexport S3_LOCATION=\"us-east-1|us-east-1\"\n\
                 export DIRECTORIES_TO_MOUNT=\"images\"\nexport PERSIST_ASSETS_TO_DATASTORE=\"1\"\n",
                primary.endpoint, to_adt.endpoint
            ),
        )
        .map_err(|e| e.to_string())?;
        let mut seed = Command::new(release.join("adt-seed"));
        seed.arg("--template")
            .arg(&template)
            .arg("--archive")
            .arg(&archive)
            .args(["--no-cache", "--format", "json"]);
        measure::run(&format!("adt-seed the primary ({})", round + 1), seed)?;

        let replicate = || {
            let mut c = Command::new(release.join("adt-replicate"));
            c.arg("--template")
                .arg(&template)
                .args(["--jobs", &config.jobs.to_string(), "--format", "json"]);
            c
        };
        let first = measure::run(&format!("adt-replicate ({})", round + 1), replicate())?;
        if count(&first.stdout, "copied") as usize != config.files {
            return Err(format!(
                "adt-replicate copied {} objects, not {}",
                count(&first.stdout, "copied"),
                config.files
            ));
        }
        adt_runs.push(first);

        let config_file = site.join("rclone.conf");
        std::fs::write(
            &config_file,
            format!(
                "[primary]\ntype = s3\nprovider = Other\nendpoint = {}\nregion = us-east-1\naccess_key_id = {key}\nsecret_access_key = {secret}\n\n\
                 [copy]\ntype = s3\nprovider = Other\nendpoint = {}\nregion = us-east-1\naccess_key_id = {key}\nsecret_access_key = {secret}\n",
                primary.endpoint, to_rclone.endpoint
            ),
        )
        .map_err(|e| e.to_string())?;
        let rclone = || {
            let mut c = Command::new("rclone");
            let n = config.jobs.to_string();
            c.args(["copy", "--transfers", &n, "--checkers", &n])
                .arg(format!("primary:{bucket}"))
                .arg(format!("copy:{bucket}"))
                .arg("--config")
                .arg(&config_file)
                .env_remove("AWS_CA_BUNDLE");
            c
        };
        rclone_runs.push(measure::run(
            &format!(
                "rclone copy --transfers {n} --checkers {n} ({})",
                round + 1,
                n = config.jobs
            ),
            rclone(),
        )?);
        if round == 0 {
            let again = measure::run("adt-replicate, nothing changed", replicate())?;
            if count(&again.stdout, "copied") != 0 {
                return Err("a no-change adt-replicate run copied something".into());
            }
            adt_again = Some(again);
            rclone_again = Some(measure::run("rclone copy, nothing changed", rclone())?);
        }
    }
    let _ = std::fs::remove_dir_all(&site);
    let (adt, rclone) = (median(adt_runs), median(rclone_runs));
    let (adt_again, rclone_again) = (
        adt_again.ok_or("no second adt-replicate run")?,
        rclone_again.ok_or("no second rclone run")?,
    );
    print_table(
        &config,
        &archive,
        &[
            ("adt-replicate, first run (median of 3)", &adt),
            ("adt-replicate, nothing changed", &adt_again),
            ("rclone copy, first run (median of 3)", &rclone),
            ("rclone copy, nothing changed", &rclone_again),
        ],
    );
    println!(
        "adt-replicate vs rclone copy: {:.2}x the speed on a first run, {:.2}x with nothing changed; peak RSS {:.1} vs {:.1} MiB",
        rclone.seconds / adt.seconds,
        rclone_again.seconds / adt_again.seconds,
        adt.peak_rss_mib.max(adt_again.peak_rss_mib),
        rclone.peak_rss_mib.max(rclone_again.peak_rss_mib)
    );
    Ok(())
}

fn print_table(config: &Config, archive: &Path, rows: &[(&str, &Measured)]) {
    let mib = std::fs::metadata(archive)
        .map(|m| m.len() as f64 / 1048576.0)
        .unwrap_or(0.0);
    println!(
        "{} objects ({} videos of 20 MiB, {mib:.0} MiB in all) copied between two emulator processes; adt-replicate --jobs {j} / rclone --transfers {j} --checkers {j}\n",
        config.files,
        config.videos,
        j = config.jobs
    );
    println!("| run | wall time (s) | peak RSS (MiB) |\n| --- | ---: | ---: |");
    for (name, m) in rows {
        println!("| {name} | {:.2} | {:.1} |", m.seconds, m.peak_rss_mib);
    }
    println!();
}
