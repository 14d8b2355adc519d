//! Giving restored files their owner, permissions and times, through a
//! handle or (for a link) by name without following it.

use std::ffi::{OsStr, OsString};
use std::os::fd::AsFd;

use rustix::fs::{AtFlags, Mode, Timespec, Timestamps};
use rustix::io::Errno;

use crate::dir::Dir;
use crate::error::LocalError;
use crate::private::PrivateFile;

/// The owner, permission bits and modification time a file is given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attributes {
    /// Owner's user id (applied only when running as root).
    pub uid: u32,
    /// Owner's group id (applied only when running as root).
    pub gid: u32,
    /// Permission bits (`& 0o7777`).
    pub mode: u32,
    /// Modification (and access) time, seconds since 1970.
    pub mtime: i64,
}

/// The owner given to an id too large for this system (`nobody`).
pub const NOBODY: u32 = 65534;

impl Attributes {
    /// Attributes from an untrusted source (an archive, object metadata),
    /// made safe to give a restored file: permission bits only, never a
    /// set-user or set-group id (a directory keeps its sticky bit), ids
    /// too large for this system given to [`NOBODY`].
    pub fn untrusted(uid: u64, gid: u64, mode: u32, mtime: i64, directory: bool) -> Attributes {
        Attributes {
            uid: u32::try_from(uid).unwrap_or(NOBODY),
            gid: u32::try_from(gid).unwrap_or(NOBODY),
            mode: mode & if directory { 0o1777 } else { 0o777 },
            mtime,
        }
    }
}

fn times(mtime: i64) -> Timestamps {
    let t = Timespec {
        tv_sec: mtime,
        tv_nsec: 0,
    };
    Timestamps {
        last_access: t,
        last_modification: t,
    }
}

/// Owner (as root only: anyone else keeps its own), mode, then times of
/// the open file or directory `fd`.
fn apply(fd: impl AsFd, attrs: &Attributes, path: &std::path::Path) -> Result<(), LocalError> {
    let fd = fd.as_fd();
    if rustix::process::geteuid().is_root() {
        rustix::fs::fchown(
            fd,
            Some(rustix::process::Uid::from_raw(attrs.uid)),
            Some(rustix::process::Gid::from_raw(attrs.gid)),
        )
        .map_err(|e| LocalError::io(path, "chown", e))?;
    }
    rustix::fs::fchmod(fd, Mode::from_raw_mode(attrs.mode & 0o7777)).map_err(|e| LocalError::io(path, "chmod", e))?;
    rustix::fs::futimens(fd, &times(attrs.mtime)).map_err(|e| LocalError::io(path, "set times", e))
}

impl Dir {
    /// Gives this directory `attrs` through its handle.
    pub fn set_attributes(&self, attrs: &Attributes) -> Result<(), LocalError> {
        apply(self.fd(), attrs, self.path())
    }

    /// Makes the symbolic link `name` -> `target` (bytes, stored as they
    /// are, never followed), replacing a file or link at `name` but never
    /// a directory: made under a temporary name, given `attrs`' owner and
    /// time, then renamed into place.
    pub fn replace_with_symlink(&self, name: &OsStr, target: &[u8], attrs: &Attributes) -> Result<(), LocalError> {
        let target = <OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(target);
        let mut last = Errno::EXIST;
        for _ in 0..16 {
            let tmp = temporary_name();
            match rustix::fs::symlinkat(target, self.fd(), &tmp) {
                Ok(()) => {
                    let done = self.link_attributes(&tmp, attrs).and_then(|()| self.rename(&tmp, name));
                    if done.is_err() {
                        let _ = rustix::fs::unlinkat(self.fd(), &tmp, AtFlags::empty());
                    }
                    return done;
                }
                Err(Errno::EXIST) => last = Errno::EXIST,
                Err(e) => return Err(LocalError::io(self.child_path(name), "symlink", e)),
            }
        }
        Err(LocalError::io(self.child_path(name), "symlink", last))
    }

    /// Makes `name` here a hard link to `from` in `from_dir` (never
    /// following a link at `from`), replacing a file or link at `name` but
    /// never a directory.
    pub fn replace_with_hard_link(&self, name: &OsStr, from_dir: &Dir, from: &OsStr) -> Result<(), LocalError> {
        let mut last = Errno::EXIST;
        for _ in 0..16 {
            let tmp = temporary_name();
            match rustix::fs::linkat(from_dir.fd(), from, self.fd(), &tmp, AtFlags::empty()) {
                Ok(()) => {
                    let done = self.rename(&tmp, name);
                    // A rename onto another link to the same file does
                    // nothing and leaves `tmp`: remove it in every case.
                    let _ = rustix::fs::unlinkat(self.fd(), &tmp, AtFlags::empty());
                    return done;
                }
                Err(Errno::EXIST) => last = Errno::EXIST,
                Err(e) => return Err(LocalError::io(self.child_path(name), "link", e)),
            }
        }
        Err(LocalError::io(self.child_path(name), "link", last))
    }

    /// A link's owner and time, set on the link itself.
    fn link_attributes(&self, name: &OsStr, attrs: &Attributes) -> Result<(), LocalError> {
        if rustix::process::geteuid().is_root() {
            rustix::fs::chownat(
                self.fd(),
                name,
                Some(rustix::process::Uid::from_raw(attrs.uid)),
                Some(rustix::process::Gid::from_raw(attrs.gid)),
                AtFlags::SYMLINK_NOFOLLOW,
            )
            .map_err(|e| LocalError::io(self.child_path(name), "chown", e))?;
        }
        rustix::fs::utimensat(self.fd(), name, &times(attrs.mtime), AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| LocalError::io(self.child_path(name), "set times", e))
    }
}

impl PrivateFile {
    /// Gives the file being written `attrs` (its final owner, mode and
    /// time), through its handle, before it is persisted.
    pub fn set_attributes(&mut self, attrs: &Attributes) -> Result<(), LocalError> {
        let path = self.path();
        apply(&*self.file(), attrs, &path)
    }
}

/// `.adt-tmp.RANDOM`: short, so any name's temporary fits NAME_MAX.
fn temporary_name() -> OsString {
    OsString::from(format!(".adt-tmp.{:016x}", fastrand::u64(..)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untrusted_attributes_never_carry_a_set_id_bit() {
        let f = Attributes::untrusted(33, 1 << 40, 0o6755, 5, false);
        assert_eq!((f.uid, f.gid, f.mode, f.mtime), (33, NOBODY, 0o755, 5));
        let d = Attributes::untrusted(0, 0, 0o43777, 5, true);
        assert_eq!(d.mode, 0o1777);
    }
}
