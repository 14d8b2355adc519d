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
//!
//! A plan only computes: [`Plan::new`] reads, creates and mounts nothing,
//! so its command lines can be shown before [`mount`] runs them.
//!
//! ```
//! use std::path::Path;
//! use std::time::Duration;
//! use adt_mounts::{MountOptions, Plan, Target, Tool};
//! use adt_template::{AssetConfig, Layout, MountEntry};
//!
//! let config = AssetConfig::persisting(
//!     "www.example.com",
//!     vec![
//!         MountEntry::Relative("images".into()),
//!         MountEntry::Merge { name: "media".into(), branches: 2 },
//!     ],
//! );
//! let layout = Layout::new(&config, Path::new("/var/www/html"))?;
//! let target = Target {
//!     endpoint: "https://s3.example.com".into(),
//!     region: "us-east-1".into(),
//!     ca_bundle: None,
//! };
//! let options = MountOptions {
//!     tool: Tool::S3fs,
//!     uid: 33,
//!     gid: 33,
//!     state_dir: "/var/lib/adt-mount".into(),
//!     timeout: Duration::from_secs(30),
//! };
//! let plan = Plan::new(&layout, &target, &options);
//!
//! let images = &plan.entries[0].mounts[0];
//! assert_eq!(images.bucket, "www-example-com-assets-images");
//! assert_eq!(images.mountpoint, Path::new("/var/www/html/images"));
//! assert_eq!(images.command.program, "s3fs");
//! assert!(images.command.args.contains(&"-f".to_string()), "kept in the foreground");
//!
//! // merge=media2: two buckets beside the webroot, merged onto webroot/media.
//! let media = &plan.entries[1];
//! assert_eq!(media.mounts.len(), 2);
//! let merge = media.merge.as_ref().expect("a merge entry");
//! assert_eq!(merge.target, Path::new("/var/www/html/media"));
//! assert_eq!(merge.command.program, "mergerfs");
//!
//! // The command lines, as a shell would show them: no key in any of them.
//! for entry in &plan.entries {
//!     for m in &entry.mounts {
//!         println!("{}", m.command.display());
//!     }
//! }
//! print!("{}", plan.render());
//! # Ok::<(), adt_template::TemplateError>(())
//! ```

#![warn(missing_docs)]

mod credentials;
mod error;
mod health;
mod operate;
mod plan;
mod preflight;
mod record;
mod retire;
mod tool;
mod units;
mod writeback;

pub use error::MountError;
pub use health::{Health, probe};
pub use operate::{Keys, MountState, Mounted, Report, adopt_retired, mount, purge_retired, status, unmount};
pub use plan::{MountOptions, Plan, PlannedEntry, PlannedMerge, PlannedMount, Target, cache_dir};
pub use preflight::{FuseDevice, Machine, Needs, Preflight, ToolCheck, ToolState, allows_other, preflight, version_in};
pub use record::{RecordedMount, load as recorded_mounts, remembered_tool};
pub use retire::{Retired, find_unrecorded as find_unrecorded_retired, load as retired};
pub use tool::{
    CommandLine, CredentialFiles, KEY_VARIABLES, MountSpec, Tool, find_program, merge_command, mount_command,
};
pub use units::{Unit, UnitOptions, systemd_quote, unit_name, units};
pub use writeback::pending_uploads;
