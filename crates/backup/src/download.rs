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
//! there with the object's size and time is kept, so a second run only
//! fetches what is missing.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::io::Write;
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
    /// Owner and group of files whose metadata names none.
    pub owner: (u32, u32),
    /// Objects fetched at once.
    pub concurrency: usize,
}

impl<'a> DownloadTarget<'a> {
    /// Into `dir`, files without metadata owned by `owner`, 16 at once.
    pub fn new(dir: &'a Dir, owner: (u32, u32)) -> DownloadTarget<'a> {
        DownloadTarget {
            dir,
            owner,
            concurrency: 16,
        }
    }
}

/// Writes every object of `bucket` below `target.dir`. `seen` holds the
/// keys earlier branches of a merge gave (they win, as the merged view
/// shows the first branch's copy); this bucket's keys are added. Stops
/// with [`BackupError::Interrupted`] once `stop` is set.
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
    let mut dirs: Vec<(String, Attributes)> = Vec::new();
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
                let mut r = report.lock().expect("not poisoned");
                r.refused += 1;
                if r.refused_keys.len() < MAX_LISTED {
                    r.refused_keys.push(format!("{:?}: {why}", object.key));
                }
                continue;
            }
            if let Some(seen) = seen.as_deref_mut()
                && !seen.insert(object.key.clone())
            {
                report.lock().expect("not poisoned").shadowed += 1;
                continue;
            }
            work.push(object);
        }
        let fetched: Vec<Option<(String, Attributes)>> = futures::stream::iter(work)
            .map(|object| {
                fetch_one(
                    store,
                    bucket,
                    object.key,
                    object.last_modified.unwrap_or(0),
                    target,
                    &report,
                )
            })
            .buffer_unordered(target.concurrency.max(1))
            .try_collect()
            .await?;
        dirs.extend(fetched.into_iter().flatten());
        match next {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    // Deepest first: writing into a directory moves its time.
    dirs.sort_by(|a, b| b.0.cmp(&a.0));
    for (key, attrs) in &dirs {
        let parts: Vec<&[u8]> = key.as_bytes().split(|b| *b == b'/').collect();
        target.dir.open_dirs(&parts, false, 0o700)?.set_attributes(attrs)?;
    }
    Ok(report.into_inner().expect("not poisoned"))
}

/// One object: a directory is made (its attributes returned, to apply
/// last); a file is written unless already there.
async fn fetch_one(
    store: &Store,
    bucket: &str,
    key: String,
    listed_mtime: i64,
    target: &DownloadTarget<'_>,
    report: &Mutex<DownloadReport>,
) -> Result<Option<(String, Attributes)>, BackupError> {
    let (uid, gid) = (u64::from(target.owner.0), u64::from(target.owner.1));
    let trimmed = key.trim_end_matches('/');
    let parts: Vec<&[u8]> = trimmed.as_bytes().split(|b| *b == b'/').collect();
    if key.ends_with('/') {
        target.dir.open_dirs(&parts, true, 0o700)?;
        let meta = store.head(bucket, &key).await?.unwrap_or_default();
        let attrs = PosixAttributes::from_metadata(
            &meta.metadata,
            PosixAttributes::directory(0o755, uid, gid, listed_mtime),
        );
        report.lock().expect("not poisoned").directories += 1;
        return Ok(Some((trimmed.to_string(), local(&attrs))));
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
    let (meta, mut body) = store.get(bucket, &key).await?;
    let attrs = local(&PosixAttributes::from_metadata(
        &meta.metadata,
        PosixAttributes::file(0o644, uid, gid, listed_mtime),
    ));
    match dir.stat_at(name)? {
        Some(s) if s.kind == Kind::Dir => {
            return Err(BackupError::Conflict {
                path: dir.child_path(name),
                what: "a directory",
            });
        }
        Some(s) if s.kind == Kind::File && s.size == meta.size && s.mtime == attrs.mtime => {
            report.lock().expect("not poisoned").unchanged += 1;
            return Ok(None);
        }
        _ => {}
    }
    let mut out = dir.create_private(OsStr::new("adt-restore"))?;
    let path = out.path();
    let mut bytes = 0u64;
    while let Some(chunk) = body.next_chunk().await {
        let chunk = chunk.map_err(|e| io(&path, e))?;
        bytes += chunk.len() as u64;
        out.file().write_all(&chunk).map_err(|e| io(&path, e))?;
    }
    if bytes != meta.size {
        return Err(io(
            &path,
            format!("s3://{bucket}/{key} ended after {bytes} of {} bytes", meta.size),
        ));
    }
    out.set_attributes(&attrs)?;
    out.persist(name)?;
    let mut r = report.lock().expect("not poisoned");
    r.files += 1;
    r.bytes += bytes;
    Ok(None)
}

/// Object attributes as local ones: permission bits without set-id bits,
/// ids that do not fit given to nobody.
fn local(a: &PosixAttributes) -> Attributes {
    let keep = if a.is_directory() { 0o3777 } else { 0o1777 };
    Attributes {
        uid: u32::try_from(a.uid()).unwrap_or(65534),
        gid: u32::try_from(a.gid()).unwrap_or(65534),
        mode: a.mode() & keep,
        mtime: a.mtime(),
    }
}
