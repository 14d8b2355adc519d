/// Why an archive cannot be read whole. Every variant says what is wrong
/// with the archive, not what to do with a flag.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ArchiveError {
    /// The gzip stream or the tar inside it is damaged or cut short.
    #[error("corrupt or truncated: {0}")]
    Corrupt(String),
    /// A header record (a GNU long name or link, a PAX record) is larger
    /// than the limit: refused before it is read into memory.
    #[error("entry {entry}: its {what} is {size} bytes, more than the {limit} bytes allowed")]
    TooLarge {
        /// The entry's number, from 1.
        entry: u64,
        /// Which record (`long name`, `PAX header`).
        what: &'static str,
        /// Its size, in bytes.
        size: u64,
        /// The limit, in bytes.
        limit: u64,
    },
    /// More entries than the limit (bounded work on any input).
    #[error("it holds more than {limit} entries")]
    TooManyEntries {
        /// The limit.
        limit: u64,
    },
    /// Reading the underlying file or stream failed.
    #[error("reading it: {0}")]
    Io(#[source] std::io::Error),
}

impl ArchiveError {
    pub(crate) fn corrupt(detail: impl Into<String>) -> ArchiveError {
        ArchiveError::Corrupt(detail.into())
    }

    /// From an error of the gzip layer: a damaged stream is corruption.
    pub(crate) fn from_io(e: std::io::Error) -> ArchiveError {
        match e.kind() {
            std::io::ErrorKind::InvalidInput | std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof => {
                ArchiveError::Corrupt(e.to_string())
            }
            _ => ArchiveError::Io(e),
        }
    }
}
