//! Backups and webroot-sync filters that leave the mounted asset
//! directories out, so the bucket stays the single place of truth.
//!
//! What it does: computes the exclusion set (the Layout's mount points,
//! every mount under the webroot in the live mount table, `--exclude`
//! patterns); prints it as JSON or an rsync filter file; writes the
//! webroot as a gzip tar without ever reading inside an excluded
//! directory or crossing into another filesystem.
//!
//! What it does not do (yet): upload, rotate or verify backups in the
//! datastore (the next part of this crate's issue).

mod create;
mod error;
mod exclude;

pub use create::{CreateReport, MARKER, create};
pub use error::BackupError;
pub use exclude::{Excluded, Exclusions, Reason};
