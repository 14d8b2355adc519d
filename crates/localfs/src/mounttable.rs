//! /proc/self/mountinfo: which paths are mount points, of what type.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

/// One line of mountinfo.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct MountInfo {
    /// The mount's unique id (field 1).
    pub id: u64,
    /// Where it is mounted (octal escapes decoded; bytes kept).
    pub mountpoint: PathBuf,
    /// The filesystem type (`fuse.s3fs`, `ext4`).
    pub fstype: String,
    /// The mount source (the fsname FUSE tools are given).
    pub source: String,
}

/// The mount table as read once.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MountTable {
    /// Every mount, in the order the kernel lists them.
    pub mounts: Vec<MountInfo>,
}

impl MountTable {
    /// Reads /proc/self/mountinfo.
    pub fn read() -> std::io::Result<MountTable> {
        Ok(MountTable::parse(&std::fs::read_to_string("/proc/self/mountinfo")?))
    }

    /// Parses mountinfo text (proc(5)): field 5 is the mount point, and after
    /// the ` - ` separator come the fstype and source; spaces, tabs,
    /// newlines and backslashes in paths are octal escapes (`\040`).
    pub fn parse(text: &str) -> MountTable {
        let mounts = text
            .lines()
            .filter_map(|line| {
                let (left, right) = line.split_once(" - ")?;
                let id = left.split(' ').next()?.parse().ok()?;
                let mountpoint = left.split(' ').nth(4)?;
                let mut right = right.split(' ');
                let fstype = right.next()?;
                let source = right.next().unwrap_or("");
                Some(MountInfo {
                    id,
                    mountpoint: PathBuf::from(OsString::from_vec(unescape(mountpoint))),
                    fstype: String::from_utf8_lossy(&unescape(fstype)).into_owned(),
                    source: String::from_utf8_lossy(&unescape(source)).into_owned(),
                })
            })
            .collect();
        MountTable { mounts }
    }

    /// The mount on `path` (the last one, if stacked).
    pub fn at(&self, path: &Path) -> Option<&MountInfo> {
        self.mounts.iter().rev().find(|m| m.mountpoint == path)
    }

    /// Every mount point strictly below `dir`.
    pub fn below(&self, dir: &Path) -> Vec<&MountInfo> {
        self.mounts
            .iter()
            .filter(|m| m.mountpoint != dir && m.mountpoint.starts_with(dir))
            .collect()
    }
}

/// Decodes proc(5)'s octal escapes to the raw bytes (a path is bytes).
fn unescape(s: &str) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 3 < bytes.len() && bytes[i + 1..i + 4].iter().all(|b| (b'0'..=b'7').contains(b)) {
            let v = (bytes[i + 1] - b'0') * 64 + (bytes[i + 2] - b'0') * 8 + (bytes[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/vda rw
87 22 0:44 / /var/www/html/images rw,nosuid,nodev,relatime shared:40 - fuse.s3fs s3fs rw,user_id=0,group_id=0,allow_other
88 22 0:45 / /var/www/html/my\\040files rw,relatime shared:41 - tmpfs tmpfs rw
89 22 0:46 / /var/www/html/tab\\011and\\134back rw - fuse.rclone adt:bucket rw
";

    #[test]
    fn parses_and_decodes_octal_escapes() {
        let t = MountTable::parse(SAMPLE);
        assert_eq!(t.mounts.len(), 4);
        let s3fs = t.at(Path::new("/var/www/html/images")).unwrap();
        assert_eq!((s3fs.fstype.as_str(), s3fs.source.as_str()), ("fuse.s3fs", "s3fs"));
        assert_eq!(t.at(Path::new("/var/www/html/my files")).unwrap().fstype, "tmpfs");
        assert!(t.at(Path::new("/var/www/html/tab\tand\\back")).is_some());
        assert_eq!(t.below(Path::new("/var/www/html")).len(), 3);
        let latin1 = MountTable::parse("90 22 0:47 / /srv/caf\\351 rw - tmpfs tmpfs rw\n");
        assert_eq!(
            latin1.mounts[0].mountpoint.as_os_str().as_encoded_bytes(),
            b"/srv/caf\xe9",
            "a name that is not UTF-8 keeps its bytes"
        );
        assert!(t.below(Path::new("/var/www/html/images")).is_empty());
    }
}
