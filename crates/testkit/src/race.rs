//! Racing a walk and running as another user: the tools' hostile-local
//! tests share these.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

use rustix::fs::{CWD, RenameFlags};

/// A thread swapping `a` and `b` with RENAME_EXCHANGE until stopped.
pub struct Swapper {
    stop: Arc<AtomicBool>,
    swaps: Arc<AtomicU64>,
    handle: Option<thread::JoinHandle<()>>,
}

impl Swapper {
    pub fn start(a: PathBuf, b: PathBuf) -> Swapper {
        let stop = Arc::new(AtomicBool::new(false));
        let swaps = Arc::new(AtomicU64::new(0));
        let (s, n) = (stop.clone(), swaps.clone());
        let handle = thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                rustix::fs::renameat_with(CWD, &a, CWD, &b, RenameFlags::EXCHANGE).unwrap();
                n.fetch_add(1, Ordering::Relaxed);
            }
        });
        Swapper {
            stop,
            swaps,
            handle: Some(handle),
        }
    }

    /// Waits until the thread has swapped once more (the machine has two
    /// cores: without this a short loop may finish before it runs).
    pub fn step(&self) {
        let before = self.swaps.load(Ordering::Relaxed);
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while self.swaps.load(Ordering::Relaxed) == before {
            assert!(std::time::Instant::now() < deadline, "the swapping thread is stuck");
            thread::yield_now();
        }
    }

    /// Stops the thread; how many swaps it made.
    pub fn finish(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.handle
            .take()
            .unwrap()
            .join()
            .expect("the swapping thread panicked");
        self.swaps.load(Ordering::Relaxed)
    }
}

impl Drop for Swapper {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// Runs `script` with `sh -c` as `uid` (and the group of the same number),
/// without root's capabilities; true when it succeeds. Its errors are
/// silenced: callers assert what was refused.
pub fn run_as(uid: u32, script: &str) -> bool {
    std::process::Command::new("setpriv")
        .args([
            &format!("--reuid={uid}"),
            &format!("--regid={uid}"),
            "--clear-groups",
            "sh",
            "-c",
            &format!("{script} 2>/dev/null"),
        ])
        .status()
        .expect("setpriv (util-linux) runs a command as another user")
        .success()
}
