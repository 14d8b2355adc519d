//! Reaching a path below the webroot safely, as root, in a tree other
//! users control: one component at a time from the webroot's handle, never
//! through a link (`O_NOFOLLOW`), never onto another filesystem (a mount),
//! and every file written whole under a private temporary name, then
//! renamed into place.

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;

use adt_localfs::{Dir, Kind, LocalError, PrivateFile, Stat};

/// Where a path is: its directory, open, and its last component.
pub struct Place {
    /// The directory holding it.
    pub dir: Dir,
    /// Its name in that directory.
    pub name: OsString,
}

/// Why a path cannot be reached.
#[derive(Debug)]
pub enum Unreachable {
    /// A directory on the way is missing.
    Missing,
    /// A component on the way is a link, a file, or on another filesystem.
    Blocked(String),
    /// The filesystem refused.
    Failed(LocalError),
}

impl From<LocalError> for Unreachable {
    fn from(e: LocalError) -> Self {
        Unreachable::Failed(e)
    }
}

/// Opens the directory that holds `rel`. With `create`, missing
/// directories on the way are made (mode 0755, owned as their parent).
pub fn place(root: &Dir, rel: &[u8], create: bool) -> Result<Place, Unreachable> {
    let mut parts: Vec<&[u8]> = rel.split(|b| *b == b'/').collect();
    let last = parts.pop().unwrap_or_default();
    let mut dir = root.open_dir(OsStr::new("."))?;
    for part in parts {
        let name = OsStr::from_bytes(part);
        let next = match dir.stat_at(name)? {
            Some(stat) if stat.kind == Kind::Dir && stat.dev == root.stat().dev => {
                dir.open_dir_expecting(name, &stat)?
            }
            Some(stat) if stat.kind == Kind::Dir => {
                return Err(Unreachable::Blocked(format!(
                    "{} is another filesystem",
                    dir.child_path(name).display()
                )));
            }
            Some(stat) => {
                return Err(Unreachable::Blocked(format!(
                    "{} is a {}",
                    dir.child_path(name).display(),
                    stat.kind.describe()
                )));
            }
            None if create => {
                let parent = *dir.stat();
                let made = dir.create_dir(name, 0o755)?;
                made.set_owner_mode(parent.uid, parent.gid, 0o755)?;
                made
            }
            None => return Err(Unreachable::Missing),
        };
        dir = next;
    }
    Ok(Place {
        dir,
        name: OsStr::from_bytes(last).to_os_string(),
    })
}

/// Attributes for a file being written.
pub struct Attributes {
    /// Permission bits.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Modification time, seconds since 1970.
    pub mtime: i64,
}

/// What every file being written is named, `.adt-sync.RANDOM.tmp`, until
/// it is renamed into place; one left by a killed cycle is removed by the
/// next (cycles of a node never overlap: the state directory's lock).
const TEMP_STEM: &str = "adt-sync";

/// True for the name of a file a killed cycle was writing.
pub fn is_leftover(name: &[u8]) -> bool {
    name.strip_prefix(b".adt-sync.")
        .and_then(|rest| rest.strip_suffix(b".tmp"))
        .is_some_and(|hex| hex.len() == 16 && hex.iter().all(u8::is_ascii_hexdigit))
}

/// Starts a file that will replace `place.name`: private until `finish`.
pub fn begin(place: &Place) -> Result<PrivateFile, LocalError> {
    place.dir.create_private(OsStr::new(TEMP_STEM))
}

/// Gives the written file its attributes, flushes it and renames it into
/// place (replacing a file there, never writing through a link); returns
/// the new file's attributes.
pub fn finish(place: &Place, mut file: PrivateFile, attrs: &Attributes) -> Result<Stat, LocalError> {
    let path = file.path();
    let io = |op: &'static str, e: rustix::io::Errno| LocalError::Io {
        path: path.clone(),
        op,
        source: e.into(),
    };
    file.file().flush().map_err(|e| LocalError::Io {
        path: path.clone(),
        op: "write",
        source: e,
    })?;
    if rustix::process::geteuid().is_root() {
        rustix::fs::fchown(
            &*file.file(),
            Some(rustix::process::Uid::from_raw(attrs.uid)),
            Some(rustix::process::Gid::from_raw(attrs.gid)),
        )
        .map_err(|e| io("chown", e))?;
    }
    rustix::fs::fchmod(&*file.file(), rustix::fs::Mode::from_raw_mode(attrs.mode & 0o7777))
        .map_err(|e| io("chmod", e))?;
    let when = rustix::fs::Timespec {
        tv_sec: attrs.mtime,
        tv_nsec: 0,
    };
    rustix::fs::futimens(
        &*file.file(),
        &rustix::fs::Timestamps {
            last_access: when,
            last_modification: when,
        },
    )
    .map_err(|e| io("utimens", e))?;
    // The attributes of the file written, from its own descriptor: never
    // of whatever is at the name a moment after the rename.
    let written = file.file().try_clone().map_err(|e| LocalError::Io {
        path: path.clone(),
        op: "dup",
        source: e,
    })?;
    file.persist(&place.name)?;
    Stat::of_open(&written).map_err(|e| LocalError::Io {
        path,
        op: "fstat",
        source: e,
    })
}
