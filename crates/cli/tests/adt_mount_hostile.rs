//! adt-mount against a hostile local user and an unlucky one (issue 12):
//! each test reproduces a numbered case of the issue through the binary,
//! with real s3fs against the embedded emulator, and shows it fixed.

mod common;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use adt_datastore::PutOptions;
use adt_testkit::{Emulator, require_tools, unique_bucket};

struct Site {
    emulator: Emulator,
    dir: tempfile::TempDir,
    url: String,
}

impl Site {
    fn new() -> Option<Site> {
        if !require_tools(&["s3fs", "fusermount3"], true) {
            return None;
        }
        let emulator = Emulator::start().unwrap();
        let dir = tempfile::tempdir().unwrap();
        // Other users can reach the webroot, as on a real server: only the
        // mount's own permissions keep them out.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::create_dir_all(dir.path().join("www/html")).unwrap();
        let url = format!("{}.example.com", unique_bucket("hostile"));
        let site = Site { emulator, dir, url };
        common::images_template(&site.template(), &site.url, &site.emulator.endpoint());
        Some(site)
    }

    fn template(&self) -> PathBuf {
        self.dir.path().join("site.tmpl")
    }

    fn webroot(&self) -> PathBuf {
        self.dir.path().join("www/html")
    }

    fn images(&self) -> PathBuf {
        self.webroot().join("images")
    }

    fn bucket(&self) -> String {
        format!("{}-assets-images", self.url.replace('.', "-"))
    }

    fn run(&self, sub: &str, extra: &[&str]) -> (i32, String, String) {
        let state = self.dir.path().join("state");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_adt-mount"));
        cmd.arg(sub)
            .arg("--template")
            .arg(self.template())
            .arg("--webroot")
            .arg(self.webroot())
            .arg("--state-dir")
            .arg(&state)
            .args(["--uid", "33", "--gid", "33", "--tool", "s3fs"])
            .args(extra);
        common::output(&mut cmd)
    }

    fn keys(&self) -> Vec<String> {
        let store = common::store(&self.emulator.endpoint());
        common::runtime()
            .block_on(store.list(&self.bucket(), None))
            .map(|l| l.into_iter().map(|o| o.key).collect())
            .unwrap_or_default()
    }

    fn put(&self, key: &str, body: &[u8]) {
        let store = common::store(&self.emulator.endpoint());
        let rt = common::runtime();
        rt.block_on(store.ensure_bucket(&self.bucket())).unwrap();
        rt.block_on(store.put(&self.bucket(), key, body.to_vec().into(), &PutOptions::default()))
            .unwrap();
    }

    fn retired_dirs(&self) -> Vec<PathBuf> {
        std::fs::read_dir(self.webroot())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.file_name().unwrap().to_string_lossy().contains("adt-retired"))
            .collect()
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        self.run("unmount", &["--grace", "5"]);
    }
}

/// A root-only directory outside the webroot holding a secret.
fn secret_dir(base: &Path) -> PathBuf {
    let secret = base.join("root-only");
    std::fs::create_dir(&secret).unwrap();
    std::fs::write(secret.join("secret.txt"), b"TOP-SECRET").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o700)).unwrap();
    secret
}

/// Case 1: same size, other content: kept locally, named, never purged.
#[test]
fn a_local_file_with_other_content_of_the_same_size_is_never_purged() {
    let Some(site) = Site::new() else { return };
    site.put("a.txt", b"BBBB");
    std::fs::create_dir(site.images()).unwrap();
    std::fs::write(site.images().join("a.txt"), b"AAAA").unwrap();
    let (code, out, err) = site.run("mount", &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        err.contains("warning:") && err.contains("differ from the bucket's copy") && err.contains("a.txt"),
        "warnings go to stderr: {err}"
    );
    site.run("unmount", &[]);
    let (code, out, err) = site.run("mount", &["--purge-retired"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("kept 1 file(s) not verified"), "{err}");
    let retired = site.retired_dirs();
    assert_eq!(retired.len(), 1);
    assert_eq!(std::fs::read(retired[0].join("a.txt")).unwrap(), b"AAAA");
}

/// Case 2: an asset directory that is a symlink is refused, nothing changed.
#[test]
fn an_asset_directory_that_is_a_symlink_is_refused_and_nothing_changes() {
    let Some(site) = Site::new() else { return };
    let secret = secret_dir(site.dir.path());
    std::os::unix::fs::symlink(&secret, site.images()).unwrap();
    let (code, out, err) = site.run("mount", &[]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("symbolic link"), "{err}");
    assert!(
        std::fs::symlink_metadata(site.images())
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(site.retired_dirs().is_empty());
    assert!(!site.keys().iter().any(|k| k.contains("secret")), "{:?}", site.keys());
    assert_eq!(std::fs::read(secret.join("secret.txt")).unwrap(), b"TOP-SECRET");
}

/// Case 2: a symlink inside the directory is never followed or uploaded.
#[test]
fn a_symlink_inside_an_asset_directory_is_not_followed() {
    let Some(site) = Site::new() else { return };
    let secret = secret_dir(site.dir.path());
    std::fs::create_dir(site.images()).unwrap();
    std::fs::write(site.images().join("photo.jpg"), b"jpeg").unwrap();
    std::os::unix::fs::symlink(secret.join("secret.txt"), site.images().join("leak.txt")).unwrap();
    std::os::unix::fs::symlink(&secret, site.images().join("leakdir")).unwrap();
    let (code, out, err) = site.run("mount", &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("leak.txt") && err.contains("leakdir"), "reported: {err}");
    let keys = site.keys();
    assert_eq!(keys, vec!["photo.jpg".to_string()], "only the real file went up");
}

/// Case 5: names that cannot be keys are never uploaded, never purged,
/// and two such names never collide.
#[test]
fn names_that_cannot_be_keys_stay_local_and_are_never_purged() {
    let Some(site) = Site::new() else { return };
    std::fs::create_dir(site.images()).unwrap();
    let names: [&[u8]; 3] = [b"a\xff", b"a\xfe", b"up\x01load.jpg"];
    for (i, n) in names.iter().enumerate() {
        std::fs::write(site.images().join(OsStr::from_bytes(n)), format!("body {i}")).unwrap();
    }
    std::fs::write(site.images().join("ok.jpg"), b"fine").unwrap();
    let (code, out, err) = site.run("mount", &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("cannot be object keys"), "{err}");
    assert!(
        err.contains("a\\xff") && err.contains("a\\xfe") && err.contains("up\\x01load.jpg"),
        "{err}"
    );
    assert_eq!(site.keys(), vec!["ok.jpg".to_string()]);
    site.run("unmount", &[]);
    let (code, out, err) = site.run("mount", &["--purge-retired"]);
    assert_eq!(code, 0, "{out}{err}");
    let retired = site.retired_dirs();
    assert_eq!(retired.len(), 1, "kept: {out}");
    for (i, n) in names.iter().enumerate() {
        assert_eq!(
            std::fs::read(retired[0].join(OsStr::from_bytes(n))).unwrap(),
            format!("body {i}").as_bytes()
        );
    }
    assert!(!retired[0].join("ok.jpg").exists(), "the verified file was purged");
}

/// Case 6: through the mount, www-data reads and writes; nobody can't.
#[test]
fn only_root_and_the_web_server_user_use_the_mount() {
    let Some(site) = Site::new() else { return };
    site.put("existing.jpg", b"jpeg");
    let (code, out, err) = site.run("mount", &[]);
    assert_eq!(code, 0, "{out}{err}");
    let images = site.images();
    let img = images.display();
    let mode = std::fs::metadata(&images).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode & 0o007, 0, "mount root mode {mode:o}");
    assert!(
        adt_testkit::run_as(65534, &format!("test -d {}", site.webroot().display())),
        "nobody reaches the webroot"
    );
    assert!(adt_testkit::run_as(
        33,
        &format!("cat {img}/existing.jpg >/dev/null && echo hi > {img}/new.txt")
    ));
    for attempt in [
        format!("ls {img}"),
        format!("cat {img}/existing.jpg"),
        format!("echo x > {img}/evil.txt"),
        format!("rm -f {img}/new.txt"),
        format!("echo x >> {img}/new.txt"),
    ] {
        assert!(!adt_testkit::run_as(65534, &attempt), "nobody could: {attempt}");
    }
    assert_eq!(std::fs::read(images.join("new.txt")).unwrap(), b"hi\n");
    std::fs::write(images.join("root.txt"), b"root writes too").unwrap();
}

/// Case 8: a state directory open to others is refused, never chmodded.
#[test]
fn a_state_directory_open_to_others_is_refused_not_chmodded() {
    let Some(site) = Site::new() else { return };
    let state = site.dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o1777)).unwrap();
    std::fs::create_dir(site.images()).unwrap();
    std::fs::write(site.images().join("x.jpg"), b"x").unwrap();
    let (code, out, err) = site.run("mount", &[]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("never changed for you") && err.contains("1777"), "{err}");
    assert_eq!(std::fs::metadata(&state).unwrap().permissions().mode() & 0o7777, 0o1777);
    assert!(site.retired_dirs().is_empty() && site.images().join("x.jpg").exists());
}

/// Case 10: a webroot that is not UTF-8 is a usage error, not a panic.
#[test]
fn a_non_utf8_webroot_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let webroot = dir.path().join(OsStr::from_bytes(b"html\xff"));
    std::fs::create_dir(&webroot).unwrap();
    let template = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/templates/clean/merge.tmpl");
    let cases: [(&str, &[&str]); 3] = [
        (env!("CARGO_BIN_EXE_adt-mount"), &["plan", "--format", "json"]),
        (env!("CARGO_BIN_EXE_adt-mount"), &["status", "--format", "json"]),
        (env!("CARGO_BIN_EXE_adt-backup"), &["exclusions", "--format", "json"]),
    ];
    for (bin, args) in cases {
        let (code, out, err) = common::output(
            Command::new(bin)
                .args(args)
                .arg("--template")
                .arg(&template)
                .arg("--webroot")
                .arg(&webroot),
        );
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        assert!(err.contains("not valid UTF-8") && !err.contains("panicked"), "{err}");
    }
}

/// Case 7: a webroot given through a symlink is resolved once, so the
/// asset directory behind it is still excluded from backups.
#[test]
fn a_webroot_through_a_symlink_still_excludes_the_mounts() {
    let Some(site) = Site::new() else { return };
    let (code, out, err) = site.run("mount", &[]);
    assert_eq!(code, 0, "{out}{err}");
    let link = site.dir.path().join("site-link");
    std::os::unix::fs::symlink(site.webroot(), &link).unwrap();
    let output = site.dir.path().join("backup.tar.gz");
    let (code, out, err) = common::output(
        Command::new(env!("CARGO_BIN_EXE_adt-backup"))
            .args(["create", "--format", "json", "--output"])
            .arg(&output)
            .arg("--webroot")
            .arg(format!("{}/../site-link", site.dir.path().join("www").display())),
    );
    assert_eq!(code, 2, "`..` is refused: {out}{err}");
    let (code, out, err) = common::output(
        Command::new(env!("CARGO_BIN_EXE_adt-backup"))
            .args(["create", "--format", "json", "--output"])
            .arg(&output)
            .arg("--webroot")
            .arg(&link),
    );
    assert_eq!(code, 0, "{out}{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["excluded"], serde_json::json!(["images"]), "{out}");
    assert_eq!(std::fs::metadata(&output).unwrap().permissions().mode() & 0o777, 0o600);
}

/// Case 2, racing: while adt-mount uploads the local files, another
/// thread keeps exchanging a subdirectory with a link to a root-only
/// directory (renameat2 RENAME_EXCHANGE). Whatever the timing, nothing
/// of the root-only directory reaches the bucket.
#[test]
fn a_directory_swapped_for_a_link_during_the_upload_leaks_nothing() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    for round in 0..8 {
        let Some(site) = Site::new() else { return };
        let secret = secret_dir(site.dir.path());
        let sub = site.images().join("sub");
        std::fs::create_dir_all(&sub).unwrap();
        for i in 0..40 {
            std::fs::write(sub.join(format!("f{i}.jpg")), format!("image {i}")).unwrap();
        }
        std::os::unix::fs::symlink(&secret, site.images().join("lnk")).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let swapper = {
            let (stop, images) = (Arc::clone(&stop), site.images());
            std::thread::spawn(move || {
                let dir = rustix::fs::open(&images, rustix::fs::OFlags::DIRECTORY, rustix::fs::Mode::empty()).unwrap();
                let mut swaps = 0u64;
                while !stop.load(Ordering::SeqCst) {
                    if rustix::fs::renameat_with(&dir, "sub", &dir, "lnk", rustix::fs::RenameFlags::EXCHANGE).is_ok() {
                        swaps += 1;
                    }
                }
                swaps
            })
        };
        let (code, out, err) = site.run("mount", &[]);
        stop.store(true, Ordering::SeqCst);
        let swaps = swapper.join().unwrap();
        assert!(swaps > 0, "round {round}: the swapper ran");
        assert!(code == 0 || code == 1, "round {round}: {out}{err}");
        let keys = site.keys();
        assert!(
            !keys.iter().any(|k| k.contains("secret")),
            "round {round}: leaked {keys:?}"
        );
        let store = common::store(&site.emulator.endpoint());
        let rt = common::runtime();
        for k in &keys {
            if let Ok((_, body)) = rt.block_on(store.get_bytes(&site.bucket(), k)) {
                assert!(!body.windows(10).any(|w| w == b"TOP-SECRET"), "round {round}: {k}");
            }
        }
    }
}

/// Case 4: unit files written as root into a directory another user may
/// control never write through a link planted at a unit's name.
#[test]
fn units_never_write_through_a_planted_link() {
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim");
    std::fs::write(&victim, b"precious").unwrap();
    let out = dir.path().join("units");
    std::fs::create_dir(&out).unwrap();
    let planted = out.join("adt-mount-var-www-html-images.service");
    std::os::unix::fs::symlink(&victim, &planted).unwrap();
    let template = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/templates/clean/merge.tmpl");
    let (code, out_text, err) = common::output(
        Command::new(env!("CARGO_BIN_EXE_adt-mount"))
            .arg("units")
            .arg("--template")
            .arg(&template)
            .arg("--output-dir")
            .arg(&out),
    );
    assert_eq!(code, 0, "{out_text}{err}");
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    let meta = std::fs::symlink_metadata(&planted).unwrap();
    assert!(meta.file_type().is_file(), "the link was replaced by the unit");
    assert!(std::fs::read_to_string(&planted).unwrap().contains("[Unit]"));
}

/// Purge touches only the directory that was moved aside: another one
/// renamed to its name later is left alone, even when its files match.
#[test]
fn purge_leaves_a_directory_renamed_to_a_retired_name_alone() {
    let Some(site) = Site::new() else { return };
    std::fs::create_dir(site.images()).unwrap();
    std::fs::write(site.images().join("a.jpg"), b"shared bytes").unwrap();
    let (code, out, err) = site.run("mount", &[]);
    assert_eq!(code, 0, "{out}{err}");
    site.run("unmount", &[]);
    let retired = site.retired_dirs().pop().unwrap();
    std::fs::rename(&retired, site.dir.path().join("the-real-one")).unwrap();
    std::fs::create_dir(&retired).unwrap();
    std::fs::write(retired.join("a.jpg"), b"shared bytes").unwrap();
    let (code, out, err) = site.run("mount", &["--purge-retired"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("not the directory that was moved aside"), "{err}");
    assert_eq!(std::fs::read(retired.join("a.jpg")).unwrap(), b"shared bytes");
}

/// Issue 13, case 7: values that reach the tools' option strings cannot
/// carry separators: a region with `,` (refused by adt-check and by the
/// datastore layer), a state directory with `,`.
#[test]
fn option_strings_cannot_be_injected() {
    let dir = tempfile::tempdir().unwrap();
    let template = dir.path().join("site.tmpl");
    std::fs::write(
        &template,
        "WEBSITE_URL=\"www.example.com\"\nBUILD_ARCHIVE_CHOICE=\"hourly\"\nS3_ACCESS_KEY=\"AK\"\nS3_SECRET_KEY=\"SK\"\n\
         S3_HOST_BASE=\"s3.example.com\"\nS3_LOCATION=\"us-east-1,passwd_file=/etc/other.passwd,curldbg\"\n\
         DIRECTORIES_TO_MOUNT=\"images\"\nPERSIST_ASSETS_TO_DATASTORE=\"1\"\n",
    )
    .unwrap();
    let (code, out, err) = common::output(
        Command::new(env!("CARGO_BIN_EXE_adt-mount"))
            .args(["plan", "--template"])
            .arg(&template)
            .arg("--state-dir")
            .arg(dir.path().join("state")),
    );
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("invalid-region") && !out.contains("passwd_file=/etc/other"),
        "{out}{err}"
    );
    let (code, _, err) = common::output(
        Command::new(env!("CARGO_BIN_EXE_adt-mount"))
            .args(["plan", "--template"])
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/templates/clean/merge.tmpl"))
            .arg("--state-dir")
            .arg(dir.path().join("state,curldbg")),
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("separator"), "{err}");
}
