//! Keeps the webroots of several webservers in sync (SYNC_WEBROOTS)
//! through a datastore, leaving the mounted asset directories out.
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
