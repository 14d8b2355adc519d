//! Change notification for `adt-sync watch`: an inotify watch on every
//! directory the sync looks at (never on a mount, an excluded directory or
//! another filesystem: they are found by the same walk as a cycle's, and
//! no watch follows a link), read without blocking. A change anywhere
//! below the webroot is noticed at the next look; when the kernel's watch
//! limit is reached, the periodic full cycle is the safety net.

use std::mem::MaybeUninit;
use std::os::fd::OwnedFd;

use adt_backups::Exclusions;
use adt_localfs::{Dir, Kind, MountTable};
use rustix::fs::inotify::{self, CreateFlags, WatchFlags};

use crate::error::SyncError;

/// The watches on one webroot.
pub struct Watcher {
    fd: OwnedFd,
    /// Directories watched.
    pub watched: usize,
    /// True when not every directory could be watched (the kernel's limit).
    pub partial: bool,
}

impl Watcher {
    /// Watches the webroot and every directory a cycle would look at.
    pub fn new(root: &Dir, exclusions: &Exclusions, table: &MountTable) -> Result<Watcher, SyncError> {
        let io = |e: rustix::io::Errno| SyncError::State {
            path: "inotify".into(),
            detail: std::io::Error::from(e).to_string(),
        };
        let fd = inotify::init(CreateFlags::NONBLOCK | CreateFlags::CLOEXEC).map_err(io)?;
        // Each directory is opened the safe way (no link on the way, the
        // one the walk saw) and watched through /proc/self/fd: a name
        // swapped for a link meanwhile is never followed out of the webroot.
        let flags = WatchFlags::CREATE
            | WatchFlags::DELETE
            | WatchFlags::MODIFY
            | WatchFlags::CLOSE_WRITE
            | WatchFlags::MOVED_FROM
            | WatchFlags::MOVED_TO
            | WatchFlags::ATTRIB
            | WatchFlags::DELETE_SELF
            | WatchFlags::MOVE_SELF
            | WatchFlags::ONLYDIR
            | WatchFlags::EXCL_UNLINK;
        let mut dirs_found = Vec::new();
        crate::scan::scan(root, exclusions, table, &mut |f| {
            if f.stat.kind == Kind::Dir {
                dirs_found.push((f.path, f.stat));
            }
        })?;
        let mut watcher = Watcher {
            fd,
            watched: 0,
            partial: false,
        };
        let opened = std::iter::once(root.open_dir(std::ffi::OsStr::new(".")).ok()).chain(dirs_found.into_iter().map(
            |(path, stat)| {
                let place = crate::local::place(root, &path, false).ok()?;
                place.dir.open_dir_expecting(&place.name, &stat).ok()
            },
        ));
        for dir in opened {
            // Gone, or replaced: the next cycle sees it.
            let Some(dir) = dir else { continue };
            match inotify::add_watch(&watcher.fd, dir.proc_path(), flags) {
                Ok(_) => watcher.watched += 1,
                Err(rustix::io::Errno::NOSPC) => {
                    watcher.partial = true;
                    break;
                }
                Err(_) => {} // gone, or replaced by a link: the next cycle sees it
            }
        }
        Ok(watcher)
    }

    /// True when anything changed since the last look (the events are
    /// read and dropped).
    pub fn changed(&mut self) -> bool {
        let mut buf = [MaybeUninit::<u8>::uninit(); 8192];
        let mut any = false;
        let mut reader = inotify::Reader::new(&self.fd, &mut buf);
        loop {
            match reader.next() {
                Ok(_) => any = true,
                Err(rustix::io::Errno::AGAIN | rustix::io::Errno::INTR) => return any,
                Err(_) => return true,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_below_are_noticed_and_a_link_out_is_never_watched() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().canonicalize().unwrap();
        let (webroot, outside) = (base.join("html"), base.join("outside"));
        std::fs::create_dir_all(webroot.join("a/b")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, webroot.join("link")).unwrap();
        let table = MountTable::read().unwrap();
        let exclusions = Exclusions::new(&webroot, None, &table, &[]).unwrap();
        let root = Dir::open(&webroot).unwrap();
        let mut watcher = Watcher::new(&root, &exclusions, &table).unwrap();
        assert_eq!(watcher.watched, 3, "html, a, a/b");
        assert!(!watcher.changed());
        std::fs::write(outside.join("x"), "outside").unwrap();
        assert!(!watcher.changed(), "a change behind a link was watched");
        std::fs::write(webroot.join("a/b/new.php"), "new").unwrap();
        assert!(watcher.changed());
        assert!(!watcher.changed(), "the events were read");
    }
}
