//! Backups in the datastore: `${URL}-${period}` / applicationsourcecode.tar.gz,
//! the previous one kept as `.BACKUP`. Uploads never leave a moment
//! without a valid current backup, and two webservers backing up at once
//! take turns through a lock object with an expiry.

use std::io::Read;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use adt_datastore::{PutOptions, PutOutcome, Store};
use bytes::Bytes;
use serde::Serialize;

use adt_template::{ARCHIVE_KEY, LOCK_KEY, MARKER, PREVIOUS_KEY};

use crate::error::BackupError;

/// How an upload behaves around other uploads.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct UploadOptions {
    /// A lock older than this is taken to belong to a dead upload.
    pub lock_ttl: Duration,
    /// How long to wait for another upload's lock.
    pub lock_wait: Duration,
    /// Pause between writing the lock and reading it back, so a racing
    /// writer on a store that ignores If-None-Match is seen.
    pub settle: Duration,
    /// Bytes per part: an archive up to this size goes in one PUT, a
    /// larger one as a multipart upload in parts of this size.
    pub part_size: usize,
}

impl Default for UploadOptions {
    fn default() -> Self {
        UploadOptions {
            lock_ttl: Duration::from_secs(2 * 3600),
            lock_wait: Duration::from_secs(600),
            settle: Duration::from_secs(2),
            part_size: adt_datastore::PART_SIZE,
        }
    }
}

/// What [`upload`] put in place.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct UploadReport {
    /// The backup bucket.
    pub bucket: String,
    /// The current backup's key (`applicationsourcecode.tar.gz`).
    pub key: String,
    /// The archive's size in bytes.
    pub bytes: u64,
    /// True when a previous backup was kept as `.BACKUP`.
    pub previous_kept: bool,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Uploads `archive` as the current backup in `bucket`: first under a
/// temporary key, checked for size and content, then the current backup
/// is copied to `.BACKUP` and the new one copied over the current (each
/// copy replaces its target at once), then the temporary key is removed.
pub async fn upload(
    store: &Store,
    bucket: &str,
    archive: &Path,
    opts: &UploadOptions,
) -> Result<UploadReport, BackupError> {
    // A missing archive is bad input: say so before touching the datastore.
    std::fs::File::open(archive).map_err(|e| crate::error::io(archive, e))?;
    tracing::info!(bucket, archive = %archive.display(), "uploading a backup");
    store.ensure_bucket(bucket).await?;
    let owner = &owner_name();
    acquire(store, bucket, owner, opts).await?;
    let tmp = temporary_key(owner);
    let result = tokio::select! {
        r = rotate_in(store, bucket, archive, &tmp, opts) => r,
        lost = keep_renewed(store, bucket, owner, opts) => Err(lost),
    };
    if result.is_err() {
        let _ = store.delete(bucket, &tmp).await;
    }
    release(store, bucket, owner).await;
    result
}

/// A lock owner name unique to this call: `HOST-PID-NANOS`.
pub(crate) fn owner_name() -> String {
    format!(
        "{}{:x}",
        process_prefix(),
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
    )
}

/// `HOST-PID-`: how every lock owner and temporary key of this process begins.
fn process_prefix() -> String {
    format!(
        "{}-{}-",
        std::fs::read_to_string("/etc/hostname").unwrap_or_default().trim(),
        std::process::id()
    )
}

fn temporary_key(owner: &str) -> String {
    format!("{ARCHIVE_KEY}.uploading-{owner}")
}

/// After this process's uploads to `bucket` were stopped (their futures
/// dropped on a signal): aborts their unfinished multipart uploads, removes
/// their temporary keys, and releases the lock if this process holds it.
/// The current backup is whole whatever the moment: it is only ever
/// replaced by a server-side copy of a checked upload. Returns what it
/// did, for the message.
pub async fn clean_interrupted(store: &Store, bucket: &str) -> Vec<String> {
    let mut done = Vec::new();
    let aborted = store.abort_in_flight().await;
    if !aborted.aborted.is_empty() {
        done.push(format!(
            "{} unfinished multipart upload(s) aborted",
            aborted.aborted.len()
        ));
    }
    for f in aborted.failed {
        done.push(format!("could not abort {f}"));
    }
    let mine = process_prefix();
    let tmp = temporary_key(&mine);
    // One started just as the signal came may not be in the registry yet.
    for (key, id) in store.list_multipart_uploads(bucket).await.unwrap_or_default() {
        if key.starts_with(&tmp) && store.abort_upload(bucket, &key, &id).await.is_ok() {
            done.push(format!("unfinished multipart upload of {key} aborted"));
        }
    }
    for object in store.list(bucket, Some(&tmp)).await.unwrap_or_default() {
        if store.delete(bucket, &object.key).await.is_ok() {
            done.push(format!("temporary object {} removed", object.key));
        }
    }
    if let Ok(Some(lock)) = read_lock(store, bucket).await
        && lock.owner.starts_with(&mine)
    {
        match store.delete(bucket, LOCK_KEY).await {
            Ok(()) => done.push("backup lock released".to_string()),
            Err(e) => done.push(format!("backup lock NOT released ({e}); it expires by itself")),
        }
    }
    done
}

async fn rotate_in(
    store: &Store,
    bucket: &str,
    archive: &Path,
    tmp: &str,
    opts: &UploadOptions,
) -> Result<UploadReport, BackupError> {
    let (bytes, etag) = put_file(store, bucket, tmp, archive, opts.part_size).await?;
    let there = store.head(bucket, tmp).await?.ok_or_else(|| BackupError::Mismatch {
        bucket: bucket.to_string(),
        key: tmp.to_string(),
        detail: "it is not there after the upload".into(),
    })?;
    if there.size != bytes || there.etag != etag {
        return Err(BackupError::Mismatch {
            bucket: bucket.to_string(),
            key: tmp.to_string(),
            detail: format!(
                "{} bytes, ETag {} there; {bytes} bytes, ETag {etag} here",
                there.size, there.etag
            ),
        });
    }
    let previous_kept = store.head(bucket, ARCHIVE_KEY).await?.is_some();
    if previous_kept {
        store.copy_within(bucket, ARCHIVE_KEY, PREVIOUS_KEY).await?;
    }
    store.copy_within(bucket, tmp, ARCHIVE_KEY).await?;
    let current = store.head(bucket, ARCHIVE_KEY).await?;
    if current.map(|m| m.size) != Some(bytes) {
        return Err(BackupError::Mismatch {
            bucket: bucket.to_string(),
            key: ARCHIVE_KEY.to_string(),
            detail: "the copy to the current key has another size".into(),
        });
    }
    store.delete(bucket, tmp).await?;
    Ok(UploadReport {
        bucket: bucket.to_string(),
        key: ARCHIVE_KEY.to_string(),
        bytes,
        previous_kept,
    })
}

/// Uploads the archive; returns its size and the ETag S3 should give it.
async fn put_file(
    store: &Store,
    bucket: &str,
    key: &str,
    path: &Path,
    part: usize,
) -> Result<(u64, String), BackupError> {
    let opts = PutOptions {
        content_type: Some("application/gzip".into()),
        ..PutOptions::default()
    };
    let up = store.put_file(bucket, key, path, &opts, false, part).await?;
    Ok((up.size, up.etag))
}

/// The lock object's content: who holds it, until when, and the object's
/// ETag (to delete exactly that version).
struct Lock {
    owner: String,
    expires: u64,
    etag: String,
}

/// Takes the bucket's lock: writes `OWNER EXPIRY` only if no lock is there,
/// reads it back after `settle` to be sure it is ours, and removes a lock
/// past its expiry (its upload died) only if it is still that lock. A lock
/// already holding our own name is ours: the response to our write was lost
/// and the retry found it.
async fn acquire(store: &Store, bucket: &str, owner: &str, opts: &UploadOptions) -> Result<(), BackupError> {
    let started = std::time::Instant::now();
    let mut holder = String::new();
    while started.elapsed() < opts.lock_wait {
        let body = format!("{owner} {}", now() + opts.lock_ttl.as_secs());
        match store
            .put_if_absent(bucket, LOCK_KEY, Bytes::from(body), &PutOptions::default())
            .await?
        {
            PutOutcome::Created { .. } => {
                tokio::time::sleep(opts.settle).await;
                if read_lock(store, bucket).await?.is_some_and(|l| l.owner == owner) {
                    return Ok(());
                }
            }
            PutOutcome::Exists => {
                if let Some(lock) = read_lock(store, bucket).await? {
                    if lock.owner == owner {
                        return Ok(());
                    }
                    if lock.expires < now() {
                        store.delete_if_match(bucket, LOCK_KEY, &lock.etag).await?;
                        continue;
                    }
                    holder = lock.owner;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(BackupError::Busy {
        bucket: bucket.to_string(),
        key: LOCK_KEY.to_string(),
        holder,
        waited: started.elapsed().as_secs(),
    })
}

/// Pushes the lock's expiry forward every quarter of its lifetime while an
/// upload runs, so a long upload never looks dead to another webserver.
/// Returns only when the lock is no longer ours (or cannot be renewed).
async fn keep_renewed(store: &Store, bucket: &str, owner: &str, opts: &UploadOptions) -> BackupError {
    let every = (opts.lock_ttl / 4).max(Duration::from_millis(250));
    loop {
        tokio::time::sleep(every).await;
        match read_lock(store, bucket).await {
            Ok(Some(lock)) if lock.owner == owner => {
                let body = format!("{owner} {}", now() + opts.lock_ttl.as_secs());
                if let Err(e) = store
                    .put(bucket, LOCK_KEY, Bytes::from(body), &PutOptions::default())
                    .await
                {
                    return e.into();
                }
            }
            Ok(_) => {
                return BackupError::LockLost {
                    bucket: bucket.to_string(),
                    key: LOCK_KEY.to_string(),
                };
            }
            Err(e) => return e,
        }
    }
}

async fn read_lock(store: &Store, bucket: &str) -> Result<Option<Lock>, BackupError> {
    match store.get_bytes(bucket, LOCK_KEY).await {
        Ok((meta, body)) => {
            let text = String::from_utf8_lossy(&body).into_owned();
            let (owner, expires) = text.split_once(' ').unwrap_or((text.as_str(), "0"));
            Ok(Some(Lock {
                owner: owner.to_string(),
                expires: expires.trim().parse().unwrap_or(0),
                etag: meta.etag,
            }))
        }
        Err(adt_datastore::DatastoreError::NoSuchKey { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

async fn release(store: &Store, bucket: &str, owner: &str) {
    if let Ok(Some(lock)) = read_lock(store, bucket).await
        && lock.owner == owner
    {
        let _ = store.delete_if_match(bucket, LOCK_KEY, &lock.etag).await;
    }
}

/// What [`verify`] read from a complete backup.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct VerifyReport {
    /// The bucket read.
    pub bucket: String,
    /// The key read.
    pub key: String,
    /// The object's size in bytes, as the datastore gives it.
    pub bytes: u64,
    /// Entries in the archive, the marker included (a long name's GNU or
    /// PAX record is part of its entry, not one more).
    pub entries: u64,
}

/// Reads `key` of `bucket` (streamed, nothing written to disk) and checks
/// it is a complete gzip tar (every entry readable, the gzip CRC right)
/// holding the marker at its root.
pub async fn verify(store: &Store, bucket: &str, key: &str) -> Result<VerifyReport, BackupError> {
    let (meta, body) = store.get(bucket, key).await?;
    let what = format!("s3://{bucket}/{key} at {}", store.endpoint());
    let runtime = tokio::runtime::Handle::current();
    let checked = {
        let what_inside = what.clone();
        tokio::task::spawn_blocking(move || {
            let reader = adt_datastore::BlockingReader::new(body, &runtime);
            check_archive(reader, &what_inside)
        })
        .await
        .map_err(|e| BackupError::Corrupt {
            what: what.clone(),
            detail: e.to_string(),
        })??
    };
    Ok(VerifyReport {
        bucket: bucket.to_string(),
        key: key.to_string(),
        bytes: meta.size,
        entries: checked,
    })
}

/// Downloads the backup `key` of `bucket` into `into` (an anonymous
/// temporary file, say), checking its length; returns its size and ETag
/// (which tell this backup from the next one under the same key).
pub async fn fetch(
    store: &Store,
    bucket: &str,
    key: &str,
    into: &mut std::fs::File,
) -> Result<(u64, String), BackupError> {
    let (meta, body) = store.get(bucket, key).await?;
    body.write_exactly(into, meta.size).await.map_err(|e| match e {
        adt_datastore::BodyError::Write(e) => crate::error::io(Path::new("(temporary file)"), e),
        e => BackupError::Corrupt {
            what: format!("s3://{bucket}/{key} at {}", store.endpoint()),
            detail: e.to_string(),
        },
    })?;
    Ok((meta.size, meta.etag))
}

/// Entries in a complete backup archive, or why it is not one (the reader
/// adt-check and adt-seed use too, so all three agree).
pub fn check_archive(reader: impl Read, what: &str) -> Result<u64, BackupError> {
    let corrupt = |e: &dyn std::fmt::Display| BackupError::Corrupt {
        what: what.to_string(),
        detail: e.to_string(),
    };
    let mut archive = adt_archive::Reader::new(reader, adt_archive::Limits::default());
    let mut entries = 0;
    let mut marker = false;
    while let Some(mut entry) = archive.next_entry().map_err(|e| corrupt(&e))? {
        let name = &entry.header.name;
        if name.as_slice() == format!("./{MARKER}").as_bytes() || name.as_slice() == MARKER.as_bytes() {
            marker = true;
        }
        std::io::copy(&mut entry, &mut std::io::sink()).map_err(|e| corrupt(&format!("corrupt or truncated: {e}")))?;
        entries += 1;
    }
    if !marker {
        return Err(BackupError::Corrupt {
            what: what.to_string(),
            detail: format!("no {MARKER} at its root; ADT's restore would refuse it"),
        });
    }
    Ok(entries)
}
