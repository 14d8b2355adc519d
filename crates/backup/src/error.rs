use std::path::PathBuf;

/// Everything that can stop a backup. A failed `create` leaves no archive
/// under the final name.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackupError {
    /// Reading or writing `path` failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The webroot is missing or not a directory.
    #[error("webroot {0} is not a directory")]
    NoWebroot(PathBuf),
    /// An exclude pattern is not a valid rsync-style pattern.
    #[error("exclude pattern `{pattern}`: {reason}")]
    Pattern {
        /// The pattern.
        pattern: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The archive would be written inside the webroot it backs up.
    #[error("the output {0} is inside the webroot; it would back itself up")]
    OutputInWebroot(PathBuf),
    /// The webroot was given through a link or with `..`.
    #[error(
        "webroot {given} must be given as its canonical path {canonical} (no link, no `..`), the path the exclusions and the mount table use"
    )]
    NotCanonical {
        /// As given.
        given: PathBuf,
        /// What it resolves to.
        canonical: PathBuf,
    },
    /// Another upload took the lock over while this one ran.
    #[error(
        "bucket `{bucket}`: the backup lock {key} was taken over by another upload while this one ran; the current backup was left whole"
    )]
    LockLost {
        /// The backup bucket.
        bucket: String,
        /// The lock object.
        key: String,
    },
    /// The stop flag was set; nothing was written.
    #[error("interrupted; nothing was written")]
    Interrupted,
    /// A local file could not be used safely.
    #[error(transparent)]
    Local(#[from] adt_localfs::LocalError),
    /// The datastore failed.
    #[error(transparent)]
    Datastore(#[from] adt_datastore::DatastoreError),
    /// Another upload holds the lock, and kept it while this one waited.
    #[error(
        "bucket `{bucket}`: another backup is being uploaded ({holder}); waited {waited} s. Try again, or remove the lock object {key} if that upload died more than its expiry ago"
    )]
    Busy {
        /// The backup bucket.
        bucket: String,
        /// The lock object.
        key: String,
        /// Who holds it.
        holder: String,
        /// Seconds waited.
        waited: u64,
    },
    /// The uploaded copy differs from the archive.
    #[error(
        "bucket `{bucket}`: the uploaded copy of {key} does not match the archive ({detail}); the current backup was left as it was"
    )]
    Mismatch {
        /// The backup bucket.
        bucket: String,
        /// The key uploaded.
        key: String,
        /// What differs.
        detail: String,
    },
    /// The restore target is not an absolute path ending in a name.
    #[error("restore target {0}: give an absolute path ending in a directory name")]
    BadTarget(PathBuf),
    /// The restore target holds files, and no unfinished restore.
    #[error(
        "restore target {0} already holds files; restore into a new directory, or force it (files the backup holds are replaced, nothing is deleted)"
    )]
    TargetNotEmpty(PathBuf),
    /// The restore target holds an unfinished restore of another backup.
    #[error(
        "restore target {target} holds an unfinished restore of {other}; run that again to finish it, restore into a new directory, or force this one"
    )]
    OtherRestore {
        /// The target.
        target: PathBuf,
        /// What the unfinished restore was restoring.
        other: String,
    },
    /// The restore target's parent was given through a link or with `..`.
    #[error(
        "restore target's parent {given} must be given as its canonical path {canonical} (no link, no `..`), so nobody who can write along the way redirects the restore"
    )]
    TargetThroughLink {
        /// As given.
        given: PathBuf,
        /// What it resolves to.
        canonical: PathBuf,
    },
    /// The restore would write into a mount (a bucket) or onto a mount point.
    #[error("{0} is a mount point or inside a FUSE mount; a restore never writes into a mount")]
    IntoMount(PathBuf),
    /// What is in the target is in the way of an entry.
    #[error(
        "{path} is {what} in the target where the backup holds something else; move it away, or restore into a new directory"
    )]
    Conflict {
        /// The path in the way.
        path: PathBuf,
        /// What it is.
        what: &'static str,
    },
    /// An entry's name would place it outside the target, or through a link.
    #[error("backup entry `{name}` {reason}; nothing outside the target is written")]
    UnsafeEntry {
        /// The entry's name.
        name: String,
        /// Why it is refused.
        reason: String,
    },
    /// A stored or local archive is not a complete backup.
    #[error("{what} is not a complete backup: {detail}")]
    Corrupt {
        /// Which archive.
        what: String,
        /// What is wrong.
        detail: String,
    },
}

/// `path` failed with `e` (an I/O error, or a sentence saying what is
/// wrong with the path), kept as the error's source.
pub(crate) fn io(path: &std::path::Path, e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> BackupError {
    BackupError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(e),
    }
}
