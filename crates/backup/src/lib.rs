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
//! verifies a stored backup by streaming it.
//!
//! What it does not do: decide what is mounted (the Layout and the mount
//! table do), or print.

mod create;
mod error;
mod exclude;
mod gzip;
mod store;

pub use create::{CreateReport, create, create_until};
pub use error::BackupError;
pub use exclude::{Excluded, Exclusions, Reason};
pub use store::{UploadOptions, UploadReport, VerifyReport, check_archive, clean_interrupted, upload, verify};
