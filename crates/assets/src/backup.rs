//! Backups of a site's webroot that leave its mounted asset directories
//! out, and the backup buckets they are stored in.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use adt_backups::{AdtLock, AdtLockOptions, CreateReport, Exclusions, UploadOptions, UploadReport, VerifyReport};
use adt_datastore::Store;
use adt_localfs::MountTable;
use adt_template::Period;

use crate::error::Error;
use crate::site::Site;

/// What a backup of the site leaves out, read once: the layout's mount
/// points (when assets are persisted), every mount below the webroot, and
/// the extra patterns.
#[derive(Debug)]
pub struct BackupPlan {
    webroot: PathBuf,
    exclusions: Exclusions,
    table: MountTable,
}

/// A site's backup bucket for one period, on datastore 1.
#[derive(Debug)]
pub struct BackupBucket {
    store: Store,
    bucket: String,
}

/// A datastore's number (from 1) and its backup bucket, or why it cannot
/// be reached.
pub type NumberedBucket = (usize, Result<BackupBucket, Error>);

/// An archive made for an upload, in a fresh private directory that is
/// removed (with the archive) when this is dropped.
#[derive(Debug)]
pub struct TemporaryArchive {
    _dir: tempfile::TempDir,
    path: PathBuf,
    /// What went in.
    pub report: CreateReport,
}

impl Site {
    /// The exclusion set of a backup of this site, with `patterns` (rsync
    /// rules) added. With `default_excludes`, also what ADT leaves out of
    /// every backup of the site: the template's EXCLUDE_FROM_BACKUP, else
    /// its APPLICATION's defaults (logs, tmp, cache and the configuration
    /// file holding the database credentials), anchored at the webroot.
    /// The webroot must be canonical (no link, no `..`).
    pub fn backup_plan(&self, patterns: &[String], default_excludes: bool) -> Result<BackupPlan, Error> {
        let mut patterns = patterns.to_vec();
        if default_excludes {
            for p in self.config().backup_excludes() {
                if !patterns.contains(&p) {
                    patterns.push(p);
                }
            }
        }
        let patterns = &patterns[..];
        let layout = if self.config().persist_assets {
            Some(self.layout()?)
        } else {
            None
        };
        let table = MountTable::read().map_err(|source| Error::Io {
            what: "/proc/self/mountinfo".into(),
            source,
        })?;
        let exclusions = Exclusions::new(self.webroot(), layout.as_ref(), &table, patterns)?;
        Ok(BackupPlan {
            webroot: self.webroot().to_path_buf(),
            exclusions,
            table,
        })
    }

    /// The backup bucket of `period` on datastore 1.
    pub fn backup_bucket_store(&self, period: Period) -> Result<BackupBucket, Error> {
        let bucket = self.backup_bucket(period)?;
        Ok(BackupBucket {
            store: self.store(1)?,
            bucket,
        })
    }

    /// The backup bucket of `period` on every datastore the template
    /// chains, numbered from 1, as ADT stores backups (PutToDatastore.sh in
    /// distributed mode): a lost primary provider leaves a restorable site.
    /// A datastore that cannot be reached is an `Err` in its place; the
    /// others are still there.
    pub fn backup_buckets(&self, period: Period) -> Result<Vec<NumberedBucket>, Error> {
        let bucket = self.backup_bucket(period)?;
        if self.datastore_count() == 0 {
            return Err(Error::NoDatastore);
        }
        Ok((1..=self.datastore_count())
            .map(|n| {
                let found = self.store(n).map(|store| BackupBucket {
                    store,
                    bucket: bucket.clone(),
                });
                (n, found)
            })
            .collect())
    }

    /// ADT's own backup lock for this site (`BACKUP_RUNNING` in ADT's
    /// config bucket on datastore 1), to hold around a backup while ADT's
    /// webservers may back up the same site. None when the settings do not
    /// name SERVER_USER (a webserver descriptor does; a template does not),
    /// since the config bucket's name needs it.
    pub fn adt_backup_lock(&self, options: AdtLockOptions) -> Result<Option<AdtLock>, Error> {
        let url = self.config().website_url.as_deref().ok_or(Error::NoWebsiteUrl)?;
        let Some(bucket) = self
            .config()
            .server_user
            .as_deref()
            .and_then(|user| adt_template::adt_config_bucket_name(url, user))
        else {
            return Ok(None);
        };
        Ok(Some(AdtLock::new(self.store(1)?, bucket, options)))
    }

    /// What every period's backup bucket on datastore 1 holds, in ADT's
    /// period order.
    pub async fn stored_backups(&self) -> Result<Vec<adt_backups::StoredBackups>, Error> {
        let store = self.store(1)?;
        let ttl = UploadOptions::default().lock_ttl;
        let mut listed = Vec::new();
        for period in Period::ALL {
            listed.push(adt_backups::list_backups(&store, &self.backup_bucket(*period)?, ttl).await?);
        }
        Ok(listed)
    }

    /// The backup bucket of `period` on another store (an object_store
    /// URL opened with [`Store::open_url`], say `file:///srv/backups`).
    pub fn backup_bucket_on(&self, period: Period, store: Store) -> Result<BackupBucket, Error> {
        Ok(BackupBucket {
            store,
            bucket: self.backup_bucket(period)?,
        })
    }
}

impl BackupPlan {
    /// What is left out.
    pub fn exclusions(&self) -> &Exclusions {
        &self.exclusions
    }

    /// Writes the archive to `output` (outside the webroot; never
    /// half-written under that name). Stops, leaving no file, once `stop`
    /// is set.
    pub fn create(&self, output: &Path, level: u32, stop: &AtomicBool) -> Result<CreateReport, Error> {
        Ok(adt_backups::create_until(
            &self.webroot,
            &self.exclusions,
            &self.table,
            output,
            level,
            stop,
        )?)
    }

    /// The mount table the exclusions were made from (read once, by
    /// [`Site::backup_plan`]).
    pub fn mount_table(&self) -> &MountTable {
        &self.table
    }

    /// Writes the archive (gzip level 6, as ADT's `tar czf`) into a fresh
    /// private directory, for an upload.
    pub fn create_temporary(&self, stop: &AtomicBool) -> Result<TemporaryArchive, Error> {
        let dir = tempfile::Builder::new()
            .prefix("adt-backup-")
            .tempdir()
            .map_err(|source| Error::Io {
                what: "cannot make a temporary directory".into(),
                source,
            })?;
        let path = dir.path().join(adt_template::ARCHIVE_KEY);
        let report = self.create(&path, 6, stop)?;
        Ok(TemporaryArchive {
            _dir: dir,
            path,
            report,
        })
    }
}

impl TemporaryArchive {
    /// Where the archive is.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl BackupBucket {
    /// The bucket's name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The datastore it is on.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Stores `archive` as the current backup; see [`adt_backups::upload`].
    pub async fn upload(&self, archive: &Path, options: &UploadOptions) -> Result<UploadReport, Error> {
        Ok(adt_backups::upload(&self.store, &self.bucket, archive, options).await?)
    }

    /// Checks the stored backup (the previous one with `previous`).
    pub async fn verify(&self, previous: bool) -> Result<VerifyReport, Error> {
        let key = if previous {
            adt_template::PREVIOUS_KEY
        } else {
            adt_template::ARCHIVE_KEY
        };
        Ok(adt_backups::verify(&self.store, &self.bucket, key).await?)
    }

    /// After an upload of this process was stopped: cleans what it left;
    /// see [`adt_backups::clean_interrupted`].
    pub async fn clean_interrupted(&self) -> Vec<String> {
        adt_backups::clean_interrupted(&self.store, &self.bucket).await
    }
}
