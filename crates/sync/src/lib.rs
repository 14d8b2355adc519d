//! Keeps the webroots of several webservers in sync (SYNC_WEBROOTS)
//! through a datastore, leaving the mounted asset directories out.
#![warn(missing_docs)]

pub mod content;
pub mod hlc;
pub mod journal;
pub mod pathname;
pub mod resolve;
