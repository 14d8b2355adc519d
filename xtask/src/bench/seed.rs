//! `cargo xtask bench seed`: adt-seed against the usual way (extract the
//! backup, then `rclone copy --transfers 16 --checkers 16`), both uploading
//! the same asset directory of the same archive to the embedded emulator
//! over loopback, then each again with nothing changed.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::measure::{self, Measured};
use crate::emulator::EmulatorProcess;

#[derive(clap::Args)]
pub(crate) struct SeedArgs {
    /// Files under images/ in the generated backup, videos included: what each first run uploads
    #[arg(long, value_name = "N", default_value_t = 20_000)]
    files: usize,
    /// How many of those files are 20 MiB videos
    #[arg(long, value_name = "N", default_value_t = 5)]
    videos: usize,
    /// adt-seed --jobs (rclone copy runs with --transfers 16 --checkers 16)
    #[arg(long, value_name = "N", default_value_t = 16)]
    jobs: usize,
}

/// The sizes `bench seed` and `bench replicate` run with.
pub(super) struct Config {
    pub files: usize,
    pub videos: usize,
    pub jobs: usize,
}

impl Config {
    /// Checks that the baselines' tar and rclone are there.
    pub(super) fn new(files: usize, videos: usize, jobs: usize) -> Result<Config, String> {
        if adt_testkit::which("rclone").is_none() || adt_testkit::which("tar").is_none() {
            return Err("the baseline needs tar and rclone: apt-get install -y rclone".into());
        }
        Ok(Config { files, videos, jobs })
    }
}

pub(crate) fn run(args: SeedArgs) -> Result<(), String> {
    let config = Config::new(args.files, args.videos, args.jobs)?;
    super::build_release(&["adt-seed"])?;
    let root = crate::workspace_root();
    let adt_seed = crate::target_dir().join("release/adt-seed");
    let work = root.join(format!("target/bench/seed-{}-{}", config.files, config.videos));
    let archive = prepare(&work, &config)?;
    let archive_mib = std::fs::metadata(&archive).map_err(|e| e.to_string())?.len() as f64 / 1048576.0;

    // The emulator runs optimized in its own process, a fresh one for each
    // measured pair of runs, so neither tool shares a process, a debug
    // build or a full emulator with the other. First runs are timed three
    // times and the median kept: two shared cores make single runs vary
    // by about 10%.
    let xtask = crate::target_dir().join("release/xtask");
    let mut adt_runs = Vec::new();
    let mut adt_again = None;
    let mut adt_reread = None;
    for round in 0..3 {
        let emulator = EmulatorProcess::start(&xtask, &work.join("emulator-tmp"))?;
        let endpoint = emulator.endpoint.clone();
        eprintln!("bench: emulator at {endpoint}; archive {archive_mib:.0} MiB");
        let site = work.join("site-adt");
        let _ = std::fs::remove_dir_all(&site);
        std::fs::create_dir_all(&site).map_err(|e| e.to_string())?;
        let template = site.join("site.tmpl");
        let url = format!("bench{}r{round}.example.com", std::process::id());
        std::fs::write(
            &template,
            format!(
                "export APPLICATION=\"joomla\"\nexport WEBSITE_URL=\"{url}\"\nexport BUILD_ARCHIVE_CHOICE=\"hourly\"\n\
                 export S3_ACCESS_KEY=\"{}\"\nexport S3_SECRET_KEY=\"{}\"\nexport S3_HOST_BASE=\"{endpoint}\"\n\
                 export DIRECTORIES_TO_MOUNT=\"images\"\nexport PERSIST_ASSETS_TO_DATASTORE=\"1\"\n",
                adt_testkit::ACCESS_KEY,
                adt_testkit::SECRET_KEY
            ),
        )
        .map_err(|e| e.to_string())?;
        let seed = |cache: bool| {
            let mut c = Command::new(&adt_seed);
            c.arg("--template").arg(&template).arg("--archive").arg(&archive);
            c.args(["--jobs", &config.jobs.to_string(), "--format", "json"]);
            if !cache {
                c.arg("--no-cache");
            }
            c.env("XDG_CACHE_HOME", site.join("cache"));
            c
        };
        let first = measure::run(&format!("adt-seed, first run ({})", round + 1), seed(true))?;
        if count(&first.stdout, "uploaded") as usize != config.files {
            return Err(format!(
                "adt-seed uploaded {} objects, not {}",
                count(&first.stdout, "uploaded"),
                config.files
            ));
        }
        adt_runs.push(first);
        if round == 0 {
            let again = measure::run("adt-seed, nothing changed", seed(true))?;
            let reread = measure::run(
                "adt-seed, nothing changed, --no-cache (archive read again)",
                seed(false),
            )?;
            if count(&again.stdout, "uploaded") != 0 || count(&reread.stdout, "uploaded") != 0 {
                return Err("a no-change adt-seed run uploaded something".into());
            }
            adt_again = Some(again);
            adt_reread = Some(reread);
        }
    }

    // The usual way: extract, then rclone copy the asset directory.
    let extract = work.join("extract");
    let mut untar_runs = Vec::new();
    let mut copy_runs = Vec::new();
    let mut copy_again = None;
    for round in 0..3 {
        let emulator = EmulatorProcess::start(&xtask, &work.join("emulator-tmp"))?;
        let endpoint = emulator.endpoint.clone();
        let _ = std::fs::remove_dir_all(&extract);
        std::fs::create_dir_all(&extract).map_err(|e| e.to_string())?;
        let mut tar = Command::new("tar");
        tar.arg("xzf").arg(&archive).arg("-C").arg(&extract);
        untar_runs.push(measure::run(&format!("tar xzf ({})", round + 1), tar)?);
        let bucket = format!("bench-rclone-{}", std::process::id());
        let rclone = || {
            let mut c = Command::new("rclone");
            c.args(["copy", "--transfers", "16", "--checkers", "16"])
                .arg(extract.join("images"))
                .arg(format!(":s3:{bucket}"))
                .env_remove("AWS_CA_BUNDLE")
                .env("RCLONE_CONFIG", "/dev/null")
                .env("RCLONE_S3_PROVIDER", "Other")
                .env("RCLONE_S3_ENDPOINT", &endpoint)
                .env("RCLONE_S3_REGION", adt_testkit::REGION)
                .env("RCLONE_S3_ACCESS_KEY_ID", adt_testkit::ACCESS_KEY)
                .env("RCLONE_S3_SECRET_ACCESS_KEY", adt_testkit::SECRET_KEY);
            c
        };
        copy_runs.push(measure::run(
            &format!("rclone copy --transfers 16 --checkers 16 ({})", round + 1),
            rclone(),
        )?);
        if round == 0 {
            copy_again = Some(measure::run("rclone copy, nothing changed", rclone())?);
        }
    }
    let _ = std::fs::remove_dir_all(&extract);
    let first = median(adt_runs);
    let untar = median(untar_runs);
    let copy = median(copy_runs);
    let (second, reread, copy_again) = (
        adt_again.ok_or("no second run")?,
        adt_reread.ok_or("no reread")?,
        copy_again.ok_or("no second rclone run")?,
    );
    let baseline = untar.seconds + copy.seconds;
    let rows: Vec<(&str, &Measured)> = vec![
        ("adt-seed, first run (median of 3)", &first),
        ("adt-seed, nothing changed", &second),
        ("adt-seed, nothing changed, --no-cache", &reread),
        ("tar xzf (median of 3)", &untar),
        ("rclone copy (median of 3)", &copy),
        ("rclone copy, nothing changed", &copy_again),
    ];
    let mut table = String::new();
    table.push_str(&format!(
        "{} files ({} videos of 20 MiB), archive {archive_mib:.0} MiB, each adt-seed first run uploaded all {} objects, --jobs {} / --transfers 16\n\n",
        config.files, config.videos, config.files, config.jobs
    ));
    table.push_str("| run | wall time (s) | peak RSS (MiB) |\n| --- | ---: | ---: |\n");
    for (name, m) in &rows {
        table.push_str(&format!("| {name} | {:.2} | {:.1} |\n", m.seconds, m.peak_rss_mib));
    }
    table.push_str(&format!(
        "| tar xzf + rclone copy (sum of medians) | {baseline:.2} | {:.1} |\n",
        untar.peak_rss_mib.max(copy.peak_rss_mib)
    ));
    let speedup = baseline / first.seconds;
    let rerun = first.seconds / second.seconds;
    let verdict = |ok: bool| if ok { "met" } else { "NOT met" };
    table.push_str(&format!(
        "\nTargets:\n- first run vs tar xzf + rclone copy: {speedup:.2}x faster (target >= 2x): {}\n- adt-seed peak RSS: {:.1} MiB (target < 100 MiB): {}\n- no-change run: {rerun:.1}x faster than the first (target >= 10x): {}\n- no-change run with --no-cache: {:.1}x faster than the first\n",
        verdict(speedup >= 2.0),
        first.peak_rss_mib.max(second.peak_rss_mib).max(reread.peak_rss_mib),
        verdict(first.peak_rss_mib.max(second.peak_rss_mib).max(reread.peak_rss_mib) < 100.0),
        verdict(rerun >= 10.0),
        first.seconds / reread.seconds,
    ));
    println!("{table}");
    Ok(())
}

/// The run with the median wall time.
pub(super) fn median(mut runs: Vec<Measured>) -> Measured {
    runs.sort_by(|a, b| a.seconds.total_cmp(&b.seconds));
    runs.swap_remove(runs.len() / 2)
}

/// Sum of a JSON summary's per-bucket counter.
pub(super) fn count(json: &str, field: &str) -> u64 {
    json.split(&format!("\"{field}\":"))
        .skip(1)
        .filter_map(|rest| rest.split(|c: char| !c.is_ascii_digit()).next()?.parse::<u64>().ok())
        .sum()
}

/// The generated webroot and its backup archive, made once and reused.
pub(super) fn prepare(work: &Path, config: &Config) -> Result<PathBuf, String> {
    let archive = work.join("applicationsourcecode.tar.gz");
    if archive.exists() {
        return Ok(archive);
    }
    let webroot = work.join("webroot");
    let _ = std::fs::remove_dir_all(&webroot);
    eprintln!("bench: generating {} files under {}", config.files, webroot.display());
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let write = |path: &Path, len: usize, rng: &mut XorShift| -> Result<(), String> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        }
        let mut file = std::io::BufWriter::new(std::fs::File::create(path).map_err(|e| e.to_string())?);
        let mut left = len;
        let mut block = vec![0u8; 64 * 1024];
        while left > 0 {
            let n = left.min(block.len());
            rng.fill(&mut block[..n]);
            file.write_all(&block[..n]).map_err(|e| e.to_string())?;
            left -= n;
        }
        file.flush().map_err(|e| e.to_string())
    };
    for (name, len) in [
        ("index.php", 400),
        ("configuration.php", 2_000),
        ("XXXXXX-DO_NOT_REMOVE", 0),
    ] {
        write(&webroot.join(name), len, &mut rng)?;
    }
    for i in 0..config.files.saturating_sub(config.videos) {
        let len = 5 * 1024 + (rng.next() % (195 * 1024)) as usize;
        let ext = ["jpg", "png", "gif", "webp"][i % 4];
        let path = webroot.join(format!("images/{}/{:02}/img{i:05}.{ext}", 2015 + i % 10, i % 12 + 1));
        write(&path, len, &mut rng)?;
    }
    for i in 0..config.videos {
        write(
            &webroot.join(format!("images/videos/clip{i}.mp4")),
            20 * 1024 * 1024,
            &mut rng,
        )?;
    }
    eprintln!("bench: tar czf {}", archive.display());
    let partial = work.join("applicationsourcecode.tar.gz.partial");
    let status = Command::new("tar")
        .arg("czf")
        .arg(&partial)
        .arg("-C")
        .arg(&webroot)
        .arg(".")
        .status()
        .map_err(|e| format!("tar: {e}"))?;
    if !status.success() {
        return Err(format!("tar czf failed ({status})"));
    }
    std::fs::rename(&partial, &archive).map_err(|e| e.to_string())?;
    std::fs::remove_dir_all(&webroot).map_err(|e| e.to_string())?;
    Ok(archive)
}

/// Fast, repeatable, incompressible bytes (like JPEG and MP4 data).
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let bytes = self.next().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
}
