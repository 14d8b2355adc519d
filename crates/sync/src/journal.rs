//! What the nodes write in the sync bucket, all under `adt-sync/` (ADT's
//! own sync uses `filesystem-sync/` in the same bucket; the two never meet):
//!
//! - `blobs/SHA256`: a file's content, named by its SHA-256, written only
//!   if absent; a reader checks the hash of what it reads.
//! - `journal/NODE/SEQ`: one batch of a node's changes, SEQ counting from 1
//!   (16 digits), written only if absent: the commit point. A batch refers
//!   only to blobs already there.
//! - `nodes/NODE`: the node's status (its cursors into every other node's
//!   journal, last sequence, paused or not), rewritten each cycle.
//! - `conflicts/STAMP-HASH`: a concurrent version that lost, kept with its
//!   blob, named in a report.

use serde::{Deserialize, Serialize};

use crate::hlc::Stamp;

/// Where everything lives in the bucket.
pub const PREFIX: &str = "adt-sync/";

/// The key of a blob.
pub fn blob_key(sha256: &crate::content::Digest) -> String {
    format!("{PREFIX}blobs/{sha256}")
}

/// The prefix of a node's journal.
pub fn journal_prefix(node: &str) -> String {
    format!("{PREFIX}journal/{node}/")
}

/// The key of a node's batch `seq`.
pub fn batch_key(node: &str, seq: u64) -> String {
    format!("{}{seq:016}", journal_prefix(node))
}

/// The sequence number of a batch key, when it is one.
pub fn batch_seq(key: &str, node: &str) -> Option<u64> {
    let rest = key.strip_prefix(&journal_prefix(node))?;
    (rest.len() == 16 && rest.bytes().all(|b| b.is_ascii_digit())).then(|| rest.parse().ok())?
}

/// The prefix of the node status objects.
pub fn nodes_prefix() -> String {
    format!("{PREFIX}nodes/")
}

/// The key of a node's status.
pub fn node_key(node: &str) -> String {
    format!("{}{node}", nodes_prefix())
}

/// The key of a conflict record.
pub fn conflict_key(loser: &Stamp, path: &str) -> String {
    let digest = crate::content::sha256_hex(path.as_bytes());
    format!("{PREFIX}conflicts/{loser}-{}", &digest[..16])
}

/// A node id: 1 to 64 of `a-z0-9-`, so it can sit in a key and a stamp.
pub fn valid_node_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// One batch of a node's changes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Batch {
    /// The node that made them.
    pub node: String,
    /// Its sequence number in that node's journal.
    pub seq: u64,
    /// The changes, in the order they apply.
    pub ops: Vec<Op>,
}

/// One change to one path.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Op {
    /// The path, relative to the webroot ([`crate::pathname::encode`]).
    pub path: String,
    /// This version's stamp.
    pub version: Stamp,
    /// The version it replaces, as the node saw it (None: the path was new).
    pub base: Option<Stamp>,
    /// What the path becomes.
    pub what: What,
}

/// What a path becomes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum What {
    /// A regular file with this content and these attributes.
    File {
        /// SHA-256 of the content: the blob.
        sha256: crate::content::Digest,
        /// Bytes.
        size: u64,
        /// Permission bits.
        mode: u32,
        /// Owner.
        uid: u32,
        /// Group.
        gid: u32,
        /// Modification time, seconds since 1970.
        mtime: i64,
    },
    /// A directory with these attributes.
    Dir {
        /// Permission bits.
        mode: u32,
        /// Owner.
        uid: u32,
        /// Group.
        gid: u32,
    },
    /// Deleted.
    Delete,
}

impl What {
    /// True for a delete.
    pub fn is_delete(&self) -> bool {
        matches!(self, What::Delete)
    }
}

/// A node's status object.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeStatus {
    /// The node.
    pub node: String,
    /// Its last published batch.
    pub seq: u64,
    /// Its cursor into each other node's journal: the last batch applied.
    pub cursors: std::collections::BTreeMap<String, u64>,
    /// Why it is paused, when it is.
    pub paused: Option<String>,
    /// When it last finished a cycle, milliseconds since 1970 (its clock).
    pub updated_ms: u64,
}

/// A concurrent version that lost to another, kept.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conflict {
    /// The path.
    pub path: String,
    /// The version that won, everywhere.
    pub winner: Stamp,
    /// The version that lost.
    pub loser: Stamp,
    /// What the loser was (its blob is kept under `blobs/`).
    pub lost: What,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_by_sequence_and_parse_back() {
        assert_eq!(batch_key("n1", 7), "adt-sync/journal/n1/0000000000000007");
        assert!(batch_key("n1", 9) < batch_key("n1", 10));
        assert_eq!(batch_seq(&batch_key("n1", 42), "n1"), Some(42));
        assert_eq!(batch_seq("adt-sync/journal/n1/x", "n1"), None);
        assert!(valid_node_id("web-1a"));
        assert!(!valid_node_id("Web/1") && !valid_node_id(""));
    }
}
