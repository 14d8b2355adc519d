//! What `adt-mount` would do, entry by entry: each bucket, its mount
//! point, the tool and its full command line (which never holds a secret),
//! and for a merge, the mergerfs command over its branches.

use std::path::{Path, PathBuf};
use std::time::Duration;

use adt_template::{Layout, LayoutEntry};
use serde::Serialize;

use crate::tool::{CommandLine, CredentialFiles, MountSpec, Tool, merge_command, mount_command};

/// How to mount.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountOptions {
    /// The tool that mounts every bucket (merges always use mergerfs).
    pub tool: Tool,
    /// Owner the files appear to have (the web server's user).
    pub uid: u32,
    /// Group the files appear to have (the web server's group).
    pub gid: u32,
    /// Private directory (0700) for credential files (0600), caches, and
    /// the record of retired local directories.
    pub state_dir: PathBuf,
    /// How long to wait for a mount to answer.
    pub timeout: Duration,
}

/// Where a bucket is served from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// `scheme://host[:port]`
    pub endpoint: String,
    /// The datastore's region, put on every tool's command line.
    pub region: String,
    /// A CA certificate file for https, handed to s3fs, rclone, goofys and
    /// geesefs (mount-s3's command line does not take it); None: none is
    /// passed.
    pub ca_bundle: Option<PathBuf>,
}

/// One bucket mounted on one directory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PlannedMount {
    /// The bucket, named by the Layout.
    pub bucket: String,
    /// The directory it is mounted on.
    pub mountpoint: PathBuf,
    /// The tool that mounts it.
    pub tool: Tool,
    /// The tool's full command line, in the foreground; no secret in it.
    pub command: CommandLine,
}

/// mergerfs showing an entry's branches as one directory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PlannedMerge {
    /// Where the merged directory appears (the Layout's merge target).
    pub target: PathBuf,
    /// The branches' mount points, in the entry's order.
    pub branches: Vec<PathBuf>,
    /// The mergerfs command line, in the foreground.
    pub command: CommandLine,
}

/// What is mounted for one DIRECTORIES_TO_MOUNT entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PlannedEntry {
    /// The entry as written (`images`, `/var/www/private`, `merge=media2`).
    pub entry: String,
    /// Branches first, then the merge.
    pub mounts: Vec<PlannedMount>,
    /// The merge over `mounts`; None for a plain entry (one mount).
    pub merge: Option<PlannedMerge>,
    /// The Layout entry it was planned from (not in the JSON output).
    #[serde(skip)]
    pub layout: LayoutEntry,
}

/// Every entry's mounts and command lines for one Layout and datastore,
/// made by [`Plan::new`]. The JSON output holds `entries` only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// One per Layout entry, in the Layout's order.
    pub entries: Vec<PlannedEntry>,
    /// Where the tools read the keys: `credentials/` in the state
    /// directory (not in the JSON output).
    #[serde(skip)]
    pub credentials: CredentialFiles,
    /// The options the plan was made with (not in the JSON output).
    #[serde(skip)]
    pub options: MountOptions,
}

impl Plan {
    /// The plan for `layout` on `target`. Every command keeps its tool in
    /// the foreground: adt-mount supervises it while it mounts, and a
    /// systemd service runs the same command.
    ///
    /// Only computes: nothing is read, created or mounted, and it cannot fail.
    pub fn new(layout: &Layout, target: &Target, options: &MountOptions) -> Plan {
        let credentials = CredentialFiles::in_dir(&options.state_dir.join("credentials"));
        let entries = layout
            .entries
            .iter()
            .map(|entry| {
                let mounts: Vec<PlannedMount> = entry
                    .mounts
                    .iter()
                    .map(|m| {
                        let spec = MountSpec {
                            bucket: m.bucket.clone(),
                            mountpoint: m.mountpoint.clone(),
                            endpoint: target.endpoint.clone(),
                            region: target.region.clone(),
                            uid: options.uid,
                            gid: options.gid,
                            cache: cache_dir(&options.state_dir, &m.bucket),
                            ca_bundle: target.ca_bundle.clone(),
                        };
                        PlannedMount {
                            bucket: m.bucket.clone(),
                            mountpoint: m.mountpoint.clone(),
                            tool: options.tool,
                            command: mount_command(options.tool, &spec, &credentials),
                        }
                    })
                    .collect();
                let merge = entry.merge_target.as_ref().map(|target| {
                    let branches: Vec<PathBuf> = mounts.iter().map(|m| m.mountpoint.clone()).collect();
                    PlannedMerge {
                        target: target.clone(),
                        command: merge_command(&branches, target),
                        branches,
                    }
                });
                PlannedEntry {
                    entry: entry.entry.clone(),
                    mounts,
                    merge,
                    layout: entry.clone(),
                }
            })
            .collect();
        Plan {
            entries,
            credentials,
            options: options.clone(),
        }
    }

    /// For people: one block per entry.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for e in &self.entries {
            out.push_str(&format!("entry {}\n", e.entry));
            for m in &e.mounts {
                out.push_str(&format!(
                    "  mount bucket {} on {} with {}\n",
                    m.bucket,
                    m.mountpoint.display(),
                    m.tool
                ));
                out.push_str(&format!("    {}\n", m.command.display()));
            }
            if let Some(merge) = &e.merge {
                out.push_str(&format!(
                    "  merge {} branches onto {}\n",
                    merge.branches.len(),
                    merge.target.display()
                ));
                out.push_str(&format!("    {}\n", merge.command.display()));
            }
        }
        out
    }

    /// The plan with each mount's root showing its mount point's current
    /// mode, as [`mount`](crate::mount) does when it mounts (units run the
    /// same commands). A mount point that is missing, or not a directory,
    /// keeps the plan's 0770. Reads the mount points' `lstat`, nothing else.
    pub fn with_root_modes(&self) -> Plan {
        let mut plan = self.clone();
        for m in plan.entries.iter_mut().flat_map(|e| e.mounts.iter_mut()) {
            let (Some(parent), Some(name)) = (m.mountpoint.parent(), m.mountpoint.file_name()) else {
                continue;
            };
            // Through a handle, never following a link (as mount does).
            if let Ok(Some(stat)) = adt_localfs::Dir::open(parent).and_then(|d| d.stat_at(name))
                && stat.kind == adt_localfs::Kind::Dir
            {
                crate::tool::with_root_mode(&mut m.command, stat.mode);
            }
        }
        plan
    }
}

/// The cache directory of one bucket's mount.
pub fn cache_dir(state_dir: &Path, bucket: &str) -> PathBuf {
    state_dir.join("cache").join(bucket)
}
