//! What a seed did, per bucket: the JSON contract of design.md.

use serde::{Deserialize, Serialize};

/// One bucket's counts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BucketSummary {
    /// The DIRECTORIES_TO_MOUNT entry the bucket belongs to.
    pub entry: String,
    /// The bucket's name.
    pub bucket: String,
    /// Objects the archive gives this bucket (files and directory markers).
    pub objects: u64,
    /// Written by this run (in a dry run: would be written).
    pub uploaded: u64,
    /// Already there with the same content.
    pub skipped: u64,
    /// Already there with different content: kept, never overwritten
    /// (unless --overwrite).
    pub conflicts: u64,
    /// Bytes written (in a dry run: would be written).
    pub bytes: u64,
    /// The keys of the conflicts.
    pub conflict_keys: Vec<String>,
}

/// The whole seed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Summary {
    /// One per bucket of the layout, in its order (a merge entry's
    /// branches one after another). Entries outside the webroot have none.
    pub buckets: Vec<BucketSummary>,
    /// What the caller should show, one sentence each: entries outside the
    /// webroot, archive entries that are not regular files and were
    /// skipped, a record of the seed that could not be kept. Empty: none.
    pub warnings: Vec<String>,
    /// True for --dry-run: nothing was written.
    pub dry_run: bool,
    /// True when the archive was recognised as already seeded, so it was
    /// not read again (the buckets were still listed and compared).
    pub already_seeded: bool,
    /// In a dry run: every object that would be written, as (bucket, key, bytes).
    #[serde(skip)]
    pub planned: Vec<(String, String, u64)>,
}

impl Summary {
    /// Objects written by this run (in a dry run: that would be), over
    /// every bucket.
    pub fn uploaded(&self) -> u64 {
        self.buckets.iter().map(|b| b.uploaded).sum()
    }

    /// Objects already there with different content, and kept, over
    /// every bucket.
    pub fn conflicts(&self) -> u64 {
        self.buckets.iter().map(|b| b.conflicts).sum()
    }
}
