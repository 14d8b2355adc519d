//! Snapshots and collection. A node writes a snapshot (every version it
//! holds, and how far into each journal that reflects) once the journals
//! have grown by `snapshot_batches` since the newest one. Then batches that
//! every live node has applied and the newest snapshot covers are deleted,
//! with older snapshots, conflicts older than `keep_conflicts`, and blobs
//! nothing refers to any more. A node whose cursor points at a collected
//! batch (away for long, or new) restores the newest snapshot first, then
//! replays the journals from there.
//!
//! Key: `adt-sync/snapshots/TOTAL-NODE`, TOTAL the number of batches it
//! covers (20 digits), so the newest sorts last and is found by one listing.

use std::collections::BTreeMap;
use std::io::{Read, Write};

use adt_datastore::{PutOptions, Store};
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::error::SyncError;
use crate::hlc::now_ms;
use crate::journal::{self, Conflict, NodeStatus, Op, What};
use crate::state::State;

/// The most a snapshot may take, compressed.
const MAX_SNAPSHOT_BYTES: u64 = 2 * 1024 * 1024 * 1024;
/// A blob younger than this (by the server's clock) is never collected: a
/// node may be about to commit a batch that refers to it.
const BLOB_GRACE_MS: u64 = 3600 * 1000;
/// A node commits a batch within this long of writing its blobs, or
/// writes them again first (so they are younger than [`BLOB_GRACE_MS`]
/// when the batch that refers to them appears).
pub(crate) const BLOB_COMMIT_WITHIN: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// A snapshot's content.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Snapshot {
    /// The node that wrote it.
    pub node: String,
    /// The last batch of each node it reflects (its own included).
    pub cursors: BTreeMap<String, u64>,
    /// Deletions stamped before this (ms) are not in it: forgotten.
    #[serde(default)]
    pub deletions_before: u64,
    /// Every path's version, deletions included.
    pub entries: Vec<Op>,
}

/// A snapshot as written: the same form as [`Snapshot`], borrowed from the
/// state.
#[derive(Serialize)]
struct SnapshotOut<'a> {
    node: &'a str,
    cursors: &'a BTreeMap<String, u64>,
    deletions_before: u64,
    entries: Entries<'a>,
}

struct Entries<'a>(&'a BTreeMap<String, crate::state::Entry>);

/// One entry in the form of an [`Op`].
#[derive(Serialize)]
struct OpOut<'a> {
    path: &'a str,
    version: &'a crate::hlc::Stamp,
    base: &'a Option<crate::hlc::Stamp>,
    what: &'a What,
}

impl Serialize for Entries<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(|(path, e)| OpOut {
            path,
            version: &e.version,
            base: &e.base,
            what: &e.what,
        }))
    }
}

fn prefix() -> String {
    format!("{}snapshots/", journal::PREFIX)
}

fn total(cursors: &BTreeMap<String, u64>) -> u64 {
    cursors.values().sum()
}

/// What the state covers: its cursors and its own last batch.
pub(crate) fn coverage(state: &State) -> BTreeMap<String, u64> {
    let mut c = state.cursors.clone();
    c.insert(state.node.clone(), state.seq);
    c
}

/// The newest snapshot's key and the number of batches it covers.
pub(crate) async fn newest(store: &Store, bucket: &str) -> Result<Option<(String, u64)>, SyncError> {
    let p = prefix();
    Ok(store
        .list(bucket, Some(&p))
        .await?
        .into_iter()
        .filter_map(|o| {
            let rest = o.key.strip_prefix(&p)?;
            let total: u64 = rest.get(..20)?.parse().ok()?;
            Some((o.key.clone(), total))
        })
        .max_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0))))
}

/// Ops read from a snapshot and not yet taken: the most held at once.
const STREAMED: usize = 1024;

/// Reads the snapshot at `key` as a stream: its entries arrive on the
/// channel in the order written (a few at a time: memory stays bounded
/// however large it is); the task ends with its cursors, or why it could
/// not be read whole.
pub(crate) async fn stream(
    store: &Store,
    bucket: &str,
    key: &str,
) -> Result<
    (
        tokio::sync::mpsc::Receiver<Op>,
        tokio::task::JoinHandle<Result<Header, SyncError>>,
    ),
    SyncError,
> {
    let malformed = {
        let (bucket, key) = (bucket.to_string(), key.to_string());
        move |detail: String| SyncError::Malformed {
            bucket: bucket.clone(),
            key: key.clone(),
            detail,
        }
    };
    let meta = store
        .head(bucket, key)
        .await?
        .ok_or_else(|| malformed("it is gone".into()))?;
    if meta.size > MAX_SNAPSHOT_BYTES {
        return Err(malformed(format!("{} bytes, more than a snapshot may be", meta.size)));
    }
    let (_, body) = store.get(bucket, key).await?;
    let (tx, rx) = tokio::sync::mpsc::channel(STREAMED);
    let runtime = tokio::runtime::Handle::current();
    let task = tokio::task::spawn_blocking(move || {
        let reader = adt_datastore::BlockingReader::new(body, &runtime);
        let reader = flate2::read::GzDecoder::new(reader).take(MAX_SNAPSHOT_BYTES * 8);
        let mut de = serde_json::Deserializer::from_reader(std::io::BufReader::new(reader));
        let header = serde::de::DeserializeSeed::deserialize(SnapshotSeed { tx }, &mut de)
            .map_err(|e| malformed(e.to_string()))?;
        de.end().map_err(|e| malformed(e.to_string()))?;
        Ok(header)
    });
    Ok((rx, task))
}

/// A snapshot's fields besides its entries.
#[derive(Debug, Default)]
pub(crate) struct Header {
    /// The last batch of each node it reflects.
    pub cursors: BTreeMap<String, u64>,
    /// Deletions stamped before this (ms) are not in it.
    pub deletions_before: u64,
}

/// Reads a snapshot's fields, passing each entry on as it is read.
struct SnapshotSeed {
    tx: tokio::sync::mpsc::Sender<Op>,
}

impl<'de> serde::de::DeserializeSeed<'de> for SnapshotSeed {
    type Value = Header;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for SnapshotSeed {
    type Value = Header;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a snapshot")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut cursors = None;
        let mut deletions_before = 0;
        let mut entries = false;
        while let Some(field) = map.next_key::<String>()? {
            match field.as_str() {
                "cursors" => cursors = Some(map.next_value()?),
                "deletions_before" => deletions_before = map.next_value()?,
                "entries" => {
                    map.next_value_seed(EntriesSeed { tx: &self.tx })?;
                    entries = true;
                }
                _ => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
        }
        if !entries {
            return Err(serde::de::Error::missing_field("entries"));
        }
        Ok(Header {
            cursors: cursors.ok_or_else(|| serde::de::Error::missing_field("cursors"))?,
            deletions_before,
        })
    }
}

struct EntriesSeed<'a> {
    tx: &'a tokio::sync::mpsc::Sender<Op>,
}

impl<'de> serde::de::DeserializeSeed<'de> for EntriesSeed<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> serde::de::Visitor<'de> for EntriesSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a list of entries")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(op) = seq.next_element::<Op>()? {
            if self.tx.blocking_send(op).is_err() {
                return Err(serde::de::Error::custom("the restore stopped"));
            }
        }
        Ok(())
    }
}

/// Writes a snapshot of `state` when the journals grew by `every` batches
/// since the newest one; then collects. Returns whether one was written.
pub(crate) async fn maybe_snapshot(
    store: &Store,
    bucket: &str,
    state: &State,
    every: u64,
    keep_dead: std::time::Duration,
    keep_conflicts: std::time::Duration,
) -> Result<bool, SyncError> {
    let covered = coverage(state);
    let mine = total(&covered);
    let newest = newest(store, bucket).await?;
    if mine < newest.as_ref().map_or(0, |n| n.1).saturating_add(every.max(1)) {
        return Ok(false);
    }
    // Serialised straight from the state (no second copy of every entry);
    // only the compressed bytes are held.
    let snapshot = SnapshotOut {
        node: &state.node,
        cursors: &covered,
        deletions_before: state.deletions_before,
        entries: Entries(&state.entries),
    };
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    serde_json::to_writer(&mut gz, &snapshot).map_err(|e| SyncError::State {
        path: "snapshot".into(),
        detail: e.to_string(),
    })?;
    let bytes = gz.finish().and_then(|mut v| {
        v.flush()?;
        Ok(v)
    });
    let bytes = bytes.map_err(|e| SyncError::State {
        path: "snapshot".into(),
        detail: e.to_string(),
    })?;
    if bytes.len() as u64 > MAX_SNAPSHOT_BYTES {
        return Err(SyncError::State {
            path: "snapshot".into(),
            detail: format!(
                "{} bytes compressed, more than a reader accepts ({MAX_SNAPSHOT_BYTES}): not written, nothing collected",
                bytes.len()
            ),
        });
    }
    let key = format!("{}{mine:020}-{}", prefix(), state.node);
    store
        .put_if_absent(bucket, &key, Bytes::from(bytes), &PutOptions::default())
        .await?;
    collect(store, bucket, &key, state, &covered, keep_dead, keep_conflicts).await?;
    Ok(true)
}

/// Deletes what the newest snapshot (just written at `snapshot_key`, from
/// `state`, covering `covered`) and every live node no longer need.
async fn collect(
    store: &Store,
    bucket: &str,
    snapshot_key: &str,
    state: &State,
    covered: &BTreeMap<String, u64>,
    keep_dead: std::time::Duration,
    keep_conflicts: std::time::Duration,
) -> Result<(), SyncError> {
    // The server's time, from the snapshot it just stored: blobs and
    // conflicts are aged by the clock that dated them, never this
    // machine's (which may be hours off). Taken before any reference is
    // read, so a blob written after it is never collected this round.
    let p = prefix();
    let snapshots = store.list(bucket, Some(&p)).await?;
    let Some(server_now) = snapshots
        .iter()
        .find(|o| o.key == snapshot_key)
        .and_then(|o| o.last_modified)
        .map(|t| (t.max(0) as u64).saturating_mul(1000))
    else {
        return Ok(());
    };
    // Only the writer of the newest snapshot collects: batches go up to
    // what the snapshot that stays covers, and blobs it refers to stay.
    let newest_key = snapshots
        .iter()
        .map(|o| o.key.as_str())
        .max_by_key(|k| (k.get(p.len()..p.len() + 20).unwrap_or_default(), *k));
    if newest_key != Some(snapshot_key) {
        return Ok(());
    }
    let now = now_ms();
    let mut live: Vec<NodeStatus> = Vec::new();
    for id in crate::cycle::peers(store, bucket).await? {
        // A status that cannot be read might be a live node's: collect
        // nothing this time rather than what it still needs.
        let Ok((_, body)) = store.get_bytes(bucket, &journal::node_key(&id)).await else {
            return Ok(());
        };
        let Ok(status) = serde_json::from_slice::<NodeStatus>(&body) else {
            return Ok(());
        };
        if id == state.node || now.saturating_sub(status.updated_ms) < keep_dead.as_millis() as u64 {
            live.push(status);
        }
    }
    // 32 bytes a blob, not its name: a large webroot refers to hundreds
    // of thousands.
    let mut referenced: std::collections::HashSet<crate::content::Digest> = std::collections::HashSet::new();
    let mut note = |what: &What| {
        if let What::File { sha256, .. } = what {
            referenced.insert(*sha256);
        }
    };
    for e in state.entries.values() {
        note(&e.what);
    }
    // Journals: a batch goes once the snapshot covers it and every live
    // node has applied it; the rest are kept, and what they refer to.
    let journals = format!("{}journal/", journal::PREFIX);
    let mut by_node: BTreeMap<String, Vec<(u64, String)>> = BTreeMap::new();
    for o in store.list(bucket, Some(&journals)).await? {
        let Some(rest) = o.key.strip_prefix(&journals) else {
            continue;
        };
        let Some((node, _)) = rest.split_once('/') else {
            continue;
        };
        if let Some(seq) = journal::batch_seq(&o.key, node) {
            by_node.entry(node.to_string()).or_default().push((seq, o.key.clone()));
        }
    }
    for (node, batches) in by_node {
        let applied_by_all = live
            .iter()
            .filter(|s| s.node != node)
            .map(|s| s.cursors.get(&node).copied().unwrap_or(0))
            .min()
            .unwrap_or(u64::MAX);
        let limit = covered.get(&node).copied().unwrap_or(0).min(applied_by_all);
        for (seq, key) in batches {
            if seq <= limit {
                store.delete(bucket, &key).await?;
            } else {
                // A kept batch that cannot be read: its blobs are unknown,
                // so none is collected this time.
                let Ok((_, body)) = store.get_bytes(bucket, &key).await else {
                    return Ok(());
                };
                let Ok(batch) = serde_json::from_slice::<journal::Batch>(&body) else {
                    return Ok(());
                };
                batch.ops.iter().for_each(|op| note(&op.what));
            }
        }
    }
    // Older snapshots.
    for o in snapshots.iter().filter(|o| o.key != snapshot_key) {
        store.delete(bucket, &o.key).await?;
    }
    // Conflicts: kept for `keep_conflicts`, their blobs with them.
    let conflicts = format!("{}conflicts/", journal::PREFIX);
    for o in store.list(bucket, Some(&conflicts)).await? {
        if older_than(&o, server_now, keep_conflicts.as_millis() as u64) {
            store.delete(bucket, &o.key).await?;
        } else {
            let Ok((_, body)) = store.get_bytes(bucket, &o.key).await else {
                return Ok(());
            };
            if let Ok(c) = serde_json::from_slice::<Conflict>(&body) {
                note(&c.lost);
            }
        }
    }
    // Blobs nothing refers to, once past the grace period: a node commits
    // a batch within BLOB_COMMIT_WITHIN of writing (or refreshing) its
    // blobs, so a blob older than the grace at `server_now` that no batch
    // read above refers to is referred to by none still to come.
    let blobs = format!("{}blobs/", journal::PREFIX);
    // A page at a time: a large webroot has hundreds of thousands.
    let mut token = None;
    loop {
        let (page, next) = store.list_page(bucket, Some(&blobs), token).await?;
        for o in page {
            let Some(sha) = o.key.strip_prefix(&blobs) else {
                continue;
            };
            // A name that is not a digest is not ours: left alone.
            let Ok(digest) = sha.parse::<crate::content::Digest>() else {
                continue;
            };
            if older_than(&o, server_now, BLOB_GRACE_MS) && !referenced.contains(&digest) {
                store.delete(bucket, &o.key).await?;
            }
        }
        match next {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    Ok(())
}

/// True when the object was last written more than `ms` before `now_ms`
/// (an object without a date is taken as new).
fn older_than(o: &adt_datastore::ObjectInfo, now_ms: u64, ms: u64) -> bool {
    o.last_modified
        .is_some_and(|t| now_ms.saturating_sub((t.max(0) as u64).saturating_mul(1000)) > ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hlc::Stamp;
    use crate::state::Entry;

    #[test]
    fn a_snapshot_written_from_the_state_reads_back_as_every_entry() {
        let stamp = |ms| Stamp {
            ms,
            n: 0,
            node: crate::hlc::interned("n1"),
        };
        let mut state = State {
            node: "n1".into(),
            seq: 4,
            ..State::default()
        };
        state.cursors.insert("n2".into(), 9);
        state.entries.insert(
            "a/b.php".into(),
            Entry {
                version: stamp(2),
                base: Some(stamp(1)),
                what: What::File {
                    sha256: crate::content::Digest::of(b"x"),
                    size: 1,
                    mode: 0o644,
                    uid: 33,
                    gid: 33,
                    mtime: 7,
                },
                seen: None,
                mark: true,
            },
        );
        state.entries.insert(
            "gone".into(),
            Entry {
                version: stamp(3),
                base: None,
                what: What::Delete,
                seen: None,
                mark: false,
            },
        );
        let covered = coverage(&state);
        state.deletions_before = 5;
        let out = SnapshotOut {
            node: &state.node,
            cursors: &covered,
            deletions_before: state.deletions_before,
            entries: Entries(&state.entries),
        };
        let back: Snapshot = serde_json::from_slice(&serde_json::to_vec(&out).unwrap()).unwrap();
        assert_eq!(back.node, "n1");
        assert_eq!(back.cursors, covered);
        assert_eq!(back.deletions_before, 5);
        let expected: Vec<Op> = state
            .entries
            .iter()
            .map(|(path, e)| Op {
                path: path.clone(),
                version: e.version.clone(),
                base: e.base.clone(),
                what: e.what.clone(),
            })
            .collect();
        assert_eq!(back.entries, expected);
    }
}
