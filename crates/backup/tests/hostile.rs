//! adt_backups::create in a webroot whose users are hostile: a directory
//! swapped with a link to a root-only directory while the backup runs,
//! FIFOs (also swapped in for a file), a link planted at the output path,
//! names that are not UTF-8, and webroots given through a link or `..`.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::fs;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use adt_testkit::Swapper;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use adt_backups::{BackupError, CreateReport, Exclusions, create};
use adt_localfs::MountTable;
use rustix::fs::{CWD, FileType, Mode};

/// A tempdir by its canonical path, with an empty webroot `html` in it.
fn tempdir() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let base = fs::canonicalize(t.path()).unwrap();
    let w = base.join("html");
    fs::create_dir(&w).unwrap();
    (t, base, w)
}

fn exclusions(w: &Path) -> Exclusions {
    Exclusions::new(w, None, &MountTable::default(), &[]).unwrap()
}

fn mkfifo(path: &Path) {
    rustix::fs::mknodat(CWD, path, FileType::Fifo, Mode::from_raw_mode(0o644), 0).unwrap();
}

/// One archive entry: its type, raw name and body.
#[derive(Debug)]
struct Entry {
    kind: tar::EntryType,
    name: Vec<u8>,
    body: Vec<u8>,
}

/// The archive's entries, names as raw bytes (GNU long names resolved).
fn entries(path: &Path) -> Vec<Entry> {
    let mut tar = tar::Archive::new(flate2::read::MultiGzDecoder::new(fs::File::open(path).unwrap()));
    let mut out = Vec::new();
    for e in tar.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path_bytes().into_owned();
        let kind = e.header().entry_type();
        let mut body = Vec::new();
        e.read_to_end(&mut body).unwrap();
        out.push(Entry { kind, name, body });
    }
    out
}

/// The whole tar stream, decompressed.
fn raw_tar(path: &Path) -> Vec<u8> {
    let mut raw = Vec::new();
    flate2::read::MultiGzDecoder::new(fs::File::open(path).unwrap())
        .read_to_end(&mut raw)
        .unwrap();
    raw
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn names_in(dir: &Path) -> BTreeSet<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// Runs `create` on a thread and fails the test if it has not returned
/// within `secs` seconds (a blocking open of a FIFO never returns).
fn create_within(secs: u64, w: &Path, out: &Path) -> Result<CreateReport, BackupError> {
    let (tx, rx) = mpsc::channel();
    let (w, out) = (w.to_path_buf(), out.to_path_buf());
    thread::spawn(move || {
        let _ = tx.send(create(&w, &exclusions(&w), &MountTable::default(), &out, 1));
    });
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(r) => r,
        Err(e) => panic!("create did not return within {secs} s: {e}"),
    }
}

/// `w/d` (a directory holding inside.txt), `w/l` a link to a root-only
/// directory outside holding SECRET.txt (and a subdirectory with another
/// secret); the secret's unique content.
fn racing_webroot(base: &Path, w: &Path) -> Vec<u8> {
    let secret = format!(
        "SECRET-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
    .into_bytes();
    let outside = base.join("outside");
    fs::create_dir_all(outside.join("secretsub")).unwrap();
    fs::write(outside.join("SECRET.txt"), &secret).unwrap();
    fs::write(outside.join("secretsub/SECRET2.txt"), &secret).unwrap();
    fs::set_permissions(outside.join("SECRET.txt"), fs::Permissions::from_mode(0o600)).unwrap();
    fs::set_permissions(&outside, fs::Permissions::from_mode(0o700)).unwrap();
    fs::create_dir(w.join("d")).unwrap();
    fs::write(w.join("d/inside.txt"), b"inside").unwrap();
    fs::write(w.join("index.php"), b"<?php index").unwrap();
    std::os::unix::fs::symlink(&outside, w.join("l")).unwrap();
    secret
}

#[test]
fn a_directory_swapped_with_a_link_to_a_root_only_directory_is_never_archived() {
    let (_t, base, w) = tempdir();
    let secret = racing_webroot(&base, &w);
    let out = base.join("out");
    fs::create_dir(&out).unwrap();
    let ex = exclusions(&w);

    let swapper = Swapper::start(w.join("d"), w.join("l"));
    let mut results = Vec::new();
    for i in 0..40 {
        swapper.step();
        let archive = out.join(format!("backup-{i}.tar.gz"));
        results.push((archive.clone(), create(&w, &ex, &MountTable::default(), &archive, 1)));
    }
    let swaps = swapper.finish();
    assert!(swaps > 40, "the race ran ({swaps} swaps)");

    let (mut links, mut changed) = (0, 0);
    let mut inside_seen = BTreeSet::new();
    let mut written = BTreeSet::new();
    for (archive, result) in results {
        let report = match result {
            Ok(report) => {
                written.insert(archive.file_name().unwrap().to_string_lossy().into_owned());
                report
            }
            Err(e) => panic!("{}: a racing swap never makes create fail: {e:?}", archive.display()),
        };
        let raw = raw_tar(&archive);
        assert!(
            !contains(&raw, &secret),
            "{}: the secret was archived",
            archive.display()
        );
        assert!(
            !contains(&raw, b"SECRET"),
            "{}: a secret name was archived",
            archive.display()
        );
        for e in entries(&archive) {
            assert!(
                !contains(&e.name, b"SECRET") && !contains(&e.name, b"secretsub"),
                "{e:?}"
            );
            if e.kind == tar::EntryType::Regular && e.name.ends_with(b"/inside.txt") {
                assert_eq!(e.body, b"inside");
                inside_seen.insert(String::from_utf8(e.name.clone()).unwrap());
            }
            if e.kind == tar::EntryType::Symlink {
                assert!(e.name == b"./d" || e.name == b"./l", "{e:?}");
            }
        }
        links += report.symlinks;
        changed += report.changed.len();
    }
    eprintln!("{swaps} swaps; {links} links archived, {changed} changed; inside.txt archived as {inside_seen:?}");
    assert!(links > 0);
    assert_eq!(
        names_in(&out),
        written,
        "only the archives of the successful runs, no temporary file"
    );
    assert_eq!(fs::read(base.join("outside/SECRET.txt")).unwrap(), secret);
    assert_eq!(fs::metadata(base.join("outside")).unwrap().mode() & 0o7777, 0o700);
}

/// Regression (fixed in adt-localfs `Dir::classify`, reached from adt_backups::create): a
/// directory swapped with a link while `create` walks it makes `create`
/// fail with `Local(Io { op: "open", ENOTDIR })` now and then, instead of
/// reporting the name in `changed` and finishing the backup: when the
/// exchange puts the directory back between the failed `openat` and the
/// classifying `lstat`, the error is neither `Symlink` nor
/// `NotADirectory`, so the walk aborts. Fail-closed (nothing outside is
/// archived), but a webroot user can make every backup fail.
#[test]
fn a_racing_swap_never_makes_create_fail() {
    let (_t, base, w) = tempdir();
    racing_webroot(&base, &w);
    let out = base.join("out.tar.gz");
    let ex = exclusions(&w);
    let swapper = Swapper::start(w.join("d"), w.join("l"));
    swapper.step();
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let mut runs = 0;
    let mut error = None;
    while error.is_none() && std::time::Instant::now() < deadline {
        error = create(&w, &ex, &MountTable::default(), &out, 1).err();
        runs += 1;
    }
    swapper.finish();
    assert!(error.is_none(), "create {runs} failed: {error:?}");
}

/// `w/f` (a regular file), `w/l` a link to a root-only SECRET.txt outside;
/// the secret's unique content.
fn racing_file_webroot(base: &Path, w: &Path) -> Vec<u8> {
    let secret = format!("SECRET-FILE-{}-{:?}", std::process::id(), std::time::Instant::now()).into_bytes();
    let outside = base.join("outside");
    fs::create_dir(&outside).unwrap();
    fs::write(outside.join("SECRET.txt"), &secret).unwrap();
    fs::set_permissions(outside.join("SECRET.txt"), fs::Permissions::from_mode(0o600)).unwrap();
    fs::set_permissions(&outside, fs::Permissions::from_mode(0o700)).unwrap();
    fs::write(w.join("f"), b"inside").unwrap();
    std::os::unix::fs::symlink(outside.join("SECRET.txt"), w.join("l")).unwrap();
    secret
}

#[test]
fn a_file_swapped_with_a_link_to_a_root_only_file_is_never_archived() {
    let (_t, base, w) = tempdir();
    let secret = racing_file_webroot(&base, &w);
    let out = base.join("out");
    fs::create_dir(&out).unwrap();
    let ex = exclusions(&w);
    let swapper = Swapper::start(w.join("f"), w.join("l"));
    let mut written = BTreeSet::new();
    for i in 0..40 {
        swapper.step();
        let archive = out.join(format!("backup-{i}.tar.gz"));
        match create(&w, &ex, &MountTable::default(), &archive, 1) {
            Ok(_) => {
                written.insert(format!("backup-{i}.tar.gz"));
                assert!(
                    !contains(&raw_tar(&archive), &secret),
                    "create {i}: the secret was archived"
                );
                for e in entries(&archive) {
                    if e.kind == tar::EntryType::Regular && (e.name == b"./f" || e.name == b"./l") {
                        assert_eq!(e.body, b"inside", "{e:?}");
                    }
                }
            }
            Err(e) => panic!("create {i}: a racing swap never makes create fail: {e:?}"),
        }
    }
    let swaps = swapper.finish();
    eprintln!("{swaps} swaps; all 40 creates succeeded");
    assert_eq!(
        names_in(&out),
        written,
        "only the archives of the successful runs, no temporary file"
    );
    assert_eq!(fs::read(base.join("outside/SECRET.txt")).unwrap(), secret);
}

/// Regression (fixed in adt-localfs `Dir::classify`, file flavour, reached from
/// adt_backups::create): a regular file swapped with a link while `create`
/// opens it makes `create` fail with `Local(NotADirectory { path })` —
/// "… is not a directory" for a regular file — instead of reporting the
/// name in `changed`: `open_file` fails with ELOOP, the exchange puts the
/// file back, and `classify` maps "exists, not a link, not a directory" to
/// `NotADirectory`, which `create` does not treat as a change.
#[test]
fn a_racing_file_swap_never_makes_create_fail() {
    let (_t, base, w) = tempdir();
    racing_file_webroot(&base, &w);
    let out = base.join("out.tar.gz");
    let ex = exclusions(&w);
    let swapper = Swapper::start(w.join("f"), w.join("l"));
    swapper.step();
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let mut runs = 0;
    let mut error = None;
    while error.is_none() && std::time::Instant::now() < deadline {
        error = create(&w, &ex, &MountTable::default(), &out, 1).err();
        runs += 1;
    }
    swapper.finish();
    assert!(error.is_none(), "create {runs} failed: {error:?}");
}

#[test]
fn fifos_are_never_opened_for_reading_nor_archived_and_no_temporary_file_is_left() {
    let (_t, base, w) = tempdir();
    const BODY: &[u8] = b"a regular file";
    mkfifo(&w.join("fifo"));
    fs::write(w.join("f"), BODY).unwrap();
    mkfifo(&w.join("p"));
    fs::write(w.join("index.php"), b"<?php index").unwrap();
    let out = base.join("out");
    fs::create_dir(&out).unwrap();

    let swapper = Swapper::start(w.join("f"), w.join("p"));
    let mut seen_as_fifo = 0;
    let mut archived_as_file = 0;
    let mut finals = BTreeSet::new();
    for i in 0..40 {
        swapper.step();
        let archive = out.join(format!("backup-{i}.tar.gz"));
        let report = create_within(5, &w, &archive).unwrap_or_else(|e| panic!("create {i}: {e}"));
        finals.insert(format!("backup-{i}.tar.gz"));
        assert_eq!(report.special.iter().filter(|s| *s == "fifo").count(), 1, "{report:?}");
        let got: BTreeMap<Vec<u8>, Entry> = entries(&archive).into_iter().map(|e| (e.name.clone(), e)).collect();
        assert!(!got.contains_key(b"./fifo".as_slice()), "a FIFO was archived");
        assert_eq!(got[b"./index.php".as_slice()].body, b"<?php index");
        for name in ["f", "p"] {
            let key = format!("./{name}").into_bytes();
            let named = |list: &Vec<String>| list.iter().any(|s| s == name);
            match got.get(&key) {
                Some(e) => {
                    // Only ever the regular file, whole, under either name.
                    assert_eq!(e.kind, tar::EntryType::Regular, "{e:?}");
                    assert_eq!(e.body, BODY, "{name}: the FIFO appeared as a regular file");
                    archived_as_file += 1;
                }
                None => {
                    assert!(
                        named(&report.special) || named(&report.changed),
                        "{name} is neither archived nor reported: {report:?}"
                    );
                    seen_as_fifo += 1;
                }
            }
        }
        assert_eq!(
            names_in(&out),
            finals,
            "only the final archives are in the output directory"
        );
    }
    let swaps = swapper.finish();
    eprintln!("{swaps} swaps; f/p archived {archived_as_file} times, reported {seen_as_fifo} times");
    assert!(seen_as_fifo > 0 && archived_as_file > 0);
    for archive in &finals {
        let m = fs::symlink_metadata(out.join(archive)).unwrap();
        assert!(m.file_type().is_file());
        assert_eq!(m.mode() & 0o7777, 0o600);
    }
}

#[test]
fn the_archive_is_0600_and_a_link_at_the_output_is_replaced_not_written_through() {
    let (_t, base, w) = tempdir();
    fs::write(w.join("index.php"), b"<?php index").unwrap();
    let out = base.join("out");
    fs::create_dir(&out).unwrap();

    let plain = out.join("plain.tar.gz");
    create(&w, &exclusions(&w), &MountTable::default(), &plain, 6).unwrap();
    assert_eq!(fs::symlink_metadata(&plain).unwrap().mode() & 0o7777, 0o600);

    // An existing archive with loose permissions is replaced by a 0600 one.
    fs::set_permissions(&plain, fs::Permissions::from_mode(0o644)).unwrap();
    create(&w, &exclusions(&w), &MountTable::default(), &plain, 6).unwrap();
    assert_eq!(fs::symlink_metadata(&plain).unwrap().mode() & 0o7777, 0o600);

    let victim = base.join("victim");
    fs::write(&victim, b"victim content").unwrap();
    fs::set_permissions(&victim, fs::Permissions::from_mode(0o644)).unwrap();
    let linked = out.join("linked.tar.gz");
    std::os::unix::fs::symlink(&victim, &linked).unwrap();
    create(&w, &exclusions(&w), &MountTable::default(), &linked, 6).unwrap();
    assert_eq!(fs::read(&victim).unwrap(), b"victim content");
    let vm = fs::metadata(&victim).unwrap();
    assert_eq!((vm.mode() & 0o7777, vm.uid()), (0o644, 0));
    let m = fs::symlink_metadata(&linked).unwrap();
    assert!(m.file_type().is_file(), "the output is now a regular file");
    assert_eq!(m.mode() & 0o7777, 0o600);
    assert!(
        entries(&linked)
            .iter()
            .any(|e| e.name == b"./index.php" && e.body == b"<?php index")
    );
    assert_eq!(
        names_in(&out),
        BTreeSet::from(["plain.tar.gz".to_string(), "linked.tar.gz".to_string()])
    );
}

#[test]
fn names_are_archived_as_their_raw_bytes_each_with_its_own_body() {
    let (_t, base, w) = tempdir();
    let names: [&[u8]; 4] = [b"a\xff", b"a\xfe", b"up\x01load", b"caf\xe9"];
    for n in names {
        fs::write(w.join(OsStr::from_bytes(n)), [b"body of ", n].concat()).unwrap();
    }
    fs::create_dir(w.join(OsStr::from_bytes(b"dir\xff"))).unwrap();
    fs::write(
        w.join(OsStr::from_bytes(b"dir\xff")).join(OsStr::from_bytes(b"in\xfe")),
        b"nested",
    )
    .unwrap();
    let out = base.join("names.tar.gz");
    let report = create(&w, &exclusions(&w), &MountTable::default(), &out, 6).unwrap();
    assert_eq!(report.files, 5);

    let got: BTreeMap<Vec<u8>, Entry> = entries(&out).into_iter().map(|e| (e.name.clone(), e)).collect();
    for n in names {
        let key = [b"./", n].concat();
        let e = got
            .get(&key)
            .unwrap_or_else(|| panic!("{:?} missing from {:?}", key, got.keys()));
        assert_eq!(e.kind, tar::EntryType::Regular);
        assert_eq!(e.body, [b"body of ", n].concat(), "{key:?} has its own body");
    }
    assert_eq!(got[b"./dir\xff/".as_slice()].kind, tar::EntryType::Directory);
    assert_eq!(got[b"./dir\xff/in\xfe".as_slice()].body, b"nested");
    // The root, the marker, 5 files and 1 directory: nothing merged, nothing extra.
    assert_eq!(got.len(), 8, "{:?}", got.keys());
}

#[test]
fn a_webroot_through_a_link_or_with_dot_dot_is_refused_and_nothing_is_written() {
    let (_t, base, w) = tempdir();
    fs::write(w.join("index.php"), b"<?php index").unwrap();
    std::os::unix::fs::symlink(&w, base.join("www")).unwrap();
    fs::create_dir(base.join("other")).unwrap();
    let out = base.join("out");
    fs::create_dir(&out).unwrap();
    let archive = out.join("b.tar.gz");

    let given = [
        base.join("www"),
        w.join("../html"),
        base.join("other/../html"),
        base.join("www/../html"),
    ];
    for g in &given {
        // The exclusions computed for the given path and for the real one.
        for ex in [exclusions(g), exclusions(&w)] {
            match create(g, &ex, &MountTable::default(), &archive, 6) {
                Err(BackupError::NotCanonical { given, canonical }) => {
                    assert_eq!(&given, g);
                    assert_eq!(canonical, w);
                }
                other => panic!("{}: {other:?}", g.display()),
            }
            assert!(names_in(&out).is_empty(), "{:?}", names_in(&out));
        }
    }
    // The canonical path with exclusions computed for another spelling.
    assert!(matches!(
        create(&w, &exclusions(&base.join("www")), &MountTable::default(), &archive, 6),
        Err(BackupError::NotCanonical { .. })
    ));
    assert!(names_in(&out).is_empty());
    assert_eq!(
        names_in(&base),
        BTreeSet::from(["html", "www", "other", "out"].map(String::from))
    );
    // And the canonical one works.
    create(&w, &exclusions(&w), &MountTable::default(), &archive, 6).unwrap();
    assert_eq!(names_in(&out), BTreeSet::from(["b.tar.gz".to_string()]));
}
