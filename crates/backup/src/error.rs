use std::path::PathBuf;

/// Everything that can stop a backup. A failed `create` leaves no archive
/// under the final name.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackupError {
    #[error("{path}: {detail}")]
    Io { path: PathBuf, detail: String },
    #[error("webroot {0} is not a directory")]
    NoWebroot(PathBuf),
    #[error("exclude pattern `{pattern}`: {reason}")]
    Pattern { pattern: String, reason: &'static str },
    #[error("the output {0} is inside the webroot; it would back itself up")]
    OutputInWebroot(PathBuf),
    #[error(
        "webroot {given} must be given as its canonical path {canonical} (no link, no `..`), the path the exclusions and the mount table use"
    )]
    NotCanonical { given: PathBuf, canonical: PathBuf },
    #[error(
        "bucket `{bucket}`: the backup lock {key} was taken over by another upload while this one ran; the current backup was left whole"
    )]
    LockLost { bucket: String, key: String },
    #[error("interrupted; nothing was written")]
    Interrupted,
    #[error(transparent)]
    Local(#[from] adt_localfs::LocalError),
    #[error(transparent)]
    Datastore(#[from] adt_datastore::DatastoreError),
    #[error(
        "bucket `{bucket}`: another backup is being uploaded ({holder}); waited {waited} s. Try again, or remove the lock object {key} if that upload died more than its expiry ago"
    )]
    Busy {
        bucket: String,
        key: String,
        holder: String,
        waited: u64,
    },
    #[error(
        "bucket `{bucket}`: the uploaded copy of {key} does not match the archive ({detail}); the current backup was left as it was"
    )]
    Mismatch {
        bucket: String,
        key: String,
        detail: String,
    },
    #[error("{what} is not a complete backup: {detail}")]
    Corrupt { what: String, detail: String },
}

pub(crate) fn io(path: &std::path::Path, e: impl std::fmt::Display) -> BackupError {
    BackupError::Io {
        path: path.to_path_buf(),
        detail: e.to_string(),
    }
}
