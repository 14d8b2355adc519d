//! What every node of a site's sync is doing, read from the bucket: each
//! node's last batch, how far it has applied every other node's journal,
//! whether it is paused, when it last finished a cycle, and the conflicts
//! kept.

use std::collections::BTreeMap;

use adt_datastore::Store;
use serde::Serialize;

use crate::error::SyncError;
use crate::journal::{self, Conflict, NodeStatus};

/// One node, as the others see it.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct NodeReport {
    /// Its status object.
    #[serde(flatten)]
    pub status: NodeStatus,
    /// Batches of other nodes it has not applied yet, per node.
    pub behind: BTreeMap<String, u64>,
    /// Seconds since it last finished a cycle (by this machine's clock).
    pub idle_seconds: u64,
}

/// The whole sync.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct StatusReport {
    /// Every node that has run a cycle.
    pub nodes: Vec<NodeReport>,
    /// Conflicts kept (the most recent 100).
    pub conflicts: Vec<Conflict>,
    /// How many conflicts are kept in all.
    pub conflict_count: u64,
}

/// Reads the status of every node.
pub async fn status(store: &Store, bucket: &str) -> Result<StatusReport, SyncError> {
    let mut nodes: Vec<NodeStatus> = Vec::new();
    if !store.bucket_exists(bucket).await? {
        return Ok(StatusReport {
            nodes: Vec::new(),
            conflicts: Vec::new(),
            conflict_count: 0,
        });
    }
    for id in crate::cycle::peers(store, bucket).await? {
        let key = journal::node_key(&id);
        let (_, body) = store.get_bytes(bucket, &key).await?;
        let status: NodeStatus = serde_json::from_slice(&body).map_err(|e| SyncError::Malformed {
            bucket: bucket.to_string(),
            key,
            detail: e.to_string(),
        })?;
        nodes.push(status);
    }
    let seqs: BTreeMap<String, u64> = nodes.iter().map(|n| (n.node.clone(), n.seq)).collect();
    let now = crate::hlc::now_ms();
    let nodes = nodes
        .into_iter()
        .map(|status| {
            let behind = seqs
                .iter()
                .filter(|(id, _)| **id != status.node)
                .map(|(id, seq)| {
                    (
                        id.clone(),
                        seq.saturating_sub(status.cursors.get(id).copied().unwrap_or(0)),
                    )
                })
                .collect();
            let idle_seconds = now.saturating_sub(status.updated_ms) / 1000;
            NodeReport {
                status,
                behind,
                idle_seconds,
            }
        })
        .collect();
    let prefix = format!("{}conflicts/", journal::PREFIX);
    let listed = store.list(bucket, Some(&prefix)).await?;
    let conflict_count = listed.len() as u64;
    let mut conflicts = Vec::new();
    for o in listed.iter().rev().take(100) {
        let (_, body) = store.get_bytes(bucket, &o.key).await?;
        if let Ok(c) = serde_json::from_slice::<Conflict>(&body) {
            conflicts.push(c);
        }
    }
    Ok(StatusReport {
        nodes,
        conflicts,
        conflict_count,
    })
}
