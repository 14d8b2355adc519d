//! Directory handles: every open is relative to one, one name at a time,
//! with `O_NOFOLLOW`, and checked with `fstat` afterwards.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{AtFlags, Mode, OFlags};
use rustix::io::Errno;

use crate::error::LocalError;
use crate::stat::{Kind, Stat};

const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC)
    .union(OFlags::NOCTTY);

/// Opens the regular file at `path` for reading (links followed: for a
/// path an operator gave), never blocking on a FIFO or taking a terminal;
/// anything but a regular file is refused (`NotRegular`).
pub fn open_regular_file(path: &Path) -> Result<File, LocalError> {
    use std::os::unix::fs::OpenOptionsExt;
    let flags = (OFlags::NONBLOCK | OFlags::NOCTTY).bits() as i32;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(flags)
        .open(path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => LocalError::Missing { path: path.into() },
            _ => LocalError::io(path, "open", e),
        })?;
    let stat = Stat::of_open(&file).map_err(|e| LocalError::io(path, "fstat", e))?;
    if stat.kind != Kind::File {
        return Err(LocalError::NotRegular {
            path: path.into(),
            kind: stat.kind.describe(),
        });
    }
    Ok(file)
}

/// An open directory, and the path it was opened by (for messages only:
/// nothing is ever opened by that path again).
#[derive(Debug)]
pub struct Dir {
    fd: OwnedFd,
    path: PathBuf,
    stat: Stat,
}

/// A regular file opened for reading, and its `fstat`.
#[derive(Debug)]
pub struct Opened {
    /// The file, open read-only.
    pub file: File,
    /// Its `fstat` just after it was opened.
    pub stat: Stat,
}

impl Opened {
    /// `fstat` of the open file now (to see whether it changed since it
    /// was opened).
    pub fn restat(&self) -> Result<Stat, LocalError> {
        rustix::fs::fstat(&self.file)
            .map(|s| Stat::from_raw(&s))
            .map_err(|e| LocalError::io("(open file)", "fstat", e))
    }
}

impl Dir {
    /// Opens the absolute directory `path` from `/`, one component at a
    /// time: a symbolic link anywhere in it, or a `..`, is refused. Give it
    /// a path made canonical once (`canonical_dir`) when the caller's
    /// argument may legitimately pass through links.
    pub fn open(path: &Path) -> Result<Dir, LocalError> {
        if !path.is_absolute() {
            return Err(LocalError::NotAbsolute { path: path.into() });
        }
        let fd = rustix::fs::open("/", DIR_FLAGS, Mode::empty()).map_err(|e| LocalError::io("/", "open", e))?;
        let mut dir = Dir::from_fd(fd, PathBuf::from("/"))?;
        for component in path.components() {
            match component {
                Component::RootDir | Component::CurDir => {}
                Component::Normal(name) => dir = dir.open_dir(name)?,
                Component::ParentDir | Component::Prefix(_) => {
                    return Err(LocalError::NotAbsolute { path: path.into() });
                }
            }
        }
        Ok(dir)
    }

    fn from_fd(fd: OwnedFd, path: PathBuf) -> Result<Dir, LocalError> {
        let stat = Stat::from_raw(&rustix::fs::fstat(&fd).map_err(|e| LocalError::io(&path, "fstat", e))?);
        Ok(Dir { fd, path, stat })
    }

    /// The path this directory was opened by.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Its attributes when it was opened.
    pub fn stat(&self) -> &Stat {
        &self.stat
    }

    /// `self.path()/name`, for messages and for comparing with the mount table.
    pub fn child_path(&self, name: &OsStr) -> PathBuf {
        self.path.join(name)
    }

    /// `lstat` of `name`: None when it is not there.
    pub fn stat_at(&self, name: &OsStr) -> Result<Option<Stat>, LocalError> {
        match rustix::fs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(s) => Ok(Some(Stat::from_raw(&s))),
            Err(Errno::NOENT) => Ok(None),
            Err(e) => Err(LocalError::io(self.child_path(name), "lstat", e)),
        }
    }

    /// Opens the subdirectory `name`; a symbolic link is refused.
    pub fn open_dir(&self, name: &OsStr) -> Result<Dir, LocalError> {
        let path = self.child_path(name);
        match rustix::fs::openat(&self.fd, name, DIR_FLAGS, Mode::empty()) {
            Ok(fd) => Dir::from_fd(fd, path),
            Err(e) => Err(self.classify(name, path, e, "open")),
        }
    }

    /// Opens the subdirectory `name` only if it is still the directory
    /// `seen` describes; otherwise `LocalError::Changed`.
    pub fn open_dir_expecting(&self, name: &OsStr, seen: &Stat) -> Result<Dir, LocalError> {
        let dir = match self.open_dir(name) {
            Ok(d) => d,
            Err(LocalError::Symlink { path } | LocalError::NotADirectory { path }) => {
                return Err(LocalError::Changed { path });
            }
            Err(e) => return Err(e),
        };
        if !dir.stat.same_file(seen) {
            return Err(LocalError::Changed { path: dir.path });
        }
        Ok(dir)
    }

    /// The names in this directory, sorted by bytes, without `.` and `..`.
    pub fn names(&self) -> Result<Vec<OsString>, LocalError> {
        let list = |e: Errno| LocalError::io(&self.path, "read directory", e);
        let reader = rustix::fs::Dir::read_from(&self.fd).map_err(list)?;
        let mut names = Vec::new();
        for entry in reader {
            let entry = entry.map_err(list)?;
            let bytes = entry.file_name().to_bytes();
            if bytes != b"." && bytes != b".." {
                names.push(OsString::from_vec(bytes.to_vec()));
            }
        }
        names.sort();
        Ok(names)
    }

    /// At most `max` names in this directory (without `.` and `..`), in
    /// the order the directory gives them: enough to tell an empty one
    /// without reading a large one whole.
    pub fn first_names(&self, max: usize) -> Result<Vec<OsString>, LocalError> {
        let list = |e: Errno| LocalError::io(&self.path, "read directory", e);
        let reader = rustix::fs::Dir::read_from(&self.fd).map_err(list)?;
        let mut names = Vec::new();
        for entry in reader {
            if names.len() >= max {
                break;
            }
            let entry = entry.map_err(list)?;
            let bytes = entry.file_name().to_bytes();
            if bytes != b"." && bytes != b".." {
                names.push(OsString::from_vec(bytes.to_vec()));
            }
        }
        Ok(names)
    }

    /// Opens the regular file `name` for reading without following a link
    /// or blocking on a FIFO. With `seen`, it must still be that file.
    pub fn open_file(&self, name: &OsStr, seen: Option<&Stat>) -> Result<Opened, LocalError> {
        let path = self.child_path(name);
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
        let fd = match rustix::fs::openat(&self.fd, name, flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(e) => return Err(self.classify(name, path, e, "open")),
        };
        let stat = Stat::from_raw(&rustix::fs::fstat(&fd).map_err(|e| LocalError::io(&path, "fstat", e))?);
        if seen.is_some_and(|s| !s.same_file(&stat)) {
            return Err(LocalError::Changed { path });
        }
        if stat.kind != Kind::File {
            return Err(LocalError::NotRegular {
                path,
                kind: stat.kind.describe(),
            });
        }
        Ok(Opened {
            file: File::from(fd),
            stat,
        })
    }

    /// The target of the symbolic link `name`, as bytes.
    pub fn read_link(&self, name: &OsStr) -> Result<Vec<u8>, LocalError> {
        rustix::fs::readlinkat(&self.fd, name, Vec::new())
            .map(|c| c.into_bytes())
            .map_err(|e| self.classify(name, self.child_path(name), e, "readlink"))
    }

    /// Makes the subdirectory `name` (never through a link: `mkdirat` does
    /// not follow one) and opens it.
    pub fn create_dir(&self, name: &OsStr, mode: u32) -> Result<Dir, LocalError> {
        rustix::fs::mkdirat(&self.fd, name, Mode::from_raw_mode(mode))
            .map_err(|e| LocalError::io(self.child_path(name), "mkdir", e))?;
        let dir = self.open_dir(name)?;
        // The one just made: another user cannot have swapped in a
        // directory of its own between the mkdir and the open.
        if dir.stat.uid != rustix::process::geteuid().as_raw() {
            return Err(LocalError::Changed {
                path: self.child_path(name),
            });
        }
        Ok(dir)
    }

    /// Opens the directory `parts` (one name each) below this one, on
    /// this one's filesystem. With `create`, missing ones are made (mode
    /// `mode`, this process's owner). A link, a non-directory or another
    /// filesystem on the way is refused (`Symlink`, `NotADirectory`,
    /// `OtherFilesystem`); `parts` must not be empty.
    pub fn open_dirs(&self, parts: &[&[u8]], create: bool, mode: u32) -> Result<Dir, LocalError> {
        use std::os::unix::ffi::OsStrExt;
        let mut dir: Option<Dir> = None;
        for part in parts {
            let name = OsStr::from_bytes(part);
            let here = dir.as_ref().unwrap_or(self);
            let next = match here.stat_at(name)? {
                None if create => here.create_dir(name, mode)?,
                None => {
                    return Err(LocalError::Missing {
                        path: here.child_path(name),
                    });
                }
                Some(s) if s.kind == Kind::Symlink => {
                    return Err(LocalError::Symlink {
                        path: here.child_path(name),
                    });
                }
                Some(s) if s.kind != Kind::Dir => {
                    return Err(LocalError::NotADirectory {
                        path: here.child_path(name),
                    });
                }
                Some(_) => here.open_dir(name)?,
            };
            if next.stat.dev != self.stat.dev {
                return Err(LocalError::OtherFilesystem { path: next.path });
            }
            dir = Some(next);
        }
        dir.ok_or_else(|| LocalError::NotAbsolute {
            path: self.path.clone(),
        })
    }

    /// Renames `from` to `to` in this directory, refusing to replace `to`.
    pub fn rename_noreplace(&self, from: &OsStr, to: &OsStr) -> Result<(), LocalError> {
        rustix::fs::renameat_with(&self.fd, from, &self.fd, to, rustix::fs::RenameFlags::NOREPLACE)
            .map_err(|e| LocalError::io(self.child_path(from), "rename", e))
    }

    /// Renames `from` to `to` in this directory, replacing `to` (a rename
    /// replaces the name, never writes through a link planted there).
    pub fn rename(&self, from: &OsStr, to: &OsStr) -> Result<(), LocalError> {
        rustix::fs::renameat(&self.fd, from, &self.fd, to).map_err(|e| LocalError::io(self.child_path(to), "rename", e))
    }

    /// Removes the file (or link) `name` only if it is still the one `seen`
    /// describes.
    pub fn remove_file_if(&self, name: &OsStr, seen: &Stat) -> Result<(), LocalError> {
        let path = self.child_path(name);
        match self.stat_at(name)? {
            Some(now) if now.same_file(seen) && now.kind != Kind::Dir => {}
            Some(_) => return Err(LocalError::Changed { path }),
            None => return Err(LocalError::Missing { path }),
        }
        rustix::fs::unlinkat(&self.fd, name, AtFlags::empty()).map_err(|e| LocalError::io(path, "unlink", e))
    }

    /// Removes the subdirectory `name` if it is empty.
    pub fn remove_empty_dir(&self, name: &OsStr) -> Result<(), LocalError> {
        rustix::fs::unlinkat(&self.fd, name, AtFlags::REMOVEDIR)
            .map_err(|e| LocalError::io(self.child_path(name), "rmdir", e))
    }

    /// Sets this directory's owner and permission bits through its handle.
    pub fn set_owner_mode(&self, uid: u32, gid: u32, mode: u32) -> Result<(), LocalError> {
        let owner = (rustix::process::Uid::from_raw(uid), rustix::process::Gid::from_raw(gid));
        // Only root may give a file away; anyone else keeps its own.
        if rustix::process::geteuid().is_root() {
            rustix::fs::fchown(&self.fd, Some(owner.0), Some(owner.1))
                .map_err(|e| LocalError::io(&self.path, "chown", e))?;
        }
        rustix::fs::fchmod(&self.fd, Mode::from_raw_mode(mode)).map_err(|e| LocalError::io(&self.path, "chmod", e))
    }

    /// Opens the regular file `name` for reading and writing, creating it
    /// 0600 when missing, never following a link: a lock file in a private
    /// directory.
    pub fn open_lock_file(&self, name: &OsStr) -> Result<File, LocalError> {
        let path = self.child_path(name);
        let flags = OFlags::CREATE | OFlags::RDWR | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
        let fd = match rustix::fs::openat(&self.fd, name, flags, Mode::from_raw_mode(0o600)) {
            Ok(fd) => fd,
            Err(e) => return Err(self.classify(name, path, e, "open")),
        };
        let stat = Stat::from_raw(&rustix::fs::fstat(&fd).map_err(|e| LocalError::io(&path, "fstat", e))?);
        if stat.kind != Kind::File {
            return Err(LocalError::NotRegular {
                path,
                kind: stat.kind.describe(),
            });
        }
        Ok(File::from(fd))
    }

    pub(crate) fn fd(&self) -> impl AsFd + '_ {
        self.fd.as_fd()
    }

    /// A path naming exactly this open directory, whatever happens to its
    /// name (`/proc/self/fd/N`): for interfaces that take a path only,
    /// such as inotify. Valid while this `Dir` is open.
    pub fn proc_path(&self) -> PathBuf {
        use std::os::fd::AsRawFd;
        PathBuf::from(format!("/proc/self/fd/{}", self.fd.as_raw_fd()))
    }

    /// What a failed open of `name` means: a link, not a directory, gone.
    fn classify(&self, name: &OsStr, path: PathBuf, e: Errno, op: &'static str) -> LocalError {
        match e {
            Errno::NOENT => LocalError::Missing { path },
            // Look again: what is there now says why. When it no longer
            // explains the error (a swap undone in between), the name
            // changed under us.
            Errno::LOOP | Errno::NOTDIR | Errno::MLINK => match self.stat_at(name) {
                Ok(Some(s)) if s.kind == Kind::Symlink => LocalError::Symlink { path },
                Ok(Some(s)) if e == Errno::NOTDIR && s.kind != Kind::Dir => LocalError::NotADirectory { path },
                Ok(Some(_)) => LocalError::Changed { path },
                Ok(None) => LocalError::Missing { path },
                Err(_) => LocalError::io(path, op, e),
            },
            e => LocalError::io(path, op, e),
        }
    }
}
