//! Backup archives for tests: gzip tars whose root is the webroot, with
//! entries named `./...` as ADT's backups name them, and with exact modes,
//! owners and mtimes, or deliberately broken names.

use std::fs::File;
use std::path::Path;

use flate2::write::GzEncoder;

/// The uid, gid and mtime every entry gets.
pub const OWNER: u64 = 33;
pub const MTIME: u64 = 1_650_000_000;

pub struct ArchiveBuilder {
    tar: tar::Builder<GzEncoder<File>>,
}

impl ArchiveBuilder {
    pub fn create(path: &Path) -> ArchiveBuilder {
        let file = File::create(path).expect("create the archive");
        ArchiveBuilder {
            tar: tar::Builder::new(GzEncoder::new(file, flate2::Compression::fast())),
        }
    }

    fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_uid(OWNER);
        h.set_gid(OWNER);
        h.set_mtime(MTIME);
        h.set_size(size);
        h
    }

    pub fn file(&mut self, path: &str, mode: u32, body: &[u8]) -> &mut Self {
        let mut h = Self::header(tar::EntryType::Regular, mode, body.len() as u64);
        self.tar.append_data(&mut h, path, body).expect("append a file");
        self
    }

    /// A file of entry type `kind` (e.g. `Continuous`, type '7') whose
    /// name is raw bytes (not UTF-8, control characters, any length).
    pub fn entry(&mut self, kind: tar::EntryType, name: &[u8], body: &[u8]) -> &mut Self {
        use std::os::unix::ffi::OsStrExt;
        let mut h = Self::header(kind, 0o644, body.len() as u64);
        self.tar
            .append_data(&mut h, Path::new(std::ffi::OsStr::from_bytes(name)), body)
            .expect("append an entry");
        self
    }

    pub fn dir(&mut self, path: &str) -> &mut Self {
        let mut h = Self::header(tar::EntryType::Directory, 0o755, 0);
        self.tar
            .append_data(&mut h, path, std::io::empty())
            .expect("append a directory");
        self
    }

    /// A symlink or hard link (`kind`) at `path` pointing at `target`.
    pub fn link(&mut self, kind: tar::EntryType, path: &str, target: &str) -> &mut Self {
        let mut h = Self::header(kind, 0o777, 0);
        self.tar.append_link(&mut h, path, target).expect("append a link");
        self
    }

    /// A fifo or device.
    pub fn special(&mut self, kind: tar::EntryType, path: &str) -> &mut Self {
        let mut h = Self::header(kind, 0o644, 0);
        self.tar
            .append_data(&mut h, path, std::io::empty())
            .expect("append a special file");
        self
    }

    /// A file whose name is written as given, unchecked: for archives that
    /// try to escape their root (`../x`, `/etc/x`).
    pub fn raw_file(&mut self, name: &str, body: &[u8]) -> &mut Self {
        let mut h = Self::header(tar::EntryType::Regular, 0o644, body.len() as u64);
        let raw = h.as_old_mut();
        raw.name[..name.len()].copy_from_slice(name.as_bytes());
        h.set_cksum();
        self.tar.append(&h, body).expect("append a raw entry");
        self
    }

    pub fn finish(self) {
        self.tar
            .into_inner()
            .expect("finish the tar")
            .finish()
            .expect("finish the gzip stream");
    }
}

/// `len` bytes of a repeatable pattern that differs by `seed`.
pub fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}
