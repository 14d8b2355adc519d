use adt_datastore::DatastoreError;

/// Everything that can stop a seed. None of these leaves a half-written
/// object behind, and a seed that failed never reports success.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SeedError {
    #[error(
        "{archive}: entry `{entry}` {why}, which would escape the webroot; the archive is refused and nothing was uploaded"
    )]
    Unsafe {
        archive: String,
        entry: String,
        why: &'static str,
    },
    #[error(
        "{archive}: {count} entr{plural} cannot be stored as object keys ({first}); the archive is refused and nothing was uploaded: rename them (a name must be UTF-8 without control characters, each part not blank, at most 1024 bytes)",
        plural = if *count == 1 { "y" } else { "ies" }
    )]
    BadKeys {
        archive: String,
        count: usize,
        /// The first few, each with why.
        first: String,
    },
    #[error("{archive} is refused: {detail}; nothing was uploaded")]
    Refused { archive: String, detail: String },
    #[error("{archive} is corrupt or truncated: {detail}; nothing from it is reported as seeded")]
    Corrupt { archive: String, detail: String },
    #[error("cannot read {archive}: {detail}")]
    Read { archive: String, detail: String },
    #[error("{archive} changed while it was being read; run adt-seed again")]
    Changed { archive: String },
    #[error(transparent)]
    Datastore(#[from] DatastoreError),
    #[error("internal error: {0}")]
    Internal(String),
}
