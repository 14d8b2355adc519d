//! What a `stat` says, in the few fields the tools use.

use rustix::fs::FileType;

/// The type of a directory entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link (never followed).
    Symlink,
    /// A FIFO (named pipe).
    Fifo,
    /// A Unix socket.
    Socket,
    /// A character device.
    CharDevice,
    /// A block device.
    BlockDevice,
    /// A type `st_mode` does not name.
    Unknown,
}

impl Kind {
    /// The type in words, for messages (`regular file`, `symbolic link`).
    pub fn describe(self) -> &'static str {
        match self {
            Kind::File => "regular file",
            Kind::Dir => "directory",
            Kind::Symlink => "symbolic link",
            Kind::Fifo => "fifo",
            Kind::Socket => "socket",
            Kind::CharDevice => "character device",
            Kind::BlockDevice => "block device",
            Kind::Unknown => "file of unknown type",
        }
    }
}

/// The attributes of one file, as `lstat` or `fstat` gave them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stat {
    /// The file's type.
    pub kind: Kind,
    /// The device it is on (`st_dev`): another value is another filesystem.
    pub dev: u64,
    /// Its inode number (`st_ino`); with `dev`, it names the file.
    pub ino: u64,
    /// Its size in bytes (`st_size`; 0 if the kernel gave a negative one).
    pub size: u64,
    /// Permission bits with the file-type bits (`st_mode`).
    pub mode: u32,
    /// The owner's user id.
    pub uid: u32,
    /// The owner's group id.
    pub gid: u32,
    /// Last modification time, in seconds since 1970.
    pub mtime: i64,
    /// The nanoseconds of `mtime`.
    pub mtime_nsec: u32,
    /// Status change time: moves with every write, chmod and rename.
    /// In seconds since 1970.
    pub ctime: i64,
    /// The nanoseconds of `ctime`.
    pub ctime_nsec: u32,
}

impl Stat {
    /// `fstat` of an open file or directory: what the descriptor refers
    /// to, whatever its name points at now.
    pub fn of_open(fd: impl std::os::fd::AsFd) -> std::io::Result<Stat> {
        rustix::fs::fstat(fd).map(|s| Stat::from_raw(&s)).map_err(Into::into)
    }

    #[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
    pub(crate) fn from_raw(s: &rustix::fs::Stat) -> Stat {
        let kind = match FileType::from_raw_mode(s.st_mode as _) {
            FileType::RegularFile => Kind::File,
            FileType::Directory => Kind::Dir,
            FileType::Symlink => Kind::Symlink,
            FileType::Fifo => Kind::Fifo,
            FileType::Socket => Kind::Socket,
            FileType::CharacterDevice => Kind::CharDevice,
            FileType::BlockDevice => Kind::BlockDevice,
            _ => Kind::Unknown,
        };
        Stat {
            kind,
            dev: s.st_dev as u64,
            ino: s.st_ino as u64,
            size: s.st_size.max(0) as u64,
            mode: s.st_mode as u32,
            uid: s.st_uid as u32,
            gid: s.st_gid as u32,
            mtime: s.st_mtime as i64,
            mtime_nsec: s.st_mtime_nsec as u32,
            ctime: s.st_ctime as i64,
            ctime_nsec: s.st_ctime_nsec as u32,
        }
    }

    /// True when `other` is the same file (device and inode).
    pub fn same_file(&self, other: &Stat) -> bool {
        self.dev == other.dev && self.ino == other.ino
    }

    /// True when `other` is the same file, unchanged: same inode, size,
    /// mtime and ctime.
    pub fn unchanged(&self, other: &Stat) -> bool {
        self.same_file(other)
            && self.size == other.size
            && (self.mtime, self.mtime_nsec, self.ctime, self.ctime_nsec)
                == (other.mtime, other.mtime_nsec, other.ctime, other.ctime_nsec)
    }

    /// The permission bits alone (`mode & 0o7777`).
    pub fn permissions(&self) -> u32 {
        self.mode & 0o7777
    }
}
