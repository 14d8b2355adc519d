use std::path::PathBuf;

/// Why a local file or directory could not be used. Every variant names
/// the path; nothing was changed when one is returned, unless it says so.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LocalError {
    /// A system call on `path` failed.
    #[error("{path}: {op}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The operation (`open`, `rename`).
        op: &'static str,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A symbolic link where a directory or file was expected; not followed.
    #[error(
        "{path} is a symbolic link; it is never followed (use a real directory there, or give the path it points to)"
    )]
    Symlink {
        /// The link.
        path: PathBuf,
    },
    /// Not a directory where one was expected.
    #[error("{path} is not a directory")]
    NotADirectory {
        /// The path.
        path: PathBuf,
    },
    /// A FIFO, socket or device where a regular file was expected; never opened for reading.
    #[error("{path} is a {kind}, not a regular file")]
    NotRegular {
        /// The path.
        path: PathBuf,
        /// What it is.
        kind: &'static str,
    },
    /// What was opened is not what the walk saw (another inode or device).
    #[error("{path} was replaced while it was being read")]
    Changed {
        /// The path.
        path: PathBuf,
    },
    /// A directory on another filesystem (a mount) where the one below
    /// was expected; nothing is written into it.
    #[error("{path} is another filesystem (a mount); nothing is written into it")]
    OtherFilesystem {
        /// The directory.
        path: PathBuf,
    },
    /// Nothing is there.
    #[error("{path} does not exist")]
    Missing {
        /// The path.
        path: PathBuf,
    },
    /// A relative path, or one with `..`.
    #[error("{path} must be an absolute path without `..`")]
    NotAbsolute {
        /// The path.
        path: PathBuf,
    },
    /// A directory for private files is owned by someone else or open to others.
    #[error(
        "{path} is not safe to keep private files in: {detail}; fix it or choose another directory (it is never changed for you)"
    )]
    Insecure {
        /// The directory.
        path: PathBuf,
        /// Which owner or mode bits are wrong.
        detail: String,
    },
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
