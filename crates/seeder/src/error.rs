use adt_datastore::DatastoreError;

/// Everything that can stop a seed. None of these leaves a half-written
/// object behind, and a seed that failed never reports success.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SeedError {
    /// An entry name would escape the webroot (absolute, or `..`).
    #[error(
        "{archive}: entry `{entry}` {why}, which would escape the webroot; the archive is refused and nothing was uploaded"
    )]
    Unsafe {
        /// The archive.
        archive: String,
        /// The entry's name.
        entry: String,
        /// How it escapes.
        why: &'static str,
    },
    #[error(
        "{archive}: {count} entr{plural} cannot be stored as object keys ({first}); the archive is refused and nothing was uploaded: rename them (a name must be UTF-8 without control characters, each part not blank, at most 1024 bytes)",
        plural = if *count == 1 { "y" } else { "ies" }
    )]
    /// Entries whose names cannot be object keys.
    BadKeys {
        /// The archive.
        archive: String,
        /// How many.
        count: usize,
        /// The first few, each with why.
        first: String,
    },
    /// The archive holds something a seed refuses (a hard link out of the
    /// asset directories, say).
    #[error("{archive} is refused: {detail}; nothing was uploaded")]
    Refused {
        /// The archive.
        archive: String,
        /// Why.
        detail: String,
    },
    /// The archive is damaged or cut short.
    #[error("{archive} is corrupt or truncated: {detail}; nothing from it is reported as seeded")]
    Corrupt {
        /// The archive.
        archive: String,
        /// What is wrong.
        detail: String,
    },
    /// The archive cannot be read.
    #[error("cannot read {archive}: {detail}")]
    Read {
        /// The archive.
        archive: String,
        /// Why.
        detail: String,
    },
    /// The archive changed between the check pass and the upload pass.
    #[error(
        "{archive} changed while it was being read; nothing from it is reported as seeded, and seeding again reads it anew"
    )]
    Changed {
        /// The archive.
        archive: String,
    },
    /// The datastore failed.
    #[error(transparent)]
    Datastore(#[from] DatastoreError),
    /// The options cannot work (nothing was read or written).
    #[error("cannot seed with these options: {0}")]
    Options(&'static str),
    /// A worker task of the seed panicked or was cancelled.
    #[error("a seeding task failed: {0}")]
    Internal(#[source] tokio::task::JoinError),
}
