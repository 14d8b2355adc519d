//! ADT's own backup lock, honoured while ADT's webservers and ours back up
//! the same site (during a migration): ADT's cron skips its backup while
//! the object `BACKUP_RUNNING` is in the site's config bucket on datastore
//! 1 and younger than 300 s (its Last-Modified), and deletes it when older.
//!
//! We wait while an ADT webserver holds it, then hold it ourselves for the
//! whole backup (every datastore): written only if absent, read back,
//! rewritten every minute so ADT never finds it 300 s old while we run,
//! and deleted at the end only if it is still ours. A config bucket that
//! does not exist means no ADT webserver uses the lock: nothing is created.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use adt_datastore::{DatastoreError, PutOptions, PutOutcome, Store};
use adt_template::{ADT_LOCK_KEY, ADT_LOCK_STALE_SECS};
use bytes::Bytes;
use tokio::sync::watch;

use crate::error::BackupError;

/// How [`AdtLock::acquire`] waits and holds.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct AdtLockOptions {
    /// A lock older than this is dead, as ADT treats it (300 s).
    pub stale_after: Duration,
    /// How long to wait for a live lock to go.
    pub wait: Duration,
    /// Pause between looks at a held lock.
    pub poll: Duration,
    /// How often the held lock is rewritten (well under `stale_after`).
    pub renew_every: Duration,
    /// Pause between writing the lock and reading it back.
    pub settle: Duration,
}

impl Default for AdtLockOptions {
    fn default() -> Self {
        AdtLockOptions {
            stale_after: Duration::from_secs(ADT_LOCK_STALE_SECS),
            wait: Duration::from_secs(600),
            poll: Duration::from_secs(5),
            renew_every: Duration::from_secs(60),
            settle: Duration::from_secs(2),
        }
    }
}

/// ADT's backup lock of one site: `BACKUP_RUNNING` in its config bucket.
#[derive(Clone, Debug)]
pub struct AdtLock {
    store: Store,
    bucket: String,
    options: AdtLockOptions,
    /// Our name in the lock's body (`OWNER MS`: the time makes every write
    /// a new ETag, so an ETag names one write).
    owner: String,
}

/// The lock, held (or not in use: no config bucket). Release it with
/// [`AdtLockGuard::release`]; until then it is kept fresh in the background.
#[derive(Debug)]
pub struct AdtLockGuard {
    held: Option<Held>,
}

#[derive(Debug)]
struct Held {
    lock: AdtLock,
    stop: watch::Sender<bool>,
    renewer: tokio::task::JoinHandle<Option<BackupError>>,
}

/// The lock object as found: the owner in its body (empty for ADT's own),
/// its ETag and its age in seconds.
struct Found {
    owner: String,
    etag: String,
    age: u64,
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

impl AdtLock {
    /// The lock in `bucket` (ADT's config bucket,
    /// [`adt_template::adt_config_bucket_name`]) on `store` (datastore 1).
    pub fn new(store: Store, bucket: impl Into<String>, options: AdtLockOptions) -> AdtLock {
        AdtLock {
            store,
            bucket: bucket.into(),
            options,
            owner: crate::store::owner_name(),
        }
    }

    fn body(&self) -> Bytes {
        Bytes::from(format!("{} {}", self.owner, now_ms()))
    }

    /// After an `acquire` that was stopped part way (a signal): removes the
    /// lock if it is ours, so ADT's webservers are not kept waiting.
    pub async fn clear_if_ours(&self) {
        if let Ok(Some(found)) = self.find().await
            && found.owner == self.owner
        {
            let _ = self
                .store
                .delete_if_match(&self.bucket, ADT_LOCK_KEY, &found.etag)
                .await;
        }
    }

    /// The config bucket.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Waits until no live ADT lock is there, then takes it. A lock older
    /// than `stale_after` is deleted first, as ADT does. Fails with
    /// [`BackupError::Busy`] after `wait`.
    pub async fn acquire(&self) -> Result<AdtLockGuard, BackupError> {
        if !self.store.bucket_exists(&self.bucket).await? {
            return Ok(AdtLockGuard { held: None });
        }
        let owner = self.owner.clone();
        let started = Instant::now();
        let mut holder = String::from("a webserver that just took it");
        loop {
            // Whether to look again at once (the lock just went or was
            // cleared) rather than after `poll`.
            let again = match self.find().await? {
                None => {
                    let put = self
                        .store
                        .put_if_absent(&self.bucket, ADT_LOCK_KEY, self.body(), &PutOptions::default())
                        .await?;
                    if let PutOutcome::Created { .. } = put {
                        tokio::time::sleep(self.options.settle).await;
                        if self.find().await?.is_some_and(|f| f.owner == owner) {
                            return Ok(self.hold());
                        }
                    }
                    false
                }
                Some(found) if found.owner == owner => return Ok(self.hold()),
                // Another webserver's ETag names one write (ours carry the
                // time; ADT's are all empty, so ADT's own race remains: a
                // lock rewritten between our look and our delete).
                Some(found) if found.age > self.options.stale_after.as_secs() => {
                    self.store
                        .delete_if_match(&self.bucket, ADT_LOCK_KEY, &found.etag)
                        .await?
                }
                Some(found) => {
                    holder = if found.owner.is_empty() {
                        format!("an ADT webserver's {ADT_LOCK_KEY}, written {} s ago", found.age)
                    } else {
                        format!("{ADT_LOCK_KEY} held by {}, written {} s ago", found.owner, found.age)
                    };
                    false
                }
            };
            if started.elapsed() >= self.options.wait {
                return Err(BackupError::Busy {
                    bucket: self.bucket.clone(),
                    key: ADT_LOCK_KEY.to_string(),
                    holder,
                    waited: started.elapsed().as_secs(),
                });
            }
            if !again {
                tokio::time::sleep(self.options.poll).await;
            }
        }
    }

    fn hold(&self) -> AdtLockGuard {
        let (stop, stopped) = watch::channel(false);
        let renewer = tokio::spawn(renew(self.clone(), stopped));
        AdtLockGuard {
            held: Some(Held {
                lock: self.clone(),
                stop,
                renewer,
            }),
        }
    }

    async fn find(&self) -> Result<Option<Found>, BackupError> {
        let listed = self.store.list(&self.bucket, Some(ADT_LOCK_KEY)).await?;
        let Some(info) = listed.into_iter().find(|o| o.key == ADT_LOCK_KEY) else {
            return Ok(None);
        };
        let (meta, body) = match self.store.get_bytes(&self.bucket, ADT_LOCK_KEY).await {
            Ok(got) => got,
            Err(DatastoreError::NoSuchKey { .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let text = String::from_utf8_lossy(&body);
        let owner = text.split_whitespace().next().unwrap_or_default().to_string();
        // Rewritten between the listing and the read: its age is unknown,
        // so it is young (never broken on a stale listing).
        let age = match info.last_modified {
            Some(t) if meta.etag == info.etag => (now() - t).max(0) as u64,
            _ => 0,
        };
        Ok(Some(Found {
            owner,
            etag: meta.etag,
            age,
        }))
    }
}

/// Rewrites our lock every `renew_every` so its Last-Modified stays young;
/// puts it back if someone deleted it (ADT's shutdown backup deletes the
/// lock whoever holds it). Another holder's lock means ours was lost; a
/// failed request is tried again at the next turn.
async fn renew(lock: AdtLock, mut stopped: watch::Receiver<bool>) -> Option<BackupError> {
    let mut last_error = None;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(lock.options.renew_every) => {}
            _ = stopped.changed() => return last_error,
        }
        let result = match lock.find().await {
            Ok(Some(found)) if found.owner == lock.owner => lock
                .store
                .put(&lock.bucket, ADT_LOCK_KEY, lock.body(), &PutOptions::default())
                .await
                .map(|_| ())
                .map_err(BackupError::from),
            Ok(None) => lock
                .store
                .put_if_absent(&lock.bucket, ADT_LOCK_KEY, lock.body(), &PutOptions::default())
                .await
                .map(|_| ())
                .map_err(BackupError::from),
            Ok(Some(_)) => {
                return Some(BackupError::LockLost {
                    bucket: lock.bucket.clone(),
                    key: ADT_LOCK_KEY.to_string(),
                });
            }
            Err(e) => Err(e),
        };
        last_error = result.err();
    }
}

impl AdtLockGuard {
    /// False when the site has no ADT config bucket, so no lock was taken.
    pub fn in_use(&self) -> bool {
        self.held.is_some()
    }

    /// Stops renewing and deletes the lock if it is still ours. An error
    /// says the lock was lost or could not be kept while held (another
    /// webserver may have backed up at the same time); the backups stored
    /// meanwhile are whole either way.
    pub async fn release(self) -> Result<(), BackupError> {
        let Some(held) = self.held else { return Ok(()) };
        let _ = held.stop.send(true);
        let lost = match held.renewer.await {
            Ok(lost) => lost,
            // The task keeping it fresh died: it may have gone stale.
            Err(_) => Some(BackupError::LockLost {
                bucket: held.lock.bucket.clone(),
                key: ADT_LOCK_KEY.to_string(),
            }),
        };
        if let Some(found) = held.lock.find().await?
            && found.owner == held.lock.owner
        {
            held.lock
                .store
                .delete_if_match(&held.lock.bucket, ADT_LOCK_KEY, &found.etag)
                .await?;
        }
        match lost {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}
