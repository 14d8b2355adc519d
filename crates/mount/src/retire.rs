//! Local files found where a bucket is to be mounted: each is first made
//! sure to be in the bucket (uploaded when missing, never overwriting), then
//! the directory is moved aside on the same filesystem, never deleted. The
//! record of moved-aside ("retired") directories lives in the state dir.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use adt_datastore::{PutOptions, PutOutcome, Store};
use adt_template::LayoutEntry;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::error::{MountError, io};

const PART: usize = 8 * 1024 * 1024;

/// One retired local directory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retired {
    pub entry: String,
    /// Where it was (where the bucket is now mounted).
    pub mountpoint: PathBuf,
    /// Where it is now.
    pub retired: PathBuf,
    /// The bucket(s) its files went to (the branches, for a merge target).
    pub buckets: Vec<String>,
}

pub(crate) fn record_path(state_dir: &Path) -> PathBuf {
    state_dir.join("retired.json")
}

pub fn load(state_dir: &Path) -> Vec<Retired> {
    std::fs::read(record_path(state_dir))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

pub(crate) fn save(state_dir: &Path, all: &[Retired]) -> Result<(), MountError> {
    let path = record_path(state_dir);
    std::fs::create_dir_all(state_dir).map_err(|e| io(state_dir, e))?;
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(all).map_err(|e| io(&path, e))?).map_err(|e| io(&tmp, e))?;
    std::fs::rename(&tmp, &path).map_err(|e| io(&path, e))
}

/// True when `dir` holds anything.
pub(crate) fn has_entries(dir: &Path) -> Result<bool, MountError> {
    Ok(std::fs::read_dir(dir).map_err(|e| io(dir, e))?.next().is_some())
}

/// Where files of `dir` go: `(bucket, key)` for a path relative to it.
pub(crate) struct Destination<'a> {
    pub layout: &'a LayoutEntry,
    /// Index of the bucket mounted on `dir`, or None for a merge target
    /// (files spread over the branches).
    pub branch: Option<usize>,
}

impl Destination<'_> {
    fn bucket(&self, key: &str) -> &str {
        let i = self
            .branch
            .unwrap_or_else(|| self.layout.branch_for(key.trim_end_matches('/')));
        &self.layout.mounts[i].bucket
    }
}

/// Counts from making sure local files are in the bucket.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Upload {
    pub uploaded: u64,
    pub present: u64,
    /// Already in the bucket with other content: the bucket's copy is kept
    /// and the local one stays in the retired directory.
    pub differ: Vec<String>,
    /// Symlinks and special files: left in the retired directory.
    pub skipped: Vec<String>,
}

/// Uploads every file under `dir` that is missing from its bucket.
pub(crate) async fn upload_missing(store: &Store, dir: &Path, dest: &Destination<'_>) -> Result<Upload, MountError> {
    let mut report = Upload::default();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        let mut children = 0;
        for item in std::fs::read_dir(&current).map_err(|e| io(&current, e))? {
            let item = item.map_err(|e| io(&current, e))?;
            children += 1;
            let path = item.path();
            let meta = std::fs::symlink_metadata(&path).map_err(|e| io(&path, e))?;
            let key = relative_key(dir, &path);
            if meta.is_dir() {
                stack.push(path);
            } else if meta.is_file() {
                put_file(store, &path, &meta, dest.bucket(&key), &key, &mut report).await?;
            } else {
                report.skipped.push(key);
            }
        }
        if children == 0 && current != dir {
            let key = format!("{}/", relative_key(dir, &current));
            let meta = std::fs::metadata(&current).map_err(|e| io(&current, e))?;
            let opts = PutOptions {
                content_type: Some("application/x-directory".into()),
                metadata: attributes(&meta),
            };
            match store
                .put_if_absent(dest.bucket(&key), &key, Bytes::new(), &opts)
                .await?
            {
                PutOutcome::Created { .. } => report.uploaded += 1,
                PutOutcome::Exists => report.present += 1,
            }
        }
    }
    report.differ.sort();
    report.skipped.sort();
    Ok(report)
}

async fn put_file(
    store: &Store,
    path: &Path,
    meta: &std::fs::Metadata,
    bucket: &str,
    key: &str,
    report: &mut Upload,
) -> Result<(), MountError> {
    if let Some(there) = store.head(bucket, key).await? {
        if there.size == meta.len() {
            report.present += 1;
        } else {
            report.differ.push(key.to_string());
        }
        return Ok(());
    }
    let opts = PutOptions {
        content_type: Some(
            mime_guess::from_path(key)
                .first_or_octet_stream()
                .essence_str()
                .to_string(),
        ),
        metadata: attributes(meta),
    };
    let outcome = store.put_file(bucket, key, path, &opts, true, PART).await?.outcome;
    match outcome {
        PutOutcome::Created { .. } => report.uploaded += 1,
        PutOutcome::Exists => report.present += 1,
    }
    Ok(())
}

/// Mode (with file-type bits), owner and mtime, as the mount tools read them.
pub(crate) fn attributes(meta: &std::fs::Metadata) -> BTreeMap<String, String> {
    [
        ("mode", meta.mode().to_string()),
        ("uid", meta.uid().to_string()),
        ("gid", meta.gid().to_string()),
        ("mtime", meta.mtime().to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

fn relative_key(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// Moves `dir` aside to `.NAME.adt-retired-SECONDS` beside it (a rename:
/// same filesystem, instant, nothing copied or lost) and makes a new empty
/// directory with the same mode and owner in its place.
pub(crate) fn move_aside(dir: &Path) -> Result<PathBuf, MountError> {
    let meta = std::fs::metadata(dir).map_err(|e| io(dir, e))?;
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let parent = dir.parent().ok_or_else(|| io(dir, "has no parent directory"))?;
    let mut retired = parent.join(format!(".{name}.adt-retired-{stamp}"));
    let mut n = 1;
    while retired.exists() {
        retired = parent.join(format!(".{name}.adt-retired-{stamp}-{n}"));
        n += 1;
    }
    std::fs::rename(dir, &retired).map_err(|e| io(dir, e))?;
    std::fs::create_dir(dir).map_err(|e| io(dir, e))?;
    std::fs::set_permissions(dir, meta.permissions()).map_err(|e| io(dir, e))?;
    let _ = std::os::unix::fs::chown(dir, Some(meta.uid()), Some(meta.gid()));
    Ok(retired)
}

/// Undoes `move_aside`: the (empty) mount point goes, the directory returns.
pub(crate) fn move_back(dir: &Path, retired: &Path) -> Result<(), MountError> {
    if dir.exists() {
        std::fs::remove_dir(dir).map_err(|e| io(dir, format!("cannot put the local directory back: {e}")))?;
    }
    std::fs::rename(retired, dir).map_err(|e| io(retired, e))
}

/// Files under `retired` that are not in their bucket with the same size.
pub(crate) async fn missing_from_bucket(
    store: &Store,
    retired: &Path,
    dest: &Destination<'_>,
) -> Result<Vec<String>, MountError> {
    let mut missing = Vec::new();
    let mut stack = vec![retired.to_path_buf()];
    while let Some(current) = stack.pop() {
        for item in std::fs::read_dir(&current).map_err(|e| io(&current, e))? {
            let path = item.map_err(|e| io(&current, e))?.path();
            let meta = std::fs::symlink_metadata(&path).map_err(|e| io(&path, e))?;
            let key = relative_key(retired, &path);
            if meta.is_dir() {
                stack.push(path);
            } else if !meta.is_file() {
                missing.push(format!("{key} (not a regular file, never uploaded)"));
            } else {
                match store.head(dest.bucket(&key), &key).await? {
                    Some(there) if there.size == meta.len() => {}
                    _ => missing.push(key),
                }
            }
        }
    }
    missing.sort();
    Ok(missing)
}
