//! One sync cycle: finish what a killed run committed, apply the other
//! nodes' new batches, then publish this webroot's settled changes.
//!
//! Applying comes first so that a file already written by an earlier,
//! killed cycle is recognised (same content as the incoming version) and
//! not published back as a change of our own.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::time::Duration;

use adt_backups::Exclusions;
use adt_datastore::{PutOptions, PutOutcome, Store};
use adt_localfs::{Dir, Kind, MountTable, Stat};
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use serde::Serialize;

use crate::content::{Digest, Hasher};
use crate::error::SyncError;
use crate::hlc::{Stamp, now_ms};
use crate::journal::{self, Batch, Conflict, NodeStatus, Op, What};
use crate::local::{self, Attributes, Unreachable};
use crate::pathname;
use crate::resolve::{Decision, Version, decide};
use crate::scan::{self, Scan};
use crate::state::{Entry, Seen, State, StateDir};

/// Files up to this size are read and sent whole, UPLOADS at a time;
/// larger ones go one at a time through a staging key.
const WHOLE: u64 = 1024 * 1024;
/// Small files read and uploaded (or downloaded) at once.
const UPLOADS: usize = 16;
/// A node's status is rewritten at least this often (its liveness).
const STATUS_EVERY: Duration = Duration::from_secs(30);
/// A report names at most this many paths of each kind (and counts all).
const LISTED: usize = 1000;
/// A change refused here is tried again each cycle for this long.
const RETRY_FOR: Duration = Duration::from_secs(24 * 3600);
/// At most this many refused changes wait to be tried again.
const MAX_RETRY: usize = 1000;
/// A batch bigger than this is refused when read (ours hold 1000 changes
/// by default: a few MiB even with the longest paths).
const MAX_BATCH_BYTES: u64 = 16 * 1024 * 1024;

/// How a cycle behaves.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SyncOptions {
    /// A change is published once the file has not changed for this long
    /// (zero: at once).
    pub settle: Duration,
    /// A cycle that would publish more deletions than this pauses.
    pub max_delete_count: u64,
    /// ... or more than this percentage of the files and directories known.
    pub max_delete_percent: u8,
    /// Publish the deletions a paused node was holding back, and resume.
    pub accept_deletes: bool,
    /// Changes per journal batch.
    pub batch_ops: usize,
    /// At most about this many of the other nodes' changes are read into
    /// memory per cycle (whole batches, one node's at a time in turn); the
    /// rest wait for the next cycle (`CycleReport::more`).
    pub apply_window: usize,
    /// At most this many changed paths are held in memory per walk of the
    /// webroot when publishing; the webroot is walked again for the rest,
    /// in the same cycle.
    pub publish_window: usize,
    /// Look at the webroot and publish its changes (false: only apply the
    /// other nodes' changes, a cheap cycle `watch` runs between scans).
    pub publish: bool,
    /// Write a snapshot (and collect what it makes unneeded) once the
    /// journals grew by this many batches since the newest one.
    pub snapshot_batches: u64,
    /// A node silent for this long no longer holds back collection; it
    /// restores the newest snapshot when it comes back.
    pub keep_dead_nodes: Duration,
    /// How long conflicts (and the losing content) are kept.
    pub keep_conflicts: Duration,
    /// A deletion is forgotten (from the state, and so from later
    /// snapshots) this long after it was made; a node away longer keeps
    /// the files deleted meanwhile, and is told so.
    pub forget_deletions_after: Duration,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            settle: Duration::from_secs(3),
            max_delete_count: 1000,
            max_delete_percent: 50,
            accept_deletes: false,
            batch_ops: 1000,
            apply_window: 20_000,
            publish_window: 20_000,
            publish: true,
            snapshot_batches: 500,
            keep_dead_nodes: Duration::from_secs(7 * 24 * 3600),
            keep_conflicts: Duration::from_secs(30 * 24 * 3600),
            forget_deletions_after: Duration::from_secs(30 * 24 * 3600),
        }
    }
}

/// Deletions of this many paths or fewer never pause a node.
const DELETE_FLOOR: u64 = 10;

/// What one cycle did.
#[derive(Clone, Debug, Default, Serialize)]
#[non_exhaustive]
pub struct CycleReport {
    /// This node.
    pub node: String,
    /// Paths published (changed, added, deleted here): the first 1000.
    pub published: Vec<String>,
    /// How many paths were published.
    pub published_count: u64,
    /// Journal batches written.
    pub batches: u64,
    /// Paths changed here from other nodes' batches: the first 1000.
    pub applied: Vec<String>,
    /// How many paths were changed here from other nodes' batches.
    pub applied_count: u64,
    /// Concurrent versions that lost (kept in the datastore).
    pub conflicts: Vec<Conflict>,
    /// Files changed here too recently to publish yet.
    pub unsettled: u64,
    /// Other nodes' changes that could not be applied, with why.
    pub refused: Vec<String>,
    /// Refused changes that will be tried again next cycle (for a day).
    pub retrying: u64,
    /// Links, FIFOs and devices in the webroot: never synced.
    pub skipped: u64,
    /// Why publishing is paused, when it is.
    pub paused: Option<String>,
    /// True when this cycle restored the newest snapshot (the node was new,
    /// or away while the batches it missed were collected).
    pub restored: bool,
    /// True when this cycle wrote a snapshot and collected old batches.
    pub snapshot: bool,
    /// True when other nodes' batches are left for the next cycle (this
    /// one applied as many as it holds in memory at once).
    pub more: bool,
}

/// One node: the webroot it keeps in sync and where its journal lives.
pub struct Node<'a> {
    /// The datastore holding the sync bucket.
    pub store: &'a Store,
    /// The sync bucket.
    pub bucket: &'a str,
    /// The webroot (canonical), opened.
    pub root: &'a Dir,
    /// What is never synced (the backup exclusions, mounts).
    pub exclusions: &'a Exclusions,
    /// The mount table, read once.
    pub table: &'a MountTable,
    /// The node's private state directory.
    pub state_dir: &'a StateDir,
    /// This node's id.
    pub id: &'a str,
}

/// Runs one cycle.
pub async fn run_cycle(node: &Node<'_>, options: &SyncOptions) -> Result<CycleReport, SyncError> {
    tracing::debug!("sync cycle starts");
    let _lock = node.state_dir.lock()?;
    node.store.ensure_bucket(node.bucket).await?;
    let mut state = node.state_dir.load(node.id)?;
    let mut report = CycleReport {
        node: node.id.to_string(),
        ..CycleReport::default()
    };
    recover(node, &mut state).await?;
    let new_node = state.seq == 0 && state.cursors.is_empty();
    if new_node {
        // So that the others see this node before it publishes anything.
        write_status(node, &state).await?;
    }
    let caught_up = apply(node, &mut state, options, &mut report).await?;
    state.repack_if_grown();
    node.state_dir.save(&mut state)?;
    if options.publish {
        publish(node, &mut state, options, &mut report).await?;
        // Old deletions are forgotten, once every change that could be
        // older than them was applied here (a node still replaying old
        // batches must not forget a deletion before the concurrent changes
        // it beats).
        if caught_up {
            state.forget_old_deletions(now_ms().saturating_sub(options.forget_deletions_after.as_millis() as u64));
        }
        state.repack_if_grown();
        node.state_dir.save(&mut state)?;
    }
    // The status says where this node is, and that it is alive: written
    // when it moved, and otherwise at most every STATUS_EVERY.
    if report.applied_count > 0 || report.batches > 0 || report.restored || node.state_dir.status_due(STATUS_EVERY) {
        write_status(node, &state).await?;
    }
    report.paused = state.paused.clone();
    // A node with changes it refused holds an older version than its
    // cursors claim: it writes no snapshot until they are applied (or
    // given up), the others do.
    if state.paused.is_none() && state.retry.is_empty() {
        report.snapshot = crate::snapshot::maybe_snapshot(
            node.store,
            node.bucket,
            &state,
            options.snapshot_batches,
            options.keep_dead_nodes,
            options.keep_conflicts,
        )
        .await?;
    }
    node.state_dir.keep(state);
    Ok(report)
}

/// Takes in our own batches committed by a run killed before it saved its
/// state (their versions are what we hold), and never reuses a sequence
/// number already published, even when the state directory was lost and
/// the batches collected since (our status object remembers).
async fn recover(node: &Node<'_>, state: &mut State) -> Result<(), SyncError> {
    let known = state.seq;
    for seq in journal_seqs(node, node.id)
        .await?
        .into_iter()
        .filter(|seq| *seq > known)
    {
        let key = journal::batch_key(node.id, seq);
        let Some(batch) = read_batch(node, &key).await? else {
            continue;
        };
        for op in batch.ops {
            if !crate::hlc::too_far_ahead(&op.version, now_ms()) {
                state.clock.observe(&op.version);
            }
            state.entries.insert(op.path.clone(), held(op, None));
        }
        state.seq = seq;
        state.dirty = true;
    }
    if let Ok((_, body)) = node.store.get_bytes(node.bucket, &journal::node_key(node.id)).await
        && let Ok(status) = serde_json::from_slice::<NodeStatus>(&body)
        && status.seq > state.seq
    {
        state.seq = status.seq;
        state.dirty = true;
    }
    Ok(())
}

/// The sequence numbers of `id`'s batches in the bucket, in order.
async fn journal_seqs(node: &Node<'_>, id: &str) -> Result<Vec<u64>, SyncError> {
    let mut seqs: Vec<u64> = node
        .store
        .list(node.bucket, Some(&journal::journal_prefix(id)))
        .await?
        .into_iter()
        .filter_map(|o| journal::batch_seq(&o.key, id))
        .collect();
    seqs.sort_unstable();
    Ok(seqs)
}

async fn read_batch(node: &Node<'_>, key: &str) -> Result<Option<Batch>, SyncError> {
    let malformed = |detail: String| SyncError::Malformed {
        bucket: node.bucket.to_string(),
        key: key.to_string(),
        detail,
    };
    let Some(meta) = node.store.head(node.bucket, key).await? else {
        return Ok(None);
    };
    if meta.size > MAX_BATCH_BYTES {
        return Err(malformed(format!(
            "{} bytes; a batch is at most {MAX_BATCH_BYTES}",
            meta.size
        )));
    }
    let (_, body) = node.store.get_bytes(node.bucket, key).await?;
    let batch: Batch = serde_json::from_slice(&body).map_err(|e| malformed(e.to_string()))?;
    Ok(Some(batch))
}

async fn write_status(node: &Node<'_>, state: &State) -> Result<(), SyncError> {
    let status = NodeStatus {
        node: node.id.to_string(),
        seq: state.seq,
        cursors: state.cursors.clone(),
        paused: state.paused.clone(),
        updated_ms: now_ms(),
    };
    let body = serde_json::to_vec(&status).map_err(|e| SyncError::State {
        path: "status".into(),
        detail: e.to_string(),
    })?;
    node.store
        .put(
            node.bucket,
            &journal::node_key(node.id),
            Bytes::from(body),
            &PutOptions::default(),
        )
        .await?;
    Ok(())
}

/// The other nodes, from their status objects.
pub(crate) async fn peers(store: &Store, bucket: &str) -> Result<Vec<String>, SyncError> {
    let prefix = journal::nodes_prefix();
    Ok(store
        .list(bucket, Some(&prefix))
        .await?
        .into_iter()
        .filter_map(|o| o.key.strip_prefix(&prefix).map(str::to_string))
        .filter(|id| journal::valid_node_id(id))
        .collect())
}

/// Applies every other node's batches after our cursor into them, all
/// together in stamp order. True when nothing of the others' is left to
/// apply (no batch waiting, missing, or refused to try again).
async fn apply(
    node: &Node<'_>,
    state: &mut State,
    options: &SyncOptions,
    report: &mut CycleReport,
) -> Result<bool, SyncError> {
    let mut incoming: Vec<Op> = Vec::new();
    let mut advanced: BTreeMap<String, u64> = BTreeMap::new();
    let mut journals: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for peer in peers(node.store, node.bucket).await? {
        if peer == node.id {
            continue;
        }
        let seqs = journal_seqs(node, &peer).await?;
        journals.insert(peer, seqs);
    }
    // Batches this node still needs that were collected: restore the newest
    // snapshot first (a new node, or one away for long).
    let gap = journals.iter().any(|(peer, seqs)| {
        let cursor = state.cursors.get(peer).copied().unwrap_or(0);
        seqs.first().is_none_or(|first| *first > cursor + 1)
    });
    if gap
        && let Some((key, total)) = crate::snapshot::newest(node.store, node.bucket).await?
        && total > crate::snapshot::coverage(state).values().sum::<u64>()
    {
        match restore(node, state, &key, report).await {
            Ok(()) => {}
            // A snapshot that cannot be read: reported; the nodes whose
            // batches it was to stand for wait (below), the rest goes on.
            Err(SyncError::Malformed { detail, .. }) => {
                report.refused.push(format!("snapshot {key}: {detail}"));
            }
            Err(e) => return Err(e),
        }
    }
    // The batches after each cursor, the oldest of every node in turn,
    // until the window is full: memory stays bounded however far behind
    // this node is (the next cycle takes up the rest, and says so).
    // Only a node's next batches in sequence: one missing (collected with
    // no snapshot yet covering it, or removed by hand) stops that node
    // here, never skipped, until a snapshot covers it.
    let mut pending: Vec<(String, std::collections::VecDeque<u64>)> = Vec::new();
    let mut stopped = false;
    for (peer, seqs) in journals {
        let cursor = state.cursors.get(&peer).copied().unwrap_or(0);
        let mut queue = std::collections::VecDeque::new();
        for (next, seq) in (cursor + 1..).zip(seqs.into_iter().filter(|s| *s > cursor)) {
            if seq != next {
                report.refused.push(format!(
                    "node {peer}: batch {next} is missing from the bucket; its later batches wait until it, or a snapshot covering it, appears"
                ));
                stopped = true;
                break;
            }
            queue.push_back(seq);
        }
        pending.push((peer, queue));
    }
    while incoming.len() < options.apply_window.max(1) && pending.iter().any(|(_, q)| !q.is_empty()) {
        for (peer, queue) in pending.iter_mut() {
            let Some(seq) = queue.pop_front() else { continue };
            let key = journal::batch_key(peer, seq);
            // A batch that cannot be read as one is reported and passed:
            // it must not stop every later cycle of this node.
            let batch = match read_batch(node, &key).await {
                Ok(Some(batch)) if batch.node == *peer && batch.seq == seq => batch,
                Ok(Some(_)) => {
                    report
                        .refused
                        .push(format!("batch {key} names another node or sequence; passed"));
                    advanced.insert(peer.clone(), seq);
                    continue;
                }
                Ok(None) => {
                    // Collected since it was listed: the next cycle restores
                    // a snapshot first. Nothing after it is applied now.
                    queue.clear();
                    stopped = true;
                    continue;
                }
                Err(SyncError::Malformed { detail, .. }) => {
                    report.refused.push(format!("batch {key}: {detail}; passed"));
                    advanced.insert(peer.clone(), seq);
                    continue;
                }
                Err(e) => return Err(e),
            };
            incoming.extend(batch.ops.into_iter().filter(|op| *op.version.node == **peer));
            advanced.insert(peer.clone(), seq);
        }
    }
    report.more = pending.iter().any(|(_, q)| !q.is_empty());
    // Changes refused by earlier cycles, tried again with the new ones
    // (the rule decides afresh: one superseded since is ignored).
    let mut first_refused: BTreeMap<(String, Stamp), u64> = BTreeMap::new();
    for r in std::mem::take(&mut state.retry) {
        state.dirty = true;
        first_refused.insert((r.op.path.clone(), r.op.version.clone()), r.since_ms);
        incoming.push(r.op);
    }
    incoming.sort_by(|a, b| a.version.cmp(&b.version));
    apply_all(node, state, incoming, &first_refused, report).await?;
    let now = now_ms();
    for r in state.retry.iter_mut() {
        if let Some(since) = first_refused.get(&(r.op.path.clone(), r.op.version.clone())) {
            r.since_ms = *since;
        }
    }
    let before = state.retry.len();
    state
        .retry
        .retain(|r| now.saturating_sub(r.since_ms) < RETRY_FOR.as_millis() as u64);
    if state.retry.len() < before {
        report.refused.push(format!(
            "{} change(s) refused for a day are given up",
            before - state.retry.len()
        ));
    }
    report.retrying = state.retry.len() as u64;
    for (peer, seq) in advanced {
        state.cursors.insert(peer, seq);
        state.dirty = true;
    }
    Ok(!report.more && !stopped && state.retry.is_empty())
}

/// Applies `ops` in order, one at a time; the content of small files the
/// node does not hold yet is fetched ahead, UPLOADS at a time. An op
/// refused here is kept to be tried again next cycle; one in `retried`
/// (refused before) is then not reported again.
async fn apply_all(
    node: &Node<'_>,
    state: &mut State,
    ops: Vec<Op>,
    retried: &BTreeMap<(String, Stamp), u64>,
    report: &mut CycleReport,
) -> Result<(), SyncError> {
    let wanted: Vec<Option<(Digest, u64)>> = ops
        .iter()
        .map(|op| match &op.what {
            What::File { sha256, size, .. }
                if *size <= WHOLE && state.entries.get(&op.path).is_none_or(|e| e.version != op.version) =>
            {
                Some((*sha256, *size))
            }
            _ => None,
        })
        .collect();
    let mut ahead = futures::stream::iter(wanted)
        .map(|want| async move {
            match want {
                Some((sha256, size)) => fetch_small(node, &sha256, size).await,
                None => Ok(None),
            }
        })
        .buffered(UPLOADS);
    let now = now_ms();
    for op in ops {
        let body = ahead.next().await.transpose()?.flatten();
        if crate::hlc::too_far_ahead(&op.version, now) {
            // Tried again (this clock may be the one that is wrong).
            let refused = report.refused.len();
            report.refused.push(format!(
                "`{}`: stamped {} ahead of this clock by over a day",
                op.path, op.version
            ));
            keep_for_retry(state, op, now, retried, refused, report);
            continue;
        }
        state.clock.observe(&op.version);
        let path = match pathname::decode(&op.path) {
            Ok(p) if !node.exclusions.excludes(&p) => p,
            Ok(_) => continue, // excluded here: never written
            Err(why) => {
                report.refused.push(format!("`{}` {why}", op.path));
                continue;
            }
        };
        let refused = report.refused.len();
        apply_op(node, state, &op, &path, report, body).await?;
        if report.refused.len() > refused {
            keep_for_retry(state, op, now, retried, refused, report);
        }
    }
    Ok(())
}

/// Keeps a change just refused (its reason reported from `refused` on) to
/// be tried again next cycle; one refused before is not reported again.
fn keep_for_retry(
    state: &mut State,
    op: Op,
    now: u64,
    retried: &BTreeMap<(String, Stamp), u64>,
    refused: usize,
    report: &mut CycleReport,
) {
    if state
        .retry
        .iter()
        .any(|r| r.op.path == op.path && r.op.version == op.version)
    {
        return;
    }
    if state.retry.len() >= MAX_RETRY {
        report.refused.push(format!(
            "`{}`: {MAX_RETRY} changes already wait to be tried again; not kept",
            op.path
        ));
        return;
    }
    if retried.contains_key(&(op.path.clone(), op.version.clone())) {
        // Reported when first refused: tried again quietly.
        report.refused.truncate(refused);
    }
    state.retry.push(crate::state::Retry { op, since_ms: now });
    state.dirty = true;
}

/// A small blob's bytes, when it is there and is what its name says.
/// Reads no more than `size` bytes and one more, whatever the object's
/// length (memory stays bounded on a hostile bucket).
async fn fetch_small(node: &Node<'_>, sha256: &Digest, size: u64) -> Result<Option<Bytes>, SyncError> {
    let mut body = match node.store.get(node.bucket, &journal::blob_key(sha256)).await {
        Ok((_, body)) => body,
        Err(adt_datastore::DatastoreError::NoSuchKey { .. }) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let mut bytes = Vec::with_capacity(size as usize);
    while let Some(chunk) = body.next_chunk().await {
        let Ok(chunk) = chunk else { return Ok(None) };
        if (bytes.len() + chunk.len()) as u64 > size {
            return Ok(None);
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok((bytes.len() as u64 == size && Digest::of(&bytes) == *sha256).then(|| Bytes::from(bytes)))
}

/// Takes in the snapshot at `key`: every version in it, through the same
/// rule as a batch, a chunk at a time as it is read (files and
/// directories in the order written, parents first; then deletions,
/// children first), and its cursors. A path held here that the snapshot
/// does not have is kept (it cannot be told from one left out on the node
/// that wrote it), and reported when older than the deletions it forgot.
async fn restore(node: &Node<'_>, state: &mut State, key: &str, report: &mut CycleReport) -> Result<(), SyncError> {
    /// Ops applied together (their small files fetched ahead).
    const CHUNK: usize = 1000;
    let (mut incoming, reading) = crate::snapshot::stream(node.store, node.bucket, key).await?;
    for e in state.entries.values_mut() {
        e.mark = false;
    }
    let mut deletes: Vec<Op> = Vec::new();
    let mut chunk: Vec<Op> = Vec::with_capacity(CHUNK);
    let mut in_snapshot: Vec<String> = Vec::with_capacity(CHUNK);
    loop {
        let next = incoming.recv().await;
        let done = next.is_none();
        if let Some(op) = next {
            in_snapshot.push(op.path.clone());
            if op.what.is_delete() {
                deletes.push(op);
            } else {
                chunk.push(op);
            }
        }
        if chunk.len() == CHUNK || in_snapshot.len() >= CHUNK || done {
            apply_all(node, state, std::mem::take(&mut chunk), &BTreeMap::new(), report).await?;
            for path in in_snapshot.drain(..) {
                if let Some(e) = state.entries.get_mut(&path) {
                    e.mark = true;
                }
            }
            // Entries go in one at a time, in order: packed as they grow.
            state.repack_if_grown();
        }
        if done {
            break;
        }
    }
    let header = reading.await.map_err(|e| SyncError::Malformed {
        bucket: node.bucket.to_string(),
        key: key.to_string(),
        detail: format!("reading it stopped: {e}"),
    })??;
    // Held, not in the snapshot, at a version older than the deletions its
    // writer forgot: deleted elsewhere long ago, or left out on the writer
    // (a mount, an exclusion, a refusal there). Never deleted unverified:
    // kept, and said.
    let unconfirmed = state
        .entries
        .values()
        .filter(|e| !e.mark && !e.what.is_delete() && e.version.ms < header.deletions_before)
        .count();
    if unconfirmed > 0 {
        report.refused.push(format!(
            "{unconfirmed} path(s) held here are not in snapshot {key} (deleted elsewhere before its forgotten deletions, or left out on the node that wrote it): kept here, not deleted"
        ));
    }
    deletes.sort_by(|a, b| pathname::walk_order(b.path.as_bytes(), a.path.as_bytes()));
    apply_all(node, state, deletes, &BTreeMap::new(), report).await?;
    for (peer, seq) in header.cursors {
        if peer == node.id {
            state.seq = state.seq.max(seq);
        } else {
            let cursor = state.cursors.entry(peer).or_insert(0);
            *cursor = (*cursor).max(seq);
        }
    }
    report.restored = true;
    state.dirty = true;
    Ok(())
}

/// What is on disk at `path` now, against what the state says.
enum Disk {
    /// As the state last saw it (or both absent).
    AsKnown,
    /// Changed here and not yet published: this version.
    Pending(What),
    /// Changed here, to exactly what the incoming op makes it.
    Same,
}

async fn apply_op(
    node: &Node<'_>,
    state: &mut State,
    op: &Op,
    path: &[u8],
    report: &mut CycleReport,
    body: Option<Bytes>,
) -> Result<(), SyncError> {
    let held = state.entries.get(&op.path).cloned();
    let place = match local::place(node.root, path, false) {
        Ok(p) => Some(p),
        Err(Unreachable::Missing) => None,
        Err(Unreachable::Blocked(why)) => {
            report.refused.push(format!("{}: {why}", pathname::encode(path)));
            return Ok(());
        }
        Err(Unreachable::Failed(e)) => {
            report.refused.push(format!("{}: {e}", op.path));
            return Ok(());
        }
    };
    let stat = match &place {
        Some(p) => match p.dir.stat_at(&p.name) {
            Ok(s) => s,
            Err(e) => {
                report.refused.push(format!("{}: {e}", op.path));
                return Ok(());
            }
        },
        None => None,
    };
    // A file that cannot be read now (a lease, an I/O error) refuses this
    // change; the cycle goes on.
    let disk = match compare_disk(&place, stat.as_ref(), held.as_ref(), &op.what) {
        Ok(d) => d,
        Err(SyncError::Local(e)) => {
            report.refused.push(format!("{}: {e}", op.path));
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    let held_version = match &disk {
        Disk::Same => {
            // Already what the op makes it: a killed cycle wrote it, or a
            // local change made the same. Held as the op's version only if
            // the rule would apply it over what we held; otherwise the
            // local change stays ours, published as a change of its own.
            let applies = matches!(
                decide(
                    held.as_ref().map(Entry::as_version).as_ref(),
                    &Version {
                        stamp: op.version.clone(),
                        base: op.base.clone(),
                        delete: op.what.is_delete(),
                    }
                ),
                Decision::Apply | Decision::ApplyOverConcurrent
            );
            if applies {
                state.entries.insert(op.path.clone(), entry_for(op, stat.as_ref()));
                state.dirty = true;
            }
            return Ok(());
        }
        Disk::AsKnown => held.as_ref().map(Entry::as_version),
        Disk::Pending(what) => Some(Version {
            // Published later than anything seen so far.
            stamp: Stamp {
                ms: u64::MAX,
                n: 0,
                node: crate::hlc::interned(node.id),
            },
            base: held.as_ref().map(|h| h.version.clone()),
            delete: what.is_delete(),
        }),
    };
    let incoming = Version {
        stamp: op.version.clone(),
        base: op.base.clone(),
        delete: op.what.is_delete(),
    };
    let decision = decide(held_version.as_ref(), &incoming);
    let held_what = match (&disk, &held) {
        (Disk::Pending(w), _) => Some(w.clone()),
        (_, Some(h)) => Some(h.what.clone()),
        _ => None,
    };
    match decision {
        Decision::Ignore => return Ok(()),
        Decision::KeepOverConcurrent => {
            if let (Some(winner), Some(held_what)) = (&held_version, &held_what) {
                // The losing version's blob, made young: its batch may be
                // collected before the conflict record is seen.
                if let What::File { sha256, .. } = &op.what
                    && !same_content(&op.what, held_what)
                    && node
                        .store
                        .head(node.bucket, &journal::blob_key(sha256))
                        .await?
                        .is_some()
                {
                    refresh_blob(node, sha256).await?;
                }
                record_conflict(
                    node,
                    report,
                    &op.path,
                    winner.stamp.clone(),
                    op.version.clone(),
                    &op.what,
                    held_what,
                )
                .await?;
            }
            if matches!(disk, Disk::Pending(_)) {
                // The local change is published later, made from this
                // version: it wins everywhere, even if it is undone here
                // before it settles (the file then differs from this version
                // and is published as it is).
                state.entries.insert(op.path.clone(), entry_for(op, None));
                state.dirty = true;
            }
            return Ok(());
        }
        Decision::Apply | Decision::ApplyOverConcurrent => {}
    }
    if decision == Decision::ApplyOverConcurrent
        && matches!(disk, Disk::AsKnown)
        && matches!(held_what, Some(What::File { .. }))
        && let (Some(place), Some(stat)) = (&place, &stat)
    {
        // The losing version is the file here, about to be replaced: its
        // content goes to the bucket first (again, if it is there: young,
        // so collection keeps it until the conflict record is seen).
        upload(node, place, stat).await?;
    }
    let written = match write(node, place, path, &op.what, stat.as_ref(), body).await {
        Ok(Ok(written)) => written,
        Ok(Err(why)) => {
            report.refused.push(format!("{}: {why}", op.path));
            return Ok(());
        }
        Err(SyncError::Local(e)) => {
            report.refused.push(format!("{}: {e}", op.path));
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    if decision == Decision::ApplyOverConcurrent
        && let (Some(loser), Some(held_what)) = (&held_version, &held_what)
        && !matches!(disk, Disk::Pending(_))
    {
        record_conflict(
            node,
            report,
            &op.path,
            op.version.clone(),
            loser.stamp.clone(),
            held_what,
            &op.what,
        )
        .await?;
    }
    state.entries.insert(op.path.clone(), entry_for(op, written.as_ref()));
    state.dirty = true;
    report.applied_count += 1;
    if report.applied.len() < LISTED {
        report.applied.push(op.path.clone());
    }
    Ok(())
}

fn entry_for(op: &Op, stat: Option<&Stat>) -> Entry {
    held(op.clone(), stat.filter(|s| s.kind == Kind::File).map(Seen::of))
}

/// The state's entry for a version now held; `seen` only for a file.
fn held(op: Op, seen: Option<Seen>) -> Entry {
    let is_file = matches!(op.what, What::File { .. });
    Entry {
        version: op.version,
        base: op.base,
        what: op.what,
        seen: seen.filter(|_| is_file),
        mark: false,
    }
}

/// Compares the disk with the state's entry (and the incoming op).
fn compare_disk(
    place: &Option<local::Place>,
    stat: Option<&Stat>,
    held: Option<&Entry>,
    incoming: &What,
) -> Result<Disk, SyncError> {
    let held_what = held.map(|h| &h.what);
    match (stat, held_what) {
        (None, None | Some(What::Delete)) => Ok(if incoming.is_delete() {
            Disk::Same
        } else {
            Disk::AsKnown
        }),
        (None, Some(_)) => Ok(if incoming.is_delete() {
            Disk::Same
        } else {
            Disk::Pending(What::Delete)
        }),
        (Some(s), _) if s.kind == Kind::Dir => {
            let now = dir_what(s);
            Ok(if held_what.is_some_and(|h| equivalent(h, &now)) {
                Disk::AsKnown
            } else if equivalent(&now, incoming) {
                Disk::Same
            } else {
                Disk::Pending(now)
            })
        }
        (Some(s), _) if s.kind == Kind::File => {
            if let Some(h) = held
                && matches!(h.what, What::File { .. })
                && h.seen == Some(Seen::of(s))
            {
                return Ok(Disk::AsKnown);
            }
            let Some(place) = place else { return Ok(Disk::AsKnown) };
            let now = file_what(place, s)?;
            Ok(if held_what.is_some_and(|h| equivalent(h, &now)) {
                Disk::AsKnown
            } else if equivalent(&now, incoming) {
                Disk::Same
            } else {
                Disk::Pending(now)
            })
        }
        // A link or special file where the path should be: never replaced.
        (Some(s), _) => Ok(Disk::Pending(dir_what(s))),
    }
}

/// What a local directory (or anything not a file) is, from its stat.
fn dir_what(s: &Stat) -> What {
    What::Dir {
        mode: s.permissions(),
        uid: s.uid,
        gid: s.gid,
    }
}

/// What a local file is now (its content hashed).
fn file_what(place: &local::Place, stat: &Stat) -> Result<What, SyncError> {
    let mut opened = place.dir.open_file(&place.name, Some(stat))?;
    let mut hasher = Hasher::default();
    let mut buf = vec![0u8; 64 * 1024];
    let mut file = (&mut opened.file).take(stat.size);
    loop {
        let n = file.read(&mut buf).map_err(|e| adt_localfs::LocalError::Io {
            path: place.dir.child_path(&place.name),
            op: "read",
            source: e,
        })?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(What::File {
        sha256: hasher.finish(),
        size: stat.size,
        mode: stat.permissions(),
        uid: stat.uid,
        gid: stat.gid,
        mtime: stat.mtime,
    })
}

#[allow(clippy::too_many_arguments)]
async fn record_conflict(
    node: &Node<'_>,
    report: &mut CycleReport,
    path: &str,
    winner: Stamp,
    loser: Stamp,
    lost: &What,
    won: &What,
) -> Result<(), SyncError> {
    // The same content on both sides lost nothing.
    if same_content(lost, won) || lost.is_delete() {
        return Ok(());
    }
    let conflict = Conflict {
        path: path.to_string(),
        winner,
        loser: loser.clone(),
        lost: lost.clone(),
    };
    let body = serde_json::to_vec(&conflict).unwrap_or_default();
    node.store
        .put_if_absent(
            node.bucket,
            &journal::conflict_key(&loser, path),
            Bytes::from(body),
            &PutOptions::default(),
        )
        .await?;
    report.conflicts.push(conflict);
    Ok(())
}

/// The same file or directory, whatever its mtime (a touch changes
/// nothing worth publishing).
fn equivalent(a: &What, b: &What) -> bool {
    match (a, b) {
        (
            What::File {
                sha256,
                size,
                mode,
                uid,
                gid,
                ..
            },
            What::File {
                sha256: s2,
                size: z2,
                mode: m2,
                uid: u2,
                gid: g2,
                ..
            },
        ) => (sha256, size, mode, uid, gid) == (s2, z2, m2, u2, g2),
        _ => a == b,
    }
}

fn same_content(a: &What, b: &What) -> bool {
    match (a, b) {
        (What::File { sha256: x, .. }, What::File { sha256: y, .. }) => x == y,
        (What::Dir { .. }, What::Dir { .. }) => true,
        _ => false,
    }
}

/// Makes `path` what `what` says, in the directory `found` (already
/// opened, and `before` stat'ed there, by the caller: never looked up
/// again) or, when its parents are missing, in ones made now.
/// Ok(Err(why)) when it cannot be done here (the cycle goes on); a file
/// written comes back with its attributes.
async fn write(
    node: &Node<'_>,
    found: Option<local::Place>,
    path: &[u8],
    what: &What,
    before: Option<&Stat>,
    fetched: Option<Bytes>,
) -> Result<Result<Option<Stat>, String>, SyncError> {
    let place = match found {
        Some(place) => place,
        None if what.is_delete() => return Ok(Ok(None)), // a delete of what is not here
        None => match local::place(node.root, path, true) {
            Ok(p) => p,
            Err(Unreachable::Missing) => return Ok(Ok(None)),
            Err(Unreachable::Blocked(why)) => return Ok(Err(why)),
            Err(Unreachable::Failed(e)) => return Err(e.into()),
        },
    };
    match what {
        What::Delete => {
            match before {
                Some(s) if s.kind == Kind::Dir => {
                    // Only an empty directory goes; its files' deletes come first.
                    let _ = place.dir.remove_empty_dir(&place.name);
                }
                Some(s) => match place.dir.remove_file_if(&place.name, s) {
                    Ok(()) => {}
                    Err(e) if e.is_missing() => {}
                    Err(e) => return Ok(Err(e.to_string())),
                },
                None => {}
            }
            Ok(Ok(None))
        }
        What::Dir { mode, uid, gid } => {
            let dir = match before {
                Some(s) if s.kind == Kind::Dir => place.dir.open_dir_expecting(&place.name, s)?,
                // A file replaced by a directory (the file is the version held).
                Some(s) if s.kind == Kind::File => {
                    if let Err(e) = place.dir.remove_file_if(&place.name, s) {
                        return Ok(Err(e.to_string()));
                    }
                    place.dir.create_dir(&place.name, 0o700)?
                }
                Some(s) => return Ok(Err(format!("a {} is there, not a directory", s.kind.describe()))),
                None => place.dir.create_dir(&place.name, 0o700)?,
            };
            // No set-user-id bit from the bucket.
            dir.set_owner_mode(*uid, *gid, *mode & 0o3777)?;
            Ok(Ok(None))
        }
        What::File {
            sha256,
            size,
            mode,
            uid,
            gid,
            mtime,
        } => {
            // A directory replaced by a file: its contents' deletions came
            // first, so it is empty; one that is not stays, and so does the
            // change's refusal.
            if before.is_some_and(|s| s.kind == Kind::Dir) && place.dir.remove_empty_dir(&place.name).is_err() {
                return Ok(Err("a directory that is not empty is there, not a file".into()));
            }
            let mut file = local::begin(&place)?;
            let key = journal::blob_key(sha256);
            let write_err = |e: std::io::Error| adt_localfs::LocalError::Io {
                path: place.dir.child_path(&place.name),
                op: "write",
                source: e,
            };
            if let Some(bytes) = fetched {
                // Fetched ahead and already checked against its name.
                file.file().write_all(&bytes).map_err(write_err)?;
            } else {
                let mut body = match node.store.get(node.bucket, &key).await {
                    Ok((_, body)) => body,
                    Err(adt_datastore::DatastoreError::NoSuchKey { .. }) => {
                        return Ok(Err(format!("its content ({key}) is not in the bucket")));
                    }
                    Err(e) => return Err(e.into()),
                };
                let mut hasher = Hasher::default();
                let mut got = 0u64;
                while let Some(chunk) = body.next_chunk().await {
                    let chunk = chunk.map_err(|e| SyncError::Malformed {
                        bucket: node.bucket.to_string(),
                        key: key.clone(),
                        detail: format!("reading it: {e}"),
                    })?;
                    got += chunk.len() as u64;
                    if got > *size {
                        break;
                    }
                    hasher.update(&chunk);
                    file.file().write_all(&chunk).map_err(write_err)?;
                }
                if got != *size || hasher.finish() != *sha256 {
                    return Ok(Err(format!("its content ({key}) does not match its name and size")));
                }
            }
            // No set-user-id or set-group-id file from the bucket.
            let attrs = Attributes {
                mode: *mode & 0o777,
                uid: *uid,
                gid: *gid,
                mtime: *mtime,
            };
            Ok(Ok(Some(local::finish(&place, file, &attrs)?)))
        }
    }
}

/// Publishes the webroot's settled changes since the state last saw it:
/// at most `publish_window` changes are held per walk, and the webroot is
/// walked again for the rest (a first publish of a large webroot holds a
/// window of changes in memory, never the whole webroot's).
async fn publish(
    node: &Node<'_>,
    state: &mut State,
    options: &SyncOptions,
    report: &mut CycleReport,
) -> Result<(), SyncError> {
    loop {
        let published = report.published_count;
        let left = publish_pass(node, state, options, report).await?;
        // Each window's new entries went in one at a time: packed before
        // the next, so a first publish never holds a half-empty map.
        state.repack_if_grown();
        // Another walk only while walks make progress (files that cannot
        // be read now are left for the next cycle).
        if !left || state.paused.is_some() || report.published_count == published {
            return Ok(());
        }
    }
}

/// One walk of [`publish`]; true when changes were left for another.
async fn publish_pass(
    node: &Node<'_>,
    state: &mut State,
    options: &SyncOptions,
    report: &mut CycleReport,
) -> Result<bool, SyncError> {
    let settled_before = now_ms().saturating_sub(options.settle.as_millis() as u64);
    // One walk: every path found is marked in the state; only what changed
    // (and, for files, has settled) is kept for reading.
    for e in state.entries.values_mut() {
        e.mark = false;
    }
    let mut changed: Vec<scan::Found> = Vec::new();
    let mut unsettled = 0u64;
    let mut left = false;
    let scan = scan::scan(node.root, node.exclusions, node.table, &mut |item| {
        let entry = state.entries.get_mut(&pathname::encode(&item.path));
        let s = &item.stat;
        let unchanged = match &entry {
            Some(e) if s.kind == Kind::Dir => equivalent(&e.what, &dir_what(s)),
            Some(e) => matches!(e.what, What::File { .. }) && e.seen == Some(Seen::of(s)),
            None => false,
        };
        if let Some(e) = entry {
            e.mark = true;
        }
        // ctime: no user can set it (a future mtime must not hold a file back).
        let changed_ms = (s.ctime.max(0) as u64).saturating_mul(1000);
        if unchanged {
        } else if s.kind == Kind::File && changed_ms > settled_before {
            unsettled += 1;
        } else if changed.len() < options.publish_window.max(1) {
            changed.push(item);
        } else {
            left = true;
        }
    })?;
    report.unsettled = unsettled;
    report.skipped = scan.skipped.len() as u64;
    for left in &scan.leftovers {
        if let Ok(place) = local::place(node.root, &left.path, false) {
            let _ = place.dir.remove_file_if(&place.name, &left.stat);
        }
    }
    // What the state holds that is gone: deleted here, unless it is below
    // something not looked at (a mount, an excluded or unreadable directory).
    let mut deletes: Vec<Op> = state
        .entries
        .iter()
        .filter(|(_, e)| !e.what.is_delete() && !e.mark)
        .filter_map(|(key, e)| {
            let path = pathname::decode(key).ok()?;
            (!scan.is_shadowed(&path) && !scan.is_unseen(&path) && !node.exclusions.excludes(&path)).then(|| Op {
                path: key.clone(),
                version: unstamped(),
                base: Some(e.version.clone()),
                what: What::Delete,
            })
        })
        .collect();
    forget_shadowed(state, &scan, node.exclusions);
    // Files before the directories holding them.
    deletes.sort_by(|a, b| pathname::walk_order(b.path.as_bytes(), a.path.as_bytes()));
    let known = state.entries.values().filter(|e| !e.what.is_delete()).count() as u64;
    let deleting = deletes.len() as u64;
    let too_many = deleting > DELETE_FLOOR
        && (deleting > options.max_delete_count
            || deleting.saturating_mul(100) > known.saturating_mul(u64::from(options.max_delete_percent)));
    if too_many && !options.accept_deletes {
        state.dirty = true;
        state.paused = Some(format!(
            "{deleting} of {known} files and directories disappeared at once (more than {} or {}%): nothing is published until `--accept-deletes`",
            options.max_delete_count, options.max_delete_percent
        ));
        return Ok(false);
    }
    if state.paused.take().is_some() {
        state.dirty = true;
    }
    // Deletions first (children before parents), then the rest (parents
    // before children): a directory replaced by a file is emptied before
    // the file takes its place.
    let per_batch = options.batch_ops.max(1);
    for chunk in deletes.chunks(per_batch) {
        commit(node, state, chunk.to_vec(), &BTreeMap::new(), report).await?;
    }
    drop(deletes);
    // The rest a batch at a time: read and upload (small files UPLOADS at
    // a time, large ones one at a time), then commit. Memory holds one
    // batch of changes, not the whole webroot's.
    for chunk in changed.chunks(per_batch) {
        let started = std::time::Instant::now();
        let read_one = |i: usize| {
            let item = &chunk[i];
            async move {
                let place = match local::place(node.root, &item.path, false) {
                    Ok(p) => p,
                    Err(_) => return Ok((i, None)), // changed under us: next cycle
                };
                upload(node, &place, &item.stat).await.map(|what| (i, what))
            }
        };
        let (small, large): (Vec<usize>, Vec<usize>) = (0..chunk.len())
            .filter(|i| chunk[*i].stat.kind == Kind::File)
            .partition(|i| chunk[*i].stat.size <= WHOLE);
        let mut uploaded: BTreeMap<usize, What> = futures::stream::iter(small)
            .map(read_one)
            .buffer_unordered(UPLOADS)
            .try_filter_map(|(i, what)| async move { Ok(what.map(|w| (i, w))) })
            .try_collect()
            .await?;
        for i in large {
            if let (i, Some(what)) = read_one(i).await? {
                uploaded.insert(i, what);
            }
        }
        // The changes, in walk order (a directory before what is in it).
        let mut ops: Vec<Op> = Vec::new();
        let mut seen_now: BTreeMap<String, Seen> = BTreeMap::new();
        for (i, item) in chunk.iter().enumerate() {
            let s = &item.stat;
            let what = if s.kind == Kind::Dir {
                dir_what(s)
            } else {
                match uploaded.remove(&i) {
                    Some(what) => what,
                    None => continue, // changed while read
                }
            };
            let key = pathname::encode(&item.path);
            let held = state.entries.get(&key);
            if let Some(h) = held
                && equivalent(&h.what, &what)
            {
                if let Some(e) = state.entries.get_mut(&key) {
                    e.seen = (s.kind == Kind::File).then(|| Seen::of(s));
                    state.dirty = true;
                }
                continue;
            }
            if s.kind == Kind::File {
                seen_now.insert(key.clone(), Seen::of(s));
            }
            ops.push(Op {
                base: held.map(|h| h.version.clone()),
                path: key,
                version: unstamped(),
                what,
            });
        }
        if !ops.is_empty() {
            if started.elapsed() > crate::snapshot::BLOB_COMMIT_WITHIN {
                // A slow batch: its first blobs may be near collection age.
                for op in &ops {
                    if let What::File { sha256, .. } = &op.what {
                        refresh_blob(node, sha256).await?;
                    }
                }
            }
            commit(node, state, ops, &seen_now, report).await?;
        }
    }
    Ok(left)
}

/// A stamp to be replaced when the change is committed.
fn unstamped() -> Stamp {
    Stamp {
        ms: 0,
        n: 0,
        node: "".into(),
    }
}

/// Stamps `ops`, writes them as our next batch (only if absent: the commit
/// point), and holds them. The state is written once at the end of the
/// cycle: a batch committed and not yet in the state is taken in by the
/// next cycle's recovery.
async fn commit(
    node: &Node<'_>,
    state: &mut State,
    mut ops: Vec<Op>,
    seen_now: &BTreeMap<String, Seen>,
    report: &mut CycleReport,
) -> Result<(), SyncError> {
    for op in ops.iter_mut() {
        op.version = state.clock.tick(now_ms(), node.id);
    }
    let body = serde_json::to_vec(&ops).unwrap_or_default();
    if body.len() as u64 > MAX_BATCH_BYTES / 4 && ops.len() > 1 {
        // Long names (a byte outside UTF-8 takes six in JSON): halves, so
        // every batch stays well under what a reader accepts.
        let tail = ops.split_off(ops.len() / 2);
        Box::pin(commit(node, state, ops, seen_now, report)).await?;
        return Box::pin(commit(node, state, tail, seen_now, report)).await;
    }
    drop(body);
    let seq = state.seq + 1;
    let batch = Batch {
        node: node.id.to_string(),
        seq,
        ops,
    };
    let key = journal::batch_key(node.id, seq);
    let body = serde_json::to_vec(&batch).unwrap_or_default();
    match node
        .store
        .put_if_absent(node.bucket, &key, Bytes::from(body), &PutOptions::default())
        .await?
    {
        PutOutcome::Created { .. } => {}
        PutOutcome::Exists => {
            return Err(SyncError::SameNode {
                node: node.id.to_string(),
                key,
            });
        }
    }
    state.seq = seq;
    state.dirty = true;
    report.batches += 1;
    for op in batch.ops {
        let seen = seen_now.get(&op.path).copied();
        report.published_count += 1;
        if report.published.len() < LISTED {
            report.published.push(op.path.clone());
        }
        state.entries.insert(op.path.clone(), held(op, seen));
    }
    Ok(())
}

/// Writes a blob again on the server (a copy through a staging key), so
/// collection sees it as new.
async fn refresh_blob(node: &Node<'_>, sha256: &Digest) -> Result<(), SyncError> {
    let blob = journal::blob_key(sha256);
    let staging = format!("{}staging/{}/{sha256}", journal::PREFIX, node.id);
    node.store.copy_within(node.bucket, &blob, &staging).await?;
    node.store.copy_within(node.bucket, &staging, &blob).await?;
    node.store.delete(node.bucket, &staging).await?;
    Ok(())
}

/// Entries below something no longer looked at are forgotten, never
/// published as deleted (a directory that became a mount, or excluded).
fn forget_shadowed(state: &mut State, scan: &Scan, exclusions: &Exclusions) {
    let before = state.entries.len();
    state.entries.retain(|key, _| match pathname::decode(key) {
        Ok(path) => !scan.is_shadowed(&path) && !exclusions.excludes(&path),
        Err(_) => false,
    });
    if state.entries.len() != before {
        state.dirty = true;
    }
}

/// Uploads a settled file's content as a blob; None when the file changed
/// while it was read (it is published in a later cycle).
async fn upload(node: &Node<'_>, place: &local::Place, stat: &Stat) -> Result<Option<What>, SyncError> {
    let mut opened = match place.dir.open_file(&place.name, Some(stat)) {
        Ok(o) => o,
        // Gone, changed, or not readable now (a lease held by its owner, an
        // I/O error): published by a later cycle.
        Err(_) => return Ok(None),
    };
    let io = |e: std::io::Error| adt_localfs::LocalError::Io {
        path: place.dir.child_path(&place.name),
        op: "read",
        source: e,
    };
    let size = opened.stat.size;
    let sha256 = if size <= WHOLE {
        let mut body = Vec::with_capacity(size as usize);
        (&mut opened.file).take(size).read_to_end(&mut body).map_err(io)?;
        let sha256 = Digest::of(&body);
        if !opened.restat()?.unchanged(&opened.stat) {
            return Ok(None);
        }
        // Named by its content: writing it again changes nothing.
        node.store
            .put(
                node.bucket,
                &journal::blob_key(&sha256),
                Bytes::from(body),
                &PutOptions::default(),
            )
            .await?;
        sha256
    } else {
        // Hash, then send the same open file to a staging key; only if it
        // did not change meanwhile is it copied to its content's name.
        let mut hasher = Hasher::default();
        let mut buf = vec![0u8; 256 * 1024];
        let mut reader = (&mut opened.file).take(size);
        loop {
            let n = reader.read(&mut buf).map_err(io)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        let sha256 = hasher.finish();
        let blob = journal::blob_key(&sha256);
        if node.store.head(node.bucket, &blob).await?.is_none() {
            use std::io::Seek;
            opened.file.rewind().map_err(io)?;
            let staging = format!("{}staging/{}/{sha256}", journal::PREFIX, node.id);
            let file = opened.file.try_clone().map_err(io)?;
            node.store
                .put_open_file(
                    node.bucket,
                    &staging,
                    file,
                    &place.dir.child_path(&place.name),
                    &PutOptions::default(),
                    false,
                    adt_datastore::PART_SIZE,
                )
                .await?;
            if !opened.restat()?.unchanged(&opened.stat) {
                node.store.delete(node.bucket, &staging).await?;
                return Ok(None);
            }
            node.store.copy_within(node.bucket, &staging, &blob).await?;
            node.store.delete(node.bucket, &staging).await?;
        } else if !opened.restat()?.unchanged(&opened.stat) {
            return Ok(None);
        } else {
            // Already there, perhaps long unreferenced and about to be
            // collected: written again, so it is young when our batch
            // refers to it.
            refresh_blob(node, &sha256).await?;
        }
        sha256
    };
    let s = &opened.stat;
    Ok(Some(What::File {
        sha256,
        size,
        mode: s.permissions(),
        uid: s.uid,
        gid: s.gid,
        mtime: s.mtime,
    }))
}
