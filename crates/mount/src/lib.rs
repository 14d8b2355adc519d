//! Mounts asset buckets in place of the local directories, so the
//! application sees an ordinary filesystem backed by the datastore.
//!
//! What it does: builds the plan (bucket, mount point, tool and full
//! command line of every DIRECTORIES_TO_MOUNT entry, from the Layout);
//! mounts with s3fs, rclone, goofys, geesefs or mount-s3 and merges
//! branches with mergerfs, after making sure local files at a mount point
//! are in the bucket and moving them aside (never deleting them); repairs
//! stale mounts; unmounts merges before branches; reports status from the
//! mount table and a probe; writes systemd units; purges moved-aside
//! directories only when every file is in the bucket. Credentials live in
//! 0600 files in a private state directory, never in a command line.
//!
//! What it does not do: name buckets (the Layout does) or print.

mod credentials;
mod error;
mod health;
mod operate;
mod plan;
mod retire;
mod tool;
mod units;

pub use error::MountError;
pub use health::{Health, probe};
pub use operate::{Keys, MountState, Mounted, Report, mount, purge_retired, status, unmount};
pub use plan::{MountOptions, Plan, PlannedEntry, PlannedMerge, PlannedMount, Target, cache_dir};
pub use retire::{Retired, load as retired};
pub use tool::{CommandLine, CredentialFiles, MountSpec, Tool, find_program, merge_command, mount_command};
pub use units::{Unit, unit_name, units};
