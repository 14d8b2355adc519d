//! How a POSIX file becomes an object, one owner for it (reference §5):
//! mode (with its file-type bits), owner and mtime as `x-amz-meta-*`
//! decimal integers, the way s3fs and rclone read them back; a content
//! type guessed from the name; a directory as an empty `NAME/` object of
//! type `application/x-directory`. The seeder and the mount's migration
//! both write objects this way, so a file looks the same whichever wrote it.

use std::collections::BTreeMap;

use crate::store::PutOptions;

/// The content type of a directory object (`NAME/`).
pub const DIRECTORY_CONTENT_TYPE: &str = "application/x-directory";

const S_IFMT: u32 = 0o170_000;
const S_IFREG: u32 = 0o100_000;
const S_IFDIR: u32 = 0o040_000;

/// A file's attributes as object metadata.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PosixAttributes {
    mode: u32,
    uid: u64,
    gid: u64,
    mtime: i64,
}

impl PosixAttributes {
    /// `st_mode` as `stat` gives it (file-type bits included).
    pub fn from_stat_mode(mode: u32, uid: u64, gid: u64, mtime: i64) -> PosixAttributes {
        PosixAttributes { mode, uid, gid, mtime }
    }

    /// A regular file with permission bits `perm` (as a tar header holds them).
    pub fn file(perm: u32, uid: u64, gid: u64, mtime: i64) -> PosixAttributes {
        PosixAttributes::from_stat_mode((perm & 0o7777) | S_IFREG, uid, gid, mtime)
    }

    /// A directory with permission bits `perm`.
    pub fn directory(perm: u32, uid: u64, gid: u64, mtime: i64) -> PosixAttributes {
        PosixAttributes::from_stat_mode((perm & 0o7777) | S_IFDIR, uid, gid, mtime)
    }

    /// The mode with its file-type bits.
    pub fn mode(&self) -> u32 {
        self.mode
    }

    /// The owner's user id.
    pub fn uid(&self) -> u64 {
        self.uid
    }

    /// The owner's group id.
    pub fn gid(&self) -> u64 {
        self.gid
    }

    /// Modification time, seconds since 1970.
    pub fn mtime(&self) -> i64 {
        self.mtime
    }

    /// The attributes stored with an object (`mode`, `uid`, `gid`,
    /// `mtime`, as this crate, s3fs and rclone write them; rclone's mtime
    /// may carry a fraction, which is dropped), each missing or unreadable
    /// one taken from `defaults`. A mode without file-type bits keeps
    /// those of `defaults`.
    pub fn from_metadata(metadata: &BTreeMap<String, String>, defaults: PosixAttributes) -> PosixAttributes {
        let number = |name: &str| metadata.get(name).map(|v| v.trim());
        let mut mode = number("mode")
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(defaults.mode);
        if mode & S_IFMT == 0 {
            mode |= defaults.mode & S_IFMT;
        }
        PosixAttributes {
            mode,
            uid: number("uid").and_then(|v| v.parse().ok()).unwrap_or(defaults.uid),
            gid: number("gid").and_then(|v| v.parse().ok()).unwrap_or(defaults.gid),
            mtime: number("mtime")
                .and_then(|v| {
                    v.parse::<i64>()
                        .ok()
                        .or_else(|| v.parse::<f64>().ok().filter(|f| f.is_finite()).map(|f| f as i64))
                })
                .unwrap_or(defaults.mtime),
        }
    }

    /// True when the mode says directory.
    pub fn is_directory(&self) -> bool {
        self.mode & S_IFMT == S_IFDIR
    }

    /// `mode`, `uid`, `gid` and `mtime`, decimal.
    pub fn metadata(&self) -> BTreeMap<String, String> {
        [
            ("mode", self.mode.to_string()),
            ("uid", self.uid.to_string()),
            ("gid", self.gid.to_string()),
            ("mtime", self.mtime.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// What to store with the object of `key`: this metadata, and the
    /// content type of a directory, or the one `key`'s extension suggests.
    pub fn put_options(&self, key: &str) -> PutOptions {
        let content_type = if self.is_directory() {
            DIRECTORY_CONTENT_TYPE.to_string()
        } else {
            mime_guess::from_path(key)
                .first_or_octet_stream()
                .essence_str()
                .to_string()
        };
        PutOptions {
            content_type: Some(content_type),
            metadata: self.metadata(),
        }
    }
}

/// The key of the object that stands for directory `key`: `key/`.
pub fn directory_key(key: &str) -> String {
    format!("{}/", key.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_carry_their_file_type_bits() {
        let file = PosixAttributes::file(0o644, 33, 33, 1_700_000_000);
        assert_eq!(file.metadata()["mode"], "33188");
        assert_eq!(file.metadata()["mtime"], "1700000000");
        let dir = PosixAttributes::directory(0o755, 33, 33, 0);
        assert_eq!(dir.metadata()["mode"], "16877");
        assert_eq!(PosixAttributes::directory(0o644, 0, 0, 0).mode(), 0o040_644);
    }

    #[test]
    fn stored_metadata_reads_back_with_defaults_for_what_is_missing() {
        let file = PosixAttributes::file(0o640, 33, 34, 1_700_000_000);
        let defaults = PosixAttributes::file(0o644, 0, 0, 5);
        assert_eq!(PosixAttributes::from_metadata(&file.metadata(), defaults), file);
        let mut m = BTreeMap::new();
        m.insert("mode".to_string(), "416".to_string()); // 0640, no type bits
        m.insert("mtime".to_string(), "1700000000.25".to_string()); // rclone
        m.insert("uid".to_string(), "not a number".to_string());
        let read = PosixAttributes::from_metadata(&m, defaults);
        assert_eq!(read.mode(), 0o100_640);
        assert_eq!((read.uid(), read.gid(), read.mtime()), (0, 0, 1_700_000_000));
    }

    #[test]
    fn content_types_follow_the_name_and_directories_are_marked() {
        let file = PosixAttributes::file(0o644, 0, 0, 0);
        assert_eq!(file.put_options("a/b.png").content_type.as_deref(), Some("image/png"));
        assert_eq!(
            file.put_options("a/b").content_type.as_deref(),
            Some("application/octet-stream")
        );
        let dir = PosixAttributes::directory(0o755, 0, 0, 0);
        assert_eq!(
            dir.put_options("a/b.png/").content_type.as_deref(),
            Some(DIRECTORY_CONTENT_TYPE)
        );
        assert_eq!(directory_key("a/b"), "a/b/");
    }
}
