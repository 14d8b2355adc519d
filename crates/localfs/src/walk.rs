//! A depth-first walk in name order over directory handles: each
//! directory is opened relative to its parent with `O_NOFOLLOW` and must
//! still be the directory the listing saw, so swapping a directory for a
//! link during the walk leads nowhere. Another filesystem is never entered.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use crate::dir::Dir;
use crate::error::LocalError;
use crate::name::join_rel;
use crate::stat::{Kind, Stat};

/// Directories deeper than this are reported (`Event::TooDeep`), not
/// entered: each level holds one open handle.
pub const MAX_DEPTH: usize = 256;

/// Where an entry is: its directory's handle, its name, and its path
/// relative to the walk's root (bytes, `/`-separated).
#[derive(Clone, Copy, Debug)]
pub struct Entry<'a> {
    /// The open directory the entry is in: open the entry relative to it.
    pub dir: &'a Dir,
    /// The entry's name in `dir` (one component, bytes).
    pub name: &'a OsStr,
    /// Its path from the walk's root, e.g. `images/a.jpg` (never starts
    /// with `/` or `./`).
    pub rel: &'a [u8],
}

impl Entry<'_> {
    /// The entry's path (for messages and the mount table; never opened).
    pub fn path(&self) -> PathBuf {
        self.dir.child_path(self.name)
    }
}

/// What the walk meets, in order.
#[derive(Debug)]
pub enum Event<'a> {
    /// A name, before anything about it is read: `Flow::Skip` leaves it
    /// unread (an excluded directory, a mount point).
    Name(Entry<'a>),
    /// A directory, before its entries: `Flow::Skip` does not enter it.
    Dir(Entry<'a>, &'a Stat),
    /// After a directory's entries: its open handle and how many names it held.
    Leave(Entry<'a>, &'a Dir, usize),
    /// A regular file (open it with `entry.dir.open_file(entry.name, Some(stat))`).
    File(Entry<'a>, &'a Stat),
    /// A symbolic link, with its `lstat`; never followed (read its target
    /// with `entry.dir.read_link(entry.name)`).
    Symlink(Entry<'a>, &'a Stat),
    /// A FIFO, socket or device.
    Special(Entry<'a>, &'a Stat),
    /// Gone between the listing and the stat or open.
    Vanished(Entry<'a>),
    /// A directory replaced (by a link, a file or another directory)
    /// between its stat and its open; not entered.
    Changed(Entry<'a>),
    /// A directory on another filesystem; not entered.
    OtherFilesystem(Entry<'a>, &'a Stat),
    /// A directory deeper than `MAX_DEPTH`; not entered.
    TooDeep(Entry<'a>),
    /// Could not be read (a lease held by its owner, a socket swapped in,
    /// another user's FUSE mount, an I/O error): not entered, not read.
    /// One such entry never stops the walk.
    Unreadable(Entry<'a>, &'a LocalError),
}

impl<'a> Event<'a> {
    /// The entry the event is about.
    pub fn entry(&self) -> &Entry<'a> {
        match self {
            Event::Name(e)
            | Event::Dir(e, _)
            | Event::Leave(e, _, _)
            | Event::File(e, _)
            | Event::Symlink(e, _)
            | Event::Special(e, _)
            | Event::Vanished(e)
            | Event::Changed(e)
            | Event::OtherFilesystem(e, _)
            | Event::TooDeep(e)
            | Event::Unreadable(e, _) => e,
        }
    }
}

/// What to do after an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Go on as usual. After `Name`: read it. After `Dir`: enter it.
    Continue,
    /// After `Name`: do not read it. After `Dir`: do not enter it.
    /// After any other event it means the same as `Continue`.
    Skip,
}

/// Walks everything below `root`, calling `visit` for each event.
/// The root's own listing failing is an error; below it, an unreadable
/// directory is an event.
pub fn walk<E: From<LocalError>>(root: &Dir, visit: &mut dyn FnMut(Event<'_>) -> Result<Flow, E>) -> Result<(), E> {
    match walk_dir(root, &[], 0, root.stat().dev, &mut |event| {
        visit(event).map_err(Listing::Stop)
    }) {
        Ok(_) => Ok(()),
        Err(Listing::Stop(e)) => Err(e),
        Err(Listing::Unreadable(e)) => Err(e.into()),
    }
}

/// Why a directory's walk ended early.
enum Listing<E> {
    /// The visitor stopped the walk.
    Stop(E),
    /// The directory itself could not be listed.
    Unreadable(LocalError),
}

fn walk_dir<E>(
    dir: &Dir,
    rel: &[u8],
    depth: usize,
    dev: u64,
    visit: &mut dyn FnMut(Event<'_>) -> Result<Flow, Listing<E>>,
) -> Result<usize, Listing<E>> {
    let names = dir.names().map_err(Listing::Unreadable)?;
    for name in &names {
        let child = join_rel(rel, name.as_bytes());
        let entry = Entry { dir, name, rel: &child };
        if visit(Event::Name(entry))? == Flow::Skip {
            continue;
        }
        let stat = match dir.stat_at(name) {
            Ok(Some(stat)) => stat,
            Ok(None) => {
                visit(Event::Vanished(entry))?;
                continue;
            }
            Err(e) => {
                visit(Event::Unreadable(entry, &e))?;
                continue;
            }
        };
        match stat.kind {
            Kind::Dir => {
                if stat.dev != dev {
                    visit(Event::OtherFilesystem(entry, &stat))?;
                    continue;
                }
                if visit(Event::Dir(entry, &stat))? == Flow::Skip {
                    continue;
                }
                if depth + 1 >= MAX_DEPTH {
                    visit(Event::TooDeep(entry))?;
                    continue;
                }
                let sub = match dir.open_dir_expecting(name, &stat) {
                    Ok(sub) => sub,
                    Err(LocalError::Changed { .. }) => {
                        visit(Event::Changed(entry))?;
                        continue;
                    }
                    Err(e) if e.is_missing() => {
                        visit(Event::Vanished(entry))?;
                        continue;
                    }
                    Err(e) => {
                        visit(Event::Unreadable(entry, &e))?;
                        continue;
                    }
                };
                let count = match walk_dir(&sub, &child, depth + 1, dev, visit) {
                    Ok(count) => count,
                    Err(Listing::Unreadable(e)) => {
                        visit(Event::Unreadable(entry, &e))?;
                        continue;
                    }
                    Err(Listing::Stop(e)) => return Err(Listing::Stop(e)),
                };
                visit(Event::Leave(entry, &sub, count))?;
            }
            Kind::File => {
                visit(Event::File(entry, &stat))?;
            }
            Kind::Symlink => {
                visit(Event::Symlink(entry, &stat))?;
            }
            _ => {
                visit(Event::Special(entry, &stat))?;
            }
        }
    }
    Ok(names.len())
}
