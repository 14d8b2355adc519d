//! A progress bar on stderr (files, bytes, rate, ETA), only on a terminal.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Bytes-based bar with a file count; hidden when stderr is not a terminal.
pub struct Bar {
    bar: ProgressBar,
    files: std::sync::atomic::AtomicU64,
    total_files: std::sync::atomic::AtomicU64,
}

impl Bar {
    /// A bar on stderr when `enabled` and stderr is a terminal; else silent.
    pub fn new(enabled: bool) -> Bar {
        let target = if enabled && std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(Some(0), target);
        bar.set_style(
            ProgressStyle::with_template("{msg} {wide_bar} {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Bar {
            bar,
            files: 0.into(),
            total_files: 0.into(),
        }
    }

    /// Removes the bar from the terminal.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }

    fn message(&self) {
        use std::sync::atomic::Ordering::Relaxed;
        self.bar.set_message(format!(
            "{}/{} files",
            self.files.load(Relaxed),
            self.total_files.load(Relaxed)
        ));
    }

    /// The totals: files (or objects) and bytes.
    pub fn start(&self, files: u64, bytes: u64) {
        self.total_files.store(files, std::sync::atomic::Ordering::Relaxed);
        self.bar.set_length(bytes);
        self.message();
    }

    /// Files finished and bytes done since the last call.
    pub fn advance(&self, files: u64, bytes: u64) {
        self.files.fetch_add(files, std::sync::atomic::Ordering::Relaxed);
        self.bar.inc(bytes);
        if files > 0 {
            self.message();
        }
    }
}

impl adt_datastore::Progress for Bar {
    fn start(&self, items: u64, bytes: u64) {
        Bar::start(self, items, bytes)
    }

    fn advance(&self, items: u64, bytes: u64) {
        Bar::advance(self, items, bytes)
    }
}
