//! What a backup bucket holds: the current backup, the previous one
//! (`.BACKUP`), a lock (and whether it is stale) and temporary keys left
//! by an upload that died.

use std::time::Duration;

use adt_datastore::Store;
use serde::Serialize;

use adt_template::{ARCHIVE_KEY, LOCK_KEY, PREVIOUS_KEY};

use crate::error::BackupError;

/// One stored object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct StoredObject {
    /// Its key.
    pub key: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// When it was written, seconds since 1970.
    pub last_modified: Option<i64>,
}

/// What [`list_backups`] found in one bucket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct StoredBackups {
    /// The backup bucket.
    pub bucket: String,
    /// False when there is no such bucket (no backup was ever stored).
    pub exists: bool,
    /// The current backup.
    pub current: Option<StoredObject>,
    /// The previous backup, kept as `.BACKUP`.
    pub previous: Option<StoredObject>,
    /// The upload lock, when one is held.
    pub lock: Option<StoredObject>,
    /// True when the lock is older than its expiry: its upload died.
    pub lock_stale: bool,
    /// Temporary keys of uploads (`.uploading-*`): an upload is running,
    /// or one died and left them.
    pub temporary: Vec<StoredObject>,
}

/// Lists the backups in `bucket`; a lock older than `lock_ttl` is stale.
pub async fn list_backups(store: &Store, bucket: &str, lock_ttl: Duration) -> Result<StoredBackups, BackupError> {
    let mut found = StoredBackups {
        bucket: bucket.to_string(),
        exists: false,
        current: None,
        previous: None,
        lock: None,
        lock_stale: false,
        temporary: Vec::new(),
    };
    if !store.bucket_exists(bucket).await? {
        return Ok(found);
    }
    found.exists = true;
    let prefix = ARCHIVE_KEY;
    for o in store.list(bucket, Some(prefix)).await? {
        let stored = StoredObject {
            key: o.key.clone(),
            bytes: o.size,
            last_modified: o.last_modified,
        };
        match o.key.as_str() {
            ARCHIVE_KEY => found.current = Some(stored),
            PREVIOUS_KEY => found.previous = Some(stored),
            LOCK_KEY => found.lock = Some(stored),
            k if k.starts_with(&format!("{ARCHIVE_KEY}.uploading-")) => found.temporary.push(stored),
            _ => {}
        }
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    found.lock_stale = found
        .lock
        .as_ref()
        .and_then(|l| l.last_modified)
        .is_some_and(|t| now - t > lock_ttl.as_secs() as i64);
    Ok(found)
}
