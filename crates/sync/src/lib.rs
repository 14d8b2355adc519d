//! Keeps the webroots of several webservers in sync (SYNC_WEBROOTS)
//! through a datastore, leaving the mounted asset directories out.
//!
//! What it does: each webserver is a node with its own journal in the
//! sync bucket. A cycle ([`run_cycle`]) applies the other nodes' new
//! batches in hybrid-logical-clock order, with one rule for concurrent
//! versions ([`resolve`]), then publishes this webroot's settled changes
//! (content-addressed blobs, then a batch written only if absent). Files
//! are written whole, below the webroot only, never through a link or onto
//! another filesystem. A node that loses most of its files at once pauses;
//! snapshots let a new or returning node catch up, and let old batches be
//! collected. [`status`] reads every node's progress; [`Watcher`] tells
//! `watch` when to look again.
//!
//! What it does not do: name the bucket (adt-template's
//! `sync_bucket_name`), decide what is excluded (the caller passes the
//! backup exclusions and the mount table), read templates, or print.
//! Links, FIFOs and devices are not synced. docs/sync.md has the design.
//!
//! # Example
//!
//! Two webroots kept in sync through a store held in memory:
//!
//! ```rust
//! use adt_backups::Exclusions;
//! use adt_datastore::Store;
//! use adt_localfs::{Dir, MountTable};
//! use adt_webroot_sync::{Node, StateDir, SyncOptions, run_cycle};
//!
//! let base = tempfile::tempdir()?;
//! let base = base.path().canonicalize()?;
//! let store = Store::in_memory();
//! let mut options = SyncOptions::default();
//! options.settle = std::time::Duration::ZERO; // publish at once
//! let runtime = tokio::runtime::Runtime::new()?;
//! let cycle = |name: &str| -> Result<adt_webroot_sync::CycleReport, Box<dyn std::error::Error>> {
//!     let webroot = base.join(name).join("html");
//!     std::fs::create_dir_all(&webroot)?;
//!     let table = MountTable::default(); // a real run reads MountTable::read()?
//!     let exclusions = Exclusions::new(&webroot, None, &table, &["/cache".to_string()])?;
//!     let state = StateDir::open(&base.join(name).join("state"))?;
//!     let id = state.node_id(Some(name))?;
//!     let root = Dir::open(&webroot)?;
//!     let node = Node {
//!         store: &store,
//!         bucket: "www-example-com-webroot-sync-tunnel-var-www-html",
//!         root: &root,
//!         exclusions: &exclusions,
//!         table: &table,
//!         state_dir: &state,
//!         id: &id,
//!     };
//!     Ok(runtime.block_on(run_cycle(&node, &options))?)
//! };
//! cycle("web-b")?; // b joins
//! std::fs::create_dir_all(base.join("web-a/html/cache"))?;
//! std::fs::write(base.join("web-a/html/index.php"), "<?php echo 1;")?;
//! std::fs::write(base.join("web-a/html/cache/page.html"), "never synced")?;
//! let published = cycle("web-a")?;
//! assert_eq!(published.published, ["index.php"]);
//! let applied = cycle("web-b")?;
//! assert_eq!(applied.applied, ["index.php"]);
//! assert_eq!(std::fs::read_to_string(base.join("web-b/html/index.php"))?, "<?php echo 1;");
//! assert!(!base.join("web-b/html/cache").exists());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

pub mod content;
mod cycle;
mod error;
pub mod hlc;
pub mod journal;
mod local;
pub mod pathname;
pub mod resolve;
mod scan;
mod snapshot;
mod state;
mod status;
mod watcher;

pub use cycle::{CycleReport, Node, SyncOptions, run_cycle};
pub use error::SyncError;
pub use snapshot::Snapshot;
pub use state::StateDir;
pub use status::{NodeReport, StatusReport, status};
pub use watcher::Watcher;
