//! Restoring a backup archive into a directory: the archive is checked
//! whole (complete gzip tar, marker present) before anything is written,
//! then read again through the same handle and each entry placed below
//! the target through directory handles, never following a link, never
//! writing into another filesystem (a mount), never outside the target.
//!
//! A restore is a [`Restore`]: [`Restore::begin`] takes the target (made
//! private to root, 0700, until [`Restore::finish`] gives it the
//! archive's owner and mode), [`Restore::extract`] places an archive,
//! and the caller may fill in more (the asset buckets) before finishing.
//! Until then the target holds [`JOURNAL`], a root-owned 0600 file naming
//! the source; a run that finds it, for the same source, carries on. A
//! target that holds anything else is refused unless `force`; even then
//! nothing in it is deleted: files the archive holds are replaced, the
//! rest stay.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{Read, Seek};
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

/// How [`Restore::extract`] treats the archive.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ExtractOptions {
    /// Directories, relative to the archive's root (`/`-separated bytes),
    /// whose contents are left out (asset directories, restored from their
    /// buckets instead). The directory itself is still made when missing.
    pub leave_out: Vec<Vec<u8>>,
    /// What a hostile archive may not exceed.
    pub limits: Limits,
    /// Directories whose attributes are kept for the end (bounded memory).
    pub max_directories: usize,
}

impl Default for ExtractOptions {
    fn default() -> Self {
        ExtractOptions {
            leave_out: Vec::new(),
            limits: Limits::default(),
            max_directories: 1_000_000,
        }
    }
}

/// What [`Restore::extract`] did.
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
    /// Files an interrupted run of this restore already wrote, kept.
    pub unchanged: u64,
    /// Directories (the target's root not counted).
    pub directories: u64,
    /// Symbolic links.
    pub symlinks: u64,
    /// Hard links.
    pub hard_links: u64,
    /// Entries inside a left-out directory.
    pub left_out: u64,
    /// Entries that are not restored (FIFOs, devices, unknown types, hard
    /// links to what was not restored), counted.
    pub not_restored: u64,
    /// Their names (the first 100).
    pub not_restored_names: Vec<String>,
}

/// A restore under way: the target, private to root until [`Restore::finish`].
#[derive(Debug)]
pub struct Restore {
    root: Dir,
    target: PathBuf,
    source: String,
    resumed: bool,
    trusted: bool,
    root_attrs: Attributes,
}

/// Opens an archive for reading: not a FIFO or device (never blocking),
/// a regular file.
pub fn open_archive(path: &Path) -> Result<File, BackupError> {
    Ok(adt_localfs::open_regular_file(path)?)
}

/// How a local archive is named in the journal and in messages: its path,
/// size and modification time, so a file replaced under the same name is
/// another backup.
pub fn archive_identity(path: &Path, file: &File) -> Result<String, BackupError> {
    let stat = Stat::of_open(file).map_err(|e| io(path, e))?;
    Ok(format!(
        "{} ({} bytes, modified {}.{:09})",
        path.display(),
        stat.size,
        stat.mtime,
        stat.mtime_nsec
    ))
}

impl Restore {
    /// Checks `archive` whole from its start (a complete gzip tar holding the marker;
    /// `source` names it in messages and in the journal) and rewinds it,
    /// then takes `target` (absolute; its parent must exist and be given
    /// without links) for it: nothing is written for an archive that is
    /// not a complete backup. Refused: a target at or below a FUSE mount
    /// in `table`, or a mount point itself; a target holding anything but
    /// an unfinished restore of the same source, unless `force`.
    pub fn begin(
        archive: &mut File,
        source: &str,
        target: &Path,
        table: &MountTable,
        force: bool,
    ) -> Result<Restore, BackupError> {
        archive.rewind().map_err(|e| corrupt(source, e))?;
        check_archive(&mut *archive, source)?;
        archive.rewind().map_err(|e| corrupt(source, e))?;
        let target = resolve_target(target)?;
        refuse_mounts(&target, table)?;
        let parent = Dir::open(target.parent().unwrap_or(Path::new("/")))?;
        let name = target.file_name().unwrap_or_default();
        let created = parent.stat_at(name)?.is_none();
        let root = if created {
            parent.create_dir(name, 0o700)?
        } else {
            parent.open_dir(name)?
        };
        let before = *root.stat();
        let head = format!("restoring {source}\n");
        let me = rustix::process::geteuid().as_raw();
        let (resumed, recorded) = match read_journal(&root)? {
            Some(text) => {
                let (first, rest) = text.split_at(text.find('\n').map_or(text.len(), |i| i + 1));
                if first == head {
                    (true, Origin::parse(rest))
                } else if force {
                    // Another backup over an unfinished restore: the
                    // target's own attributes are still the recorded ones.
                    (false, Origin::parse(rest))
                } else {
                    return Err(BackupError::OtherRestore {
                        target,
                        other: first.trim().trim_start_matches("restoring ").to_string(),
                    });
                }
            }
            None if !force && !created && !root.first_names(1)?.is_empty() => {
                return Err(BackupError::TargetNotEmpty(target));
            }
            None => (false, None),
        };
        let origin = recorded.unwrap_or(if created {
            Origin::Fresh
        } else {
            Origin::Existing(Attributes {
                uid: before.uid,
                gid: before.gid,
                mode: before.permissions() & 0o1777,
                mtime: before.mtime,
            })
        });
        // Only this process's user may enter until the end: nobody can
        // swap a name inside while it is being restored.
        root.set_owner_mode(me, rustix::process::getegid().as_raw(), 0o700)?;
        if !force && !resumed && !created && !root.first_names(1)?.is_empty() {
            // Something arrived between the look and the chmod.
            if let Origin::Existing(a) = &origin {
                root.set_attributes(a)?;
            }
            return Err(BackupError::TargetNotEmpty(target));
        }
        write_private(
            &root,
            OsStr::new(JOURNAL),
            format!("{head}{}\n", origin.line()).as_bytes(),
        )?;
        // Files an interrupted run wrote are kept only in a target this
        // restore made: nobody else could ever enter it.
        let trusted = resumed && origin == Origin::Fresh;
        tracing::info!(target = %target.display(), source, resumed, "restoring a backup");
        let root_attrs = match origin {
            Origin::Fresh => Attributes {
                uid: me,
                gid: rustix::process::getegid().as_raw(),
                mode: 0o755,
                mtime: before.mtime,
            },
            Origin::Existing(a) => a,
        };
        Ok(Restore {
            root,
            target,
            source: source.to_string(),
            resumed,
            trusted,
            root_attrs,
        })
    }

    /// The target's root.
    pub fn dir(&self) -> &Dir {
        &self.root
    }

    /// The target, canonical.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// True when what an interrupted run of this restore wrote may be
    /// kept (the target stayed private to root since): otherwise every
    /// file is written again.
    pub fn trusted(&self) -> bool {
        self.trusted
    }

    /// Places the archive [`Restore::begin`] checked (`archive`, read
    /// from where `begin` left it) below the target. Refused: an entry
    /// whose name is absolute, holds `..`, passes through a link or a
    /// file, or is the journal's. Once `stop` is set, returns
    /// [`BackupError::Interrupted`] (run again to carry on).
    pub fn extract(
        &mut self,
        archive: &mut File,
        options: &ExtractOptions,
        stop: &AtomicBool,
    ) -> Result<ExtractReport, BackupError> {
        let what = self.source.clone();
        let what = what.as_str();
        let mut report = ExtractReport {
            target: self.target.clone(),
            resumed: self.resumed,
            ..ExtractReport::default()
        };
        let trusted = self.trusted;
        let mut placer = Placer {
            root: &self.root,
            parent: None,
        };
        let mut dirs: Vec<(Vec<u8>, Attributes, u64)> = Vec::new();
        let mut reader = Reader::new(&mut *archive, options.limits);
        while let Some(mut entry) = reader.next_entry().map_err(|e| corrupt(what, e))? {
            if stop.load(Ordering::Relaxed) {
                return Err(BackupError::Interrupted);
            }
            let h = entry.header.clone();
            let shown = display_name(&h.name);
            let parts = components(&h.name).map_err(|reason| BackupError::UnsafeEntry {
                name: shown.clone(),
                reason: reason.to_string(),
            })?;
            if parts.first() == Some(&JOURNAL.as_bytes()) {
                return Err(BackupError::UnsafeEntry {
                    name: shown,
                    reason: "has the name a restore keeps its journal under".into(),
                });
            }
            if left_out(&parts, &options.leave_out) {
                report.left_out += 1;
                continue;
            }
            let attrs = Attributes::untrusted(
                h.uid,
                h.gid,
                h.mode,
                i64::try_from(h.mtime).unwrap_or(i64::MAX),
                h.kind == Kind::Dir,
            );
            let Some((last, dirs_to)) = parts.split_last() else {
                if h.kind == Kind::Dir {
                    self.root_attrs = attrs;
                }
                continue;
            };
            let last = OsStr::from_bytes(last);
            match h.kind {
                Kind::Dir => {
                    // An asset directory already there (mounted, say) is
                    // left as it is.
                    if is_left_out_root(&parts, &options.leave_out) {
                        let parent = placer.dir(dirs_to, true, &shown)?;
                        if parent.stat_at(last)?.is_some() {
                            report.left_out += 1;
                            continue;
                        }
                    }
                    let dir = placer.walk(&parts, true, &shown)?;
                    if dirs.len() >= options.max_directories {
                        return Err(BackupError::Corrupt {
                            what: what.to_string(),
                            detail: format!("more than {} directories", options.max_directories),
                        });
                    }
                    dirs.push((parts.join(&b'/'), attrs, dir.stat().ino));
                    report.directories += 1;
                }
                Kind::File => {
                    let dir = placer.dir(dirs_to, true, &shown)?;
                    match dir.stat_at(last)? {
                        Some(s) if s.kind == adt_localfs::Kind::Dir => return Err(conflict(dir, last, "a directory")),
                        Some(s) if trusted && same_content(&s, h.size, attrs.mtime) => {
                            std::io::copy(&mut entry, &mut std::io::sink()).map_err(|e| corrupt(what, e))?;
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
                    let from_name = OsStr::from_bytes(from_last);
                    // Only what this archive restores: not a file in a
                    // left-out directory, nor the journal.
                    if left_out(&from, &options.leave_out) || from == [JOURNAL.as_bytes()] {
                        not_restored(&mut report, shown);
                        continue;
                    }
                    // A link to what was not restored (left out, a FIFO)
                    // is not restored either.
                    let from_dir = if from_dirs.is_empty() {
                        Ok(None)
                    } else {
                        placer.open_fresh(from_dirs, &shown).map(Some)
                    };
                    let from_dir = match from_dir {
                        Ok(d) => d,
                        Err(BackupError::Local(LocalError::Missing { .. })) => {
                            not_restored(&mut report, shown);
                            continue;
                        }
                        Err(e) => return Err(e),
                    };
                    let from_ref = from_dir.as_ref().unwrap_or(placer.root);
                    if !from_ref
                        .stat_at(from_name)?
                        .is_some_and(|s| s.kind == adt_localfs::Kind::File)
                    {
                        not_restored(&mut report, shown);
                        continue;
                    }
                    let dir = placer.dir(dirs_to, true, &shown)?;
                    if dir.stat_at(last)?.is_some_and(|s| s.kind == adt_localfs::Kind::Dir) {
                        return Err(conflict(dir, last, "a directory"));
                    }
                    dir.replace_with_hard_link(last, from_dir.as_ref().unwrap_or(&self.root), from_name)?;
                    report.hard_links += 1;
                }
                _ => not_restored(&mut report, shown),
            }
        }
        // Directories last, deepest first (writing into one moves its
        // time), each only if it is still the directory made or opened.
        for (path, attrs, ino) in dirs.iter().rev() {
            let parts: Vec<&[u8]> = path.split(|b| *b == b'/').collect();
            let dir = placer.open_fresh(&parts, &display_name(path))?;
            if dir.stat().ino != *ino {
                return Err(LocalError::Changed {
                    path: dir.path().to_path_buf(),
                }
                .into());
            }
            dir.set_attributes(attrs)?;
        }
        Ok(report)
    }

    /// Ends the restore: the target's root gets the archive's owner, mode
    /// and time (else what it had, else root's 0755) and the journal goes.
    pub fn finish(self) -> Result<PathBuf, BackupError> {
        // The attributes first: should that fail, the journal still says
        // what they were.
        self.root.set_attributes(&self.root_attrs)?;
        if let Some(seen) = self.root.stat_at(OsStr::new(JOURNAL))? {
            self.root.remove_file_if(OsStr::new(JOURNAL), &seen)?;
        }
        Ok(self.target)
    }
}

/// Restores the archive at `archive` into `target` in one call:
/// [`open_archive`], [`Restore::begin`], [`Restore::extract`],
/// [`Restore::finish`].
pub fn extract(
    archive: &Path,
    target: &Path,
    table: &MountTable,
    force: bool,
    options: &ExtractOptions,
    stop: &AtomicBool,
) -> Result<ExtractReport, BackupError> {
    let mut file = open_archive(archive)?;
    let what = archive_identity(archive, &file)?;
    let mut restore = Restore::begin(&mut file, &what, target, table, force)?;
    let report = restore.extract(&mut file, options, stop)?;
    restore.finish()?;
    Ok(report)
}

/// Where the target came from, kept in the journal: made by this
/// restore, or there before with these attributes (given back at the end
/// unless the archive has its own for the root).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Origin {
    Fresh,
    Existing(Attributes),
}

impl Origin {
    fn line(&self) -> String {
        match self {
            Origin::Fresh => "fresh".into(),
            Origin::Existing(a) => format!("existing {} {} {:o} {}", a.uid, a.gid, a.mode, a.mtime),
        }
    }

    /// The journal's second line; None when it says nothing usable.
    fn parse(text: &str) -> Option<Origin> {
        let words: Vec<&str> = text.split_whitespace().collect();
        match words[..] {
            ["fresh"] => Some(Origin::Fresh),
            ["existing", uid, gid, mode, mtime] => Some(Origin::Existing(Attributes {
                uid: uid.parse().ok()?,
                gid: gid.parse().ok()?,
                mode: u32::from_str_radix(mode, 8).ok()? & 0o1777,
                mtime: mtime.parse().ok()?,
            })),
            _ => None,
        }
    }
}

fn not_restored(report: &mut ExtractReport, name: String) {
    report.not_restored += 1;
    if report.not_restored_names.len() < MAX_LISTED {
        report.not_restored_names.push(name);
    }
}

/// The journal's text, when it is a regular file this process's user
/// owns, 0600, at most 64 KiB; None when there is none. Anything else at
/// that name is refused.
fn read_journal(root: &Dir) -> Result<Option<String>, BackupError> {
    if root.stat_at(OsStr::new(JOURNAL))?.is_none() {
        return Ok(None);
    }
    let not_ours = || BackupError::Conflict {
        path: root.child_path(OsStr::new(JOURNAL)),
        what: "not a journal a restore wrote (not a 0600 file of this user)",
    };
    let mut opened = root.open_file(OsStr::new(JOURNAL), None).map_err(|e| match e {
        LocalError::Symlink { .. } | LocalError::NotRegular { .. } => not_ours(),
        e => e.into(),
    })?;
    let me = rustix::process::geteuid().as_raw();
    if opened.stat.uid != me || opened.stat.permissions() != 0o600 {
        return Err(not_ours());
    }
    let mut text = String::new();
    (&mut opened.file)
        .take(64 * 1024)
        .read_to_string(&mut text)
        .map_err(|e| io(&root.child_path(OsStr::new(JOURNAL)), e))?;
    Ok(Some(text))
}

/// The target: its parent given without links or `..` (so nobody who can
/// write somewhere along it redirects the restore), its own name a plain name.
fn resolve_target(target: &Path) -> Result<PathBuf, BackupError> {
    let bad = || BackupError::BadTarget(target.to_path_buf());
    let name = target.file_name().ok_or_else(bad)?;
    if !target.is_absolute() || name == ".." || name == "." {
        return Err(bad());
    }
    let parent = target.parent().ok_or_else(bad)?;
    let canonical = canonical_dir(parent)?;
    if canonical != parent {
        return Err(BackupError::TargetThroughLink {
            given: parent.to_path_buf(),
            canonical,
        });
    }
    Ok(canonical.join(name))
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

/// True when `parts` is one of the left-out directories itself.
fn is_left_out_root(parts: &[&[u8]], leave_out: &[Vec<u8>]) -> bool {
    leave_out.iter().any(|dir| {
        let dir: Vec<&[u8]> = dir.split(|b| *b == b'/').filter(|s| !s.is_empty()).collect();
        !dir.is_empty() && parts == &dir[..]
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
/// ones (0755, this process's user: the root stays private until the end,
/// and the archive's own entry, when there is one, gives each its owner
/// and mode then); keeps the last one opened, since entries come
/// directory by directory.
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
        self.root.open_dirs(parts, create, 0o755).map_err(|e| match e {
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
        archive_with(dir, entries, marker, true)
    }

    /// As [`archive`], with or without an entry for the root (`./`).
    fn archive_with(dir: &Path, entries: &[E<'_>], marker: bool, root: bool) -> PathBuf {
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
        if root {
            add(tar::EntryType::Directory, "./", 0o755, b"", None);
        }
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

    fn set_mtime(path: &Path, secs: u64) {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
        std::fs::File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(t)
            .unwrap();
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
            false,
            options,
            &AtomicBool::new(false),
        )
    }

    fn run_forced(archive: &Path, target: &Path, options: &ExtractOptions) -> Result<ExtractReport, BackupError> {
        extract(
            archive,
            target,
            &MountTable::default(),
            true,
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

        // Again: refused, as the target holds files.
        assert!(matches!(
            run(&a, &target, &ExtractOptions::default()),
            Err(BackupError::TargetNotEmpty(_))
        ));
        std::fs::write(target.join("mine.txt"), b"kept").unwrap();
        // A file someone changed, keeping its size and time: forced, every
        // file is written again (nothing is trusted in a target others use).
        std::fs::write(target.join("index.php"), b"<?ph!").unwrap();
        set_mtime(&target.join("index.php"), 1_600_000_000);
        let r = run_forced(&a, &target, &options).unwrap();
        assert_eq!((r.files, r.unchanged), (3, 0), "{r:?}");
        assert_eq!(std::fs::read(target.join("index.php")).unwrap(), b"<?php");
        assert_eq!(
            std::fs::read(target.join("mine.txt")).unwrap(),
            b"kept",
            "nothing deleted"
        );
        let names: Vec<String> = std::fs::read_dir(&target)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            !names.iter().any(|n| n.starts_with(".adt-tmp") || n == JOURNAL),
            "{names:?}"
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
        let e = extract(
            &a,
            &target,
            &MountTable::default(),
            false,
            &ExtractOptions::default(),
            &stop,
        )
        .unwrap_err();
        assert!(matches!(e, BackupError::Interrupted));
        assert!(target.join(JOURNAL).exists());
        let private = std::fs::metadata(&target).unwrap().permissions().mode() & 0o777;
        assert_eq!(private, 0o700, "private until the restore ends");
        // Another backup into the unfinished restore: refused.
        let other = archive(base.path(), &[E::File("./other.php", 0o644, b"y")], true);
        assert!(matches!(
            run(&other, &target, &ExtractOptions::default()),
            Err(BackupError::OtherRestore { .. })
        ));
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
            false,
            &ExtractOptions::default(),
            &AtomicBool::new(false),
        )
        .unwrap_err();
        assert!(matches!(e, BackupError::IntoMount(_)), "{e}");
        assert!(!root.join("bucket/site").exists());
    }

    #[test]
    fn the_journal_is_trusted_only_when_this_user_wrote_it_and_never_restored() {
        let base = tempfile::tempdir().unwrap();
        let a = archive(base.path(), &[E::File("./index.php", 0o644, b"x")], true);
        // A journal planted by someone else (here: mode 0644) is refused.
        let target = base.path().join("t");
        std::fs::create_dir(&target).unwrap();
        std::fs::write(target.join(JOURNAL), format!("restoring {}\n", a.display())).unwrap();
        std::fs::set_permissions(target.join(JOURNAL), std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = run(&a, &target, &ExtractOptions::default()).unwrap_err();
        assert!(matches!(e, BackupError::Conflict { .. }), "{e}");
        // An archive entry with the journal's name is refused.
        let planted = archive(
            base.path(),
            &[E::File("./.adt-restore-unfinished", 0o600, b"restoring x\n")],
            true,
        );
        let e = run(&planted, &base.path().join("t2"), &ExtractOptions::default()).unwrap_err();
        assert!(matches!(e, BackupError::UnsafeEntry { .. }), "{e}");
    }

    #[test]
    fn a_parent_given_through_a_link_is_refused() {
        let base = tempfile::tempdir().unwrap();
        let a = archive(base.path(), &[], true);
        std::fs::create_dir(base.path().join("real")).unwrap();
        std::os::unix::fs::symlink(base.path().join("real"), base.path().join("via")).unwrap();
        let root = adt_localfs::canonical_dir(base.path()).unwrap();
        let e = run(&a, &root.join("via/site"), &ExtractOptions::default()).unwrap_err();
        assert!(matches!(e, BackupError::TargetThroughLink { .. }), "{e}");
        assert!(!root.join("real/site").exists());
    }

    #[test]
    fn hard_links_to_what_was_not_restored_are_counted_and_repeat_runs_leave_no_temporary_names() {
        let base = tempfile::tempdir().unwrap();
        let a = archive(
            base.path(),
            &[
                E::File("./a.txt", 0o644, b"a"),
                E::Hard("./b.txt", "./a.txt"),
                E::Fifo("./pipe"),
                E::Hard("./c", "./pipe"),
                E::File("./images/x.png", 0o644, b"x"),
                E::Hard("./d.png", "./images/x.png"),
            ],
            true,
        );
        let target = base.path().join("t");
        let options = ExtractOptions {
            leave_out: vec![b"images".to_vec()],
            ..ExtractOptions::default()
        };
        let r = run(&a, &target, &options).unwrap();
        assert_eq!((r.hard_links, r.not_restored), (1, 3), "{r:?}");
        let r = run_forced(&a, &target, &options).unwrap();
        assert_eq!(r.hard_links, 1);
        let names: Vec<String> = std::fs::read_dir(&target)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(!names.iter().any(|n| n.starts_with(".adt-tmp")), "{names:?}");
        assert_eq!(std::fs::read(target.join("b.txt")).unwrap(), b"a");
    }

    #[test]
    fn an_existing_target_gets_its_own_attributes_back_even_after_an_interruption() {
        let base = tempfile::tempdir().unwrap();
        let a = archive_with(base.path(), &[E::File("./index.php", 0o644, b"x")], true, false);
        let target = base.path().join("t");
        std::fs::create_dir(&target).unwrap();
        std::fs::write(target.join("old.txt"), b"old").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o751)).unwrap();
        let stop = AtomicBool::new(true);
        let e = extract(
            &a,
            &target,
            &MountTable::default(),
            true,
            &ExtractOptions::default(),
            &stop,
        )
        .unwrap_err();
        assert!(matches!(e, BackupError::Interrupted));
        assert_eq!(std::fs::metadata(&target).unwrap().permissions().mode() & 0o777, 0o700);
        // Carried on: not trusted (the target was there before), and its
        // mode, recorded in the journal, given back at the end.
        let r = run(&a, &target, &ExtractOptions::default()).unwrap();
        assert!(r.resumed);
        assert_eq!(
            (r.files, r.unchanged),
            (2, 0),
            "index.php and the marker, both written again"
        );
        assert_eq!(std::fs::metadata(&target).unwrap().permissions().mode() & 0o777, 0o751);
        assert_eq!(std::fs::read(target.join("old.txt")).unwrap(), b"old");
    }

    #[test]
    fn a_hard_link_to_the_journal_or_a_left_out_file_is_not_restored() {
        let base = tempfile::tempdir().unwrap();
        let a = archive(
            base.path(),
            &[
                E::Hard("./j", "./.adt-restore-unfinished"),
                E::Dir("./images/", 0o755),
                E::Hard("./x", "./images/kept.png"),
            ],
            true,
        );
        let target = base.path().join("t");
        std::fs::create_dir_all(target.join("images")).unwrap();
        std::fs::write(target.join("images/kept.png"), b"live asset").unwrap();
        let options = ExtractOptions {
            leave_out: vec![b"images".to_vec()],
            ..ExtractOptions::default()
        };
        let r = run_forced(&a, &target, &options).unwrap();
        assert_eq!((r.hard_links, r.not_restored), (0, 2), "{r:?}");
        assert!(!target.join("j").exists() && !target.join("x").exists());
    }
}
