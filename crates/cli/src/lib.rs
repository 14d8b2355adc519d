//! Shared plumbing of the asset-persistence binaries (`adt-check` and,
//! as they land, adt-seed, adt-mount, adt-backup, adt-replicate): output
//! format, exit codes, and rendering diagnostics for people.
//!
//! The logic lives in the library crates; this crate only turns their
//! results into text, JSON and exit codes.

pub mod args;
pub mod exit;
pub mod human;
pub mod interrupt;
pub mod output;
pub mod progress;
pub mod render;
pub mod setup;
