use std::path::PathBuf;

/// Everything that can stop a backup. A failed `create` leaves no archive
/// under the final name.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{path}: {detail}")]
    Io { path: PathBuf, detail: String },
    #[error("webroot {0} is not a directory")]
    NoWebroot(PathBuf),
    #[error("exclude pattern `{pattern}`: {reason}")]
    Pattern { pattern: String, reason: &'static str },
    #[error("the output {0} is inside the webroot; it would back itself up")]
    OutputInWebroot(PathBuf),
}

pub(crate) fn io(path: &std::path::Path, e: impl std::fmt::Display) -> BackupError {
    BackupError::Io {
        path: path.to_path_buf(),
        detail: e.to_string(),
    }
}
