//! What a state directory remembers about the mounts it made, and the lock
//! that lets one adt-mount run at a time use it.
//!
//! `STATE/mounts.json` lists each mount point with its bucket and the tool
//! that mounted it, replaced after every successful `mount`. It lets a
//! later run use the same tool without being told, and refuse a plan for
//! other mount points (a mistyped `--webroot`) instead of doing nothing.
//! `STATE/lock` is held (`flock`, exclusive) by every run that changes
//! something; a second run fails at once, naming the state directory.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use adt_localfs::Dir;
use serde::{Deserialize, Serialize};

use crate::error::{MountError, io};
use crate::plan::Plan;
use crate::tool::Tool;

const RECORD: &str = "mounts.json";
const LOCK: &str = "lock";

/// One mount point a state directory mounted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RecordedMount {
    /// The DIRECTORIES_TO_MOUNT entry.
    pub entry: String,
    /// Where it was mounted.
    pub mountpoint: PathBuf,
    /// The bucket (None for a merge target).
    pub bucket: Option<String>,
    /// The tool that mounted it (`s3fs`, `rclone`, `mergerfs`).
    pub tool: String,
}

/// The mounts `state_dir` last made (empty when none, or unreadable).
pub fn load(state_dir: &Path) -> Vec<RecordedMount> {
    std::fs::read(state_dir.join(RECORD))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// Replaces the record with `plan`'s mounts (0600, written whole), each
/// with the tool the mount table shows (a mount point found already
/// mounted keeps the tool it had).
pub(crate) fn save(state: &Dir, plan: &Plan) -> Result<(), MountError> {
    let table = adt_localfs::MountTable::read().map_err(|e| io(Path::new("/proc/self/mountinfo"), e))?;
    let mounted = |path: &Path, planned: String| {
        table
            .at(path)
            .map(|m| Tool::name_of_fstype(&m.fstype))
            .unwrap_or(planned)
    };
    let mut all = Vec::new();
    for e in &plan.entries {
        for m in &e.mounts {
            all.push(RecordedMount {
                entry: e.entry.clone(),
                mountpoint: m.mountpoint.clone(),
                bucket: Some(m.bucket.clone()),
                tool: mounted(&m.mountpoint, m.tool.to_string()),
            });
        }
        if let Some(merge) = &e.merge {
            all.push(RecordedMount {
                entry: e.entry.clone(),
                mountpoint: merge.target.clone(),
                bucket: None,
                tool: "mergerfs".into(),
            });
        }
    }
    let text = serde_json::to_vec_pretty(&all).map_err(|e| io(&state.child_path(OsStr::new(RECORD)), e))?;
    adt_localfs::write_private(state, OsStr::new(RECORD), &text)?;
    Ok(())
}

/// The tool `state_dir` last mounted its buckets with, when it used one.
pub fn remembered_tool(state_dir: &Path) -> Option<Tool> {
    let tools: Vec<String> = load(state_dir)
        .into_iter()
        .filter(|m| m.bucket.is_some())
        .map(|m| m.tool)
        .collect();
    let first = tools.first()?;
    if tools.iter().any(|t| t != first) {
        return None;
    }
    Tool::ALL.iter().copied().find(|t| t.to_string() == *first)
}

/// Refuses a plan none of whose mount points the state directory's record
/// names, when the record names some: the same state directory used with
/// another webroot (a typo) would otherwise do nothing, or mount a second
/// site over the first one's credentials and record.
pub(crate) fn check_same_site(plan: &Plan) -> Result<(), MountError> {
    let recorded = load(&plan.options.state_dir);
    if recorded.is_empty() {
        return Ok(());
    }
    let planned: Vec<&Path> = plan
        .entries
        .iter()
        .flat_map(|e| {
            e.mounts
                .iter()
                .map(|m| m.mountpoint.as_path())
                .chain(e.merge.iter().map(|m| m.target.as_path()))
        })
        .collect();
    if recorded.iter().any(|r| planned.contains(&r.mountpoint.as_path())) {
        return Ok(());
    }
    Err(MountError::OtherSite {
        state_dir: plan.options.state_dir.clone(),
        recorded: recorded.into_iter().map(|r| r.mountpoint).collect(),
    })
}

/// An exclusive hold on a state directory, released when dropped.
#[derive(Debug)]
pub(crate) struct StateLock {
    _file: std::fs::File,
}

/// Takes the state directory's lock, or fails at once if another run holds
/// it. The lock file is opened without following a link.
pub(crate) fn lock(state: &Dir) -> Result<StateLock, MountError> {
    use rustix::fs::FlockOperation;
    let file = state.open_lock_file(OsStr::new(LOCK))?;
    match rustix::fs::flock(&file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(StateLock { _file: file }),
        Err(rustix::io::Errno::WOULDBLOCK) => Err(MountError::Busy {
            state_dir: state.path().to_path_buf(),
        }),
        Err(e) => Err(io(&state.child_path(OsStr::new(LOCK)), std::io::Error::from(e))),
    }
}
