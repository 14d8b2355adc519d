//! What the webroot holds now: every regular file and directory, in walk
//! order, never entering an excluded directory, a mount point, another
//! filesystem, or anything through a link. What could not be looked at is
//! "shadowed": nothing below it is taken as deleted.

use adt_backups::Exclusions;
use adt_localfs::{Dir, Event, Flow, MountTable, Stat, display_name, walk};

use crate::error::SyncError;

/// A file or directory found.
#[derive(Clone, Debug)]
pub struct Found {
    /// Its path below the webroot.
    pub path: Vec<u8>,
    /// Its attributes.
    pub stat: Stat,
}

/// What a walk of the webroot met besides its files and directories
/// (those go to the visitor, in walk order, and are not kept).
#[derive(Debug, Default)]
pub struct Scan {
    /// Paths not looked at (excluded, mounts, other filesystems,
    /// unreadable): what is below them is neither published nor deleted.
    pub shadowed: Vec<Vec<u8>>,
    /// Symbolic links, FIFOs, sockets and devices: never synced.
    pub skipped: Vec<String>,
    /// Directories not looked at this time (changed during the walk,
    /// unreadable, too deep): nothing below them is deleted, and nothing
    /// forgotten either.
    pub unseen: Vec<Vec<u8>>,
    /// Files a killed cycle was writing (`.adt-sync.RANDOM.tmp`): never
    /// synced, removed.
    pub leftovers: Vec<Found>,
}

/// True when `path` is `prefix` or below it.
pub fn below(path: &[u8], prefix: &[u8]) -> bool {
    path == prefix || (path.starts_with(prefix) && path.get(prefix.len()) == Some(&b'/'))
}

impl Scan {
    /// True when `path` is at or below a shadowed path.
    pub fn is_shadowed(&self, path: &[u8]) -> bool {
        self.shadowed.iter().any(|s| below(path, s))
    }

    /// True when `path` is at or below a directory not looked at this time.
    pub fn is_unseen(&self, path: &[u8]) -> bool {
        self.unseen.iter().any(|s| below(path, s))
    }
}

/// Walks the webroot, handing every file and directory to `visit` in walk
/// order (memory does not grow with the number of files).
pub fn scan(
    root: &Dir,
    exclusions: &Exclusions,
    table: &MountTable,
    visit: &mut dyn FnMut(Found),
) -> Result<Scan, SyncError> {
    let mut scan = Scan::default();
    walk(root, &mut |event: Event<'_>| -> Result<Flow, SyncError> {
        let rel = event.entry().rel.to_vec();
        match event {
            Event::Name(entry) => {
                if exclusions.excludes(&rel) || table.at(&entry.path()).is_some() {
                    scan.shadowed.push(rel);
                    return Ok(Flow::Skip);
                }
            }
            Event::File(entry, stat) if crate::local::is_leftover(entry.name.as_encoded_bytes()) => {
                scan.leftovers.push(Found { path: rel, stat: *stat })
            }
            Event::Dir(_, stat) | Event::File(_, stat) => visit(Found { path: rel, stat: *stat }),
            Event::Symlink(..) | Event::Special(..) => scan.skipped.push(display_name(&rel)),
            Event::OtherFilesystem(..) => scan.shadowed.push(rel),
            Event::TooDeep(_) | Event::Changed(_) | Event::Unreadable(..) => scan.unseen.push(rel),
            Event::Leave(..) | Event::Vanished(_) => {}
        }
        Ok(Flow::Continue)
    })?;
    Ok(scan)
}
