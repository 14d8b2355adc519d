//! adt-backup's archive compared entry by entry with the webroot minus the
//! exclusions; real mounts (tmpfs, and s3fs behind a request-recording
//! proxy) inside the webroot left out unread; the rsync filter run through
//! real rsync; paths with spaces and unicode.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use adt_backups::{Exclusions, create};
use adt_localfs::MountTable;
use adt_template::MARKER;
use adt_template::{AssetConfig, Layout, MountEntry};
use adt_testkit::{ACCESS_KEY, Emulator, FaultProxy, S3fsMount, SECRET_KEY, require_tools, unique_bucket};

/// What an entry is, as compared between the webroot and the archive.
#[derive(Debug, PartialEq, Eq)]
enum Item {
    Dir { mode: u32 },
    File { mode: u32, mtime: u64, body: Vec<u8> },
    Link { target: PathBuf },
}

fn webroot(dir: &Path) -> PathBuf {
    let w = dir.join("html");
    fs::create_dir_all(w.join("images/2024")).unwrap();
    fs::write(w.join("images/2024/photo.jpg"), b"jpeg").unwrap();
    fs::create_dir_all(w.join("logs")).unwrap();
    fs::write(w.join("logs/error.log"), b"log").unwrap();
    fs::write(w.join("configuration.php"), b"<?php secret").unwrap();
    fs::write(w.join("index.php"), b"<?php index").unwrap();
    fs::create_dir_all(w.join("sub dir/été")).unwrap();
    fs::write(w.join("sub dir/été/naïve file.txt"), b"unicode").unwrap();
    fs::set_permissions(w.join("index.php"), fs::Permissions::from_mode(0o640)).unwrap();
    fs::create_dir_all(w.join("empty")).unwrap();
    let deep = format!("deep/{}/{}", "d".repeat(90), "f".repeat(60));
    fs::create_dir_all(w.join(&deep)).unwrap();
    fs::write(w.join(&deep).join("long name.txt"), b"long").unwrap();
    std::os::unix::fs::symlink("index.php", w.join("link.php")).unwrap();
    w
}

fn layout(webroot: &Path, dirs: &[&str]) -> Layout {
    let config = AssetConfig::persisting(
        "www.example.com",
        dirs.iter().map(|d| MountEntry::parse(d).unwrap()).collect(),
    );
    Layout::new(&config, webroot).unwrap()
}

/// Files and patterns exercising rsync's rules: anchored, any depth, a `/`
/// inside, `**`, a class. Returns the patterns.
fn rsync_rule_corpus(w: &Path) -> Vec<String> {
    fs::create_dir_all(w.join("a/b/logs")).unwrap();
    fs::write(w.join("a/b/logs/deep.txt"), b"d").unwrap();
    fs::write(w.join("a/b/trace.log"), b"t").unwrap();
    fs::write(w.join("a/b/keep.txt"), b"k").unwrap();
    fs::create_dir_all(w.join("x/cache")).unwrap();
    fs::write(w.join("x/cache/page.html"), b"p").unwrap();
    fs::write(w.join("x/ac"), b"c").unwrap();
    [
        "/logs",
        "configuration.php",
        "*.log",
        "cache/*",
        "/a/**/deep.txt",
        "[ab]c",
    ]
    .iter()
    .map(|p| p.to_string())
    .collect()
}

/// The webroot as it should appear in the backup.
fn expected(w: &Path, exclusions: &Exclusions) -> BTreeMap<String, Item> {
    let mut out = BTreeMap::new();
    let mut stack = vec![(w.to_path_buf(), String::new())];
    while let Some((dir, rel)) = stack.pop() {
        for e in fs::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            let r = if rel.is_empty() { name } else { format!("{rel}/{name}") };
            if exclusions.excludes(r.as_bytes()) {
                continue;
            }
            let m = fs::symlink_metadata(e.path()).unwrap();
            let item = if m.file_type().is_symlink() {
                Item::Link {
                    target: fs::read_link(e.path()).unwrap(),
                }
            } else if m.is_dir() {
                stack.push((e.path(), r.clone()));
                Item::Dir {
                    mode: m.mode() & 0o7777,
                }
            } else {
                Item::File {
                    mode: m.mode() & 0o7777,
                    mtime: m.mtime() as u64,
                    body: fs::read(e.path()).unwrap(),
                }
            };
            out.insert(r, item);
        }
    }
    out
}

/// The archive's entries (the root and the marker checked and dropped).
fn archived(path: &Path) -> BTreeMap<String, Item> {
    let mut tar = tar::Archive::new(flate2::read::MultiGzDecoder::new(fs::File::open(path).unwrap()));
    let mut out = BTreeMap::new();
    let mut names = Vec::new();
    for e in tar.entries().unwrap() {
        let mut e = e.unwrap();
        let name = String::from_utf8(e.path_bytes().into_owned()).unwrap();
        names.push(name.clone());
        assert!(name.starts_with("./"), "{name}");
        let rel = name.trim_start_matches("./").trim_end_matches('/').to_string();
        let h = e.header().clone();
        let mode = h.mode().unwrap() & 0o7777;
        let item = match h.entry_type() {
            tar::EntryType::Directory => Item::Dir { mode },
            tar::EntryType::Symlink => Item::Link {
                target: e.link_name().unwrap().unwrap().into_owned(),
            },
            _ => {
                let mut body = Vec::new();
                e.read_to_end(&mut body).unwrap();
                Item::File {
                    mode,
                    mtime: h.mtime().unwrap(),
                    body,
                }
            }
        };
        out.insert(rel, item);
    }
    assert_eq!(&names[..2], ["./", &format!("./{MARKER}")], "root, then the marker");
    out.remove("");
    out.remove(MARKER);
    out
}

#[test]
fn the_archive_is_the_webroot_minus_the_exclusions() {
    let dir = tempfile::tempdir().unwrap();
    let w = webroot(dir.path());
    let patterns = rsync_rule_corpus(&w);
    let ex = Exclusions::new(&w, Some(&layout(&w, &["images"])), &MountTable::default(), &patterns).unwrap();
    let out = dir.path().join("backup.tar.gz");
    let report = create(&w, &ex, &MountTable::default(), &out, 6).unwrap();
    let got = archived(&out);
    assert_eq!(got, expected(&w, &ex));
    assert!(
        got.contains_key("sub dir/été/naïve file.txt") && got.contains_key("empty") && got.contains_key("link.php")
    );
    for gone in ["images", "images/2024/photo.jpg", "logs", "configuration.php"] {
        assert!(!got.contains_key(gone), "{gone} is left out");
    }
    assert_eq!(
        report.excluded,
        [
            "a/b/logs/deep.txt",
            "a/b/trace.log",
            "configuration.php",
            "images",
            "logs",
            "x/ac",
            "x/cache/page.html"
        ]
    );
    assert!(matches!(got["index.php"], Item::File { mode: 0o640, .. }));
    // GNU tar, which ADT's restore uses, reads the same names.
    let listed = Command::new("tar").arg("-tzf").arg(&out).output().unwrap();
    assert!(listed.status.success());
    let listed = String::from_utf8(listed.stdout).unwrap();
    assert!(listed.starts_with(&format!("./\n./{MARKER}\n")), "{listed}");
    assert!(
        listed
            .lines()
            .any(|l| l.ends_with("/long name.txt") && l.starts_with("./deep/")),
        "{listed}"
    );
    assert!(listed.lines().all(|l| l.starts_with("./")), "{listed}");
    let names: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        names.iter().filter(|n| n.to_string_lossy().contains("partial")).count(),
        0,
        "no partial file left"
    );
}

#[test]
fn refuses_an_output_inside_the_webroot_and_leaves_nothing_on_failure() {
    let dir = tempfile::tempdir().unwrap();
    let w = webroot(dir.path());
    let ex = Exclusions::new(&w, None, &MountTable::default(), &[]).unwrap();
    assert!(create(&w, &ex, &MountTable::default(), &w.join("b.tar.gz"), 6).is_err());
    let missing_dir = dir.path().join("no/such/dir/b.tar.gz");
    assert!(create(&w, &ex, &MountTable::default(), &missing_dir, 6).is_err());
    assert!(
        create(
            &dir.path().join("nope"),
            &ex,
            &MountTable::default(),
            &dir.path().join("b.tar.gz"),
            6
        )
        .is_err()
    );
    assert!(!dir.path().join("b.tar.gz").exists());
}

#[test]
fn mounts_inside_the_webroot_are_left_out_unread_even_when_not_named() {
    if !require_tools(&["s3fs", "fusermount3", "mount"], true) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let w = webroot(dir.path());
    // A tmpfs the template knows nothing about.
    let scratch = w.join("scratch");
    fs::create_dir_all(&scratch).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "tmpfs"])
        .arg(&scratch)
        .status()
        .unwrap();
    assert!(mounted.success(), "mount tmpfs");
    let _tmpfs = adt_testkit::Unmount(scratch.clone());
    fs::write(scratch.join("inside.txt"), b"tmpfs").unwrap();
    // An s3fs mount of a bucket, behind a proxy that records every request.
    let emulator = Emulator::start().unwrap();
    let bucket = unique_bucket("adt-backup");
    emulator.create_bucket(&bucket).unwrap();
    let proxy = FaultProxy::start(&emulator.endpoint()).unwrap();
    let media = w.join("media");
    fs::create_dir_all(&media).unwrap();
    let fuse = S3fsMount::mount(
        &proxy.endpoint(),
        &bucket,
        ACCESS_KEY,
        SECRET_KEY,
        &dir.path().join("passwd"),
        &media,
    );
    fs::write(media.join("remote.jpg"), b"remote").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));

    let table = MountTable::read().unwrap();
    let ex = Exclusions::new(&w, None, &table, &[]).unwrap();
    let excluded: Vec<&str> = ex.directories.iter().map(|d| d.path.as_str()).collect();
    assert_eq!(excluded, ["media", "scratch"]);
    let before = proxy.requests().len();
    let out = dir.path().join("backup.tar.gz");
    let report = create(&w, &ex, &table, &out, 6).unwrap();
    assert_eq!(
        proxy.requests().len(),
        before,
        "nothing under the FUSE mount was read: {:?}",
        &proxy.requests()[before..]
    );
    let got = archived(&out);
    assert!(
        !got.keys().any(|k| k.starts_with("media") || k.starts_with("scratch")),
        "{:?}",
        got.keys()
    );
    assert_eq!(report.excluded, ["media", "scratch"]);
    drop(fuse);
}

#[test]
fn the_rsync_filter_leaves_out_the_same_set_in_real_rsync() {
    if !require_tools(&["rsync"], false) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let w = webroot(dir.path());
    fs::create_dir_all(w.join("odd [name]*")).unwrap();
    fs::write(w.join("odd [name]*/x"), b"x").unwrap();
    let patterns = rsync_rule_corpus(&w);
    let table = MountTable::parse(&format!(
        "1 1 0:1 / {}/odd\\040[name]* rw - tmpfs tmpfs rw\n",
        w.display()
    ));
    let ex = Exclusions::new(&w, Some(&layout(&w, &["images"])), &table, &patterns).unwrap();
    let filter = dir.path().join("filter");
    fs::write(&filter, ex.rsync_filter()).unwrap();
    let dest = dir.path().join("dest");
    let status = Command::new("rsync")
        .arg("-a")
        .arg("--exclude-from")
        .arg(&filter)
        .arg(format!("{}/", w.display()))
        .arg(&dest)
        .status()
        .unwrap();
    assert!(status.success());
    let copied = expected(
        &dest,
        &Exclusions::new(&dest, None, &MountTable::default(), &[]).unwrap(),
    );
    let wanted = expected(&w, &ex);
    assert_eq!(copied.keys().collect::<Vec<_>>(), wanted.keys().collect::<Vec<_>>());
    assert!(!dest.join("odd [name]*").exists() && !dest.join("images").exists() && !dest.join("logs").exists());
}
