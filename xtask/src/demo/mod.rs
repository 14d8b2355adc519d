//! `cargo xtask demo`: the whole job, end to end, on this machine, through
//! the real binaries: two embedded S3 emulators stand for two providers; a
//! small Joomla-like site is backed up, its template checked, its asset
//! buckets seeded from the backup, mounted in place of its directories
//! (s3fs, or rclone, and mergerfs), written to through the mount, left out
//! of the next backup, copied to the second datastore, and unmounted.
//! Every step checks its outcome; the demo cleans up after itself, also
//! when it fails or is interrupted.

mod cleanup;
mod site;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::emulator::EmulatorProcess;
use adt_datastore::Secret;
use adt_datastore::{Connection, Endpoint, Store};
use adt_template::Layout;

use cleanup::{Cleanup, UnmountWith, mounts_under};

/// Pause after this step (a number), so a test can interrupt the demo there.
const PAUSE: &str = "ADT_DEMO_PAUSE_AFTER";

#[derive(clap::Args, Default)]
pub(crate) struct Args {
    /// Mount the buckets with this tool [default: s3fs, or rclone when only rclone is installed]
    #[arg(long, value_enum)]
    tool: Option<Tool>,
    /// Keep the working directory instead of removing it at the end
    #[arg(long)]
    keep: bool,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Tool {
    S3fs,
    Rclone,
}

impl Tool {
    fn name(self) -> &'static str {
        match self {
            Tool::S3fs => "s3fs",
            Tool::Rclone => "rclone",
        }
    }
}

pub(crate) fn run(opts: &Args) -> Result<(), String> {
    let tool = crate::prereq::ensure_demo_tools(opts.tool.map(Tool::name))?;
    crate::cargo(
        "build the binaries",
        &["build", "--locked", "-p", "adt-cli", "--bins"],
        &[],
    )?;
    let bin = crate::target_dir().join("debug");

    let dir = std::env::temp_dir().join(format!("adt-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    let cleanup = Arc::new(Cleanup::new(dir.clone(), opts.keep));
    {
        let c = cleanup.clone();
        std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build()
                && rt.block_on(tokio::signal::ctrl_c()).is_ok()
            {
                c.interrupt();
            }
        });
    }

    println!("adt-assets demo: a Joomla site's assets moved into S3 buckets, end to end");
    println!(
        "  working directory {} (removed at the end; --keep keeps it)",
        dir.display()
    );
    let mut demo = match Demo::new(bin, dir, tool, cleanup.clone()) {
        Ok(d) => d,
        Err(e) => {
            finish(&cleanup);
            return Err(e);
        }
    };
    let result = demo.all();
    if cleanup.interrupted() {
        // The Ctrl-C handler is cleaning up and will exit.
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    }
    demo.summary();
    finish(&cleanup);
    match result {
        Ok(()) => {
            println!(
                "\ndemo complete: every step did what it said. Next: `cargo xtask test`, then README.md for real use."
            );
            Ok(())
        }
        Err(e) => Err(format!("the demo failed: {e}")),
    }
}

fn finish(cleanup: &Cleanup) {
    println!("\ncleaning up");
    for line in cleanup.run() {
        println!("  {line}");
    }
}

struct Step {
    title: &'static str,
    result: Result<String, String>,
    took: Duration,
}

struct Demo {
    bin: PathBuf,
    dir: PathBuf,
    webroot: PathBuf,
    template: PathBuf,
    backup: PathBuf,
    tool: &'static str,
    cleanup: Arc<Cleanup>,
    rt: tokio::runtime::Runtime,
    // Kept alive for the demo's length; stopped by the cleanup, after the unmount.
    primary: (EmulatorProcess, Store),
    second: (EmulatorProcess, Store),
    layout: Option<Layout>,
    steps: Vec<Step>,
}

impl Demo {
    fn new(bin: PathBuf, dir: PathBuf, tool: &'static str, cleanup: Arc<Cleanup>) -> Result<Demo, String> {
        let xtask = std::env::current_exe().map_err(|e| format!("where is xtask: {e}"))?;
        let start = |name: &str| -> Result<(EmulatorProcess, Store), String> {
            let e = EmulatorProcess::start(&xtask, &dir.join(format!("emulator-{name}")))
                .map_err(|e| format!("start the {name} emulator: {e}"))?;
            cleanup.service(e.pid());
            let endpoint = Endpoint::parse(&e.endpoint, Some(adt_testkit::REGION)).map_err(|e| e.to_string())?;
            let store = Store::connect(&Connection::new(
                endpoint,
                Secret::new(adt_testkit::ACCESS_KEY),
                Secret::new(adt_testkit::SECRET_KEY),
            ))
            .map_err(|e| e.to_string())?;
            Ok((e, store))
        };
        let (primary, second) = (start("primary")?, start("second")?);
        Ok(Demo {
            webroot: dir.join("www/html"),
            template: dir.join("site.tmpl"),
            backup: dir.join("hourly/applicationsourcecode.tar.gz"),
            bin,
            dir,
            tool,
            cleanup,
            rt: tokio::runtime::Runtime::new().map_err(|e| e.to_string())?,
            primary,
            second,
            layout: None,
            steps: Vec::new(),
        })
    }

    fn all(&mut self) -> Result<(), String> {
        self.step("two S3 datastores", Demo::datastores)?;
        self.step("a Joomla site and its hourly backup", Demo::site)?;
        self.step("adt-check: the template", Demo::check)?;
        self.step("adt-seed: buckets from the backup", Demo::seed)?;
        self.step("adt-mount: buckets in place of dirs", Demo::mount)?;
        self.step("a new upload, through the mount", Demo::upload)?;
        self.step("adt-backup: mounts left out", Demo::backup)?;
        self.step("adt-replicate: to datastore 2", Demo::replicate)?;
        self.step("adt-mount unmount", Demo::unmount)?;
        Ok(())
    }

    fn step(&mut self, title: &'static str, f: fn(&mut Demo) -> Result<String, String>) -> Result<(), String> {
        if self.cleanup.interrupted() {
            return Err("interrupted".into());
        }
        println!("\n[{}/9] {title}", self.steps.len() + 1);
        let started = Instant::now();
        let result = f(self);
        match &result {
            Ok(outcome) => println!("  ok: {outcome}"),
            Err(e) => println!("  FAILED: {e}"),
        }
        let failed = result.clone().err();
        self.steps.push(Step {
            title,
            result,
            took: started.elapsed(),
        });
        if failed.is_none() && std::env::var(PAUSE).is_ok_and(|n| n == self.steps.len().to_string()) {
            // For the check that Ctrl-C cleans up (`cargo xtask test`).
            println!("  paused ({PAUSE}); Ctrl-C to stop");
            let deadline = Instant::now() + Duration::from_secs(120);
            while Instant::now() < deadline && !self.cleanup.interrupted() {
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        failed.map_or(Ok(()), Err)
    }

    fn summary(&self) {
        println!("\nsummary");
        println!("  {:<2} {:<38} {:<52} {:>6}", "", "step", "outcome", "time");
        for (i, s) in self.steps.iter().enumerate() {
            let outcome = match &s.result {
                Ok(o) => o.clone(),
                Err(e) => format!("FAILED: {e}"),
            };
            let outcome: String = if outcome.chars().count() > 52 {
                outcome.chars().take(51).chain(['…']).collect()
            } else {
                outcome
            };
            println!(
                "  {:<2} {:<38} {:<52} {:>5.1}s",
                i + 1,
                s.title,
                outcome,
                s.took.as_secs_f64()
            );
        }
    }

    /// Shows a path as the user would type it, relative to the demo directory.
    fn short(&self, text: &str) -> String {
        text.replace(&self.dir.to_string_lossy().to_string(), "$DEMO")
    }

    /// Runs one of our binaries as a user would, showing the command and its output.
    fn tool(&self, name: &str, args: &[&str]) -> Result<String, String> {
        println!("  $ {}", self.short(&format!("{name} {}", args.join(" "))));
        let mut cmd = std::process::Command::new(self.bin.join(name));
        cmd.args(args).env("NO_COLOR", "1");
        let child = self.cleanup.spawn(&mut cmd)?;
        let out = child.wait_with_output().map_err(|e| format!("{name}: {e}"));
        self.cleanup.child_done();
        let out = out?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        for line in stdout.lines().chain(String::from_utf8_lossy(&out.stderr).lines()) {
            println!("    {}", self.short(line));
        }
        if out.status.success() {
            Ok(stdout)
        } else {
            Err(format!("{name} failed ({})", out.status))
        }
    }

    fn path(p: &Path) -> String {
        p.to_string_lossy().into_owned()
    }

    fn layout(&self) -> Result<&Layout, String> {
        self.layout.as_ref().ok_or_else(|| "no layout yet".to_string())
    }

    fn datastores(&mut self) -> Result<String, String> {
        println!("  datastore 1 (primary):       {}", self.primary.0.endpoint);
        println!("  datastore 2 (second region): {}", self.second.0.endpoint);
        println!("  both are the embedded emulator (Rustack's S3, SigV4 checked), as `cargo xtask emulator` processes");
        Ok("2 embedded S3 emulators".into())
    }

    fn site(&mut self) -> Result<String, String> {
        let (files, bytes, assets) = site::write_webroot(&self.webroot)?;
        println!(
            "  webroot {}: {files} files ({} KiB), {assets} of them assets under images/ and media/",
            self.short(&Self::path(&self.webroot)),
            bytes / 1024
        );
        let before = self.dir.join("before.tmpl");
        write(
            &before,
            &site::template(false, &self.primary.0.endpoint, &self.second.0.endpoint),
        )?;
        println!("  as first deployed, assets on disk (PERSIST_ASSETS_TO_DATASTORE=0); its hourly backup:");
        let backup = Self::path(&self.backup);
        let webroot = Self::path(&self.webroot);
        std::fs::create_dir_all(self.dir.join("hourly")).map_err(|e| e.to_string())?;
        self.tool(
            "adt-backup",
            &[
                "create",
                "--template",
                &Self::path(&before),
                "--webroot",
                &webroot,
                "--archive",
                &backup,
            ],
        )?;
        let entries = archive_entries(&self.backup)?;
        let under = |d: &str| entries.iter().filter(|e| e.starts_with(d)).count();
        if under("./images/") == 0 || under("./media/") == 0 {
            return Err("the backup should hold images/ and media/".into());
        }
        Ok(format!(
            "{} entries, {} under images/ and media/",
            entries.len(),
            under("./images/") + under("./media/")
        ))
    }

    fn check(&mut self) -> Result<String, String> {
        let text = site::template(true, &self.primary.0.endpoint, &self.second.0.endpoint);
        write(&self.template, &text)?;
        println!("  redeployed from that backup with its assets in buckets: $DEMO/site.tmpl");
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let shown = line.replace(adt_testkit::SECRET_KEY, "********");
            println!("    {shown}");
        }
        let out = self.tool(
            "adt-check",
            &["--archive", &Self::path(&self.backup), &Self::path(&self.template)],
        )?;
        let config = adt_template::load(&self.template, &self.webroot).map_err(|e| e.to_string())?;
        let layout = Layout::new(&config, &self.webroot).map_err(|e| e.to_string())?;
        println!("  buckets (ADT's names):");
        for (entry, m) in layout.mounts() {
            println!(
                "    {:<44} at {}  ({})",
                m.bucket,
                self.short(&Self::path(&m.mountpoint)),
                entry.entry
            );
        }
        let planned = layout.mounts().count();
        self.layout = Some(layout);
        if !out.contains("no findings") {
            return Err("adt-check found something in the demo's template".into());
        }
        Ok(format!("no findings; {planned} buckets planned"))
    }

    fn buckets(&self) -> Result<Vec<String>, String> {
        Ok(self.layout()?.mounts().map(|(_, m)| m.bucket.clone()).collect())
    }

    fn count(&self, store: &Store, bucket: &str) -> Result<usize, String> {
        self.rt
            .block_on(store.list(bucket, None))
            .map(|l| l.len())
            .map_err(|e| e.to_string())
    }

    fn seed(&mut self) -> Result<String, String> {
        let cache = Self::path(&self.dir.join("cache"));
        self.tool(
            "adt-seed",
            &[
                "--template",
                &Self::path(&self.template),
                "--archive",
                &Self::path(&self.backup),
                "--webroot",
                &Self::path(&self.webroot),
                "--cache-dir",
                &cache,
            ],
        )?;
        let mut total = 0;
        for b in self.buckets()? {
            let n = self.count(&self.primary.1, &b)?;
            if n == 0 {
                return Err(format!("bucket {b} is empty after seeding"));
            }
            total += n;
        }
        Ok(format!("{total} objects in 3 buckets on datastore 1"))
    }

    /// `adt-mount SUB` for the demo's site; `mount` also names the tool and
    /// the owner of the mounted files (the user running the demo).
    fn mount_args(&self, sub: &str) -> Vec<String> {
        let mut args: Vec<String> = [
            sub,
            "--template",
            &Self::path(&self.template),
            "--webroot",
            &Self::path(&self.webroot),
            "--state-dir",
            &Self::path(&self.dir.join("adt-mount-state")),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if sub == "mount" {
            let (uid, gid) = owner(&self.dir);
            for (flag, value) in [
                ("--tool", self.tool.to_string()),
                ("--uid", uid.to_string()),
                ("--gid", gid.to_string()),
            ] {
                args.push(flag.into());
                args.push(value);
            }
        }
        args
    }

    fn mount(&mut self) -> Result<String, String> {
        self.cleanup.unmount_with(UnmountWith {
            program: self.bin.join("adt-mount"),
            args: self.mount_args("unmount"),
        });
        let args = self.mount_args("mount");
        self.tool("adt-mount", &args.iter().map(String::as_str).collect::<Vec<_>>())?;
        println!("  the local files were copied into the buckets and moved aside; mounting again changes nothing,");
        println!("  and --purge-retired deletes the moved-aside copies once each file is checked in its bucket:");
        let mut again = args.clone();
        again.push("--purge-retired".into());
        self.tool("adt-mount", &again.iter().map(String::as_str).collect::<Vec<_>>())?;
        let status = self.mount_args("status");
        self.tool("adt-mount", &status.iter().map(String::as_str).collect::<Vec<_>>())?;
        let mounts = mounts_under(&self.dir);
        let files = count_files(&self.webroot.join("images")) + count_files(&self.webroot.join("media"));
        println!(
            "  {} FUSE mounts under $DEMO; the site sees {files} files in images/ and media/ (read through the mounts)",
            mounts.len()
        );
        if mounts.len() != 4 {
            return Err(format!(
                "expected 4 mounts (3 buckets and 1 merge), found {}",
                mounts.len()
            ));
        }
        Ok(format!("3 buckets ({}) + 1 mergerfs merge mounted", self.tool))
    }

    fn upload(&mut self) -> Result<String, String> {
        let photo = self.webroot.join("images/uploads/2026/11/new-photo.jpg");
        let brochure = self.webroot.join("media/brochures/autumn.pdf");
        for (path, len) in [(&photo, 48_213usize), (&brochure, 20_480)] {
            let parent = path.parent().ok_or("no parent")?;
            std::fs::create_dir_all(parent).map_err(|e| format!("create {}: {e}", parent.display()))?;
            write_bytes(path, &site::body(len, 99))?;
            println!(
                "  wrote {} ({len} bytes) as the web server would",
                self.short(&Self::path(path))
            );
        }
        let buckets = self.buckets()?;
        let images = buckets.first().ok_or("no images bucket")?.clone();
        let photo_key = "uploads/2026/11/new-photo.jpg";
        let found = self.wait_for(&[images], photo_key)?;
        println!("  in the bucket: s3://{found}/{photo_key}");
        let found_b = self.wait_for(&buckets[1..], "brochures/autumn.pdf")?;
        println!("  in the bucket: s3://{found_b}/brochures/autumn.pdf (mergerfs chose this branch)");
        Ok("both uploads are objects on datastore 1".into())
    }

    /// Waits until `key` is in one of `buckets` on datastore 1; returns which.
    fn wait_for(&self, buckets: &[String], key: &str) -> Result<String, String> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            for b in buckets {
                if self
                    .rt
                    .block_on(self.primary.1.head(b, key))
                    .map_err(|e| e.to_string())?
                    .is_some()
                {
                    return Ok(b.clone());
                }
            }
            if Instant::now() > deadline {
                return Err(format!("{key} did not reach the bucket within 15 s"));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn backup(&mut self) -> Result<String, String> {
        let template = Self::path(&self.template);
        let webroot = Self::path(&self.webroot);
        self.tool(
            "adt-backup",
            &["exclusions", "--template", &template, "--webroot", &webroot],
        )?;
        let next = self.dir.join("next-backup.tar.gz");
        self.tool(
            "adt-backup",
            &[
                "create",
                "--template",
                &template,
                "--webroot",
                &webroot,
                "--archive",
                &Self::path(&next),
            ],
        )?;
        let entries = archive_entries(&next)?;
        let inside: Vec<&String> = entries
            .iter()
            .filter(|e| e.starts_with("./images/") || e.starts_with("./media/") || e.contains(".adt-retired-"))
            .collect();
        if !inside.is_empty() {
            return Err(format!("the backup holds files of the mounted directories: {inside:?}"));
        }
        for must in ["./index.php", "./administrator/index.php", "./XXXXXX-DO_NOT_REMOVE"] {
            if !entries.iter().any(|e| e == must) {
                return Err(format!("the backup lacks {must}"));
            }
        }
        let size = |p: &Path| std::fs::metadata(p).map(|m| m.len() / 1024).unwrap_or(0);
        println!(
            "  {} entries; none under images/ or media/ (they live in the buckets); {} KiB, where the hourly backup was {} KiB",
            entries.len(),
            size(&next),
            size(&self.backup)
        );
        Ok(format!("{} entries, 0 from the mounted directories", entries.len()))
    }

    fn replicate(&mut self) -> Result<String, String> {
        let template = Self::path(&self.template);
        self.tool("adt-replicate", &["--template", &template])?;
        let mut total = 0;
        for b in self.buckets()? {
            let (ours, theirs) = (self.count(&self.primary.1, &b)?, self.count(&self.second.1, &b)?);
            if ours != theirs {
                return Err(format!("{b}: {ours} objects on datastore 1, {theirs} on datastore 2"));
            }
            total += theirs;
        }
        let images = self.buckets()?.remove(0);
        if self
            .rt
            .block_on(self.second.1.head(&images, "uploads/2026/11/new-photo.jpg"))
            .map_err(|e| e.to_string())?
            .is_none()
        {
            return Err("the new upload is not on datastore 2".into());
        }
        println!("  run again, it copies nothing:");
        let json = self.tool("adt-replicate", &["--template", &template, "--format", "json"])?;
        if !json.contains("\"copied\":0") || json.contains("\"copied\":1") {
            return Err("the second run copied objects again".into());
        }
        Ok(format!("{total} objects on datastore 2, the new upload included"))
    }

    fn unmount(&mut self) -> Result<String, String> {
        let args = self.mount_args("unmount");
        self.tool("adt-mount", &args.iter().map(String::as_str).collect::<Vec<_>>())?;
        let left = mounts_under(&self.dir);
        if !left.is_empty() {
            return Err(format!("still mounted: {left:?}"));
        }
        Ok("nothing mounted; the buckets keep every file".into())
    }
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    write_bytes(path, text.as_bytes())
}

fn write_bytes(path: &Path, bytes: &[u8]) -> Result<(), String> {
    std::fs::write(path, bytes).map_err(|e| format!("write {}: {e}", path.display()))
}

/// The uid and gid owning `dir`: the user running the demo.
fn owner(dir: &Path) -> (u32, u32) {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(dir).map(|m| (m.uid(), m.gid())).unwrap_or((0, 0))
}

fn count_files(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => count_files(&e.path()),
            Ok(_) => 1,
            Err(_) => 0,
        })
        .sum()
}

/// The entry names of a gzip tar.
fn archive_entries(path: &Path) -> Result<Vec<String>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("open {}: {e}", path.display()))?;
    let mut archive = tar::Archive::new(flate2::read::MultiGzDecoder::new(file));
    let mut names = Vec::new();
    for entry in archive.entries().map_err(|e| format!("read {}: {e}", path.display()))? {
        let entry = entry.map_err(|e| format!("read {}: {e}", path.display()))?;
        names.push(String::from_utf8_lossy(&entry.path_bytes()).into_owned());
    }
    Ok(names)
}

/// Interrupts a demo while its buckets are mounted, as Ctrl-C would, and
/// checks that nothing is left: no mount, no working directory.
pub(crate) fn check_interrupt() -> Result<(), String> {
    use std::io::BufRead;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut child = std::process::Command::new(exe)
        .arg("demo")
        .env(PAUSE, "5")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start the demo: {e}"))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    // Read on another thread to the end, so the demo never writes to a closed pipe.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            println!("{line}");
            let _ = tx.send(line);
        }
    });
    let mut dir = None;
    let mut paused = false;
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(180)) {
        if let Some(rest) = line.trim().strip_prefix("working directory ") {
            dir = rest.split(' ').next().map(PathBuf::from);
        }
        if line.contains(&format!("paused ({PAUSE})")) {
            paused = true;
            break;
        }
    }
    let dir = dir.ok_or("the demo did not say its working directory")?;
    if !paused {
        let _ = child.wait();
        return Err("the demo ended before it paused".into());
    }
    let mounted = mounts_under(&dir).len();
    std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .map_err(|e| format!("kill -INT: {e}"))?;
    let status = child.wait().map_err(|e| e.to_string())?;
    let left = mounts_under(&dir);
    if mounted == 0 || status.code() != Some(130) || !left.is_empty() || dir.exists() {
        return Err(format!(
            "Ctrl-C during the demo: {mounted} mounts before, exit {status}, {} mounts after, directory {}",
            left.len(),
            if dir.exists() { "left behind" } else { "removed" }
        ));
    }
    eprintln!("xtask: demo interrupted with {mounted} mounts up: exit 130, nothing mounted or left behind");
    Ok(())
}
