//! The node's local state, in its private state directory: its id (made
//! once, kept), its clock, its last published batch, its cursors into the
//! other nodes' journals, and what it knows of every path (the version it
//! holds, and the file's attributes when it last saw or wrote it, so an
//! unchanged file is never read again).

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use adt_localfs::{Dir, Stat};
use serde::{Deserialize, Serialize};

use crate::error::SyncError;
use crate::hlc::{Clock, Stamp};
use crate::journal::{What, valid_node_id};
use crate::resolve::Version;

const NODE_ID: &str = "node-id";
const STATE: &str = "state.json";
const LOCK: &str = "lock";

/// What a file looked like when last seen or written here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    /// Inode.
    pub ino: u64,
    /// Bytes.
    pub size: u64,
    /// Modification time (s, ns).
    pub mtime: (i64, u32),
    /// Change time (s, ns): moves with every write, chmod and rename.
    pub ctime: (i64, u32),
}

impl Seen {
    /// From a stat.
    pub fn of(stat: &Stat) -> Seen {
        Seen {
            ino: stat.ino,
            size: stat.size,
            mtime: (stat.mtime, stat.mtime_nsec),
            ctime: (stat.ctime, stat.ctime_nsec),
        }
    }
}

/// What the node holds for one path.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The version held.
    pub version: Stamp,
    /// The version it was made from.
    pub base: Option<Stamp>,
    /// What the path is in that version.
    pub what: What,
    /// The local file as last seen (None: not known; read it again).
    pub seen: Option<Seen>,
    /// Found by the current scan (not kept).
    #[serde(skip)]
    pub mark: bool,
}

impl Entry {
    /// The version, as the conflict rule sees it.
    pub fn as_version(&self) -> Version {
        Version {
            stamp: self.version.clone(),
            base: self.base.clone(),
            delete: self.what.is_delete(),
        }
    }
}

/// A change refused here, to be tried again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retry {
    /// The change.
    pub op: crate::journal::Op,
    /// When it was first refused (ms, this machine's clock).
    pub since_ms: u64,
}

/// The whole state.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct State {
    /// This node.
    pub node: String,
    /// Its clock.
    pub clock: Clock,
    /// Its last published batch (0: none).
    pub seq: u64,
    /// The last batch applied from each other node.
    pub cursors: BTreeMap<String, u64>,
    /// Why publishing is paused, when it is.
    pub paused: Option<String>,
    /// Every path known, by its journal form.
    #[serde(deserialize_with = "packed_entries")]
    pub entries: BTreeMap<String, Entry>,
    /// Other nodes' changes refused here (a local obstacle, content not
    /// there yet), tried again each cycle for a day.
    #[serde(default)]
    pub retry: Vec<Retry>,
    /// Deletions stamped before this (ms) have been forgotten (see
    /// [`State::forget_old_deletions`]).
    #[serde(default)]
    pub deletions_before: u64,
    /// Changed since it was read (not kept): only a changed state is
    /// written back.
    #[serde(skip)]
    pub dirty: bool,
    /// How many entries there were when the map was last packed.
    #[serde(skip)]
    pub packed_len: usize,
}

/// Entries are added in bulk a chunk at a time: a map filled one sorted
/// insert at a time leaves its nodes about half full, which nearly
/// doubles the memory of a large webroot's state.
const PACK_CHUNK: usize = 8192;

/// `map` rebuilt with full nodes, a chunk at a time (the old nodes are
/// freed as they are emptied: memory never holds two whole maps).
pub fn packed<V>(map: BTreeMap<String, V>) -> BTreeMap<String, V> {
    let mut out = BTreeMap::new();
    let mut chunk: Vec<(String, V)> = Vec::with_capacity(PACK_CHUNK);
    for kv in map {
        chunk.push(kv);
        if chunk.len() == PACK_CHUNK {
            out.append(&mut std::mem::take(&mut chunk).into_iter().collect());
            chunk.reserve(PACK_CHUNK);
        }
    }
    out.append(&mut chunk.into_iter().collect());
    out
}

/// Reads the entries into a packed map (see [`packed`]).
fn packed_entries<'de, D: serde::Deserializer<'de>>(d: D) -> Result<BTreeMap<String, Entry>, D::Error> {
    struct Visitor;
    impl<'de> serde::de::Visitor<'de> for Visitor {
        type Value = BTreeMap<String, Entry>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a map of paths to entries")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            let mut chunk: Vec<(String, Entry)> = Vec::with_capacity(PACK_CHUNK);
            while let Some(kv) = map.next_entry::<String, Entry>()? {
                chunk.push(kv);
                if chunk.len() == PACK_CHUNK {
                    out.append(&mut std::mem::take(&mut chunk).into_iter().collect());
                    chunk.reserve(PACK_CHUNK);
                }
            }
            out.append(&mut chunk.into_iter().collect());
            Ok(out)
        }
    }
    d.deserialize_map(Visitor)
}

impl State {
    /// Repacks the entries when many were added since the last packing
    /// (a first publish, a large apply): see [`packed`].
    pub fn repack_if_grown(&mut self) {
        if self.entries.len() > self.packed_len + self.packed_len / 8 + PACK_CHUNK {
            self.entries = packed(std::mem::take(&mut self.entries));
            self.packed_len = self.entries.len();
        }
    }

    /// Forgets the deletions stamped before `before` (ms), so the state
    /// does not grow with every file ever deleted. Snapshots written later
    /// say from when on (`deletions_before`): a node away longer that
    /// restores one keeps what it holds and the snapshot lacks, and is
    /// told so (it is never deleted unverified).
    pub fn forget_old_deletions(&mut self, before: u64) {
        if before <= self.deletions_before {
            return;
        }
        let count = self.entries.len();
        self.entries
            .retain(|_, e| !(e.what.is_delete() && e.version.ms < before));
        // True of the state in memory whether or not it is written now (it
        // holds no deletion before `before`): written when anything else is.
        self.deletions_before = before;
        self.dirty |= self.entries.len() != count;
    }
}

/// The private state directory.
pub struct StateDir {
    dir: Dir,
    path: PathBuf,
    /// The state between the cycles of one process (`watch`): read from
    /// disk once, not every few seconds.
    cache: std::sync::Mutex<Option<State>>,
    /// When this process last wrote the node's status object.
    status_ms: std::sync::atomic::AtomicU64,
}

impl StateDir {
    /// Opens (creating it 0700 when missing) the state directory; one open
    /// to other users is refused, never changed.
    pub fn open(path: &Path) -> Result<StateDir, SyncError> {
        let absolute = std::path::absolute(path).map_err(|e| SyncError::State {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })?;
        Ok(StateDir {
            dir: adt_localfs::ensure_private_dir(&absolute)?,
            path: absolute,
            cache: std::sync::Mutex::new(None),
            status_ms: std::sync::atomic::AtomicU64::new(0),
        })
    }

    fn read(&self, name: &str) -> Result<Option<Vec<u8>>, SyncError> {
        match self.dir.stat_at(OsStr::new(name))? {
            None => Ok(None),
            Some(_) => {
                let mut file = self.dir.open_file(OsStr::new(name), None)?.file;
                let mut bytes = Vec::new();
                file.read_to_end(&mut bytes).map_err(|e| self.error(name, e))?;
                Ok(Some(bytes))
            }
        }
    }

    fn error(&self, name: &str, e: impl std::fmt::Display) -> SyncError {
        SyncError::State {
            path: self.path.join(name),
            detail: e.to_string(),
        }
    }

    /// The node id: `given` the first time (or a new random one), the one
    /// kept ever after; `given` different from the kept one is refused.
    pub fn node_id(&self, given: Option<&str>) -> Result<String, SyncError> {
        if let Some(id) = given
            && !valid_node_id(id)
        {
            return Err(SyncError::NodeId(id.to_string()));
        }
        if let Some(bytes) = self.read(NODE_ID)? {
            let found = String::from_utf8_lossy(&bytes).trim().to_string();
            if !valid_node_id(&found) {
                return Err(self.error(NODE_ID, "does not hold a node id"));
            }
            return match given {
                Some(id) if id != found => Err(SyncError::OtherNode {
                    found,
                    given: id.to_string(),
                }),
                _ => Ok(found),
            };
        }
        let id = match given {
            Some(id) => id.to_string(),
            None => {
                let mut random = [0u8; 8];
                std::fs::File::open("/dev/urandom")
                    .and_then(|mut f| f.read_exact(&mut random))
                    .map_err(|e| self.error(NODE_ID, e))?;
                random.iter().map(|b| format!("{b:02x}")).collect()
            }
        };
        adt_localfs::write_private(&self.dir, OsStr::new(NODE_ID), format!("{id}\n").as_bytes())?;
        Ok(id)
    }

    /// The node id kept in the state directory at `path`, if there is one:
    /// only read (nothing is created, for `status`).
    pub fn existing_node_id(path: &Path) -> Result<Option<String>, SyncError> {
        let dir = match adt_localfs::canonical_dir(path).and_then(|p| Dir::open(&p)) {
            Ok(dir) => dir,
            Err(adt_localfs::LocalError::Missing { .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let Some(_) = dir.stat_at(OsStr::new(NODE_ID))? else {
            return Ok(None);
        };
        let mut bytes = Vec::new();
        let error = |e: &dyn std::fmt::Display| SyncError::State {
            path: path.join(NODE_ID),
            detail: e.to_string(),
        };
        dir.open_file(OsStr::new(NODE_ID), None)?
            .file
            .take(128)
            .read_to_end(&mut bytes)
            .map_err(|e| error(&e))?;
        let found = String::from_utf8_lossy(&bytes).trim().to_string();
        if !valid_node_id(&found) {
            return Err(error(&"does not hold a node id"));
        }
        Ok(Some(found))
    }

    /// Takes the state directory's lock for one cycle, so two cycles of a
    /// node (a `watch` and a `run`) never overlap; released when dropped.
    pub fn lock(&self) -> Result<std::fs::File, SyncError> {
        let file = match self.dir.stat_at(OsStr::new(LOCK))? {
            Some(_) => self.dir.open_file(OsStr::new(LOCK), None)?.file,
            None => {
                adt_localfs::write_private(&self.dir, OsStr::new(LOCK), b"")?;
                self.dir.open_file(OsStr::new(LOCK), None)?.file
            }
        };
        rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive).map_err(|_| {
            self.error(
                LOCK,
                "another adt-sync cycle of this node is running (a watch and a run at once?)",
            )
        })?;
        Ok(file)
    }

    /// True (and from now on false for `every`) when the node's status
    /// object was last written longer than `every` ago by this process.
    pub fn status_due(&self, every: std::time::Duration) -> bool {
        let now = crate::hlc::now_ms();
        let last = self.status_ms.load(std::sync::atomic::Ordering::SeqCst);
        if now.saturating_sub(last) < every.as_millis() as u64 {
            return false;
        }
        self.status_ms.store(now, std::sync::atomic::Ordering::SeqCst);
        true
    }

    /// Keeps the state of a finished cycle for the next one in this process.
    pub fn keep(&self, state: State) {
        *self.cache.lock().unwrap_or_else(|p| p.into_inner()) = Some(state);
    }

    /// The state, or a fresh one for `node`: the one kept by the last cycle
    /// of this process, else the one on disk.
    pub fn load(&self, node: &str) -> Result<State, SyncError> {
        if let Some(state) = self.cache.lock().unwrap_or_else(|p| p.into_inner()).take()
            && state.node == node
        {
            return Ok(state);
        }
        let Some(_) = self.dir.stat_at(OsStr::new(STATE))? else {
            return Ok(State {
                node: node.to_string(),
                ..State::default()
            });
        };
        let file = self.dir.open_file(OsStr::new(STATE), None)?.file;
        let mut state: State = serde_json::from_reader(BufReader::new(file)).map_err(|e| self.error(STATE, e))?;
        state.packed_len = state.entries.len();
        if state.node != node {
            return Err(SyncError::OtherNode {
                found: state.node,
                given: node.to_string(),
            });
        }
        Ok(state)
    }

    /// Writes the state whole (a private temporary file, fsync, rename),
    /// when it changed.
    pub fn save(&self, state: &mut State) -> Result<(), SyncError> {
        if !state.dirty {
            return Ok(());
        }
        let mut file = self.dir.create_private(OsStr::new(STATE))?;
        {
            let mut out = BufWriter::new(file.file());
            serde_json::to_writer(&mut out, state).map_err(|e| self.error(STATE, e))?;
            out.flush().map_err(|e| self.error(STATE, e))?;
        }
        file.persist(OsStr::new(STATE))?;
        state.dirty = false;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_packed_map_and_a_state_read_back_hold_every_entry() {
        let map: BTreeMap<String, u32> = (0..20_000u32).rev().map(|i| (format!("p/{i:05}"), i)).collect();
        let again = packed(map.clone());
        assert_eq!(again, map);
        let mut state = State {
            node: "n".into(),
            ..State::default()
        };
        for i in 0..(PACK_CHUNK as u64 + 5) {
            state.entries.insert(
                format!("f{i}"),
                Entry {
                    version: crate::hlc::Clock::default().tick(i + 1, "n"),
                    base: None,
                    what: What::Delete,
                    seen: None,
                    mark: false,
                },
            );
        }
        let back: State = serde_json::from_slice(&serde_json::to_vec(&state).unwrap()).unwrap();
        assert_eq!(back.entries, state.entries);
    }
}
