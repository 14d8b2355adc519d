//! The memory bound of concurrent transfers, one owner for it: a budget of
//! object bytes held in memory at once, counted in KiB, that a transfer
//! takes from before it reads or downloads and gives back when its bytes
//! are written. The seeder and replication both bound their memory with it.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Object bytes that may be held in memory at once, shared by every
/// transfer of one run. Cloning shares the budget.
#[derive(Clone, Debug)]
pub struct MemoryBudget {
    kib: Arc<Semaphore>,
    total_kib: u32,
}

/// Bytes taken from a [`MemoryBudget`]; given back when dropped.
#[derive(Debug)]
pub struct MemoryPermit {
    _held: OwnedSemaphorePermit,
}

impl MemoryBudget {
    /// A budget of `bytes` (at least 1 KiB, at most 4 TiB).
    pub fn new(bytes: usize) -> MemoryBudget {
        let total_kib = u32::try_from(bytes.div_ceil(1024))
            .unwrap_or(u32::MAX)
            .clamp(1, Semaphore::MAX_PERMITS.min(u32::MAX as usize) as u32);
        MemoryBudget {
            kib: Arc::new(Semaphore::new(total_kib as usize)),
            total_kib,
        }
    }

    /// The whole budget, in bytes.
    pub fn bytes(&self) -> u64 {
        u64::from(self.total_kib) * 1024
    }

    /// Waits until `bytes` are free and takes them. A request larger than
    /// the whole budget takes the whole budget (it runs alone), so nothing
    /// waits forever.
    pub async fn take(&self, bytes: u64) -> MemoryPermit {
        let kib = u32::try_from(bytes.div_ceil(1024))
            .unwrap_or(u32::MAX)
            .clamp(1, self.total_kib);
        // The semaphore is never closed (it is private to this type), so
        // acquiring cannot fail; if it ever did, waiting again is correct.
        loop {
            if let Ok(held) = Arc::clone(&self.kib).acquire_many_owned(kib).await {
                return MemoryPermit { _held: held };
            }
            tokio::task::yield_now().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn takes_wait_for_returns_and_oversized_requests_run_alone() {
        let budget = MemoryBudget::new(10 * 1024);
        assert_eq!(budget.bytes(), 10 * 1024);
        let a = budget.take(6 * 1024).await;
        let waiting = tokio::time::timeout(std::time::Duration::from_millis(50), budget.take(6 * 1024)).await;
        assert!(waiting.is_err(), "6 + 6 KiB exceed the 10 KiB budget");
        drop(a);
        let _whole = budget.take(1 << 40).await; // larger than the budget: all of it
        let small = tokio::time::timeout(std::time::Duration::from_millis(50), budget.take(1)).await;
        assert!(small.is_err(), "nothing left while the oversized one holds it");
    }
}
