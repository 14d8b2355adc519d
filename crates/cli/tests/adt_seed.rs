//! adt-seed run as a user would, against the embedded emulator: refusals
//! and exit codes, JSON, a run killed and resumed, seeding from the backup
//! bucket, and what s3fs shows of a seeded bucket.

mod common;

use common::{output, runtime, store};

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use adt_datastore::PutOptions;
use adt_testkit::{
    ACCESS_KEY, ArchiveBuilder, Emulator, Fault, FaultProxy, MTIME, S3fsMount, SECRET_KEY, pattern, require_tools,
    unique_bucket,
};
use bytes::Bytes;

const MIB: usize = 1024 * 1024;

struct Site {
    dir: tempfile::TempDir,
    url: String,
}

impl Site {
    /// A template for a unique site on `endpoint` with these settings.
    fn new(endpoint: &str, persist: &str, choice: &str, dirs: &str) -> Site {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("{}.example.com", unique_bucket("site"));
        let template = format!(
            "export APPLICATION=\"joomla\"\nexport WEBSITE_URL=\"{url}\"\nexport BUILD_ARCHIVE_CHOICE=\"{choice}\"\n\
             export S3_ACCESS_KEY=\"{ACCESS_KEY}\"\nexport S3_SECRET_KEY=\"{SECRET_KEY}\"\nexport S3_HOST_BASE=\"{endpoint}\"\n\
             export S3_LOCATION=\"us-east-1\"\nexport DIRECTORIES_TO_MOUNT=\"{dirs}\"\n\
             export PERSIST_ASSETS_TO_DATASTORE=\"{persist}\"\nexport SYNC_WEBROOTS=\"0\"\n"
        );
        std::fs::write(dir.path().join("site.tmpl"), template).unwrap();
        Site { dir, url }
    }

    fn template(&self) -> PathBuf {
        self.dir.path().join("site.tmpl")
    }

    fn bucket(&self, dir: &str) -> String {
        adt_template::derive_bucket_name(&self.url, dir)
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_adt-seed"));
        cmd.arg("--template")
            .arg(self.template())
            .args(args)
            .env("XDG_CACHE_HOME", self.dir.path().join("cache"))
            .env("NO_COLOR", "1");
        cmd
    }

    fn run(&self, args: &[&str]) -> (i32, String, String) {
        output(&mut self.command(args))
    }
}

fn small_archive(dir: &Path) -> PathBuf {
    let path = dir.join("applicationsourcecode.tar.gz");
    let mut a = ArchiveBuilder::create(&path);
    a.dir("./")
        .file("./index.php", 0o644, b"<?php")
        .file("./images/logo.png", 0o640, b"PNG")
        .dir("./images/empty/");
    a.finish();
    path
}

#[test]
fn refuses_when_persistence_is_off_or_the_build_is_fresh() {
    let emulator = Emulator::start().unwrap();
    let off = Site::new(&emulator.endpoint(), "0", "hourly", "images");
    let archive = small_archive(off.dir.path());
    let (code, _, err) = off.run(&["--backup", archive.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("PERSIST_ASSETS_TO_DATASTORE is not 1"), "{err}");

    for choice in ["baseline", "virgin"] {
        let fresh = Site::new(&emulator.endpoint(), "1", choice, "images");
        let (code, _, err) = fresh.run(&["--backup", archive.to_str().unwrap()]);
        assert_eq!(code, 1, "{err}");
        assert!(err.contains("persist-on-fresh-build"), "{err}");
    }
    let rt = runtime();
    assert!(
        !rt.block_on(store(&emulator.endpoint()).bucket_exists(&off.bucket("images")))
            .unwrap()
    );
}

#[test]
fn bad_usage_and_unreadable_input_exit_2() {
    let emulator = Emulator::start().unwrap();
    let site = Site::new(&emulator.endpoint(), "1", "hourly", "images");
    let archive = small_archive(site.dir.path());
    let a = archive.to_str().unwrap();
    // No source: the backup of the template's BUILD_ARCHIVE_CHOICE
    // (hourly), which is not there; without a choice, bad usage.
    let (code, _, err) = site.run(&[]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(&adt_template::backup_bucket_name(
            &site.url,
            adt_template::Period::Hourly
        )),
        "{err}"
    );
    let unset = Site::new(&emulator.endpoint(), "1", "", "images");
    let (code, _, err) = unset.run(&[]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("BUILD_ARCHIVE_CHOICE") && err.contains("--archive"),
        "{err}"
    );
    assert_eq!(
        site.run(&["--backup", a, "--from-period", "hourly"]).0,
        2,
        "two sources"
    );
    assert_eq!(site.run(&["--from-period", "yearly"]).0, 2);
    assert_eq!(site.run(&["--backup", a, "--jobs", "0"]).0, 2);
    let out = Command::new(env!("CARGO_BIN_EXE_adt-seed"))
        .args(["--template", "/nonexistent.tmpl", "--backup", a])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent.tmpl"));
    // A missing archive is input that cannot be read: 2, as in adt-check.
    let (code, _, err) = site.run(&["--backup", "/nonexistent/backup.tar.gz"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("/nonexistent/backup.tar.gz"), "{err}");
}

#[test]
fn an_unreachable_datastore_fails_quickly_and_says_where() {
    let emulator = Emulator::start().unwrap();
    let site = Site::new(&emulator.endpoint(), "1", "hourly", "images");
    let archive = small_archive(site.dir.path());
    let nowhere = adt_testkit::closed_endpoint();
    let started = Instant::now();
    let (code, out, err) = site.run(&[
        "--backup",
        archive.to_str().unwrap(),
        "--endpoint",
        &nowhere,
        "--no-cache",
    ]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(err.contains(&nowhere) && err.contains("cannot reach"), "{err}");
    assert!(!err.contains(SECRET_KEY) && !out.contains(SECRET_KEY));
}

#[test]
fn seeds_then_reports_nothing_to_do_in_json() {
    let emulator = Emulator::start().unwrap();
    let site = Site::new(&emulator.endpoint(), "1", "hourly", "images");
    let archive = small_archive(site.dir.path());
    let a = archive.to_str().unwrap();
    let (code, out, err) = site.run(&["--backup", a, "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let json: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let bucket = &json["buckets"][0];
    assert_eq!(bucket["bucket"], site.bucket("images"));
    assert_eq!(bucket["entry"], "images");
    assert_eq!(
        (
            bucket["objects"].as_u64(),
            bucket["uploaded"].as_u64(),
            bucket["bytes"].as_u64()
        ),
        (Some(2), Some(2), Some(3))
    );
    for field in ["skipped", "conflicts"] {
        assert_eq!(bucket[field], 0, "{field}");
    }
    assert!(json["warnings"].as_array().unwrap().is_empty());

    let (code, out, _) = site.run(&["--backup", a, "--format", "json"]);
    assert_eq!(code, 0);
    let json: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        (
            json["buckets"][0]["uploaded"].as_u64(),
            json["buckets"][0]["skipped"].as_u64()
        ),
        (Some(0), Some(2))
    );
    let (code, out, _) = site.run(&["--backup", a, "--dry-run", "--no-cache"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("dry run, nothing written") && !out.contains("would upload"),
        "{out}"
    );
}

#[test]
fn seeds_from_the_period_backup_bucket() {
    let emulator = Emulator::start().unwrap();
    let site = Site::new(&emulator.endpoint(), "1", "daily", "images");
    let archive = small_archive(site.dir.path());
    let s = store(&emulator.endpoint());
    let backups = adt_template::backup_bucket_name(&site.url, adt_template::Period::Daily);
    let rt = runtime();
    rt.block_on(async {
        s.ensure_bucket(&backups).await.unwrap();
        let body = Bytes::from(std::fs::read(&archive).unwrap());
        s.put(&backups, "applicationsourcecode.tar.gz", body, &PutOptions::default())
            .await
            .unwrap();
    });
    let (code, out, err) = site.run(&["--from-period", "daily"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!("s3://{backups}/applicationsourcecode.tar.gz")),
        "{out}"
    );
    assert!(
        rt.block_on(s.head(&site.bucket("images"), "logo.png"))
            .unwrap()
            .is_some()
    );
    // Issue 15: ADT's cron passes the period in upper case, and without a
    // source the period is the template's BUILD_ARCHIVE_CHOICE (daily).
    let (code, out, err) = site.run(&["--from-period", "DAILY"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = site.run(&[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!("s3://{backups}/applicationsourcecode.tar.gz")),
        "the template's BUILD_ARCHIVE_CHOICE: {out}"
    );
    let (code, _, err) = site.run(&["--from-period", "weekly"]);
    assert_eq!(code, 1);
    assert!(
        err.contains(&adt_template::backup_bucket_name(
            &site.url,
            adt_template::Period::Weekly
        )),
        "{err}"
    );
}

#[test]
fn a_killed_run_resumes_and_every_object_is_whole() {
    let emulator = Emulator::start().unwrap();
    let proxy = FaultProxy::start(&emulator.endpoint()).unwrap();
    proxy.add(Fault::Latency(Duration::from_millis(15)));
    let site = Site::new(&proxy.endpoint(), "1", "hourly", "images");
    let archive = site.dir.path().join("applicationsourcecode.tar.gz");
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut a = ArchiveBuilder::create(&archive);
    for i in 0..240u32 {
        let body = pattern(20_000 + (i as usize * 37) % 9_000, i as u8);
        a.file(&format!("./images/{:02}/{i:04}.jpg", i % 7), 0o644, &body);
        files.insert(format!("{:02}/{i:04}.jpg", i % 7), body);
    }
    let video = pattern(9 * MIB + 11, 200);
    a.file("./images/video.mp4", 0o644, &video);
    files.insert("video.mp4".into(), video);
    a.finish();

    let s = store(&emulator.endpoint());
    let bucket = site.bucket("images");
    let rt = runtime();
    let mut child = site
        .command(&["--backup", archive.to_str().unwrap(), "--jobs", "2", "--no-cache"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let present = rt.block_on(s.list(&bucket, None)).map(|l| l.len()).unwrap_or(0);
        if present >= 40 {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "finished before it could be killed"
        );
        assert!(Instant::now() < deadline, "no progress");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();

    let check_whole = |listing: &[adt_datastore::ObjectInfo]| {
        for object in listing {
            let (_, body) = rt.block_on(s.get_bytes(&bucket, &object.key)).unwrap();
            assert_eq!(Some(&body.to_vec()), files.get(&object.key), "{} is whole", object.key);
        }
    };
    // Requests the killed process had already sent may still complete in
    // the emulator: wait until the bucket stops changing.
    let mut after_kill = rt.block_on(s.list(&bucket, None)).unwrap();
    loop {
        std::thread::sleep(Duration::from_millis(300));
        let again = rt.block_on(s.list(&bucket, None)).unwrap();
        if again.len() == after_kill.len() {
            break;
        }
        after_kill = again;
    }
    assert!(
        after_kill.len() < files.len(),
        "killed mid-way: {} of {}",
        after_kill.len(),
        files.len()
    );
    check_whole(&after_kill);

    proxy.clear();
    let (code, out, err) = site.run(&["--backup", archive.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, 0, "{out}{err}");
    let json: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let b = &json["buckets"][0];
    assert_eq!(b["objects"].as_u64().unwrap(), files.len() as u64);
    assert_eq!(b["skipped"].as_u64().unwrap(), after_kill.len() as u64);
    assert_eq!(b["uploaded"].as_u64().unwrap(), (files.len() - after_kill.len()) as u64);
    let complete = rt.block_on(s.list(&bucket, None)).unwrap();
    assert_eq!(complete.len(), files.len());
    check_whole(&complete);
}

#[test]
fn s3fs_shows_seeded_files_with_their_original_modes_and_mtimes() {
    if !require_tools(&["s3fs", "fusermount3"], true) {
        return;
    }
    let emulator = Emulator::start().unwrap();
    let site = Site::new(&emulator.endpoint(), "1", "hourly", "images");
    let archive = small_archive(site.dir.path());
    let (code, _, err) = site.run(&["--backup", archive.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let mnt = site.dir.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let passwd = site.dir.path().join("passwd");
    let _mount = S3fsMount::mount(
        &emulator.endpoint(),
        &site.bucket("images"),
        ACCESS_KEY,
        SECRET_KEY,
        &passwd,
        &mnt,
    );
    let logo = std::fs::metadata(mnt.join("logo.png")).unwrap();
    assert_eq!(logo.permissions().mode() & 0o7777, 0o640);
    use std::os::unix::fs::MetadataExt;
    assert_eq!(logo.mtime(), MTIME as i64);
    assert_eq!((logo.uid(), logo.gid()), (33, 33));
    assert_eq!(std::fs::read(mnt.join("logo.png")).unwrap(), b"PNG");
    let empty = std::fs::metadata(mnt.join("empty")).unwrap();
    assert!(empty.is_dir());
    assert_eq!(empty.permissions().mode() & 0o7777, 0o755);
}
