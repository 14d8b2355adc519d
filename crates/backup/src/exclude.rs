//! What a backup and a webroot sync leave out: the Layout's mount points
//! under the webroot (mounted or not), every mount point under the webroot
//! in the live mount table (any filesystem type), and `--exclude` patterns
//! anchored at the webroot (ADT's EXCLUDE_FROM_BACKUP: logs, tmp, cache,
//! configuration.php, ...).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use adt_mount::MountTable;
use adt_template::Layout;
use serde::Serialize;

use crate::error::BackupError;

/// Why a path is left out.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    /// A DIRECTORIES_TO_MOUNT mount point (or merge target).
    Layout,
    /// A mount point in /proc/self/mountinfo.
    Mounted,
}

/// One excluded directory, relative to the webroot.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Excluded {
    pub path: String,
    pub reason: Reason,
}

/// The exclusion set for one webroot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Exclusions {
    pub webroot: PathBuf,
    /// Directories left out whole, relative to the webroot.
    pub directories: Vec<Excluded>,
    /// `--exclude` patterns, anchored at the webroot.
    pub patterns: Vec<String>,
}

impl Exclusions {
    /// The set for `webroot`: mount points of `layout` below it, mounts in
    /// `table` below it, and `patterns`.
    pub fn new(
        webroot: &Path,
        layout: Option<&Layout>,
        table: &MountTable,
        patterns: &[String],
    ) -> Result<Exclusions, BackupError> {
        let mut dirs: BTreeSet<Excluded> = BTreeSet::new();
        let mut add = |path: &Path, reason: Reason| {
            if let Ok(rel) = path.strip_prefix(webroot)
                && !rel.as_os_str().is_empty()
            {
                dirs.insert(Excluded {
                    path: rel.to_string_lossy().into_owned(),
                    reason,
                });
            }
        };
        if let Some(layout) = layout {
            for entry in &layout.entries {
                for m in &entry.mounts {
                    add(&m.mountpoint, Reason::Layout);
                }
                if let Some(target) = &entry.merge_target {
                    add(target, Reason::Layout);
                }
            }
        }
        for m in table.below(webroot) {
            add(&m.mountpoint, Reason::Mounted);
        }
        // One reason per path: a layout mount point that is also mounted
        // is reported as a layout entry.
        let mut directories: Vec<Excluded> = Vec::new();
        for d in dirs {
            if !directories.iter().any(|x| x.path == d.path) {
                directories.push(d);
            }
        }
        let patterns = patterns
            .iter()
            .map(|p| normalize_pattern(p))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Exclusions {
            webroot: webroot.to_path_buf(),
            directories,
            patterns,
        })
    }

    /// True when `rel` (relative to the webroot, `/`-separated) or a
    /// directory above it is excluded.
    /// Names are bytes: a name that is not UTF-8 is matched as it is.
    pub fn excludes(&self, rel: &[u8]) -> bool {
        let under = |dir: &[u8]| rel == dir || rel.strip_prefix(dir).is_some_and(|r| r.starts_with(b"/"));
        self.directories.iter().any(|d| under(d.path.as_bytes()))
            || self.patterns.iter().any(|p| pattern_matches(p, rel))
    }

    /// An rsync filter file: one anchored exclude per line, so that
    /// `rsync -a --exclude-from FILE WEBROOT/ DEST` leaves the set out.
    pub fn rsync_filter(&self) -> String {
        let mut out = String::from("# adt-backup exclusions, anchored at the webroot\n");
        for d in &self.directories {
            out.push_str(&format!("- /{}\n", escape_rsync(&d.path)));
        }
        for p in &self.patterns {
            out.push_str(&format!("- /{p}\n"));
        }
        out
    }
}

/// A pattern relative to the webroot: no leading `/`, no `..`, no empty
/// segments; `*` and `?` match within one segment, as in rsync.
fn normalize_pattern(p: &str) -> Result<String, BackupError> {
    let bad = |reason| BackupError::Pattern {
        pattern: p.to_string(),
        reason,
    };
    let trimmed = p.trim().trim_start_matches('/').trim_end_matches('/');
    if trimmed.is_empty() {
        return Err(bad("it is empty"));
    }
    if trimmed.contains("**") || trimmed.contains('[') {
        return Err(bad("only * and ? wildcards are supported"));
    }
    for seg in trimmed.split('/') {
        if seg.is_empty() || seg == "." || seg == ".." {
            return Err(bad("segments must be names, not empty, `.` or `..`"));
        }
    }
    Ok(trimmed.to_string())
}

/// Whether anchored `pattern` matches `rel` or a directory above it.
fn pattern_matches(pattern: &str, rel: &[u8]) -> bool {
    let p: Vec<&[u8]> = pattern.as_bytes().split(|b| *b == b'/').collect();
    let r: Vec<&[u8]> = rel.split(|b| *b == b'/').collect();
    r.len() >= p.len() && p.iter().zip(&r).all(|(p, r)| glob(p, r))
}

fn glob(p: &[u8], s: &[u8]) -> bool {
    match (p.first(), s.first()) {
        (None, None) => true,
        (Some(b'*'), _) => glob(&p[1..], s) || (!s.is_empty() && glob(p, &s[1..])),
        (Some(b'?'), Some(_)) => glob(&p[1..], &s[1..]),
        (Some(a), Some(b)) if a == b => glob(&p[1..], &s[1..]),
        _ => false,
    }
}

/// A literal path as an rsync pattern: wildcard characters escaped.
fn escape_rsync(path: &str) -> String {
    let mut out = String::new();
    for c in path.chars() {
        if matches!(c, '*' | '?' | '[' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(dirs: &[&str], patterns: &[&str]) -> Exclusions {
        let webroot = Path::new("/var/www/html");
        let table = MountTable::parse(
            &dirs
                .iter()
                .enumerate()
                .map(|(i, d)| {
                    format!(
                        "{i} 1 0:1 / /var/www/html/{} rw - tmpfs tmpfs rw\n",
                        d.replace(' ', "\\040")
                    )
                })
                .collect::<String>(),
        );
        let patterns: Vec<String> = patterns.iter().map(|p| p.to_string()).collect();
        Exclusions::new(webroot, None, &table, &patterns).unwrap()
    }

    #[test]
    fn excludes_mounts_and_anchored_patterns() {
        let e = set(
            &["images", "my files"],
            &["logs", "cache/*", "configuration.php", "tmp*"],
        );
        assert!(e.excludes(b"images") && e.excludes(b"images/a.png") && e.excludes(b"my files/x"));
        assert!(!e.excludes(b"imagesX/a.png") && !e.excludes(b"a/images/x"));
        assert!(
            e.excludes(b"logs/error.log") && !e.excludes(b"sub/logs/error.log"),
            "anchored"
        );
        assert!(e.excludes(b"configuration.php") && !e.excludes(b"configuration.php.bak"));
        assert!(e.excludes(b"cache/page.html") && !e.excludes(b"cache"));
        assert!(e.excludes(b"tmp") && e.excludes(b"tmpfiles/x"));
        assert!(!e.excludes(b"index.php"));
    }

    #[test]
    fn rsync_filter_is_anchored_and_escaped() {
        let e = set(&["images", "odd[dir]"], &["logs"]);
        assert_eq!(
            e.rsync_filter(),
            "# adt-backup exclusions, anchored at the webroot\n- /images\n- /odd\\[dir]\n- /logs\n"
        );
    }

    #[test]
    fn refuses_patterns_that_escape() {
        for bad in ["", "/", "../etc", "a//b", "a/./b", "**/x", "[ab]"] {
            assert!(normalize_pattern(bad).is_err(), "{bad:?}");
        }
        assert_eq!(normalize_pattern("/logs/").unwrap(), "logs");
    }
}
