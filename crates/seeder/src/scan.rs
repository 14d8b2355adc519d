//! Pass 1: read the whole archive once before anything is uploaded. It
//! refuses an archive with any entry that escapes its root, finds a corrupt
//! or truncated one, and collects what the upload pass needs to know in
//! advance: the last occurrence of each path, hard links, empty
//! directories, and what will be skipped.

use std::collections::{HashMap, HashSet};
use std::io::Read;

use adt_archive::{ArchiveError, Kind, Limits};

use crate::error::SeedError;
use adt_datastore::PosixAttributes;

use crate::route::{Router, attributes, normalize};

#[derive(Debug, Default)]
pub(crate) struct Scan {
    /// Path -> index of its last entry (a later entry replaces an earlier
    /// one on extraction, so only the last is seeded).
    pub last_index: HashMap<String, usize>,
    /// Hard-link target path -> the link paths (inside asset directories)
    /// that get its content.
    pub links: HashMap<String, Vec<String>>,
    /// Directories inside asset directories: each gets a `dir/` object
    /// with its mode, owner and mtime (s3fs shows a directory without one
    /// dated 1970).
    pub dirs: Vec<(String, PosixAttributes)>,
    /// Symlinks, devices, fifos and unnamed entries inside asset
    /// directories: not seeded.
    pub skipped: Vec<String>,
    /// Regular files (and hard links) to seed, and their bytes.
    pub files: u64,
    pub bytes: u64,
}

/// The archive reader's error as the seeder's.
pub(crate) fn unreadable(archive: &str, e: ArchiveError) -> SeedError {
    match e {
        ArchiveError::Corrupt(detail) => SeedError::Corrupt {
            archive: archive.to_string(),
            detail,
        },
        ArchiveError::Io(e) => SeedError::Read {
            archive: archive.to_string(),
            detail: e.to_string(),
        },
        other => SeedError::Refused {
            archive: archive.to_string(),
            detail: other.to_string(),
        },
    }
}

pub(crate) fn corrupt(archive: &str, e: impl std::fmt::Display) -> SeedError {
    SeedError::Corrupt {
        archive: archive.to_string(),
        detail: e.to_string(),
    }
}

pub(crate) fn scan(reader: impl Read, router: &Router, archive: &str) -> Result<Scan, SeedError> {
    let mut tar = adt_archive::Reader::new(reader, Limits::default());
    let mut scan = Scan::default();
    let mut dirs: Vec<(String, PosixAttributes)> = Vec::new();
    let mut link_targets: Vec<(String, String)> = Vec::new();
    let mut sizes: HashMap<String, u64> = HashMap::new();
    let mut regular_seen: HashSet<String> = HashSet::new();
    let mut bad_keys: Vec<String> = Vec::new();
    let mut index = 0usize;
    while let Some(entry) = tar.next_entry().map_err(|e| unreadable(archive, e))? {
        let index = {
            index += 1;
            index - 1
        };
        let raw = entry.header.name.clone();
        let path = normalize(&raw).map_err(|why| SeedError::Unsafe {
            archive: archive.to_string(),
            entry: String::from_utf8_lossy(&raw).into_owned(),
            why,
        })?;
        let kind = entry.header.kind;
        let target = match kind {
            Kind::HardLink => {
                let link = entry.header.link.clone();
                let target = normalize(&link).map_err(|why| SeedError::Unsafe {
                    archive: archive.to_string(),
                    entry: format!(
                        "{} (hard link to {})",
                        String::from_utf8_lossy(&raw),
                        String::from_utf8_lossy(&link)
                    ),
                    why,
                })?;
                Some(target)
            }
            _ => None,
        };
        if kind == Kind::File {
            regular_seen.insert(path.clone());
        }
        if !router.inside(&path) {
            continue;
        }
        // One key policy for every tool: a name S3 or its listings cannot
        // carry refuses the archive here, before any bucket is created.
        let key_problem = match std::str::from_utf8(&raw) {
            Err(_) => Some(adt_datastore::KeyRefusal::NotUtf8),
            Ok(_) => router.route(&path, false).and_then(|dest| {
                adt_datastore::object_key(dest.key.as_bytes()).err().or_else(|| {
                    // A directory marker is one byte longer (`key/`).
                    (kind == Kind::Dir && dest.key.len() + 1 > adt_datastore::MAX_KEY_BYTES)
                        .then_some(adt_datastore::KeyRefusal::TooLong)
                })
            }),
        };
        if let Some(why) = key_problem {
            bad_keys.push(format!("`{}` {why}", adt_localfs::display_name(&raw)));
            continue;
        }
        match kind {
            Kind::File => {
                scan.last_index.insert(path.clone(), index);
                sizes.insert(path, entry.header.size);
            }
            Kind::HardLink => {
                let target = target.unwrap_or_default();
                if regular_seen.contains(&target) {
                    scan.last_index.insert(path.clone(), index);
                    link_targets.push((target, path));
                } else {
                    scan.skipped.push(format!(
                        "{path} (hard link to {target}, which is not earlier in the archive)"
                    ));
                }
            }
            Kind::Dir => dirs.push((path, attributes(&entry.header, true))),
            Kind::Symlink => scan.skipped.push(format!("{path} (symbolic link)")),
            Kind::CharDevice | Kind::BlockDevice => scan.skipped.push(format!("{path} (device)")),
            Kind::Fifo => scan.skipped.push(format!("{path} (fifo)")),
            Kind::Other(flag) => scan.skipped.push(format!("{path} (tar entry type {:?})", flag as char)),
        }
    }
    // The reader read the gzip stream to its end (CRC, length, nothing
    // after it): a damaged archive cannot pass for a whole one.
    if !bad_keys.is_empty() {
        let count = bad_keys.len();
        bad_keys.truncate(5);
        let mut first = bad_keys.join(", ");
        if count > 5 {
            first.push_str(", ...");
        }
        return Err(SeedError::BadKeys {
            archive: archive.to_string(),
            count,
            first,
        });
    }

    for (target, link) in link_targets {
        // A link counts only if it is still the last entry at its path.
        scan.links.entry(target).or_default().push(link);
    }
    scan.files = scan.last_index.len() as u64;
    scan.bytes = scan.last_index.keys().filter_map(|p| sizes.get(p)).sum();
    for (target, links) in &scan.links {
        if let Some(size) = sizes.get(target) {
            scan.bytes += size * links.len() as u64;
        }
    }
    scan.dirs = dirs;
    scan.dirs.sort_by(|a, b| a.0.cmp(&b.0));
    scan.dirs.dedup_by(|a, b| a.0 == b.0);
    Ok(scan)
}
