//! Progress callbacks of long transfers (a progress bar, say), one trait
//! for every crate that moves many objects.

/// Hears how a run of many transfers goes.
pub trait Progress: Send + Sync {
    /// The totals, once known: items (files or objects) and bytes.
    fn start(&self, _items: u64, _bytes: u64) {}
    /// Items finished and bytes moved since the last call.
    fn advance(&self, _items: u64, _bytes: u64) {}
}

/// No progress reporting.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoProgress;

impl Progress for NoProgress {}
