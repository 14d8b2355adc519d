//! A site rebuilt from its backup and its asset bucket, through the
//! binaries, as an operator would: site -> backup -> seed -> mount -> new
//! uploads -> backup -> restore elsewhere, mounted and downloaded; both
//! restored webroots must be byte for byte the site, new uploads included.

mod common;

use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use adt_testkit::{Emulator, require_tools, unique_bucket};

fn run(program: &str, args: &[&str]) -> (i32, String, String) {
    let path = match program {
        "adt-backup" => env!("CARGO_BIN_EXE_adt-backup"),
        "adt-seed" => env!("CARGO_BIN_EXE_adt-seed"),
        "adt-mount" => env!("CARGO_BIN_EXE_adt-mount"),
        other => panic!("{other}"),
    };
    common::output(Command::new(path).args(args))
}

/// Every entry below `root`: its kind, mode, owner, time and content
/// (link target for a link), keyed by relative path as bytes. Moved-aside
/// directories are left out (they stay on the machine they were made on).
fn tree(root: &Path, owners: bool) -> BTreeMap<Vec<u8>, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        for entry in std::fs::read_dir(root.join(&rel)).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name();
            if name.as_bytes().windows(12).any(|w| w == b"adt-retired-") {
                continue;
            }
            let rel = rel.join(&name);
            let meta = std::fs::symlink_metadata(root.join(&rel)).unwrap();
            let owner = if owners {
                format!("{}:{}", meta.uid(), meta.gid())
            } else {
                String::new()
            };
            let what = if meta.file_type().is_symlink() {
                format!("link {:?}", std::fs::read_link(root.join(&rel)).unwrap())
            } else if meta.is_dir() {
                stack.push(rel.clone());
                format!("dir {:o} {owner}", meta.mode() & 0o7777)
            } else {
                let body = std::fs::read(root.join(&rel)).unwrap();
                let sum = body
                    .iter()
                    .fold(0u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3));
                format!(
                    "file {:o} {owner} {} {} bytes, fnv {sum:x}",
                    meta.mode() & 0o7777,
                    meta.mtime(),
                    body.len()
                )
            };
            out.insert(rel.as_os_str().as_bytes().to_vec(), what);
        }
    }
    out
}

/// The site's files outside the asset directory, and inside it.
fn split(t: BTreeMap<Vec<u8>, String>) -> (BTreeMap<Vec<u8>, String>, BTreeMap<Vec<u8>, String>) {
    t.into_iter().partition(|(k, _)| !k.starts_with(b"images/"))
}

/// Equal trees, or a panic naming each path that differs.
#[track_caller]
fn same(got: &BTreeMap<Vec<u8>, String>, want: &BTreeMap<Vec<u8>, String>, what: &str) {
    let keys: std::collections::BTreeSet<_> = got.keys().chain(want.keys()).collect();
    let diff: Vec<String> = keys
        .into_iter()
        .filter(|k| got.get(*k) != want.get(*k))
        .map(|k| {
            format!(
                "{}: got {:?}, want {:?}",
                String::from_utf8_lossy(k),
                got.get(k),
                want.get(k)
            )
        })
        .collect();
    assert!(diff.is_empty(), "{what}:\n{}", diff.join("\n"));
}

fn set_mtime(path: &Path, secs: i64) {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs as u64);
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(t)
        .unwrap();
}

#[test]
fn a_site_is_rebuilt_from_its_backup_and_its_bucket() {
    if !require_tools(&["s3fs", "fusermount3"], true) {
        return;
    }
    let emulator = Emulator::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().canonicalize().unwrap();
    // The site before persistence: code, a link, odd names and modes, and
    // its images local.
    let webroot = base.join("www/html");
    std::fs::create_dir_all(webroot.join("images/2024/01")).unwrap();
    std::fs::create_dir_all(webroot.join("includes")).unwrap();
    std::fs::write(webroot.join("index.php"), b"<?php echo 1;").unwrap();
    std::fs::write(webroot.join("includes/config.php"), b"<?php $db = 1;").unwrap();
    std::fs::write(webroot.join("caf\u{e9} menu.txt"), b"menu").unwrap();
    std::fs::write(webroot.join(std::ffi::OsStr::from_bytes(b"latin1-\xe9.txt")), b"bytes").unwrap();
    std::os::unix::fs::symlink("includes/config.php", webroot.join("config-link.php")).unwrap();
    std::fs::write(webroot.join(adt_template::MARKER), b"").unwrap();
    std::fs::write(webroot.join("images/logo.png"), vec![7u8; 70_000]).unwrap();
    std::fs::write(webroot.join("images/2024/01/a.png"), b"first upload").unwrap();
    for (path, mode) in [
        ("includes/config.php", 0o640),
        ("index.php", 0o644),
        ("includes", 0o750),
    ] {
        std::fs::set_permissions(webroot.join(path), std::os::unix::fs::PermissionsExt::from_mode(mode)).unwrap();
    }
    for f in [
        "index.php",
        "includes/config.php",
        "images/logo.png",
        "images/2024/01/a.png",
    ] {
        set_mtime(&webroot.join(f), 1_700_000_000);
    }

    let url = format!("{}.example.com", unique_bucket("rs"));
    let template = base.join("site.tmpl");
    common::images_template(&template, &url, &emulator.endpoint());
    let t = template.to_str().unwrap();
    let w = webroot.to_str().unwrap();

    // The backup taken before persistence (no template: nothing left out),
    // and the bucket seeded from it.
    let first = base.join("first.tar.gz");
    let (code, out, err) = run(
        "adt-backup",
        &["create", "--webroot", w, "--output", first.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = run(
        "adt-seed",
        &["--template", t, "--backup", first.to_str().unwrap(), "--no-cache"],
    );
    assert_eq!(code, 0, "{out}{err}");

    // Persistence on: the bucket mounted, then a new upload through it
    // (a temporary name, then a rename, as PHP does) and a new page.
    let state = base.join("state");
    let mount_args = |sub: &'static str, webroot: &str, state: &Path| -> Vec<String> {
        [
            sub,
            "--template",
            t,
            "--webroot",
            webroot,
            "--state-dir",
            state.to_str().unwrap(),
            "--uid",
            "0",
            "--gid",
            "0",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let mount = |sub: &'static str, webroot: &str, state: &Path| {
        let args = mount_args(sub, webroot, state);
        run("adt-mount", &args.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let (code, out, err) = mount("mount", w, &state);
    assert_eq!(code, 0, "{out}{err}");
    let mounted = Unmount(vec![(w.to_string(), state.clone())], t.to_string());
    std::fs::create_dir_all(webroot.join("images/2024/02")).unwrap();
    std::fs::write(webroot.join("images/2024/02/.upload.tmp"), b"second upload").unwrap();
    std::fs::rename(
        webroot.join("images/2024/02/.upload.tmp"),
        webroot.join("images/2024/02/b.png"),
    )
    .unwrap();
    std::fs::write(webroot.join("new.php"), b"<?php echo 2;").unwrap();
    set_mtime(&webroot.join("new.php"), 1_700_000_100);

    // Today's backup: the webroot without the mounted images.
    let (code, out, err) = run(
        "adt-backup",
        &["upload", "--template", t, "--webroot", w, "--period", "hourly"],
    );
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = run("adt-backup", &["list", "--template", t]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("-hourly:\n  current   ") && out.contains("-daily: no bucket"),
        "{out}"
    );

    let (site_files, site_images) = split(tree(&webroot, true));
    assert!(
        site_images.contains_key(&b"images/2024/02/b.png"[..]),
        "{site_images:?}"
    );

    // Restored elsewhere with the bucket mounted (its own state directory,
    // as the site's is in use on this machine).
    let mounted_root = base.join("restored/mounted");
    std::fs::create_dir_all(mounted_root.parent().unwrap()).unwrap();
    let state2 = base.join("state2");
    let r = mounted_root.to_str().unwrap();
    let (code, out, err) = run(
        "adt-backup",
        &[
            "restore",
            "--template",
            t,
            "--period",
            "hourly",
            "--target",
            r,
            "--state-dir",
            state2.to_str().unwrap(),
            "--tool",
            "s3fs",
        ],
    );
    let mut mounted = mounted;
    mounted.0.push((r.to_string(), state2.clone()));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("mounted with s3fs"), "{out}");
    // The mount point and what the mount shows are owned by the web
    // server's user (the site's mount was given --uid 0): owners compared
    // outside it.
    let (mut files, _) = split(tree(&mounted_root, true));
    let (mut site_code, _) = (site_files.clone(), ());
    files.remove(&b"images"[..]);
    site_code.remove(&b"images"[..]);
    same(
        &files,
        &site_code,
        "the code, byte for byte, with modes, owners and times",
    );
    let (_, images) = split(tree(&mounted_root, false));
    let (_, site_images_any_owner) = split(tree(&webroot, false));
    same(&images, &site_images_any_owner, "the assets, new upload included");

    // Restored with the assets downloaded: no mount, the same site.
    let local_root = base.join("restored/local");
    let l = local_root.to_str().unwrap();
    let restore_local = |extra: &[&str]| {
        let mut args = vec![
            "restore",
            "--template",
            t,
            "--period",
            "hourly",
            "--target",
            l,
            "--with-assets",
        ];
        args.extend_from_slice(extra);
        run("adt-backup", &args)
    };
    let (code, out, err) = restore_local(&[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(!adt_testkit::is_mounted(&local_root.join("images")));
    let (mut files, images) = split(tree(&local_root, true));
    files.remove(&b"images"[..]);
    same(&files, &site_code, "the code (assets downloaded)");
    // The site's mount shows every mode through its umask (the mount
    // point's mode); downloaded files get the mode their object carries,
    // the one they had on disk before persistence. So content and times
    // are compared here, and the modes against the objects.
    let strip = |t: BTreeMap<Vec<u8>, String>| -> BTreeMap<Vec<u8>, String> {
        t.into_iter()
            .map(|(k, v)| {
                let mut words: Vec<&str> = v.split(' ').collect();
                words.drain(1..3);
                (k, words.join(" "))
            })
            .collect()
    };
    let a_png = std::fs::metadata(local_root.join("images/2024/01/a.png")).unwrap();
    assert_eq!(a_png.mode() & 0o7777, 0o644, "the mode a.png had before persistence");
    same(&strip(images), &strip(site_images.clone()), "the assets, downloaded");

    // Once more: refused without --force (exit 2); with it, every file is
    // written again (nothing is trusted in a target others may have
    // written to) and nothing else is deleted.
    let (code, _, err) = restore_local(&[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("already holds files") && err.contains("--force"), "{err}");
    std::fs::write(local_root.join("mine.txt"), b"kept").unwrap();
    std::fs::write(local_root.join("index.php"), b"<?php evil;!").unwrap();
    let (code, out, err) = restore_local(&["--force", "--format", "json"]);
    assert_eq!(code, 0, "{out}{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["archive"]["unchanged"], 0, "{report}");
    assert_eq!(report["downloaded"][0]["files"], 3, "every object again: {report}");
    assert_eq!(std::fs::read(local_root.join("mine.txt")).unwrap(), b"kept");
    assert_eq!(std::fs::read(local_root.join("index.php")).unwrap(), b"<?php echo 1;");
    let (files, _) = split(tree(&local_root, true));
    let mut files = files;
    files.remove(&b"images"[..]);
    files.remove(&b"mine.txt"[..]);
    same(&files, &site_code, "the code after a forced restore");

    // A local archive restores too; a missing one is bad input.
    let (code, _, err) = run(
        "adt-backup",
        &[
            "restore",
            "--template",
            t,
            "--archive",
            "/nonexistent.tar.gz",
            "--target",
            "/tmp/x",
            "--no-assets",
        ],
    );
    assert_eq!(code, 2, "{err}");
    drop(mounted);
}

/// Unmounts what the test mounted, even when it fails half-way.
struct Unmount(Vec<(String, PathBuf)>, String);

impl Drop for Unmount {
    fn drop(&mut self) {
        for (webroot, state) in self.0.iter().rev() {
            let (code, out, err) = run(
                "adt-mount",
                &[
                    "unmount",
                    "--template",
                    &self.1,
                    "--webroot",
                    webroot,
                    "--state-dir",
                    state.to_str().unwrap(),
                ],
            );
            if code != 0 {
                eprintln!("unmount {webroot}: {out}{err}");
            }
        }
    }
}
