//! Where each entry's bucket is mounted. Every other crate takes bucket
//! names and mount points from here and nowhere else.

use std::path::{Path, PathBuf};

use crate::bucket::{derive_bucket_name, validate_bucket_name};
use crate::config::AssetConfig;
use crate::entry::MountEntry;
use crate::error::TemplateError;

/// ADT's webroot.
pub const DEFAULT_WEBROOT: &str = "/var/www/html";

/// One bucket and the directory it is mounted on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BucketMount {
    /// The bucket's name, checked against the S3 naming rules.
    pub bucket: String,
    /// The absolute directory it is mounted on.
    pub mountpoint: PathBuf,
}

/// The mounts of one DIRECTORIES_TO_MOUNT entry; only [`Layout::new`]
/// makes one, so `mounts` is never empty.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LayoutEntry {
    /// The entry as written (`images`, `/var/www/private`, `merge=media2`).
    pub entry: String,
    /// The entry, parsed.
    pub kind: MountEntry,
    /// One mount for a plain entry; the n branches of a merge.
    pub mounts: Vec<BucketMount>,
    /// For a merge: where mergerfs shows the branches as one directory.
    pub merge_target: Option<PathBuf>,
    /// The directory holding this entry's files in a webroot backup, relative
    /// to the webroot ("" for the webroot itself); None for absolute entries,
    /// which live outside the webroot and so outside its backups.
    pub backup_dir: Option<String>,
}

impl LayoutEntry {
    /// The directory the application sees: the mount point, or the merge target.
    pub fn visible_path(&self) -> &Path {
        self.merge_target.as_deref().unwrap_or(&self.mounts[0].mountpoint)
    }

    /// Index into `mounts` of the bucket that holds the file at `key`
    /// (relative to the entry's directory). For a merge, files are spread
    /// over the branches by a stable hash (FNV-1a) of their path, so every
    /// tool that writes them (seeding, mounting over local files) puts each
    /// file in the same branch and the merged view shows it once.
    pub fn branch_for(&self, key: &str) -> usize {
        (stable_hash(key.as_bytes()) % self.mounts.len().max(1) as u64) as usize
    }
}

/// FNV-1a, 64 bits: stable across runs, platforms and Rust versions (the
/// merge spread depends on it never changing).
pub fn stable_hash(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Every entry's buckets and mount points for one webroot.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Layout {
    /// The webroot the layout was made for: relative entries and merge
    /// targets are below it, merge branches beside it.
    pub webroot: PathBuf,
    /// One per entry of the config's `directories_to_mount`, in its order.
    pub entries: Vec<LayoutEntry>,
}

impl Layout {
    /// The layout of a checked config. Fails when WEBSITE_URL is unset, the
    /// webroot is not absolute, or a bucket name is illegal.
    pub fn new(config: &AssetConfig, webroot: &Path) -> Result<Layout, TemplateError> {
        let url = config.website_url.as_deref().ok_or(TemplateError::NoWebsiteUrl)?;
        let entries = config
            .directories_to_mount
            .iter()
            .map(|e| layout_entry(url, e, webroot))
            .collect::<Result<_, _>>()?;
        Ok(Layout {
            webroot: webroot.to_path_buf(),
            entries,
        })
    }

    /// Every bucket mount, branches included, in entry order.
    pub fn mounts(&self) -> impl Iterator<Item = (&LayoutEntry, &BucketMount)> {
        self.entries.iter().flat_map(|e| e.mounts.iter().map(move |m| (e, m)))
    }
}

/// The mounts of one entry under `webroot`.
pub(crate) fn layout_entry(url: &str, entry: &MountEntry, webroot: &Path) -> Result<LayoutEntry, TemplateError> {
    let parent = webroot
        .parent()
        .filter(|_| webroot.is_absolute())
        .ok_or_else(|| TemplateError::Webroot(webroot.to_path_buf()))?;
    let bucket = |dir: &str| {
        let name = derive_bucket_name(url, dir);
        validate_bucket_name(&name).map_err(|why| TemplateError::Bucket {
            entry: entry.to_string(),
            message: format!("bucket name `{name}` {why}"),
        })?;
        Ok::<_, TemplateError>(name)
    };
    let (mounts, merge_target) = match entry {
        MountEntry::Relative(dir) => (
            vec![BucketMount {
                bucket: bucket(dir)?,
                mountpoint: webroot.join(dir),
            }],
            None,
        ),
        MountEntry::Absolute(path) => (
            vec![BucketMount {
                bucket: bucket(path)?,
                mountpoint: PathBuf::from(path),
            }],
            None,
        ),
        MountEntry::Merge { name, .. } => {
            let mounts = entry
                .bucket_dirs()
                .iter()
                .map(|dir| {
                    Ok(BucketMount {
                        bucket: bucket(dir)?,
                        mountpoint: parent.join(dir),
                    })
                })
                .collect::<Result<Vec<_>, TemplateError>>()?;
            let target = if name == "webroot" {
                webroot.to_path_buf()
            } else {
                webroot.join(name)
            };
            (mounts, Some(target))
        }
    };
    Ok(LayoutEntry {
        entry: entry.to_string(),
        kind: entry.clone(),
        mounts,
        merge_target,
        backup_dir: entry.backup_dir(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(entry: &str) -> LayoutEntry {
        layout_entry(
            "www.example.com",
            &MountEntry::parse(entry).unwrap(),
            Path::new(DEFAULT_WEBROOT),
        )
        .unwrap()
    }

    #[test]
    fn relative_entry_mounts_under_the_webroot() {
        let e = one("wp-content/uploads");
        assert_eq!(e.mounts[0].bucket, "www-example-com-assets-wp-content-uploads");
        assert_eq!(e.mounts[0].mountpoint, Path::new("/var/www/html/wp-content/uploads"));
        assert_eq!(e.merge_target, None);
        assert_eq!(e.backup_dir.as_deref(), Some("wp-content/uploads"));
        assert_eq!(e.visible_path(), Path::new("/var/www/html/wp-content/uploads"));
    }

    #[test]
    fn absolute_entry_mounts_where_it_says() {
        // ADT mounts this at /var/www/html//var/www/private and never sees it.
        let e = one("/var/www/private");
        assert_eq!(e.mounts[0].mountpoint, Path::new("/var/www/private"));
        assert_eq!(e.mounts[0].bucket, "www-example-com-assets-var-www-private");
        assert_eq!(e.backup_dir, None);
    }

    #[test]
    fn merge_branches_live_beside_the_webroot() {
        let e = one("merge=images3");
        let points: Vec<_> = e.mounts.iter().map(|m| m.mountpoint.display().to_string()).collect();
        assert_eq!(points, ["/var/www/images1", "/var/www/images2", "/var/www/images3"]);
        assert_eq!(e.mounts[2].bucket, "www-example-com-assets-images3");
        assert_eq!(e.merge_target.as_deref(), Some(Path::new("/var/www/html/images")));
        assert_eq!(e.backup_dir.as_deref(), Some("images"));
    }

    #[test]
    fn merge_spread_is_stable_and_uses_every_branch() {
        let e = one("merge=media3");
        let mut seen = [0; 3];
        for i in 0..300 {
            let key = format!("photos/{i}.jpg");
            assert_eq!(e.branch_for(&key), e.branch_for(&key));
            seen[e.branch_for(&key)] += 1;
        }
        assert!(seen.iter().all(|n| *n > 50), "{seen:?}");
        assert_eq!(one("images").branch_for("anything"), 0);
    }

    #[test]
    fn the_spread_hash_is_fnv1a_64() {
        // Published FNV-1a test vectors: changing the hash would move files
        // between the branches of existing merges.
        assert_eq!(stable_hash(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(stable_hash(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(stable_hash(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn webroot_merge_targets_the_webroot_itself() {
        let e = one("merge=webroot2");
        assert_eq!(e.mounts[1].mountpoint, Path::new("/var/www/webroot2"));
        assert_eq!(e.merge_target.as_deref(), Some(Path::new("/var/www/html")));
        assert_eq!(e.backup_dir.as_deref(), Some(""));
    }

    #[test]
    fn custom_webroot_and_bad_webroots() {
        let e = layout_entry(
            "a.example.org",
            &MountEntry::parse("merge=m1").unwrap(),
            Path::new("/srv/site/public"),
        )
        .unwrap();
        assert_eq!(e.mounts[0].mountpoint, Path::new("/srv/site/m1"));
        assert!(layout_entry("a.b.c", &MountEntry::parse("x").unwrap(), Path::new("/")).is_err());
        assert!(layout_entry("a.b.c", &MountEntry::parse("x").unwrap(), Path::new("html")).is_err());
    }

    #[test]
    fn illegal_bucket_names_are_errors() {
        let long = "x".repeat(60);
        assert!(matches!(
            layout_entry(
                "www.example.com",
                &MountEntry::Relative(long),
                Path::new(DEFAULT_WEBROOT)
            ),
            Err(TemplateError::Bucket { .. })
        ));
    }
}
