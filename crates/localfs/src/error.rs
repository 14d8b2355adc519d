use std::path::PathBuf;

/// Why a local file or directory could not be used. Every variant names
/// the path; nothing was changed when one is returned, unless it says so.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LocalError {
    #[error("{path}: {op}: {source}")]
    Io {
        path: PathBuf,
        op: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{path} is a symbolic link; it is never followed (use a real directory there, or give the path it points to)"
    )]
    Symlink { path: PathBuf },
    #[error("{path} is not a directory")]
    NotADirectory { path: PathBuf },
    #[error("{path} is a {kind}, not a regular file")]
    NotRegular { path: PathBuf, kind: &'static str },
    #[error("{path} was replaced while it was being read")]
    Changed { path: PathBuf },
    #[error("{path} does not exist")]
    Missing { path: PathBuf },
    #[error("{path} must be an absolute path without `..`")]
    NotAbsolute { path: PathBuf },
    #[error(
        "{path} is not safe to keep private files in: {detail}; fix it or choose another directory (it is never changed for you)"
    )]
    Insecure { path: PathBuf, detail: String },
}

impl LocalError {
    pub(crate) fn io(path: impl Into<PathBuf>, op: &'static str, source: impl Into<std::io::Error>) -> LocalError {
        LocalError::Io {
            path: path.into(),
            op,
            source: source.into(),
        }
    }

    /// True when what was opened is not what the walk saw: the name was
    /// swapped for a link, a FIFO, a device or another file meanwhile.
    /// Callers report it and go on; it was never followed or read.
    pub fn was_replaced(&self) -> bool {
        matches!(
            self,
            LocalError::Symlink { .. }
                | LocalError::NotRegular { .. }
                | LocalError::Changed { .. }
                | LocalError::NotADirectory { .. }
        )
    }

    /// True when the path was not there (it vanished, or never existed).
    pub fn is_missing(&self) -> bool {
        match self {
            LocalError::Missing { .. } => true,
            LocalError::Io { source, .. } => source.kind() == std::io::ErrorKind::NotFound,
            _ => false,
        }
    }
}
