//! A record, kept in a local cache directory, of what a completed seed put
//! in each bucket, keyed by the archive's identity and the layout. When the
//! same archive is seeded again, the buckets are listed and compared with
//! the record instead of decompressing the archive twice: a no-change run
//! costs a listing. Deleting the cache is harmless (the next run reads the
//! archive again); it never decides to skip an object that is not in the
//! bucket with the recorded size.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct Manifest {
    /// bucket -> (key, size, etag) of every object the archive gives it.
    pub objects: HashMap<String, Vec<(String, u64, String)>>,
    pub warnings: Vec<String>,
}

/// The cache file for this archive, layout and endpoint.
pub(crate) fn path(dir: &Path, identity: &str, endpoint: &str, buckets: &[String], part_size: usize) -> PathBuf {
    let key = format!("v1\n{identity}\n{endpoint}\n{}\n{part_size}", buckets.join("\n"));
    dir.join(format!("{:016x}.json", adt_template::stable_hash(key.as_bytes())))
}

/// The record, read only from an existing private cache directory (ours,
/// 0700): anyone else's is ignored; nothing is created.
pub(crate) fn load(path: &Path) -> Option<Manifest> {
    let dir = std::path::absolute(path.parent()?).ok()?;
    if !dir.is_dir() {
        return None;
    }
    let dir = adt_localfs::ensure_private_dir(&dir).ok()?;
    let mut file = dir.open_file(path.file_name()?, None).ok()?.file;
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut file, &mut bytes).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Written whole and privately (a fresh 0600 file, `O_EXCL|O_NOFOLLOW`,
/// renamed into place) in a private cache directory, created 0700 when
/// missing and refused when open to others.
pub(crate) fn store(path: &Path, manifest: &Manifest) -> std::io::Result<()> {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(std::io::Error::other("the cache path names no file"));
    };
    let dir = adt_localfs::ensure_private_dir(&std::path::absolute(dir)?).map_err(std::io::Error::other)?;
    let bytes = serde_json::to_vec(manifest).map_err(std::io::Error::other)?;
    adt_localfs::write_private(&dir, name, &bytes).map_err(std::io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_cache_directory_open_to_others_is_neither_used_nor_changed() {
        let dir = tempfile::tempdir().unwrap();
        let open = dir.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        let path = open.join("record.json");
        assert!(store(&path, &Manifest::default()).is_err());
        std::fs::write(&path, b"{\"objects\":{},\"warnings\":[]}").unwrap();
        assert!(load(&path).is_none(), "another user's record is ignored");
        assert_eq!(std::fs::metadata(&open).unwrap().permissions().mode() & 0o777, 0o777);

        let private = dir.path().join("private");
        let path = private.join("record.json");
        store(&path, &Manifest::default()).unwrap();
        assert_eq!(load(&path), Some(Manifest::default()));
        assert_eq!(std::fs::metadata(&private).unwrap().permissions().mode() & 0o777, 0o700);
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }
}
