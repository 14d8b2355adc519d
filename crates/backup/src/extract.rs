//! Restoring a backup archive into a directory: the archive is checked
//! whole (complete gzip tar, marker present) before anything is written,
//! then read again and each entry placed below the target through
//! directory handles, never following a link, never writing into another
//! filesystem (a mount), never outside the target.
//!
//! A restore is resumable: until it has finished, the target holds
//! [`JOURNAL`], and a run that finds it carries on (files already there
//! with the archive's size and time are kept). A target that holds
//! anything else is refused unless `force` is given; even then nothing in
//! it is deleted: files the archive holds are replaced, the rest stay.

use std::ffi::OsStr;
use std::fs::File;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use adt_archive::{Kind, Limits, Reader, components};
use adt_localfs::{Attributes, Dir, LocalError, MountTable, Stat, canonical_dir, display_name, write_private};
use serde::Serialize;

use crate::error::{BackupError, io};
use crate::store::check_archive;

/// The file at the target's root while a restore is unfinished.
pub const JOURNAL: &str = ".adt-restore-unfinished";

/// Names of entries not restored are listed up to this many (then counted).
const MAX_LISTED: usize = 100;

/// How [`extract`] treats the target and the archive.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct ExtractOptions {
    /// Restore into a target that already holds files (not an unfinished
    /// restore): files the archive holds are replaced when their size or
    /// time differ; nothing else is touched.
    pub force: bool,
    /// Directories, relative to the archive's root (`/`-separated bytes),
    /// whose contents are left out (asset directories, restored from their
    /// buckets instead). The directory itself is still made.
    pub leave_out: Vec<Vec<u8>>,
    /// What a hostile archive may not exceed.
    pub limits: Limits,
}

/// What [`extract`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ExtractReport {
    /// The target, canonical.
    pub target: PathBuf,
    /// True when an unfinished restore was carried on.
    pub resumed: bool,
    /// Regular files written.
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Files already there with the archive's size and time, kept.
    pub unchanged: u64,
    /// Directories (the target's root not counted).
    pub directories: u64,
    /// Symbolic links.
    pub symlinks: u64,
    /// Hard links.
    pub hard_links: u64,
    /// Entries inside a left-out directory.
    pub left_out: u64,
    /// Entries that are not restored (FIFOs, devices, unknown types),
    /// counted.
    pub not_restored: u64,
    /// Their names (the first 100).
    pub not_restored_names: Vec<String>,
}

/// Restores `archive` (a backup: gzip tar whose root is the webroot) into
/// `target`, made 0700 when missing (the archive's root entry gives it its
/// final owner and mode at the end). The target's parent must exist.
/// Refused: a target at or below a FUSE mount in `table`, or a mount point
/// itself; a non-empty target without `options.force` (an unfinished
/// restore excepted); any entry whose name is absolute, holds `..`, or
/// passes through a link or a file. Once `stop` is set, returns
/// [`BackupError::Interrupted`], leaving the journal for a later run.
pub fn extract(
    archive: &Path,
    target: &Path,
    table: &MountTable,
    options: &ExtractOptions,
    stop: &AtomicBool,
) -> Result<ExtractReport, BackupError> {
    let what = archive.display().to_string();
    let file = File::open(archive).map_err(|e| io(archive, e))?;
    check_archive(file, &what)?;

    let target = resolve_target(target)?;
    refuse_mounts(&target, table)?;
    let parent = Dir::open(target.parent().unwrap_or(Path::new("/")))?;
    let name = target.file_name().unwrap_or_default();
    let root = match parent.stat_at(name)? {
        None => parent.create_dir(name, 0o700)?,
        Some(_) => parent.open_dir(name)?,
    };
    let names = root.names()?;
    let resumed = names.iter().any(|n| n == JOURNAL);
    if !resumed && !names.is_empty() && !options.force {
        return Err(BackupError::TargetNotEmpty(target));
    }
    if !resumed {
        write_private(&root, OsStr::new(JOURNAL), format!("restoring {what}\n").as_bytes())?;
    }
    tracing::info!(archive = %what, target = %target.display(), resumed, "restoring a backup");

    let mut report = ExtractReport {
        target: target.clone(),
        resumed,
        ..ExtractReport::default()
    };
    let mut placer = Placer {
        root: &root,
        parent: None,
    };
    let mut dirs: Vec<(Vec<u8>, Attributes)> = Vec::new();
    let mut root_attrs = None;
    let file = File::open(archive).map_err(|e| io(archive, e))?;
    let mut reader = Reader::new(file, options.limits);
    while let Some(mut entry) = reader.next_entry().map_err(|e| corrupt(&what, e))? {
        if stop.load(Ordering::Relaxed) {
            return Err(BackupError::Interrupted);
        }
        let h = entry.header.clone();
        let shown = display_name(&h.name);
        let parts = components(&h.name).map_err(|reason| BackupError::UnsafeEntry {
            name: shown.clone(),
            reason: reason.to_string(),
        })?;
        if left_out(&parts, &options.leave_out) {
            report.left_out += 1;
            continue;
        }
        let attrs = Attributes {
            uid: u32::try_from(h.uid).unwrap_or(NOBODY),
            gid: u32::try_from(h.gid).unwrap_or(NOBODY),
            // Never a set-user or set-group id file from an archive.
            mode: if h.kind == Kind::Dir {
                h.mode & 0o3777
            } else {
                h.mode & 0o1777
            },
            mtime: i64::try_from(h.mtime).unwrap_or(i64::MAX),
        };
        let Some((last, dirs_to)) = parts.split_last() else {
            if h.kind == Kind::Dir {
                root_attrs = Some(attrs);
            }
            continue;
        };
        let last = OsStr::from_bytes(last);
        match h.kind {
            Kind::Dir => {
                placer.dir(&parts, true, &shown)?;
                dirs.push((parts.join(&b'/'), attrs));
                report.directories += 1;
            }
            Kind::File => {
                let dir = placer.dir(dirs_to, true, &shown)?;
                match dir.stat_at(last)? {
                    Some(s) if s.kind == adt_localfs::Kind::Dir => return Err(conflict(dir, last, "a directory")),
                    Some(s) if same_content(&s, h.size, attrs.mtime) => {
                        std::io::copy(&mut entry, &mut std::io::sink()).map_err(|e| corrupt(&what, e))?;
                        report.unchanged += 1;
                        continue;
                    }
                    _ => {}
                }
                let mut out = dir.create_private(OsStr::new("adt-restore"))?;
                let path = out.path();
                std::io::copy(&mut entry, out.file()).map_err(|e| io(&path, e))?;
                out.set_attributes(&attrs)?;
                out.persist(last)?;
                report.files += 1;
                report.bytes += h.size;
            }
            Kind::Symlink => {
                let dir = placer.dir(dirs_to, true, &shown)?;
                match dir.stat_at(last)? {
                    Some(s) if s.kind == adt_localfs::Kind::Dir => return Err(conflict(dir, last, "a directory")),
                    Some(s) if s.kind == adt_localfs::Kind::Symlink && dir.read_link(last)? == h.link => {}
                    _ => dir.replace_with_symlink(last, &h.link, &attrs)?,
                }
                report.symlinks += 1;
            }
            Kind::HardLink => {
                let from = components(&h.link).map_err(|reason| BackupError::UnsafeEntry {
                    name: format!("{shown} (a link to {})", display_name(&h.link)),
                    reason: reason.to_string(),
                })?;
                let Some((from_last, from_dirs)) = from.split_last() else {
                    return Err(BackupError::UnsafeEntry {
                        name: shown,
                        reason: "is a hard link to the archive's root".into(),
                    });
                };
                let from_owned;
                let from_dir: &Dir = if from_dirs.is_empty() {
                    placer.root
                } else {
                    from_owned = placer.open_fresh(from_dirs, &shown)?;
                    &from_owned
                };
                let dir = placer.dir(dirs_to, true, &shown)?;
                if dir.stat_at(last)?.is_some_and(|s| s.kind == adt_localfs::Kind::Dir) {
                    return Err(conflict(dir, last, "a directory"));
                }
                dir.replace_with_hard_link(last, from_dir, OsStr::from_bytes(from_last))?;
                report.hard_links += 1;
            }
            _ => {
                report.not_restored += 1;
                if report.not_restored_names.len() < MAX_LISTED {
                    report.not_restored_names.push(shown);
                }
            }
        }
    }
    // Directories last, deepest first: writing into one moves its time.
    for (path, attrs) in dirs.iter().rev() {
        let parts: Vec<&[u8]> = path.split(|b| *b == b'/').collect();
        placer.open_fresh(&parts, &display_name(path))?.set_attributes(attrs)?;
    }
    if let Some(seen) = root.stat_at(OsStr::new(JOURNAL))? {
        root.remove_file_if(OsStr::new(JOURNAL), &seen)?;
    }
    root.set_attributes(&root_attrs.unwrap_or(Attributes {
        uid: 0,
        gid: 0,
        mode: 0o755,
        mtime: root.stat().mtime,
    }))?;
    Ok(report)
}

/// The owner given to an id too large for this system.
const NOBODY: u32 = 65534;

/// The target's parent made canonical once (it may pass through links);
/// the target's own name must be a plain name.
fn resolve_target(target: &Path) -> Result<PathBuf, BackupError> {
    let bad = || BackupError::BadTarget(target.to_path_buf());
    let name = target.file_name().ok_or_else(bad)?;
    if !target.is_absolute() || name == ".." || name == "." {
        return Err(bad());
    }
    let parent = target.parent().ok_or_else(bad)?;
    Ok(canonical_dir(parent)?.join(name))
}

/// A restore never writes into a FUSE mount (a bucket) nor onto a mount point.
fn refuse_mounts(target: &Path, table: &MountTable) -> Result<(), BackupError> {
    for m in &table.mounts {
        let fuse = m.fstype == "fuse" || m.fstype.starts_with("fuse.");
        if (fuse && target.starts_with(&m.mountpoint)) || m.mountpoint == target {
            return Err(BackupError::IntoMount(target.to_path_buf()));
        }
    }
    Ok(())
}

fn left_out(parts: &[&[u8]], leave_out: &[Vec<u8>]) -> bool {
    leave_out.iter().any(|dir| {
        let dir: Vec<&[u8]> = dir.split(|b| *b == b'/').filter(|s| !s.is_empty()).collect();
        parts.len() > dir.len() && parts[..dir.len()] == dir[..]
    })
}

fn same_content(s: &Stat, size: u64, mtime: i64) -> bool {
    s.kind == adt_localfs::Kind::File && s.size == size && s.mtime == mtime
}

fn conflict(dir: &Dir, name: &OsStr, what: &'static str) -> BackupError {
    BackupError::Conflict {
        path: dir.child_path(name),
        what,
    }
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> BackupError {
    BackupError::Corrupt {
        what: what.to_string(),
        detail: e.to_string(),
    }
}

/// Opens directories below the root by their segments, making missing
/// ones (0700 until the archive's own entry gives them their mode at the
/// end); keeps the last one opened, since entries come directory by
/// directory.
struct Placer<'a> {
    root: &'a Dir,
    parent: Option<(Vec<Vec<u8>>, Dir)>,
}

impl Placer<'_> {
    fn dir(&mut self, parts: &[&[u8]], create: bool, entry: &str) -> Result<&Dir, BackupError> {
        if parts.is_empty() {
            return Ok(self.root);
        }
        let cached =
            matches!(&self.parent, Some((p, _)) if p.len() == parts.len() && p.iter().zip(parts).all(|(a, b)| a == b));
        if !cached {
            let dir = self.walk(parts, create, entry)?;
            self.parent = Some((parts.iter().map(|p| p.to_vec()).collect(), dir));
        }
        Ok(&self.parent.as_ref().expect("just set").1)
    }

    /// Opens an existing directory, uncached.
    fn open_fresh(&self, parts: &[&[u8]], entry: &str) -> Result<Dir, BackupError> {
        self.walk(parts, false, entry)
    }

    fn walk(&self, parts: &[&[u8]], create: bool, entry: &str) -> Result<Dir, BackupError> {
        self.root.open_dirs(parts, create, 0o700).map_err(|e| match e {
            LocalError::Symlink { path } | LocalError::NotADirectory { path } => BackupError::UnsafeEntry {
                name: entry.to_string(),
                reason: format!("passes through {}, which is not a directory", path.display()),
            },
            LocalError::OtherFilesystem { path } => BackupError::IntoMount(path),
            e => e.into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    use super::*;

    enum E<'a> {
        Dir(&'a str, u32),
        File(&'a str, u32, &'a [u8]),
        Link(&'a str, &'a str),
        Hard(&'a str, &'a str),
        Fifo(&'a str),
    }

    /// A gzip tar of `entries` (with the marker unless `marker` is false).
    fn archive(dir: &Path, entries: &[E<'_>], marker: bool) -> PathBuf {
        let mut tar = tar::Builder::new(Vec::new());
        let mut add = |kind: tar::EntryType, name: &str, mode: u32, body: &[u8], link: Option<&str>| {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(kind);
            h.set_mode(mode);
            h.set_mtime(1_600_000_000);
            h.set_size(body.len() as u64);
            // Written raw: the tar crate refuses `..` and absolute names.
            h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
            if let Some(link) = link {
                h.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
            }
            h.set_cksum();
            tar.append(&h, body).unwrap();
        };
        add(tar::EntryType::Directory, "./", 0o755, b"", None);
        if marker {
            add(tar::EntryType::Regular, "./XXXXXX-DO_NOT_REMOVE", 0o644, b"", None);
        }
        for e in entries {
            match e {
                E::Dir(n, m) => add(tar::EntryType::Directory, n, *m, b"", None),
                E::File(n, m, b) => add(tar::EntryType::Regular, n, *m, b, None),
                E::Link(n, t) => add(tar::EntryType::Symlink, n, 0o777, b"", Some(t)),
                E::Hard(n, t) => add(tar::EntryType::Link, n, 0o644, b"", Some(t)),
                E::Fifo(n) => add(tar::EntryType::Fifo, n, 0o644, b"", None),
            }
        }
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tar.into_inner().unwrap()).unwrap();
        let path = dir.join(format!("a{}.tar.gz", fastrand_name()));
        std::fs::write(&path, gz.finish().unwrap()).unwrap();
        path
    }

    fn fastrand_name() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
    }

    fn run(archive: &Path, target: &Path, options: &ExtractOptions) -> Result<ExtractReport, BackupError> {
        extract(
            archive,
            target,
            &MountTable::default(),
            options,
            &AtomicBool::new(false),
        )
    }

    #[test]
    fn a_backup_is_restored_with_its_modes_times_and_links() {
        let base = tempfile::tempdir().unwrap();
        let a = archive(
            base.path(),
            &[
                E::Dir("./images/", 0o750),
                E::File("./images/a.png", 0o4755, b"png"),
                E::File("./index.php", 0o640, b"<?php"),
                E::Link("./latest", "images/a.png"),
                E::Hard("./copy.php", "./index.php"),
                E::Fifo("./pipe"),
                E::File("./uploads/kept/b.txt", 0o644, b"left out"),
            ],
            true,
        );
        let target = base.path().join("restored");
        let options = ExtractOptions {
            leave_out: vec![b"uploads/kept".to_vec()],
            ..ExtractOptions::default()
        };
        let r = run(&a, &target, &options).unwrap();
        assert_eq!(
            (r.files, r.directories, r.symlinks, r.hard_links),
            (3, 1, 1, 1),
            "{r:?}"
        );
        assert_eq!((r.not_restored, r.left_out), (1, 1));
        assert_eq!(r.not_restored_names, ["./pipe"]);
        let png = std::fs::metadata(target.join("images/a.png")).unwrap();
        assert_eq!(png.permissions().mode() & 0o7777, 0o755, "set-id bits dropped");
        assert_eq!(png.mtime(), 1_600_000_000);
        let images = std::fs::metadata(target.join("images")).unwrap();
        assert_eq!(
            (images.permissions().mode() & 0o7777, images.mtime()),
            (0o750, 1_600_000_000)
        );
        assert_eq!(
            std::fs::read_link(target.join("latest")).unwrap(),
            Path::new("images/a.png")
        );
        assert_eq!(std::fs::read(target.join("copy.php")).unwrap(), b"<?php");
        assert!(!target.join("pipe").exists());
        assert!(!target.join("uploads/kept/b.txt").exists());
        assert!(!target.join(JOURNAL).exists());
        assert_eq!(std::fs::metadata(&target).unwrap().permissions().mode() & 0o777, 0o755);

        // Again: refused, as the target holds files; forced, nothing rewritten.
        assert!(matches!(
            run(&a, &target, &ExtractOptions::default()),
            Err(BackupError::TargetNotEmpty(_))
        ));
        std::fs::write(target.join("mine.txt"), b"kept").unwrap();
        let mut force = options.clone();
        force.force = true;
        let r = run(&a, &target, &force).unwrap();
        assert_eq!((r.files, r.unchanged), (0, 3), "{r:?}");
        assert_eq!(
            std::fs::read(target.join("mine.txt")).unwrap(),
            b"kept",
            "nothing deleted"
        );
    }

    #[test]
    fn names_that_escape_or_pass_through_links_are_refused() {
        let base = tempfile::tempdir().unwrap();
        let outside = base.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        let outside_text = outside.to_str().unwrap().to_string();
        let cases: Vec<Vec<E<'_>>> = vec![
            vec![E::File("../outside/x", 0o644, b"x")],
            vec![E::File("/tmp/x", 0o644, b"x")],
            vec![E::Link("./images", &outside_text), E::File("./images/x", 0o644, b"x")],
            vec![E::Hard("./passwd", "/etc/passwd")],
            vec![E::Link("./l", &outside_text), E::Hard("./h", "./l/x")],
        ];
        for (i, entries) in cases.iter().enumerate() {
            let a = archive(base.path(), entries, true);
            let target = base.path().join(format!("t{i}"));
            let e = run(&a, &target, &ExtractOptions::default()).unwrap_err();
            assert!(matches!(e, BackupError::UnsafeEntry { .. }), "case {i}: {e}");
            assert!(std::fs::read_dir(&outside).unwrap().next().is_none(), "case {i}");
            // The journal stays: the restore is unfinished.
            assert!(target.join(JOURNAL).exists(), "case {i}");
        }
    }

    #[test]
    fn an_archive_without_the_marker_writes_nothing() {
        let base = tempfile::tempdir().unwrap();
        let a = archive(base.path(), &[E::File("./index.php", 0o644, b"x")], false);
        let target = base.path().join("t");
        let e = run(&a, &target, &ExtractOptions::default()).unwrap_err();
        assert!(e.to_string().contains(adt_template::MARKER), "{e}");
        assert!(!target.exists());
    }

    #[test]
    fn an_interrupted_restore_is_carried_on_without_force() {
        let base = tempfile::tempdir().unwrap();
        let a = archive(base.path(), &[E::File("./index.php", 0o644, b"x")], true);
        let target = base.path().join("t");
        let stop = AtomicBool::new(true);
        let e = extract(&a, &target, &MountTable::default(), &ExtractOptions::default(), &stop).unwrap_err();
        assert!(matches!(e, BackupError::Interrupted));
        assert!(target.join(JOURNAL).exists());
        let r = run(&a, &target, &ExtractOptions::default()).unwrap();
        assert!(r.resumed);
        assert_eq!(std::fs::read(target.join("index.php")).unwrap(), b"x");
        assert!(!target.join(JOURNAL).exists());
    }

    #[test]
    fn a_target_in_a_fuse_mount_is_refused() {
        let base = tempfile::tempdir().unwrap();
        let a = archive(base.path(), &[], true);
        let root = adt_localfs::canonical_dir(base.path()).unwrap();
        let table = MountTable::parse(&format!(
            "36 35 0:40 / {} rw - fuse.s3fs s3fs rw\n",
            root.join("bucket").display()
        ));
        std::fs::create_dir(root.join("bucket")).unwrap();
        let e = extract(
            &a,
            &root.join("bucket/site"),
            &table,
            &ExtractOptions::default(),
            &AtomicBool::new(false),
        )
        .unwrap_err();
        assert!(matches!(e, BackupError::IntoMount(_)), "{e}");
        assert!(!root.join("bucket/site").exists());
    }
}
