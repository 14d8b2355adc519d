use std::path::PathBuf;

use adt_datastore::DatastoreError;

/// Everything that can stop a mount, an unmount or a purge. Whatever the
/// error, no local file has been deleted or hidden: a failed mount puts the
/// local directory back.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MountError {
    #[error("{tool} is not installed: {hint}")]
    ToolMissing { tool: String, hint: &'static str },
    #[error("{path}: {detail}")]
    Io { path: PathBuf, detail: String },
    #[error("{path} exists and is not a directory; move it away before mounting there")]
    NotADirectory { path: PathBuf },
    #[error("{program} failed to mount {path} ({status}): {stderr}")]
    ToolFailed {
        program: String,
        path: PathBuf,
        status: String,
        stderr: String,
    },
    #[error("{path} did not answer as a mount within {seconds} s{detail}")]
    Timeout {
        path: PathBuf,
        seconds: u64,
        detail: String,
    },
    #[error("entry `{entry}`: {source}; {undone}")]
    Entry {
        entry: String,
        #[source]
        source: Box<MountError>,
        /// What undoing the run did, or what it could not undo.
        undone: String,
    },
    #[error("{path} could not be unmounted: {detail}")]
    Unmount { path: PathBuf, detail: String },
    #[error("bucket `{bucket}`, key `{key}`: the uploaded object does not match the local file: {detail}")]
    Mismatch {
        bucket: String,
        key: String,
        detail: String,
    },
    #[error("{path} was replaced while it was being mounted (the mount landed on {landed}); that mount was undone")]
    Redirected { path: PathBuf, landed: PathBuf },
    #[error("interrupted")]
    Interrupted,
    #[error(transparent)]
    Local(#[from] adt_localfs::LocalError),
    #[error(transparent)]
    Datastore(#[from] DatastoreError),
}

pub(crate) fn io(path: &std::path::Path, e: impl std::fmt::Display) -> MountError {
    MountError::Io {
        path: path.to_path_buf(),
        detail: e.to_string(),
    }
}
