//! rclone's uploads still to come. rclone uploads a file a moment after
//! its last close (`--vfs-write-back`), and marks each file waiting for
//! its upload `"Dirty": true` in the metadata under its cache directory
//! (`CACHE/vfsMeta/...`, one JSON file per file). Unmount waits for none
//! to be left, because rclone 1.60 exits on unmount without uploading
//! them; they stay in the cache and rclone uploads them when it next
//! mounts the bucket, so they are late, never lost.
//!
//! The cache is below the private state directory, but its names come
//! from object keys, so it is read through adt-localfs all the same.

use std::io::Read;
use std::path::Path;

use adt_localfs::{Dir, Event, Flow, LocalError};

/// A metadata file is a few hundred bytes; read no more than this of one.
const MAX_META: u64 = 64 * 1024;

/// How many files under rclone cache directory `cache` still wait for
/// their upload (0 when there is no cache). What cannot be read counts as
/// waiting, so a caller warns rather than assumes all was uploaded.
pub fn pending_uploads(cache: &Path) -> usize {
    let meta = match Dir::open(&cache.join("vfsMeta")) {
        Ok(meta) => meta,
        Err(e) if e.is_missing() => return 0,
        Err(_) => return 1,
    };
    let mut pending = 0;
    let walked = adt_localfs::walk(&meta, &mut |event| -> Result<Flow, LocalError> {
        match event {
            Event::File(entry, stat) => {
                let mut text = Vec::new();
                let read = entry
                    .dir
                    .open_file(entry.name, Some(stat))
                    .ok()
                    .and_then(|opened| opened.file.take(MAX_META).read_to_end(&mut text).ok());
                if read.is_none() || is_dirty(&text) {
                    pending += 1;
                }
            }
            Event::Unreadable(..) | Event::TooDeep(_) | Event::Changed(_) => pending += 1,
            _ => {}
        }
        Ok(Flow::Continue)
    });
    if walked.is_err() {
        pending += 1;
    }
    pending
}

/// Whether one metadata file says its file still waits for its upload.
fn is_dirty(meta: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Meta {
        #[serde(rename = "Dirty", default)]
        dirty: bool,
    }
    serde_json::from_slice::<Meta>(meta).is_ok_and(|m| m.dirty)
}

/// Waits up to `limit` for no upload to be pending under `cache`;
/// returns how many still are.
pub fn wait_uploaded(cache: &Path, limit: std::time::Duration) -> usize {
    let started = std::time::Instant::now();
    loop {
        let left = pending_uploads(cache);
        if left == 0 || started.elapsed() >= limit {
            return left;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_files_marked_dirty_are_pending() {
        let dir = tempfile::tempdir().unwrap();
        let meta = dir.path().join("vfsMeta/adt{x}/bucket/2026/11");
        std::fs::create_dir_all(&meta).unwrap();
        std::fs::write(meta.join("a.jpg"), br#"{"Size": 3, "Dirty": true}"#).unwrap();
        std::fs::write(meta.join("b.jpg"), br#"{"Size": 3, "Dirty": false}"#).unwrap();
        std::fs::write(meta.join("c.jpg"), b"not json").unwrap();
        std::fs::write(meta.join("d.jpg"), vec![b' '; 100 * 1024]).unwrap();
        std::os::unix::fs::symlink(meta.join("a.jpg"), meta.join("link.jpg")).unwrap();
        assert_eq!(pending_uploads(dir.path()), 1);
        assert_eq!(pending_uploads(&dir.path().join("missing")), 0);
        assert_eq!(wait_uploaded(dir.path(), std::time::Duration::ZERO), 1);
    }
}
