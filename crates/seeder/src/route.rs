//! Which bucket and key an archive path goes to, from the Layout: files of
//! a plain entry go to its bucket under their path relative to the entry's
//! directory; files of a `merge=NAMEn` entry are spread over its n branch
//! buckets by a stable hash of that relative path, so the merged view shows
//! each file exactly once.

use adt_datastore::PosixAttributes;
use adt_template::Layout;

/// One bucket the seed writes to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct BucketInfo {
    pub name: String,
    /// The DIRECTORIES_TO_MOUNT entry it belongs to, as written.
    pub entry: String,
}

/// Where one archive path goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Dest {
    /// Index into `Router::buckets`.
    pub bucket: usize,
    pub key: String,
}

struct Route {
    /// Indexes into `Router::buckets`: one, or the branches of a merge.
    buckets: Vec<usize>,
    /// The layout entry: its directory in the archive (`backup_dir`, ""
    /// for the whole webroot) and the branch of each file.
    entry: adt_template::LayoutEntry,
}

impl Route {
    fn dir(&self) -> &str {
        self.entry.backup_dir.as_deref().unwrap_or_default()
    }
}

pub(crate) struct Router {
    routes: Vec<Route>,
    pub buckets: Vec<BucketInfo>,
}

impl Router {
    /// The router for a layout; absolute entries, which live outside the
    /// webroot and so outside its backups, come back as warnings.
    pub fn new(layout: &Layout) -> (Router, Vec<String>) {
        let mut routes = Vec::new();
        let mut buckets = Vec::new();
        let mut warnings = Vec::new();
        for entry in &layout.entries {
            if entry.backup_dir.is_none() {
                warnings.push(format!(
                    "entry `{}` is an absolute path outside the webroot, so the backup holds none of its files; its bucket is left as it is",
                    entry.entry
                ));
                continue;
            }
            let first = buckets.len();
            buckets.extend(entry.mounts.iter().map(|m| BucketInfo {
                name: m.bucket.clone(),
                entry: entry.entry.clone(),
            }));
            routes.push(Route {
                buckets: (first..buckets.len()).collect(),
                entry: entry.clone(),
            });
        }
        (Router { routes, buckets }, warnings)
    }

    /// The destination of `path` (normalized, relative to the archive
    /// root), or None when it is outside every asset directory or is an
    /// asset directory itself. Directory markers pass `dir = true` and get
    /// a trailing `/`.
    pub fn route(&self, path: &str, dir: bool) -> Option<Dest> {
        self.route_where(path, dir, |_, _| false)
    }

    /// As [`Router::route`], but a file of a merge set that a branch
    /// already holds (`holds(bucket, key)`) is routed to that branch: the
    /// merged view shows one copy, wherever it was put. ADT seeds a whole
    /// merge set into branch 1, and mergerfs puts new files on a random
    /// branch, so a file found in any branch is that file, never a reason
    /// for a second copy in the branch our hash picks. When several hold
    /// it, the first does: mergerfs shows that copy.
    pub fn route_where(&self, path: &str, dir: bool, holds: impl Fn(usize, &str) -> bool) -> Option<Dest> {
        for route in &self.routes {
            let root = route.dir();
            let rel = if root.is_empty() {
                path
            } else if let Some(rest) = path.strip_prefix(root).and_then(|r| r.strip_prefix('/')) {
                rest
            } else {
                continue;
            };
            if rel.is_empty() {
                return None;
            }
            let key = if dir { format!("{rel}/") } else { rel.to_string() };
            // mergerfs shows the first branch that holds a path: when several
            // hold it, that copy is the one to compare or replace.
            let hashed = route.buckets[route.entry.branch_for(rel)];
            let bucket = if route.buckets.len() > 1 {
                route
                    .buckets
                    .iter()
                    .copied()
                    .find(|b| holds(*b, &key))
                    .unwrap_or(hashed)
            } else {
                hashed
            };
            return Some(Dest { bucket, key });
        }
        None
    }

    /// Each asset directory (its path in the archive; "" for the whole
    /// webroot) with its entry.
    pub fn roots(&self) -> impl Iterator<Item = (&str, &str)> {
        self.routes.iter().map(|r| (r.dir(), r.entry.entry.as_str()))
    }

    /// True when `path` lies inside some asset directory.
    pub fn inside(&self, path: &str) -> bool {
        self.route(path, false).is_some()
    }
}

/// An archive entry's attributes as object metadata (adt-datastore's
/// [`PosixAttributes`] owns the format).
pub(crate) fn attributes(h: &adt_archive::Header, dir: bool) -> PosixAttributes {
    let mtime = i64::try_from(h.mtime).unwrap_or(i64::MAX);
    if dir {
        PosixAttributes::directory(h.mode, h.uid, h.gid, mtime)
    } else {
        PosixAttributes::file(h.mode, h.uid, h.gid, mtime)
    }
}

/// An archive entry name made relative to the root: `./` and empty or `.`
/// segments dropped. Absolute names and `..` are refused with the reason.
pub(crate) fn normalize(raw: &[u8]) -> Result<String, &'static str> {
    let parts = adt_archive::components(raw).map_err(|e| match e {
        adt_archive::UnsafeName::Absolute => "is an absolute path",
        _ => "contains `..`",
    })?;
    Ok(parts
        .iter()
        .map(|p| String::from_utf8_lossy(p))
        .collect::<Vec<_>>()
        .join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use adt_template::{AssetConfig, MountEntry};
    use std::path::Path;

    fn layout(dirs: &[&str]) -> Layout {
        let config = AssetConfig::persisting(
            "www.example.com",
            dirs.iter().map(|d| MountEntry::parse(d).unwrap()).collect(),
        );
        Layout::new(&config, Path::new("/var/www/html")).unwrap()
    }

    #[test]
    fn routes_plain_entries_by_relative_path() {
        let (r, warnings) = Router::new(&layout(&["images", "wp-content/uploads", "/var/www/private"]));
        assert_eq!(warnings.len(), 1);
        let d = r.route("images/banners/a.png", false).unwrap();
        assert_eq!(
            (r.buckets[d.bucket].name.as_str(), d.key.as_str()),
            ("www-example-com-assets-images", "banners/a.png")
        );
        let d = r.route("wp-content/uploads/2024/01", true).unwrap();
        assert_eq!(d.key, "2024/01/");
        assert_eq!(r.route("images", true), None, "the asset directory itself has no key");
        assert_eq!(r.route("imagesX/a.png", false), None);
        assert_eq!(r.route("index.php", false), None);
    }

    #[test]
    fn merge_spreads_stably_over_branches() {
        let (r, _) = Router::new(&layout(&["merge=media3"]));
        let mut seen = [0usize; 3];
        for i in 0..300 {
            let path = format!("media/file{i}.jpg");
            let d = r.route(&path, false).unwrap();
            assert_eq!(r.route(&path, false).unwrap(), d, "stable");
            seen[d.bucket] += 1;
        }
        assert!(seen.iter().all(|n| *n > 50), "spread over every branch: {seen:?}");
        assert_eq!(r.buckets[2].name, "www-example-com-assets-media3");
        // A file some branch already holds stays there, whatever the hash says.
        let d = r.route("media/file0.jpg", false).unwrap();
        let other = (d.bucket + 1) % 3;
        let moved = r.route_where("media/file0.jpg", false, |b, k| b == other && k == "file0.jpg");
        assert_eq!(moved.unwrap().bucket, other);
        let both = r.route_where("media/file0.jpg", false, |b, _| b == other || b == d.bucket);
        assert_eq!(
            both.unwrap().bucket,
            other.min(d.bucket),
            "when two hold it, the first: the copy mergerfs shows"
        );
        let (whole, _) = Router::new(&layout(&["merge=webroot2"]));
        assert!(whole.route("index.php", false).is_some());
    }

    #[test]
    fn normalizes_and_refuses_escapes() {
        assert_eq!(normalize(b"./images/a.png").unwrap(), "images/a.png");
        assert_eq!(normalize(b"images//a.png").unwrap(), "images/a.png");
        assert_eq!(normalize(b"./").unwrap(), "");
        assert!(normalize(b"/etc/passwd").is_err());
        assert!(normalize(b"images/../../etc/passwd").is_err());
        assert!(normalize(b"..").is_err());
    }

    #[test]
    fn attributes_carry_file_type_bits() {
        let h = adt_archive::Header {
            name: b"./images/a.png".to_vec(),
            link: Vec::new(),
            kind: adt_archive::Kind::File,
            mode: 0o644,
            uid: 33,
            gid: 33,
            mtime: 1_700_000_000,
            size: 0,
        };
        assert_eq!(attributes(&h, false).metadata()["mode"], "33188");
        assert_eq!(attributes(&h, true).mode(), 0o040_644);
        assert_eq!(attributes(&h, false).metadata()["mtime"], "1700000000");
    }
}
