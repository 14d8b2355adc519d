//! A bucket's objects written into a local directory, with the mode,
//! owner and time their metadata holds: how a restore brings a site's
//! assets back off S3 (to leave it, or to move to another provider).
//!
//! Keys are checked with the one object-key policy
//! ([`adt_datastore::object_key`]): a key that could not have come from a
//! local name (a `..` or empty segment, a control character) is refused
//! and reported, never written. Directories are made through handles,
//! never through a link, never into another filesystem. Each file is
//! written under a temporary name and renamed into place; one already
//! there with the object's size and time is kept when nobody else could
//! have written it (a resumed restore), so such a run fetches only what is
//! missing. Modes lose their set-id bits; an object whose metadata calls
//! it a link (as s3fs stores one) becomes a link, any other type is
//! refused.

use std::collections::{BTreeMap, HashSet};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use adt_datastore::{PosixAttributes, Store};
use adt_localfs::{Attributes, Dir, Kind};
use futures::{StreamExt, TryStreamExt};
use serde::Serialize;

use crate::error::{BackupError, io};

/// Keys refused are listed up to this many (then counted).
const MAX_LISTED: usize = 100;

/// What [`download_bucket`] wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct DownloadReport {
    /// The bucket.
    pub bucket: String,
    /// Files written.
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Files already there with the object's size and time, kept.
    pub unchanged: u64,
    /// Directory objects.
    pub directories: u64,
    /// Symbolic links (objects s3fs stores for them).
    pub symlinks: u64,
    /// Keys an earlier branch of the same merge already gave.
    pub shadowed: u64,
    /// Keys refused (see the module doc), counted.
    pub refused: u64,
    /// Those keys and why (the first 100).
    pub refused_keys: Vec<String>,
}

/// Where the files go and who owns what metadata does not say.
#[derive(Debug)]
#[non_exhaustive]
pub struct DownloadTarget<'a> {
    /// The directory the bucket's root becomes.
    pub dir: &'a Dir,
    /// Owner and group of files and directories whose metadata names none.
    pub owner: (u32, u32),
    /// Objects fetched at once.
    pub concurrency: usize,
    /// Keep a file already there with the object's size and time (only
    /// when nobody else could have written it: [`crate::Restore::trusted`]);
    /// otherwise every object is written again.
    pub keep_unchanged: bool,
    /// Directories (with or without an object) remembered for the end.
    pub max_directories: usize,
}

impl<'a> DownloadTarget<'a> {
    /// Into `dir`, files without metadata owned by `owner`, 16 at once,
    /// every object written.
    pub fn new(dir: &'a Dir, owner: (u32, u32)) -> DownloadTarget<'a> {
        DownloadTarget {
            dir,
            owner,
            concurrency: 16,
            keep_unchanged: false,
            max_directories: 1_000_000,
        }
    }
}

/// The longest link target read from a symbolic link's object.
const MAX_LINK: u64 = 4096;

const S_IFMT: u32 = 0o170_000;
const S_IFREG: u32 = 0o100_000;
const S_IFLNK: u32 = 0o120_000;

/// Writes every object of `bucket` below `target.dir`. `seen` holds the
/// keys earlier branches of a merge gave (they win, as the merged view
/// shows the first branch's copy); this bucket's keys are added.
/// Directories that have no object of their own get the owner's 0755.
/// Stops with [`BackupError::Interrupted`] once `stop` is set.
pub async fn download_bucket(
    store: &Store,
    bucket: &str,
    target: &DownloadTarget<'_>,
    seen: Option<&mut HashSet<String>>,
    stop: &AtomicBool,
) -> Result<DownloadReport, BackupError> {
    tracing::info!(bucket, dir = %target.dir.path().display(), "downloading a bucket");
    let report = Mutex::new(DownloadReport {
        bucket: bucket.to_string(),
        ..DownloadReport::default()
    });
    // Every directory below the root: its attributes from its object, or
    // the default (None). Bounded by `max_directories`.
    let mut dirs: BTreeMap<String, Option<(Attributes, u64)>> = BTreeMap::new();
    let mut seen = seen;
    let mut token = None;
    loop {
        if stop.load(Ordering::Relaxed) {
            return Err(BackupError::Interrupted);
        }
        let (page, next) = store.list_page(bucket, None, token).await?;
        let mut work = Vec::new();
        for object in page {
            let key = object.key.trim_end_matches('/');
            if let Err(why) = adt_datastore::object_key(key.as_bytes()) {
                refuse(&report, &object.key, &why.to_string());
                continue;
            }
            if key == crate::JOURNAL {
                refuse(
                    &report,
                    &object.key,
                    "it has the name a restore keeps its journal under",
                );
                continue;
            }
            if let Some(seen) = seen.as_deref_mut()
                && !seen.insert(object.key.clone())
            {
                report.lock().expect("not poisoned").shadowed += 1;
                continue;
            }
            // Every parent is a directory to give attributes to at the end.
            let mut parent = key;
            while let Some((p, _)) = parent.rsplit_once('/') {
                dirs.entry(p.to_string()).or_insert(None);
                parent = p;
            }
            if dirs.len() > target.max_directories {
                return Err(BackupError::Corrupt {
                    what: format!("bucket `{bucket}`"),
                    detail: format!("more than {} directories", target.max_directories),
                });
            }
            work.push(object);
        }
        let fetched: Vec<Option<(String, Attributes, u64)>> = futures::stream::iter(work)
            .map(|object| fetch_one(store, bucket, object, target, &report))
            .buffer_unordered(target.concurrency.max(1))
            .try_collect()
            .await?;
        for (key, attrs, ino) in fetched.into_iter().flatten() {
            dirs.insert(key, Some((attrs, ino)));
        }
        match next {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    // Deepest first (writing into a directory moves its time), each only
    // if it is still the directory made.
    let default = Attributes {
        uid: target.owner.0,
        gid: target.owner.1,
        mode: 0o755,
        mtime: now(),
    };
    for (key, found) in dirs.iter().rev() {
        // In a merge, a directory an earlier branch gave is left as it gave it.
        if found.is_none()
            && let Some(seen) = seen.as_deref_mut()
            && !seen.insert(format!("{key}/"))
        {
            continue;
        }
        let parts: Vec<&[u8]> = key.as_bytes().split(|b| *b == b'/').collect();
        let dir = target.dir.open_dirs(&parts, false, 0o700)?;
        let attrs = match found {
            Some((attrs, ino)) if dir.stat().ino == *ino => attrs,
            Some(_) => {
                return Err(adt_localfs::LocalError::Changed {
                    path: dir.path().to_path_buf(),
                }
                .into());
            }
            None => &default,
        };
        dir.set_attributes(attrs)?;
    }
    Ok(report.into_inner().expect("not poisoned"))
}

fn refuse(report: &Mutex<DownloadReport>, key: &str, why: &str) {
    let mut r = report.lock().expect("not poisoned");
    r.refused += 1;
    if r.refused_keys.len() < MAX_LISTED {
        r.refused_keys.push(format!("{key:?}: {why}"));
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// One object: a directory is made (its attributes and inode returned,
/// to apply last); a file or a link (as s3fs stores one) is written.
async fn fetch_one(
    store: &Store,
    bucket: &str,
    object: adt_datastore::ObjectInfo,
    target: &DownloadTarget<'_>,
    report: &Mutex<DownloadReport>,
) -> Result<Option<(String, Attributes, u64)>, BackupError> {
    let key = object.key;
    let listed_mtime = object.last_modified.unwrap_or(0);
    let (uid, gid) = (u64::from(target.owner.0), u64::from(target.owner.1));
    let trimmed = key.trim_end_matches('/');
    let parts: Vec<&[u8]> = trimmed.as_bytes().split(|b| *b == b'/').collect();
    if key.ends_with('/') {
        let dir = target.dir.open_dirs(&parts, true, 0o700)?;
        let meta = store.head(bucket, &key).await?.unwrap_or_default();
        let attrs = PosixAttributes::from_metadata(
            &meta.metadata,
            PosixAttributes::directory(0o755, uid, gid, listed_mtime),
        );
        report.lock().expect("not poisoned").directories += 1;
        return Ok(Some((trimmed.to_string(), local(&attrs, true), dir.stat().ino)));
    }
    let (last, dirs) = parts.split_last().expect("a key has a segment");
    let name = OsStr::from_bytes(last);
    let dir_owned;
    let dir = if dirs.is_empty() {
        target.dir
    } else {
        dir_owned = target.dir.open_dirs(dirs, true, 0o700)?;
        &dir_owned
    };
    let defaults = PosixAttributes::file(0o644, uid, gid, listed_mtime);
    let existing = dir.stat_at(name)?;
    if existing.is_some_and(|s| s.kind == Kind::Dir) {
        return Err(BackupError::Conflict {
            path: dir.child_path(name),
            what: "a directory",
        });
    }
    if target.keep_unchanged
        && let Some(s) = existing.filter(|s| s.kind == Kind::File && s.size == object.size)
    {
        let meta = store.head(bucket, &key).await?.unwrap_or_default();
        let attrs = PosixAttributes::from_metadata(&meta.metadata, defaults);
        if s.mtime == attrs.mtime() {
            report.lock().expect("not poisoned").unchanged += 1;
            return Ok(None);
        }
    }
    let (meta, mut body) = store.get(bucket, &key).await?;
    let stored = PosixAttributes::from_metadata(&meta.metadata, defaults);
    match stored.mode() & S_IFMT {
        S_IFREG => {}
        S_IFLNK if meta.size <= MAX_LINK => {
            let mut link = Vec::new();
            while let Some(chunk) = body.next_chunk().await {
                link.extend_from_slice(&chunk.map_err(|e| io(&dir.child_path(name), e))?);
                if link.len() as u64 > MAX_LINK {
                    break;
                }
            }
            if link.is_empty() || link.len() as u64 > MAX_LINK || link.contains(&0) {
                refuse(report, &key, "a symbolic link with an unusable target");
                return Ok(None);
            }
            dir.replace_with_symlink(name, &link, &local(&stored, false))?;
            report.lock().expect("not poisoned").symlinks += 1;
            return Ok(None);
        }
        _ => {
            refuse(report, &key, "its metadata says it is neither a file nor a link");
            return Ok(None);
        }
    }
    let attrs = local(&stored, false);
    let mut out = dir.create_private(OsStr::new("adt-restore"))?;
    let path = out.path();
    body.write_exactly(out.file(), meta.size)
        .await
        .map_err(|e| io(&path, format!("s3://{bucket}/{key}: {e}")))?;
    let bytes = meta.size;
    out.set_attributes(&attrs)?;
    out.persist(name)?;
    let mut r = report.lock().expect("not poisoned");
    r.files += 1;
    r.bytes += bytes;
    Ok(None)
}

/// Object attributes as local ones ([`Attributes::untrusted`]).
fn local(a: &PosixAttributes, directory: bool) -> Attributes {
    Attributes::untrusted(a.uid(), a.gid(), a.mode(), a.mtime(), directory)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    use adt_datastore::PutOptions;
    use bytes::Bytes;

    use super::*;

    fn meta(mode: u32, mtime: i64) -> PutOptions {
        let mut metadata = BTreeMap::new();
        metadata.insert("mode".to_string(), mode.to_string());
        metadata.insert("mtime".to_string(), mtime.to_string());
        metadata.insert("uid".to_string(), "0".to_string());
        metadata.insert("gid".to_string(), "6".to_string());
        PutOptions {
            content_type: None,
            metadata,
        }
    }

    #[tokio::test]
    async fn hostile_metadata_never_gives_a_set_id_bit_and_links_stay_links() {
        let store = Store::in_memory();
        store.ensure_bucket("b").await.unwrap();
        let put = |key: &'static str, body: &'static [u8], opts: PutOptions| {
            let store = store.clone();
            async move { store.put("b", key, Bytes::from_static(body), &opts).await.unwrap() }
        };
        // A regular file whose mode carries the directory type and set-gid.
        put("x.php", b"<?php", meta(0o042_755, 1_700_000_000)).await;
        put("plain/y.txt", b"y", meta(0o104_755, 1_700_000_000)).await;
        put("link.php", b"x.php", meta(0o120_777, 1_700_000_000)).await;
        put("dev", b"", meta(0o020_644, 1_700_000_000)).await;
        put(".adt-restore-unfinished", b"restoring x", meta(0o100_600, 1)).await;
        let base = tempfile::tempdir().unwrap();
        let dir = Dir::open(&adt_localfs::canonical_dir(base.path()).unwrap()).unwrap();
        let target = DownloadTarget::new(&dir, (33, 33));
        let r = download_bucket(&store, "b", &target, None, &AtomicBool::new(false))
            .await
            .unwrap();
        assert_eq!((r.files, r.symlinks, r.refused), (1, 1, 3), "{r:?}");
        let y = std::fs::metadata(base.path().join("plain/y.txt")).unwrap();
        assert_eq!(y.permissions().mode() & 0o7777, 0o755, "no set-user id");
        assert_eq!(y.mtime(), 1_700_000_000);
        assert!(
            !base.path().join("x.php").exists(),
            "a file whose metadata says directory is refused"
        );
        assert_eq!(
            std::fs::read_link(base.path().join("link.php")).unwrap(),
            std::path::Path::new("x.php")
        );
        // A directory without an object of its own: the owner's 0755.
        let plain = std::fs::metadata(base.path().join("plain")).unwrap();
        assert_eq!(plain.permissions().mode() & 0o7777, 0o755);
        if rustix::process::geteuid().is_root() {
            assert_eq!((plain.uid(), y.gid()), (33, 6));
        }
    }

    #[tokio::test]
    async fn in_a_merge_a_directory_the_first_branch_gave_keeps_its_attributes() {
        let store = Store::in_memory();
        for b in ["b1", "b2"] {
            store.ensure_bucket(b).await.unwrap();
        }
        store
            .put("b1", "a/", Bytes::new(), &meta(0o040_750, 1_600_000_000))
            .await
            .unwrap();
        store
            .put("b1", "a/x", Bytes::from_static(b"x"), &meta(0o100_644, 1_600_000_000))
            .await
            .unwrap();
        store
            .put("b2", "a/y", Bytes::from_static(b"y"), &meta(0o100_644, 1_600_000_000))
            .await
            .unwrap();
        let base = tempfile::tempdir().unwrap();
        let dir = Dir::open(&adt_localfs::canonical_dir(base.path()).unwrap()).unwrap();
        let target = DownloadTarget::new(&dir, (33, 33));
        let mut seen = HashSet::new();
        for b in ["b1", "b2"] {
            download_bucket(&store, b, &target, Some(&mut seen), &AtomicBool::new(false))
                .await
                .unwrap();
        }
        // Its mode (the second branch writing into it moves its time).
        let a = std::fs::metadata(base.path().join("a")).unwrap();
        assert_eq!(a.permissions().mode() & 0o777, 0o750);
        assert!(base.path().join("a/y").exists());
    }
}
