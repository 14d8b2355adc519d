//! `cargo xtask bench backup`: adt-backup create against ADT's pipeline
//! (rsync -a --exclude-from into a staging directory, then tar czf), on a
//! generated webroot whose asset directory is an s3fs mount, served
//! through a proxy that counts requests: adt-backup must not read a file
//! under the mount.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::measure::{self, Measured};

#[derive(clap::Args)]
pub(crate) struct Args {
    /// PHP-like files in the generated webroot
    #[arg(long, value_name = "N", default_value_t = 20_000)]
    files: usize,
}

pub(crate) fn run(args: Args) -> Result<(), String> {
    let files = args.files;
    for tool in ["rsync", "tar", "s3fs", "fusermount3"] {
        if adt_testkit::which(tool).is_none() {
            return Err(format!("the benchmark needs {tool}: cargo xtask doctor"));
        }
    }
    super::build_release(&["adt-backup"])?;
    let root = crate::workspace_root();
    let adt_backup = crate::target_dir().join("release/adt-backup");
    let work = root.join(format!("target/bench/backup-{files}"));
    let webroot = work.join("webroot");
    if !webroot.join("index.php").exists() {
        generate(&webroot, files)?;
    }

    // The asset directory: an s3fs mount of a bucket, through a counting proxy.
    let emulator = adt_testkit::Emulator::start().map_err(|e| e.to_string())?;
    let bucket = adt_testkit::unique_bucket("bench-assets");
    emulator.create_bucket(&bucket)?;
    let proxy = adt_testkit::FaultProxy::start(&emulator.endpoint()).map_err(|e| e.to_string())?;
    let images = webroot.join("images");
    std::fs::create_dir_all(&images).map_err(|e| e.to_string())?;
    let mount = adt_testkit::S3fsMount::mount(
        &proxy.endpoint(),
        &bucket,
        adt_testkit::ACCESS_KEY,
        adt_testkit::SECRET_KEY,
        &work.join("passwd"),
        &images,
    );
    for i in 0..200 {
        std::fs::write(images.join(format!("photo{i}.jpg")), vec![i as u8; 50_000]).map_err(|e| e.to_string())?;
    }

    let out = work.join("out");
    std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
    let filter = out.join("filter");
    let exclusions = Command::new(&adt_backup)
        .args(["exclusions", "--format", "rsync", "--webroot"])
        .arg(&webroot)
        .output()
        .map_err(|e| e.to_string())?;
    std::fs::write(&filter, &exclusions.stdout).map_err(|e| e.to_string())?;

    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    let mut requests_during_ours = 0;
    for round in 1..=3 {
        let before = proxy.requests().len();
        let mut c = Command::new(&adt_backup);
        c.args(["create", "--webroot"])
            .arg(&webroot)
            .arg("--archive")
            .arg(out.join("adt.tar.gz"));
        ours.push(measure::run(&format!("adt-backup create ({round})"), c)?);
        requests_during_ours += proxy.requests().len() - before;

        let staging = out.join("staging");
        let _ = std::fs::remove_dir_all(&staging);
        let mut rsync = Command::new("rsync");
        rsync
            .arg("-a")
            .arg("--exclude-from")
            .arg(&filter)
            .arg(format!("{}/", webroot.display()))
            .arg(&staging);
        let copied = measure::run(&format!("rsync -a --exclude-from ({round})"), rsync)?;
        let mut tar = Command::new("tar");
        tar.arg("czf")
            .arg(out.join("adt-pipeline.tar.gz"))
            .arg("-C")
            .arg(&staging)
            .arg(".");
        let packed = measure::run(&format!("tar czf ({round})"), tar)?;
        theirs.push((copied, packed));
    }
    drop(mount);
    let median = |mut v: Vec<Measured>| {
        v.sort_by(|a, b| a.seconds.total_cmp(&b.seconds));
        v.swap_remove(v.len() / 2)
    };
    let ours = median(ours);
    theirs.sort_by(|a, b| (a.0.seconds + a.1.seconds).total_cmp(&(b.0.seconds + b.1.seconds)));
    let (copied, packed) = theirs.swap_remove(1);
    let baseline = copied.seconds + packed.seconds;
    let size = |p: PathBuf| std::fs::metadata(p).map(|m| m.len() as f64 / 1048576.0).unwrap_or(0.0);
    let (our_size, their_size) = (size(out.join("adt.tar.gz")), size(out.join("adt-pipeline.tar.gz")));
    let speedup = baseline / ours.seconds;
    println!(
        "{files} files in the webroot, images/ an s3fs mount (200 files), gzip level 6 for both\n\n\
         | run | wall time (s) | peak RSS (MiB) | archive (MiB) |\n| --- | ---: | ---: | ---: |\n\
         | adt-backup create (median of 3) | {:.2} | {:.1} | {our_size:.1} |\n\
         | rsync -a --exclude-from into staging | {:.2} | {:.1} | |\n\
         | tar czf of the staging directory | {:.2} | {:.1} | {their_size:.1} |\n\
         | rsync + tar czf (median of 3) | {baseline:.2} | | |\n\n\
         Targets:\n- adt-backup create vs rsync + tar czf: {speedup:.2}x faster (target >= 2x): {}\n\
         - requests to the mounted bucket during adt-backup's three runs: {requests_during_ours} (target 0): {}\n",
        ours.seconds,
        ours.peak_rss_mib,
        copied.seconds,
        copied.peak_rss_mib,
        packed.seconds,
        packed.peak_rss_mib,
        if speedup >= 2.0 { "met" } else { "NOT met" },
        if requests_during_ours == 0 { "met" } else { "NOT met" },
    );
    Ok(())
}

/// A webroot of PHP-like text files (compressible, as code is), nested.
pub(crate) fn generate(webroot: &Path, files: usize) -> Result<(), String> {
    eprintln!("bench: generating {files} files under {}", webroot.display());
    const WORDS: &[&str] = &[
        "function",
        "return",
        "$this->",
        "array(",
        "foreach",
        "if (",
        "else",
        "echo",
        "public",
        "static",
        "class",
        "namespace",
        "use",
        "new",
        "null",
        "true",
        "false",
        "=>",
        "$value",
        "$key",
        "JFactory::getDbo()",
        "->query(",
        "// comment",
        "isset(",
        "empty(",
        "require_once",
        "__DIR__",
        "'option'",
        "$input",
        "->get(",
    ];
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for i in 0..files {
        let dir = webroot.join(format!("components/com_{}/src/{}", i % 97, i % 13));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let name = if i == 0 {
            webroot.join("index.php")
        } else {
            dir.join(format!("file{i}.php"))
        };
        let target = 1024 + (next() % (15 * 1024)) as usize;
        let mut text = String::with_capacity(target + 64);
        text.push_str("<?php\n");
        while text.len() < target {
            text.push_str(WORDS[(next() % WORDS.len() as u64) as usize]);
            text.push(if next() % 9 == 0 { '\n' } else { ' ' });
        }
        let mut f = std::fs::File::create(&name).map_err(|e| e.to_string())?;
        f.write_all(text.as_bytes()).map_err(|e| e.to_string())?;
    }
    Ok(())
}
