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

pub(crate) fn load(path: &Path) -> Option<Manifest> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

/// Written to a temporary file and renamed, so a crash leaves no torn record.
pub(crate) fn store(path: &Path, manifest: &Manifest) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, serde_json::to_vec(manifest).map_err(std::io::Error::other)?)?;
    std::fs::rename(&tmp, path)
}

/// The default cache directory: $XDG_CACHE_HOME/adt-seed, else ~/.cache/adt-seed.
pub fn default_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .map(|d| d.join("adt-seed"))
}
