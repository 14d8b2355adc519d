use std::path::PathBuf;

use adt_datastore::DatastoreError;

/// Everything that can stop a mount, an unmount or a purge. Whatever the
/// error, no local file has been deleted or hidden: a failed mount puts the
/// local directory back.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MountError {
    /// A FUSE tool the plan needs is not on PATH.
    #[error("{tool} is not installed: {hint}")]
    ToolMissing {
        /// The program.
        tool: String,
        /// How to install it.
        hint: &'static str,
    },
    /// Reading or writing `path` failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Something other than a directory is where a mount point should be.
    #[error("{path} exists and is not a directory; move it away before mounting there")]
    NotADirectory {
        /// The mount point.
        path: PathBuf,
    },
    /// The FUSE tool exited instead of mounting.
    #[error("{program} failed to mount {path} ({status}): {stderr}")]
    ToolFailed {
        /// The tool.
        program: String,
        /// The mount point.
        path: PathBuf,
        /// Its exit status.
        status: String,
        /// The end of its output.
        stderr: String,
    },
    /// The mount did not answer in time.
    #[error("{path} did not answer as a mount within {seconds} s{detail}")]
    Timeout {
        /// The mount point.
        path: PathBuf,
        /// The timeout, in seconds.
        seconds: u64,
        /// What was seen meanwhile.
        detail: String,
    },
    /// One entry failed; the run was undone as `undone` says.
    #[error("entry `{entry}`: {source}; {undone}")]
    Entry {
        /// The DIRECTORIES_TO_MOUNT entry.
        entry: String,
        /// Why it failed.
        #[source]
        source: Box<MountError>,
        /// What undoing the run did, or what it could not undo.
        undone: String,
    },
    /// A mount point stayed busy past the grace period and could not be detached.
    #[error("{path} could not be unmounted: {detail}")]
    Unmount {
        /// The mount point.
        path: PathBuf,
        /// Why.
        detail: String,
    },
    /// An uploaded local file's object differs from the file.
    #[error("bucket `{bucket}`, key `{key}`: the uploaded object does not match the local file: {detail}")]
    Mismatch {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
        /// What differs.
        detail: String,
    },
    /// The mount point was swapped (for a link, say) while being mounted.
    #[error("{path} was replaced while it was being mounted (the mount landed on {landed}); that mount was undone")]
    Redirected {
        /// The mount point.
        path: PathBuf,
        /// Where the mount actually landed.
        landed: PathBuf,
    },
    /// The stop flag was set.
    #[error("interrupted")]
    Interrupted,
    /// Another run holds the state directory's lock.
    #[error("another adt-mount run holds the state directory {state_dir}; wait for it to finish")]
    Busy {
        /// The state directory.
        state_dir: PathBuf,
    },
    /// The state directory mounted other mount points than the plan's.
    #[error(
        "the state directory {state_dir} mounted {} (not a mount point of this plan): a wrong --webroot or template? Give the same ones, or another state directory",
        recorded.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    )]
    OtherSite {
        /// The state directory.
        state_dir: PathBuf,
        /// The mount points it recorded.
        recorded: Vec<PathBuf>,
    },
    /// A local file could not be used safely.
    #[error(transparent)]
    Local(#[from] adt_localfs::LocalError),
    /// The datastore failed.
    #[error(transparent)]
    Datastore(#[from] DatastoreError),
}

/// `path` failed with `e` (an I/O error, or a sentence saying what is
/// wrong with the path), kept as the error's source.
pub(crate) fn io(path: &std::path::Path, e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> MountError {
    MountError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(e),
    }
}
