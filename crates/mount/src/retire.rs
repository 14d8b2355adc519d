//! Local files found where a bucket is to be mounted: each is first made
//! sure to be in the bucket (uploaded when missing, never overwriting),
//! then the directory is moved aside on the same filesystem, never deleted.
//! The record of moved-aside ("retired") directories lives in the state dir.
//!
//! Everything here runs as root inside directories the web server's user
//! controls, so every path is opened through adt-localfs: relative to a
//! directory handle, never following a link, checked after opening. Names
//! are bytes; a name that cannot be an object key is never uploaded and so
//! never purged. "In the bucket" means the same content (the object's ETag
//! equals the one computed from the local bytes), never just the same size.

use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use adt_datastore::{EtagHasher, PosixAttributes, PutOutcome, Store, directory_key, object_key};
use adt_localfs::{Dir, Event, Flow, LocalError, Stat, display_name};
use adt_template::LayoutEntry;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::error::{MountError, io};

const PART: usize = adt_datastore::PART_SIZE;
const RECORD: &str = "retired.json";

/// One retired local directory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Retired {
    /// The DIRECTORIES_TO_MOUNT entry it was moved aside for.
    pub entry: String,
    /// Where it was (where the bucket is now mounted).
    pub mountpoint: PathBuf,
    /// Where it is now.
    pub retired: PathBuf,
    /// The bucket(s) its files went to (the branches, for a merge target).
    pub buckets: Vec<String>,
    /// Device and inode of the moved directory: purge touches only that
    /// directory, whatever is renamed to its name later (absent in records
    /// written before they were kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<(u64, u64)>,
}

/// The record of retired directories in `state_dir` (empty when none).
pub fn load(state_dir: &Path) -> Vec<Retired> {
    std::fs::read(state_dir.join(RECORD))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// The name a directory moved aside from mount point `mount` gets:
/// `.MOUNT.adt-retired-SECONDS`, and `-N` after it for the Nth clash.
fn retired_name(mount: &OsStr, stamp: u64, n: u32) -> OsString {
    let mut name = OsString::from(".");
    name.push(mount);
    name.push(format!(".adt-retired-{stamp}"));
    if n > 0 {
        name.push(format!("-{n}"));
    }
    name
}

/// Whether `name` is one [`retired_name`] gives mount point `mount`.
pub(crate) fn is_retired_name(name: &[u8], mount: &[u8]) -> bool {
    let Some(rest) = name.strip_prefix(b".").and_then(|r| r.strip_prefix(mount)) else {
        return false;
    };
    let Some(rest) = rest.strip_prefix(b".adt-retired-") else {
        return false;
    };
    let digits = |s: &[u8]| !s.is_empty() && s.len() <= 20 && s.iter().all(u8::is_ascii_digit);
    match rest.iter().position(|b| *b == b'-') {
        None => digits(rest),
        Some(i) => digits(&rest[..i]) && digits(&rest[i + 1..]),
    }
}

/// Directories beside a mount point (or merge target) of `plan` named as
/// [`move_aside`] names them that the record lacks, wherever they came
/// from (a backup restored on a new webserver brings them back), each with
/// the identity it has now. Only directories count, never a link.
///
/// They are shown, never purged until adopted ([`adopt`]): the web
/// server's user can make a directory of that name, or rename one there,
/// and a purge deletes as root.
pub fn find_unrecorded(plan: &crate::Plan) -> Vec<Retired> {
    let recorded = load(&plan.options.state_dir);
    let mut all: Vec<Retired> = Vec::new();
    for e in &plan.entries {
        let buckets: Vec<String> = e.mounts.iter().map(|m| m.bucket.clone()).collect();
        let places = e
            .mounts
            .iter()
            .map(|m| (m.mountpoint.as_path(), vec![m.bucket.clone()]))
            .chain(e.merge.iter().map(|m| (m.target.as_path(), buckets.clone())));
        for (mountpoint, buckets) in places {
            let (Some(parent), Some(mount)) = (mountpoint.parent(), mountpoint.file_name()) else {
                continue;
            };
            let Ok(dir) = Dir::open(parent) else { continue };
            let Ok(mut names) = dir.names() else { continue };
            names.sort();
            for name in names {
                if !is_retired_name(name.as_bytes(), mount.as_bytes()) {
                    continue;
                }
                let path = dir.child_path(&name);
                if recorded.iter().chain(all.iter()).any(|r| r.retired == path) {
                    continue;
                }
                if let Ok(Some(stat)) = dir.stat_at(&name)
                    && stat.kind == adt_localfs::Kind::Dir
                {
                    all.push(Retired {
                        entry: e.entry.clone(),
                        mountpoint: mountpoint.to_path_buf(),
                        retired: path,
                        buckets: buckets.clone(),
                        identity: Some((stat.dev, stat.ino)),
                    });
                }
            }
        }
    }
    all
}

/// Replaces the record, whole (0600, temporary file, rename).
pub(crate) fn save(state: &Dir, all: &[Retired]) -> Result<(), MountError> {
    let text = serde_json::to_vec_pretty(all).map_err(|e| io(&state.child_path(OsStr::new(RECORD)), e))?;
    adt_localfs::write_private(state, OsStr::new(RECORD), &text)?;
    Ok(())
}

/// True when `dir` holds anything.
pub(crate) fn has_entries(dir: &Dir) -> Result<bool, MountError> {
    Ok(!dir.names()?.is_empty())
}

/// Where files of `dir` go: `(bucket, key)` for a path relative to it.
pub(crate) struct Destination<'a> {
    pub layout: &'a LayoutEntry,
    /// Index of the bucket mounted on `dir`, or None for a merge target
    /// (files spread over the branches).
    pub branch: Option<usize>,
}

impl Destination<'_> {
    fn bucket(&self, key: &str) -> &str {
        let i = self
            .branch
            .unwrap_or_else(|| self.layout.branch_for(key.trim_end_matches('/')));
        &self.layout.mounts[i].bucket
    }
}

/// Counts from making sure local files are in the bucket.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Upload {
    pub uploaded: u64,
    pub present: u64,
    /// Directory objects written (every directory below the mount point,
    /// with its mode, owner and mtime; one per branch bucket of a merge).
    pub directories: u64,
    /// Already in the bucket with other content: the bucket's copy is kept
    /// and the local one stays in the retired directory.
    pub differ: Vec<String>,
    /// Symlinks, special files, and entries that changed while read: left
    /// in the retired directory.
    pub skipped: Vec<String>,
    /// Names that cannot be object keys (not UTF-8, control characters,
    /// too long): left in the retired directory.
    pub refused: Vec<String>,
}

/// What a walk found to do, collected first (the walk is synchronous,
/// the uploads are not), then each file opened again through handles.
enum Item {
    File(Vec<u8>),
    Dir(Vec<u8>, Stat),
}

/// The files and directories below `dir`; what cannot be uploaded goes to
/// `skipped`.
fn survey(dir: &Dir, skipped: &mut Vec<String>) -> Result<Vec<Item>, MountError> {
    let mut items = Vec::new();
    adt_localfs::walk(dir, &mut |event: Event<'_>| -> Result<Flow, MountError> {
        let entry = *event.entry();
        let shown = || display_name(entry.rel);
        match event {
            Event::Name(_) | Event::Dir(..) => {}
            // Every directory, so the bucket holds its mode, owner and
            // mtime (s3fs shows a directory with no object dated 1970);
            // its own handle's fstat, not a second lookup.
            Event::Leave(_, opened, _) if !entry.rel.is_empty() => {
                items.push(Item::Dir(entry.rel.to_vec(), *opened.stat()));
            }
            Event::Leave(..) => {}
            Event::File(..) => items.push(Item::File(entry.rel.to_vec())),
            Event::Symlink(..) => skipped.push(format!("{} (symbolic link)", shown())),
            Event::Special(_, stat) => skipped.push(format!("{} ({})", shown(), stat.kind.describe())),
            Event::Vanished(_) => {}
            Event::Changed(_) => skipped.push(format!("{} (changed while read)", shown())),
            Event::OtherFilesystem(..) => skipped.push(format!("{} (another filesystem)", shown())),
            Event::TooDeep(_) => skipped.push(format!("{} (nested too deep)", shown())),
            Event::Unreadable(_, e) => skipped.push(format!("{} (unreadable: {e})", shown())),
        }
        Ok(Flow::Continue)
    })?;
    Ok(items)
}

/// Opens the directory holding `rel` below `root`, one component at a
/// time (no links), reusing the last one opened when it is the same.
struct Parents<'a> {
    root: &'a Dir,
    last: Option<(Vec<u8>, Dir)>,
}

impl<'a> Parents<'a> {
    fn new(root: &'a Dir) -> Parents<'a> {
        Parents { root, last: None }
    }

    /// The parent directory of `rel` and `rel`'s last name.
    fn of(&mut self, rel: &[u8]) -> Result<(&Dir, OsString), LocalError> {
        let (parent, name) = match rel.iter().rposition(|b| *b == b'/') {
            Some(i) => (&rel[..i], &rel[i + 1..]),
            None => (&rel[..0], rel),
        };
        let name = OsString::from_vec(name.to_vec());
        if parent.is_empty() {
            return Ok((self.root, name));
        }
        if self.last.as_ref().is_none_or(|(p, _)| p != parent) {
            let mut dir: Option<Dir> = None;
            for component in parent.split(|b| *b == b'/') {
                let next = dir
                    .as_ref()
                    .unwrap_or(self.root)
                    .open_dir(OsStr::from_bytes(component))?;
                dir = Some(next);
            }
            self.last = dir.map(|d| (parent.to_vec(), d));
        }
        let dir = self.last.as_ref().map_or(self.root, |(_, d)| d);
        Ok((dir, name))
    }
}

/// The ETag S3 gives `file`'s content when we upload it, and its size.
fn local_etag(file: &mut std::fs::File, size: u64, path: &Path) -> Result<String, MountError> {
    let mut hasher = EtagHasher::new(size, PART);
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(|e| io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finish())
}

/// Uploads every file under `dir` that is missing from its bucket; counts
/// those already there with the same content; names those that differ.
/// Stops between files when `stop` is set.
pub(crate) async fn upload_missing(
    store: &Store,
    dir: &Dir,
    dest: &Destination<'_>,
    stop: &AtomicBool,
) -> Result<Upload, MountError> {
    let mut report = Upload::default();
    let items = survey(dir, &mut report.skipped)?;
    let mut parents = Parents::new(dir);
    for item in items {
        if stop.load(Ordering::SeqCst) {
            return Err(MountError::Interrupted);
        }
        let rel = match &item {
            Item::File(rel) | Item::Dir(rel, _) => rel,
        };
        let key = match object_key(rel) {
            Ok(k) => k,
            Err(why) => {
                report.refused.push(format!("{} ({why})", display_name(rel)));
                continue;
            }
        };
        if let Item::Dir(_, stat) = &item {
            let key = directory_key(key);
            if key.len() > adt_datastore::MAX_KEY_BYTES {
                report.refused.push(format!(
                    "{}/ (its directory object's key is over {} bytes)",
                    display_name(rel),
                    adt_datastore::MAX_KEY_BYTES
                ));
                continue;
            }
            let opts = attributes(stat).put_options(&key);
            // A merge shows a directory from the first branch holding it:
            // each branch gets the same object. Never overwritten.
            let buckets: Vec<&str> = match dest.branch {
                Some(_) => vec![dest.bucket(&key)],
                None => dest.layout.mounts.iter().map(|m| m.bucket.as_str()).collect(),
            };
            for bucket in buckets {
                if let PutOutcome::Created { .. } = store.put_if_absent(bucket, &key, Bytes::new(), &opts).await? {
                    report.directories += 1;
                }
            }
            continue;
        }
        let (parent, name) = match parents.of(rel) {
            Ok(found) => found,
            Err(_) => {
                report
                    .skipped
                    .push(format!("{} (changed while read)", display_name(rel)));
                continue;
            }
        };
        let path = parent.child_path(&name);
        let opened = match parent.open_file(&name, None) {
            Ok(o) => o,
            Err(e) if e.is_missing() => continue,
            Err(e) if e.was_replaced() => {
                report
                    .skipped
                    .push(format!("{} (changed while read)", display_name(rel)));
                continue;
            }
            // Kept in the retired directory, named; never fatal, so a user
            // holding a lease cannot block every mount.
            Err(e) => {
                report.skipped.push(format!("{} (unreadable: {e})", display_name(rel)));
                continue;
            }
        };
        let bucket = dest.bucket(key);
        if let Some(there) = store.head(bucket, key).await? {
            let mut file = opened.file;
            if local_etag(&mut file, opened.stat.size, &path)? == there.etag {
                report.present += 1;
            } else {
                report.differ.push(display_name(rel));
            }
            continue;
        }
        let opts = attributes(&opened.stat).put_options(key);
        let up = store
            .put_open_file(bucket, key, opened.file, &path, &opts, true, PART)
            .await?;
        match up.outcome {
            PutOutcome::Created { etag } if !etag.is_empty() && etag != up.etag => {
                return Err(MountError::Mismatch {
                    bucket: bucket.to_string(),
                    key: key.to_string(),
                    detail: format!("the datastore stored ETag {etag}, the local bytes give {}", up.etag),
                });
            }
            PutOutcome::Created { .. } => report.uploaded += 1,
            // Someone put it there since the HEAD: compare with that.
            PutOutcome::Exists => match store.head(bucket, key).await? {
                Some(there) if there.etag == up.etag => report.present += 1,
                _ => report.differ.push(display_name(rel)),
            },
        }
    }
    report.differ.sort();
    report.skipped.sort();
    report.refused.sort();
    Ok(report)
}

/// A local file's attributes as object metadata (adt-datastore's
/// [`PosixAttributes`] owns the format).
pub(crate) fn attributes(stat: &Stat) -> PosixAttributes {
    PosixAttributes::from_stat_mode(stat.mode, u64::from(stat.uid), u64::from(stat.gid), stat.mtime)
}

/// Moves `name` in `parent` aside to `.NAME.adt-retired-SECONDS` beside it
/// (a rename: same filesystem, instant, nothing copied or lost; it never
/// replaces anything). Returns the retired name; `make_mountpoint` then
/// puts an empty directory in its place.
pub(crate) fn move_aside(parent: &Dir, name: &OsStr, seen: &Stat) -> Result<OsString, MountError> {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut n = 0;
    let retired = loop {
        let candidate = retired_name(name, stamp, n);
        match parent.rename_noreplace(name, &candidate) {
            Ok(()) => break candidate,
            Err(LocalError::Io { source, .. }) if source.kind() == std::io::ErrorKind::AlreadyExists && n < 100 => {
                n += 1;
            }
            Err(e) => return Err(e.into()),
        }
    };
    let moved = parent.stat_at(&retired)?;
    if moved.is_none_or(|m| !m.same_file(seen)) {
        // Swapped between the check and the rename: put it back as it was.
        let _ = parent.rename_noreplace(&retired, name);
        return Err(MountError::Local(LocalError::Changed {
            path: parent.child_path(name),
        }));
    }
    Ok(retired)
}

/// The empty directory that takes a moved-aside one's place, with its mode
/// and owner; refused if what was opened is not the directory just made
/// (someone swapped another in between), so root never chowns a stranger.
pub(crate) fn make_mountpoint(parent: &Dir, name: &OsStr, seen: &Stat) -> Result<(), MountError> {
    let fresh = parent.create_dir(name, 0o700)?;
    let made = fresh.stat();
    let mine = made.uid == rustix::process::geteuid().as_raw() && made.permissions() & 0o077 == 0;
    if !mine || has_entries(&fresh)? {
        return Err(MountError::Local(LocalError::Changed {
            path: parent.child_path(name),
        }));
    }
    fresh.set_owner_mode(seen.uid, seen.gid, seen.permissions())?;
    Ok(())
}

/// Undoes `move_aside`: the (empty) mount point goes, the directory returns.
pub(crate) fn move_back(parent: &Dir, name: &OsStr, retired: &OsStr) -> Result<(), MountError> {
    match parent.remove_empty_dir(name) {
        Ok(()) => {}
        Err(e) if e.is_missing() => {}
        Err(e) => {
            return Err(io(
                &parent.child_path(name),
                format!("cannot put the local directory back: {e}"),
            ));
        }
    }
    parent.rename_noreplace(retired, name)?;
    Ok(())
}

/// Removes, file by file, what is under `parent/retired` whose content
/// is verified in its bucket (ETag computed from the local bytes equals
/// the object's), then the directories left empty. Returns what was kept,
/// with why; the directory itself goes only when nothing is kept.
pub(crate) async fn purge(
    store: &Store,
    parent: &Dir,
    retired: &OsStr,
    identity: Option<(u64, u64)>,
    dest: &Destination<'_>,
) -> Result<Vec<String>, MountError> {
    let root = parent.open_dir(retired)?;
    if identity.is_some_and(|(dev, ino)| (root.stat().dev, root.stat().ino) != (dev, ino)) {
        return Ok(vec![format!(
            "{} (not the directory that was moved aside: left alone)",
            display_name(retired.as_bytes())
        )]);
    }
    let mut kept = Vec::new();
    let mut items = Vec::new();
    let mut dirs = Vec::new();
    adt_localfs::walk(&root, &mut |event: Event<'_>| -> Result<Flow, MountError> {
        let entry = *event.entry();
        let shown = || display_name(entry.rel);
        match event {
            Event::Name(_) | Event::Dir(..) | Event::Vanished(_) => {}
            Event::Leave(..) => dirs.push(entry.rel.to_vec()),
            Event::File(..) => items.push(entry.rel.to_vec()),
            Event::Symlink(..) => kept.push(format!("{} (symbolic link, never uploaded)", shown())),
            Event::Special(_, stat) => kept.push(format!("{} ({}, never uploaded)", shown(), stat.kind.describe())),
            Event::Changed(_) => kept.push(format!("{} (changed while read)", shown())),
            Event::OtherFilesystem(..) => kept.push(format!("{} (another filesystem)", shown())),
            Event::TooDeep(_) => kept.push(format!("{} (nested too deep)", shown())),
            Event::Unreadable(_, e) => kept.push(format!("{} (unreadable: {e})", shown())),
        }
        Ok(Flow::Continue)
    })?;
    let mut parents = Parents::new(&root);
    for rel in items {
        let shown = display_name(&rel);
        let key = match object_key(&rel) {
            Ok(k) => k,
            Err(why) => {
                kept.push(format!("{shown} ({why}; never uploaded)"));
                continue;
            }
        };
        let Ok((dir, name)) = parents.of(&rel) else {
            kept.push(format!("{shown} (changed while read)"));
            continue;
        };
        let path = dir.child_path(&name);
        let mut opened = match dir.open_file(&name, None) {
            Ok(o) => o,
            Err(e) if e.is_missing() => continue,
            Err(_) => {
                kept.push(format!("{shown} (changed while read)"));
                continue;
            }
        };
        let local = local_etag(&mut opened.file, opened.stat.size, &path)?;
        // Written to while it was hashed (a process still holding it open):
        // what was verified is not what would be deleted.
        if !opened.restat().is_ok_and(|now| now.unchanged(&opened.stat)) {
            kept.push(format!("{shown} (changed while read)"));
            continue;
        }
        match store.head(dest.bucket(key), key).await? {
            Some(there) if there.etag == local => match dir.remove_file_if(&name, &opened.stat) {
                Ok(()) => {}
                Err(e) if e.is_missing() => {}
                Err(_) => kept.push(format!("{shown} (changed while read)")),
            },
            Some(_) => kept.push(format!("{shown} (differs from the bucket's copy)")),
            None => kept.push(format!("{shown} (not in the bucket)")),
        }
    }
    // Deepest first (the walk left them in that order): each goes if empty.
    let mut parents = Parents::new(&root);
    for rel in dirs {
        if let Ok((dir, name)) = parents.of(&rel) {
            let _ = dir.remove_empty_dir(&name);
        }
    }
    drop(parents);
    if kept.is_empty() {
        drop(root);
        match parent.remove_empty_dir(retired) {
            Ok(()) => {}
            Err(e) => kept.push(format!("{} ({e})", display_name(retired.as_bytes()))),
        }
    }
    kept.sort();
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retired_names_are_recognised_exactly() {
        for yes in [".images.adt-retired-1700000000", ".images.adt-retired-1700000000-3"] {
            assert!(is_retired_name(yes.as_bytes(), b"images"), "{yes}");
        }
        for n in [0, 1, 42] {
            let made = retired_name(OsStr::new("images"), 1_700_000_000, n);
            assert!(is_retired_name(made.as_bytes(), b"images"), "{made:?}");
        }
        for no in [
            "images",
            ".images.adt-retired-",
            ".images.adt-retired-17x",
            ".images.adt-retired-1-",
            ".images.adt-retired-1-2-3",
            ".media.adt-retired-1700000000",
            ".images2.adt-retired-1700000000",
            "..images.adt-retired-1",
        ] {
            assert!(!is_retired_name(no.as_bytes(), b"images"), "{no}");
        }
    }
}
