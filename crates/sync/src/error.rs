//! What can go wrong in a sync cycle.

use std::path::PathBuf;

/// A sync cycle's failure. Nothing is half-applied: a file is replaced
/// whole or not at all, and the next cycle takes up where this one stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    /// The datastore refused or failed a request.
    #[error(transparent)]
    Datastore(#[from] adt_datastore::DatastoreError),
    /// A local file or directory could not be used safely.
    #[error(transparent)]
    Local(#[from] adt_localfs::LocalError),
    /// The state directory could not be read or written.
    #[error("state {}: {detail}", path.display())]
    State {
        /// The file.
        path: PathBuf,
        /// Why.
        detail: String,
    },
    /// A node id that cannot be used (1 to 64 of a-z, 0-9 and `-`).
    #[error("node id `{0}` must be 1 to 64 of a-z, 0-9 and `-`")]
    NodeId(String),
    /// The state directory belongs to another node id.
    #[error("the state directory belongs to node `{found}`, not `{given}`; use another state directory")]
    OtherNode {
        /// The id in the state directory.
        found: String,
        /// The id asked for.
        given: String,
    },
    /// Something in the bucket is not what this crate writes.
    #[error("bucket `{bucket}`, key `{key}`: {detail}")]
    Malformed {
        /// The bucket.
        bucket: String,
        /// The object.
        key: String,
        /// What is wrong with it.
        detail: String,
    },
    /// Our own next journal entry is already there, written by another
    /// process with the same node id.
    #[error("journal entry {key} is already there: is another adt-sync running with node id `{node}`?")]
    SameNode {
        /// The node.
        node: String,
        /// The entry.
        key: String,
    },
}
