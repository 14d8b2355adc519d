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
    pub tool: Tool,
    /// Owner the files appear to have (the web server's user).
    pub uid: u32,
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
    pub region: String,
    pub ca_bundle: Option<PathBuf>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PlannedMount {
    pub bucket: String,
    pub mountpoint: PathBuf,
    pub tool: Tool,
    pub command: CommandLine,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PlannedMerge {
    pub target: PathBuf,
    pub branches: Vec<PathBuf>,
    pub command: CommandLine,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PlannedEntry {
    pub entry: String,
    /// Branches first, then the merge.
    pub mounts: Vec<PlannedMount>,
    pub merge: Option<PlannedMerge>,
    #[serde(skip)]
    pub layout: LayoutEntry,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub entries: Vec<PlannedEntry>,
    #[serde(skip)]
    pub credentials: CredentialFiles,
    #[serde(skip)]
    pub options: MountOptions,
}

impl Plan {
    /// The plan for `layout` on `target`. Every command keeps its tool in
    /// the foreground: adt-mount supervises it while it mounts, and a
    /// systemd service runs the same command.
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
}

/// The cache directory of one bucket's mount.
pub fn cache_dir(state_dir: &Path, bucket: &str) -> PathBuf {
    state_dir.join("cache").join(bucket)
}
