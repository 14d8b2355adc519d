//! Is a mount point mounted, and does it answer? A FUSE mount whose process
//! died answers "Transport endpoint is not connected"; a hung one does not
//! answer at all, so the probe runs in a thread with a deadline.

use std::path::Path;
use std::time::Duration;

use adt_localfs::MountTable;

/// What [`probe`] found at a mount point.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Health {
    /// Mounted and answering.
    Healthy {
        /// The filesystem type in the mount table (`fuse.s3fs`, `fuse.mergerfs`).
        fstype: String,
    },
    /// In the mount table but not answering (dead or hung FUSE process).
    Stale {
        /// The filesystem type in the mount table.
        fstype: String,
        /// Why it does not answer: the listing's error, or `no answer
        /// within N s`.
        reason: String,
    },
    /// Not a mount point.
    Unmounted,
}

/// Whether `path` is a mount point in `table` (an exact match, the last
/// mount on it), and if so whether listing it returns within `deadline`.
/// The listing runs in a thread of its own; on a hung mount that thread is
/// left behind, blocked. Reads nothing when `path` is not in `table`.
pub fn probe(path: &Path, table: &MountTable, deadline: Duration) -> Health {
    let Some(info) = table.at(path) else {
        return Health::Unmounted;
    };
    let fstype = info.fstype.clone();
    match answers(path, deadline) {
        Ok(()) => Health::Healthy { fstype },
        Err(reason) => Health::Stale { fstype, reason },
    }
}

/// True when listing the directory returns within the deadline.
pub(crate) fn answers(path: &Path, deadline: Duration) -> Result<(), String> {
    let (tx, rx) = std::sync::mpsc::channel();
    let path = path.to_path_buf();
    // A hung FUSE mount can block this thread forever; it is left behind.
    std::thread::spawn(move || {
        let result = std::fs::read_dir(&path).map(|mut d| {
            let _ = d.next();
        });
        let _ = tx.send(result.map_err(|e| e.to_string()));
    });
    match rx.recv_timeout(deadline) {
        Ok(result) => result,
        Err(_) => Err(format!("no answer within {} s", deadline.as_secs())),
    }
}
