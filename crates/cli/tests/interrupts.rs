//! Signals and late mounts (issue 12, cases 9 and 11), through the
//! binaries: SIGINT during a backup upload aborts the multipart upload and
//! releases the lock; SIGTERM during a mount puts the directory back and
//! stops the tool; a tool that would mount after adt-mount gave up never
//! covers the restored directory.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use adt_testkit::{Emulator, Fault, FaultProxy, require_tools, unique_bucket};
use rustix::process::{Pid, Signal, kill_process};

fn template(dir: &Path, url: &str, endpoint: &str) -> PathBuf {
    let path = dir.join("site.tmpl");
    common::images_template(&path, url, endpoint);
    path
}

fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn signal(child: &std::process::Child, sig: Signal) {
    kill_process(Pid::from_raw(child.id() as i32).unwrap(), sig).unwrap();
}

fn alive(pid: &str) -> bool {
    Path::new("/proc").join(pid.trim()).exists()
}

#[test]
fn sigint_during_a_backup_upload_aborts_it_and_releases_the_lock() {
    let emulator = Emulator::start().unwrap();
    let proxy = FaultProxy::start(&emulator.endpoint()).unwrap();
    proxy.add(Fault::Latency(Duration::from_millis(400)));
    let dir = tempfile::tempdir().unwrap();
    let url = format!("{}.example.com", unique_bucket("sig"));
    let template = template(dir.path(), &url, &proxy.endpoint());
    let archive = dir.path().join("backup.tar.gz");
    let body: Vec<u8> = (0..24 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&archive, &body).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_adt-backup"))
        .args(["upload", "--period", "hourly", "--template"])
        .arg(&template)
        .arg("--archive")
        .arg(&archive)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("a part upload", Duration::from_secs(60), || {
        assert!(
            matches!(child.try_wait(), Ok(None)),
            "adt-backup ended early; requests: {:?}",
            proxy.requests()
        );
        proxy.requests().iter().any(|(_, path)| path.contains("partNumber=1"))
    });
    signal(&child, Signal::INT);
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(
        err.contains("stopped by SIGINT") && err.contains("the current backup is whole"),
        "{err}"
    );
    assert!(err.contains("aborted") && err.contains("backup lock released"), "{err}");
    let store = common::store(&emulator.endpoint());
    let rt = common::runtime();
    let bucket = adt_template::backup_bucket_name(&url, adt_template::Period::Hourly);
    let keys: Vec<String> = rt
        .block_on(store.list(&bucket, None))
        .unwrap()
        .into_iter()
        .map(|o| o.key)
        .collect();
    assert!(keys.is_empty(), "no lock, no temporary object, no backup: {keys:?}");
    let uploads = rt.block_on(store.list_multipart_uploads(&bucket)).unwrap();
    assert!(uploads.is_empty(), "no multipart upload left: {uploads:?}");
}

/// A fake `s3fs` first on PATH, running `script`; its PID goes to `pidfile`.
fn fake_tool(dir: &Path, script: &str) -> (String, PathBuf) {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let tool = bin.join("s3fs");
    std::fs::write(&tool, format!("#!/bin/sh\n{script}\n")).unwrap();
    std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    (path, dir.join("tool.pid"))
}

fn mount_command(dir: &Path, template: &Path, path_var: &str, timeout: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_adt-mount"));
    cmd.args([
        "mount",
        "--tool",
        "s3fs",
        "--timeout",
        timeout,
        "--uid",
        "0",
        "--gid",
        "0",
        "--template",
    ])
    .arg(template)
    .arg("--webroot")
    .arg(dir.join("www/html"))
    .arg("--state-dir")
    .arg(dir.join("state"))
    .env("PATH", path_var)
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    cmd
}

fn site_with_local_file(dir: &Path) -> PathBuf {
    let images = dir.join("www/html/images");
    std::fs::create_dir_all(&images).unwrap();
    std::fs::write(images.join("local.jpg"), b"local").unwrap();
    images
}

fn retired(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("www/html"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .contains("adt-retired")
        })
        .count()
}

#[test]
fn sigterm_during_a_mount_puts_the_directory_back_and_stops_the_tool() {
    let emulator = Emulator::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let images = site_with_local_file(dir.path());
    let url = format!("{}.example.com", unique_bucket("term"));
    let template = template(dir.path(), &url, &emulator.endpoint());
    let (path_var, pidfile) = fake_tool(
        dir.path(),
        &format!("echo $$ > {}\nexec sleep 60", dir.path().join("tool.pid").display()),
    );
    let child = mount_command(dir.path(), &template, &path_var, "30").spawn().unwrap();
    wait_until("the tool to start", Duration::from_secs(20), || pidfile.exists());
    assert_eq!(retired(dir.path()), 1, "moved aside while mounting");
    signal(&child, Signal::TERM);
    let started = Instant::now();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(143), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10), "stopped promptly");
    assert!(err.contains("stopped by SIGTERM") && err.contains("put back"), "{err}");
    assert_eq!(std::fs::read(images.join("local.jpg")).unwrap(), b"local");
    assert_eq!(retired(dir.path()), 0);
    let pid = std::fs::read_to_string(&pidfile).unwrap();
    wait_until("the tool to be gone", Duration::from_secs(5), || !alive(&pid));
}

#[test]
fn a_tool_that_would_mount_later_never_covers_the_restored_directory() {
    if !require_tools(&["s3fs", "fusermount3"], true) {
        return;
    }
    let emulator = Emulator::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let images = site_with_local_file(dir.path());
    let url = format!("{}.example.com", unique_bucket("late"));
    let template = template(dir.path(), &url, &emulator.endpoint());
    let real = adt_mounts::find_program("s3fs").unwrap();
    // Like a daemonising tool: returns at once, mounts a few seconds later,
    // over a directory that is not empty (as mergerfs, or s3fs -o nonempty).
    let (path_var, pidfile) = fake_tool(
        dir.path(),
        &format!(
            "( sleep 3; exec {} \"$@\" -o nonempty ) &\necho $! > {}\nexit 0",
            real.display(),
            dir.path().join("tool.pid").display()
        ),
    );
    let out = mount_command(dir.path(), &template, &path_var, "2").output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(std::fs::read(images.join("local.jpg")).unwrap(), b"local");
    let pid = std::fs::read_to_string(&pidfile).unwrap();
    std::thread::sleep(Duration::from_secs(5));
    assert!(!alive(&pid), "the late tool was stopped with its group");
    let table = adt_localfs::MountTable::read().unwrap();
    assert!(
        table.at(&images).is_none(),
        "nothing mounted over the restored directory"
    );
    assert_eq!(std::fs::read(images.join("local.jpg")).unwrap(), b"local");
    assert_eq!(retired(dir.path()), 0);
}

/// A mount point swapped for a link after adt-mount checked it makes the
/// tool mount somewhere else: that mount is seen at once and undone,
/// instead of serving the bucket there until the timeout.
#[test]
fn a_mount_that_lands_elsewhere_is_undone_at_once() {
    if !require_tools(&["s3fs", "fusermount3"], true) {
        return;
    }
    let emulator = Emulator::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let images = site_with_local_file(dir.path());
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let url = format!("{}.example.com", unique_bucket("redir"));
    let template = template(dir.path(), &url, &emulator.endpoint());
    let real = adt_mounts::find_program("s3fs").unwrap();
    // As if the path now led to `elsewhere`: the tool mounts there.
    let (path_var, _) = fake_tool(
        dir.path(),
        &format!(
            "bucket=$1; shift 2\nexec {} \"$bucket\" {} \"$@\"",
            real.display(),
            elsewhere.display()
        ),
    );
    let started = Instant::now();
    let out = mount_command(dir.path(), &template, &path_var, "30").output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("was replaced while it was being mounted"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "not after the 30 s timeout"
    );
    let table = adt_localfs::MountTable::read().unwrap();
    assert!(table.at(&elsewhere).is_none(), "the stray mount was undone");
    assert_eq!(std::fs::read(images.join("local.jpg")).unwrap(), b"local");
    assert_eq!(retired(dir.path()), 0);
}
