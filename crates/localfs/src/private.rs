//! Private files and directories for a process running as root: created
//! under unpredictable names with `O_CREAT|O_EXCL|O_NOFOLLOW`, mode 0600,
//! written whole, then renamed into place.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;

use crate::dir::Dir;
use crate::error::LocalError;

/// A file being written under a temporary name in its final directory.
/// `persist` renames it into place; dropped unpersisted, it is removed.
#[derive(Debug)]
pub struct PrivateFile {
    dir: OwnedDir,
    name: OsString,
    file: Option<File>,
}

#[derive(Debug)]
struct OwnedDir {
    fd: std::os::fd::OwnedFd,
    path: PathBuf,
}

impl Dir {
    /// Creates `.STEM.RANDOM.tmp` here, 0600, failing rather than opening
    /// anything already at that name (a planted link or file).
    pub fn create_private(&self, stem: &OsStr) -> Result<PrivateFile, LocalError> {
        let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let mut last = Errno::EXIST;
        for _ in 0..16 {
            let mut name = OsString::from(".");
            name.push(stem);
            name.push(format!(".{:016x}.tmp", fastrand::u64(..)));
            match rustix::fs::openat(self.fd(), &name, flags, Mode::from_raw_mode(0o600)) {
                Ok(fd) => {
                    let dir_fd = rustix::io::fcntl_dupfd_cloexec(self.fd(), 0)
                        .map_err(|e| LocalError::io(self.path(), "dup", e))?;
                    return Ok(PrivateFile {
                        dir: OwnedDir {
                            fd: dir_fd,
                            path: self.path().to_path_buf(),
                        },
                        name,
                        file: Some(File::from(fd)),
                    });
                }
                Err(Errno::EXIST) => last = Errno::EXIST,
                Err(e) => return Err(LocalError::io(self.child_path(&name), "create", e)),
            }
        }
        Err(LocalError::io(self.child_path(stem), "create", last))
    }
}

impl PrivateFile {
    /// The file, to write to.
    pub fn file(&mut self) -> &mut File {
        self.file.as_mut().expect("present until persisted")
    }

    /// Where it is being written (for messages).
    pub fn path(&self) -> PathBuf {
        self.dir.path.join(&self.name)
    }

    /// Flushes it to disk and renames it to `name` in the same directory,
    /// replacing what is there (a rename never writes through a link).
    pub fn persist(mut self, name: &OsStr) -> Result<(), LocalError> {
        let file = self.file.take().expect("present until persisted");
        file.sync_all().map_err(|e| LocalError::io(self.path(), "fsync", e))?;
        drop(file);
        rustix::fs::renameat(&self.dir.fd, &self.name, &self.dir.fd, name)
            .map_err(|e| LocalError::io(self.dir.path.join(name), "rename", e))?;
        self.name.clear();
        Ok(())
    }
}

impl Drop for PrivateFile {
    fn drop(&mut self) {
        if !self.name.is_empty() {
            let _ = rustix::fs::unlinkat(&self.dir.fd, &self.name, rustix::fs::AtFlags::empty());
        }
    }
}

/// Writes `bytes` to `dir/name` whole and privately (0600, temporary
/// file, rename).
pub fn write_private(dir: &Dir, name: &OsStr, bytes: &[u8]) -> Result<(), LocalError> {
    let mut file = dir.create_private(name)?;
    let path = file.path();
    file.file()
        .write_all(bytes)
        .map_err(|e| LocalError::io(path, "write", e))?;
    file.persist(name)
}

/// `path` made absolute and free of links and `..`, once, by the kernel.
/// Everything later opens it component by component and refuses links.
pub fn canonical_dir(path: &Path) -> Result<PathBuf, LocalError> {
    match std::fs::canonicalize(path) {
        Ok(p) => Ok(p),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(LocalError::Missing { path: path.into() }),
        Err(e) => Err(LocalError::io(path, "resolve", e)),
    }
}

/// Opens the private directory `path` (canonical, absolute), creating it
/// 0700 when missing (and its missing parents 0755). An existing one must
/// belong to this process's user and grant nothing to group or others:
/// otherwise it is refused, never changed.
pub fn ensure_private_dir(path: &Path) -> Result<Dir, LocalError> {
    if !path.is_absolute() || path.components().any(|c| c == std::path::Component::ParentDir) {
        return Err(LocalError::NotAbsolute { path: path.into() });
    }
    let parent = path
        .parent()
        .ok_or_else(|| LocalError::NotAbsolute { path: path.into() })?;
    let name = path
        .file_name()
        .ok_or_else(|| LocalError::NotAbsolute { path: path.into() })?;
    std::fs::create_dir_all(parent).map_err(|e| LocalError::io(parent, "create", e))?;
    let parent = Dir::open(&canonical_dir(parent)?)?;
    let dir = match parent.open_dir(name) {
        Ok(dir) => dir,
        Err(LocalError::Missing { .. }) => match parent.create_dir(name, 0o700) {
            Ok(dir) => dir,
            Err(LocalError::Io { source, .. }) if source.kind() == std::io::ErrorKind::AlreadyExists => {
                parent.open_dir(name)?
            }
            Err(e) => return Err(e),
        },
        Err(e) => return Err(e),
    };
    let me = rustix::process::geteuid().as_raw();
    let stat = dir.stat();
    if stat.uid != me {
        return Err(LocalError::Insecure {
            path: path.into(),
            detail: format!("it belongs to uid {}, not to uid {me} who runs this", stat.uid),
        });
    }
    if stat.permissions() & 0o077 != 0 {
        return Err(LocalError::Insecure {
            path: path.into(),
            detail: format!(
                "its mode is {:04o}; it must grant nothing to group or others (0700)",
                stat.permissions()
            ),
        });
    }
    Ok(dir)
}
