//! The binaries (`adt-check`, `adt-seed`, `adt-mount`, `adt-backup`,
//! `adt-replicate`) and their shared plumbing: argument parsers, opening
//! the site through the front door (adt-assets), the one exit-code map and
//! error wording, reports for people, JSON, Prometheus metrics files,
//! progress bars, signals, and man pages and completions for packaging.
//!
//! What it does not do: any of the work, or decide any policy; both live
//! in adt-assets and the crates below it. Embed adt-assets, not this.

#![warn(missing_docs)]

pub mod args;
pub mod dist;
pub mod exit;
pub mod human;
pub mod interrupt;
pub mod metrics;
pub mod output;
pub mod progress;
pub mod render;
pub mod setup;
