//! What a run did, per bucket and destination: the JSON contract of design.md.

use serde::Serialize;

/// One bucket on one destination.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct BucketReport {
    /// The bucket's name (the same on every datastore).
    pub bucket: String,
    /// The datastore's number in the template's chain (2 for the first copy).
    pub destination: usize,
    /// Objects copied (in a dry run: that would be copied).
    pub copied: u64,
    /// Objects already the same on the destination.
    pub skipped: u64,
    /// Objects deleted from the destination (in a dry run: that would be).
    pub deleted: u64,
    /// Bytes copied (in a dry run: that would be).
    pub bytes: u64,
    /// Whether the bucket was created on the destination (or would be).
    pub created: bool,
    /// Objects that could not be copied or deleted.
    pub failed: u64,
    /// Destination versions kept under `.adt-replaced/RUN/` before this run
    /// replaced (with other content) or deleted them.
    pub preserved: u64,
    /// Kept versions older than the retention, removed.
    pub expired: u64,
    /// In a dry run: the keys that would be copied.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub copy_keys: Vec<String>,
    /// In a dry run, with --delete: the keys that would be deleted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub delete_keys: Vec<String>,
}

/// A destination, or one bucket on it, that failed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct FailedDestination {
    /// The datastore's number in the template's chain (2 for the first copy).
    pub destination: usize,
    /// The destination's endpoint URL.
    pub endpoint: String,
    /// The bucket, when only it failed; None when the whole destination did.
    pub bucket: Option<String>,
    /// The first error (later ones are counted in the bucket's `failed`).
    pub error: String,
}

/// The whole run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Report {
    /// One row per bucket and destination, by destination number, then
    /// bucket name. A bucket that could not be planned has no row, nor has
    /// any bucket of a destination found unreachable while planning: see
    /// `failed_destinations`.
    pub buckets: Vec<BucketReport>,
    /// What failed, in the same order; empty when everything succeeded.
    pub failed_destinations: Vec<FailedDestination>,
    /// True for --dry-run: nothing was written or deleted.
    pub dry_run: bool,
    /// Things worth knowing that are not failures (an object deleted from
    /// the primary while the run copied it).
    pub warnings: Vec<String>,
}

impl Report {
    /// Objects copied (in a dry run: that would be), over every bucket
    /// and destination.
    pub fn copied(&self) -> u64 {
        self.buckets.iter().map(|b| b.copied).sum()
    }

    /// Objects deleted (in a dry run: that would be), over every bucket
    /// and destination.
    pub fn deleted(&self) -> u64 {
        self.buckets.iter().map(|b| b.deleted).sum()
    }

    /// True when every destination and bucket succeeded.
    pub fn ok(&self) -> bool {
        self.failed_destinations.is_empty()
    }
}
