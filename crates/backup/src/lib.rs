//! Backups and webroot-sync filters that leave the mounted asset
//! directories out, so the bucket stays the single place of truth.
//!
//! What it does: computes the exclusion set (the Layout's mount points,
//! every mount under the webroot in the live mount table, `--exclude`
//! patterns); prints it as JSON or an rsync filter file; writes the
//! webroot as a gzip tar without ever reading inside an excluded
//! directory or crossing into another filesystem.
//!
//! Uploads a backup as `${URL}-${period}/applicationsourcecode.tar.gz`
//! without ever leaving a moment with no valid current backup, keeping the
//! previous one as `.BACKUP`, with a lock so two webservers take turns;
//! honours ADT's own lock (`BACKUP_RUNNING`, [`AdtLock`]) while ADT's
//! webservers back up the same site; verifies a stored backup by
//! streaming it; lists what a backup bucket holds ([`list_backups`]).
//!
//! Restores: [`fetch`] downloads a backup, [`extract`] checks it whole and
//! places it into a new directory through directory handles (resumable;
//! never through a link, into a mount or outside the target), and
//! [`download_bucket`] writes a bucket's objects into a directory with the
//! mode, owner and time their metadata holds.
//!
//! What it does not do: decide what is mounted (the Layout and the mount
//! table do), or print.
//!
//! A backup of a small webroot, written beside it (never inside it), with
//! `*.log` left out:
//!
//! ```
//! use adt_backups::{Exclusions, check_archive, create};
//! use adt_localfs::MountTable;
//!
//! let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_nanos();
//! let base = std::env::temp_dir().join(format!("adt-backups-doc-{}-{nanos}", std::process::id()));
//! std::fs::create_dir(&base)?;
//! // `create` refuses a webroot given through a link or `..`.
//! let base = base.canonicalize()?;
//! let webroot = base.join("html");
//! std::fs::create_dir_all(webroot.join("logs"))?;
//! let index = "<?php echo 'hello';\n";
//! std::fs::write(webroot.join("index.php"), index)?;
//! std::fs::write(webroot.join("logs/error.log"), "not backed up\n")?;
//!
//! // No Layout, no mounts (a real run passes `MountTable::read()?`).
//! let table = MountTable::default();
//! let exclusions = Exclusions::new(&webroot, None, &table, &["*.log".to_string()])?;
//! let output = base.join("applicationsourcecode.tar.gz");
//! let report = create(&webroot, &exclusions, &table, &output, 6)?;
//!
//! assert_eq!((report.files, report.directories), (1, 1));
//! assert_eq!(report.bytes, index.len() as u64);
//! assert_eq!(report.excluded, ["logs/error.log"]);
//! // `./`, the marker, `./index.php` and `./logs/`.
//! assert_eq!(check_archive(std::fs::File::open(&output)?, "the doc backup")?, 4);
//!
//! std::fs::remove_dir_all(&base)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

mod adt_lock;
mod create;
mod download;
mod error;
mod exclude;
mod extract;
mod gzip;
mod list;
mod store;

pub use adt_lock::{AdtLock, AdtLockGuard, AdtLockOptions};
pub use create::{CreateReport, create, create_until};
pub use download::{DownloadReport, DownloadTarget, download_bucket};
pub use error::BackupError;
pub use exclude::{Excluded, Exclusions, Reason};
pub use extract::{ExtractOptions, ExtractReport, JOURNAL, Restore, archive_identity, extract, open_archive};
pub use list::{StoredBackups, StoredObject, list_backups};
pub use store::{UploadOptions, UploadReport, VerifyReport, check_archive, clean_interrupted, fetch, upload, verify};
