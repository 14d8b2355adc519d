//! SIGINT and SIGTERM: once installed, a signal no longer kills the
//! binary; it sets a flag the libraries check between steps, and wakes
//! whoever awaits `stopped()`. The binary then cleans up (aborts unfinished
//! multipart uploads, releases a lock, puts directories back), says what
//! was left, and exits 130 (SIGINT) or 143 (SIGTERM). A second signal
//! during the clean-up exits at once.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use tokio::sync::Notify;

use crate::exit;

/// The signal watch of one run.
#[derive(Clone, Debug, Default)]
pub struct Interrupt {
    flag: Arc<AtomicBool>,
    code: Arc<AtomicU8>,
    notify: Arc<Notify>,
}

impl Interrupt {
    /// Starts watching SIGINT and SIGTERM on `runtime`.
    pub fn install(runtime: &tokio::runtime::Runtime) -> Interrupt {
        let me = Interrupt::default();
        let watch = me.clone();
        runtime.spawn(async move {
            use tokio::signal::unix::{SignalKind, signal};
            let (Ok(mut int), Ok(mut term)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) else {
                return;
            };
            let code = tokio::select! {
                _ = int.recv() => exit::INTERRUPTED,
                _ = term.recv() => exit::TERMINATED,
            };
            watch.code.store(code, Ordering::SeqCst);
            watch.flag.store(true, Ordering::SeqCst);
            watch.notify.notify_waiters();
            // A second signal while cleaning up: the user insists.
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            eprintln!("second signal: stopping now, without finishing the clean-up");
            std::process::exit(i32::from(code));
        });
        me
    }

    /// The flag libraries check between steps.
    pub fn flag(&self) -> &AtomicBool {
        &self.flag
    }

    /// True once a signal arrived.
    pub fn is_set(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    /// 130 after SIGINT, 143 after SIGTERM.
    pub fn exit_code(&self) -> u8 {
        match self.code.load(Ordering::SeqCst) {
            0 => exit::INTERRUPTED,
            c => c,
        }
    }

    /// SIGINT or SIGTERM, for messages.
    pub fn signal_name(&self) -> &'static str {
        if self.exit_code() == exit::TERMINATED {
            "SIGTERM"
        } else {
            "SIGINT"
        }
    }

    /// Resolves once a signal has arrived.
    pub async fn stopped(&self) {
        loop {
            let notified = self.notify.notified();
            if self.is_set() {
                return;
            }
            notified.await;
        }
    }

    /// Runs `work` until it ends (Some) or a signal arrives (None: `work`
    /// is dropped at its next await point, so no new request starts).
    pub async fn run<T>(&self, work: impl Future<Output = T>) -> Option<T> {
        tokio::select! {
            out = work => Some(out),
            _ = self.stopped() => None,
        }
    }
}

/// After a signal: stops every task still running on `runtime` (spawned
/// uploads and copies, which dropping the top-level future does not stop),
/// then aborts the stores' unfinished multipart uploads on a fresh runtime.
/// Returns the line to print.
pub fn stop_and_abort(runtime: tokio::runtime::Runtime, stores: &[&adt_datastore::Store], what_left: &str) -> String {
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
    match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(cleanup) => cleanup.block_on(abort_uploads(stores, what_left)),
        Err(e) => format!("cannot start a runtime to abort unfinished uploads: {e}; {what_left}"),
    }
}

/// After a signal stopped the work on `stores`: aborts their unfinished
/// multipart uploads, and returns the line to print (`what_left` says what
/// else the run leaves behind, e.g. "rerun adt-seed to finish").
pub async fn abort_uploads(stores: &[&adt_datastore::Store], what_left: &str) -> String {
    let mut aborted = 0;
    let mut failed = Vec::new();
    for store in stores {
        let done = store.abort_in_flight().await;
        aborted += done.aborted.len();
        failed.extend(done.failed);
    }
    let mut line = format!("{aborted} unfinished multipart upload(s) aborted");
    if !failed.is_empty() {
        line.push_str(&format!(
            "; could not abort (their parts stay until the bucket's lifecycle rule removes them): {}",
            failed.join("; ")
        ));
    }
    if !what_left.is_empty() {
        line.push_str("; ");
        line.push_str(what_left);
    }
    line
}
