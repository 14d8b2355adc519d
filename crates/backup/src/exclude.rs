//! What a backup and a webroot sync leave out: the Layout's mount points
//! under the webroot (mounted or not), every mount point under the webroot
//! in the live mount table (any filesystem type), and `--exclude` patterns
//! (ADT's EXCLUDE_FROM_BACKUP: logs, tmp, cache, configuration.php, ...)
//! with rsync's rules: a pattern with a leading `/` is anchored at the
//! webroot; any other is matched at any depth (against the last name, or,
//! when it holds a `/`, against the end of the path); `*` and `?` stay
//! within a name, `**` crosses `/`, `[...]` is a class. Matching is a
//! compiled automaton (globset), linear in the name's length.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use adt_localfs::MountTable;
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
    /// The directory, relative to the webroot (no leading `/`), for people
    /// and JSON: a byte that is not UTF-8 is written `\xNN`.
    pub path: String,
    /// The directory's name as the filesystem has it (bytes), which
    /// matching and the rsync filter use.
    #[serde(skip)]
    pub name: Vec<u8>,
    /// Why it is left out; a Layout mount point that is also mounted is
    /// [`Reason::Layout`].
    pub reason: Reason,
}

/// The exclusion set for one webroot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Exclusions {
    /// The webroot the set was computed for, as given to [`Exclusions::new`].
    pub webroot: PathBuf,
    /// Directories left out whole, relative to the webroot.
    pub directories: Vec<Excluded>,
    /// `--exclude` patterns as normalised, with rsync's meaning (a leading
    /// `/` anchors at the webroot).
    pub patterns: Vec<String>,
    #[serde(skip)]
    matcher: Matcher,
}

/// The patterns compiled once.
#[derive(Clone, Debug, Default)]
struct Matcher(globset::GlobSet);

impl PartialEq for Matcher {
    fn eq(&self, _: &Matcher) -> bool {
        // Built from `patterns`, which the derived comparison compares.
        true
    }
}

impl Eq for Matcher {}

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
                let name = rel.as_os_str().as_encoded_bytes().to_vec();
                dirs.insert(Excluded {
                    path: adt_localfs::display_name(&name),
                    name,
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
            if !directories.iter().any(|x| x.name == d.name) {
                directories.push(d);
            }
        }
        let patterns = patterns
            .iter()
            .map(|p| normalize_pattern(p))
            .collect::<Result<Vec<_>, _>>()?;
        let mut set = globset::GlobSetBuilder::new();
        for p in &patterns {
            // Anchored: from the webroot. Otherwise: at any depth.
            let glob = match p.strip_prefix('/') {
                Some(anchored) => anchored.to_string(),
                None => format!("**/{p}"),
            };
            let glob = globset::GlobBuilder::new(&glob)
                .literal_separator(true)
                .backslash_escape(true)
                .build()
                .map_err(|e| BackupError::Pattern {
                    pattern: p.clone(),
                    reason: glob_reason(&e),
                })?;
            set.add(glob);
        }
        let matcher = Matcher(set.build().map_err(|e| BackupError::Pattern {
            pattern: patterns.join(" "),
            reason: glob_reason(&e),
        })?);
        Ok(Exclusions {
            webroot: webroot.to_path_buf(),
            directories,
            patterns,
            matcher,
        })
    }

    /// True when `rel` (relative to the webroot, `/`-separated) or a
    /// directory above it is excluded.
    /// Names are bytes: a name that is not UTF-8 is matched as it is.
    pub fn excludes(&self, rel: &[u8]) -> bool {
        let under = |dir: &[u8]| rel == dir || rel.strip_prefix(dir).is_some_and(|r| r.starts_with(b"/"));
        if self.directories.iter().any(|d| under(&d.name)) {
            return true;
        }
        // The path and every directory above it.
        let mut end = rel.len();
        loop {
            let candidate = globset::Candidate::from_bytes(&rel[..end]);
            if self.matcher.0.is_match_candidate(&candidate) {
                return true;
            }
            match rel[..end].iter().rposition(|b| *b == b'/') {
                Some(i) => end = i,
                None => return false,
            }
        }
    }

    /// An rsync filter file, one exclude per line (directories anchored,
    /// by their names' bytes, wildcards escaped; patterns as given, with the
    /// same meaning in rsync), so that `rsync -a --exclude-from FILE
    /// WEBROOT/ DEST` leaves the set out. Bytes: a directory whose name is
    /// not UTF-8 is named exactly, never approximated.
    pub fn rsync_filter(&self) -> Vec<u8> {
        let mut out = b"# adt-backup exclusions, anchored at the webroot\n".to_vec();
        for d in &self.directories {
            out.extend_from_slice(b"- /");
            out.extend_from_slice(&escape_rsync(&d.name));
            out.push(b'\n');
        }
        for p in &self.patterns {
            out.extend_from_slice(format!("- {p}\n").as_bytes());
        }
        out
    }
}

/// A pattern as rsync reads it: a leading `/` (kept) anchors it at the
/// webroot; a trailing `/` is dropped (it matches files and directories
/// alike here); no `..`, no empty segment.
fn normalize_pattern(p: &str) -> Result<String, BackupError> {
    let bad = |reason| BackupError::Pattern {
        pattern: p.to_string(),
        reason,
    };
    let text = p.trim();
    let anchored = text.starts_with('/');
    let trimmed = text.trim_start_matches('/').trim_end_matches('/');
    if trimmed.is_empty() {
        return Err(bad("it is empty"));
    }
    for seg in trimmed.split('/') {
        if seg.is_empty() || seg == "." || seg == ".." {
            return Err(bad("segments must be names, not empty, `.` or `..`"));
        }
    }
    Ok(if anchored {
        format!("/{trimmed}")
    } else {
        trimmed.to_string()
    })
}

fn glob_reason(e: &globset::Error) -> &'static str {
    match e.kind() {
        globset::ErrorKind::UnclosedClass => "a `[` class is not closed",
        globset::ErrorKind::InvalidRange(..) => "a `[a-z]` range is backwards",
        globset::ErrorKind::UnopenedAlternates | globset::ErrorKind::UnclosedAlternates => "`{` and `}` do not pair",
        globset::ErrorKind::DanglingEscape => "it ends with a lone `\\`",
        _ => "it is not a valid pattern",
    }
}

/// A literal path as an rsync pattern: wildcard characters escaped.
fn escape_rsync(path: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(path.len());
    for b in path {
        if matches!(b, b'*' | b'?' | b'[' | b'\\') {
            out.push(b'\\');
        }
        out.push(*b);
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
    fn excludes_mounts_and_patterns_with_rsyncs_rules() {
        let e = set(
            &["images", "my files"],
            &[
                "/logs",
                "cache/*",
                "configuration.php",
                "tmp*",
                "*.log",
                "/a/**/z",
                "[ab]c",
            ],
        );
        assert!(e.excludes(b"images") && e.excludes(b"images/a.png") && e.excludes(b"my files/x"));
        assert!(!e.excludes(b"imagesX/a.png") && !e.excludes(b"a/images/x"));
        assert!(
            e.excludes(b"logs/x") && !e.excludes(b"sub/logs/x"),
            "a leading / anchors"
        );
        assert!(
            e.excludes(b"configuration.php") && e.excludes(b"sub/configuration.php"),
            "any depth"
        );
        assert!(!e.excludes(b"configuration.php.bak"));
        assert!(e.excludes(b"cache/page.html") && e.excludes(b"x/cache/page.html") && !e.excludes(b"cache"));
        assert!(e.excludes(b"tmp") && e.excludes(b"tmpfiles/x") && e.excludes(b"d/tmp2/x"));
        assert!(
            e.excludes(b"error.log") && e.excludes(b"w/p/debug.log"),
            "*.log below the top"
        );
        assert!(
            e.excludes(b"a/z") && e.excludes(b"a/b/c/z") && !e.excludes(b"q/a/z"),
            "**"
        );
        assert!(
            e.excludes(b"ac") && e.excludes(b"d/bc") && !e.excludes(b"cc"),
            "classes"
        );
        assert!(!e.excludes(b"index.php"));
        assert!(!e.excludes(b"x\xff.txt") && e.excludes(b"x\xff.log"), "bytes");
    }

    #[test]
    fn matching_is_linear_in_the_name() {
        let e = set(&[], &["*a*a*a*a*a*a*a*a*a*a*a*a*b"]);
        let name = vec![b'a'; 80];
        let started = std::time::Instant::now();
        for _ in 0..1000 {
            assert!(!e.excludes(&name));
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn rsync_filter_has_the_same_meaning() {
        let e = set(&["images", "odd[dir]"], &["/logs", "*.log"]);
        assert_eq!(
            e.rsync_filter(),
            b"# adt-backup exclusions, anchored at the webroot\n- /images\n- /odd\\[dir]\n- /logs\n- *.log\n"
        );
    }

    /// A mount point whose name is not UTF-8 is left out by its bytes, in
    /// the walk and in the rsync filter (a lossy name would let a webroot
    /// sync descend into the mount).
    #[test]
    fn a_mount_point_named_in_bytes_is_excluded_by_its_bytes() {
        let table = MountTable::parse("1 1 0:1 / /var/www/html/caf\\351 rw - fuse.s3fs s3fs rw\n");
        let e = Exclusions::new(Path::new("/var/www/html"), None, &table, &[]).unwrap();
        assert!(e.excludes(b"caf\xe9/a.jpg"));
        assert!(!e.excludes("caf\u{fffd}/a.jpg".as_bytes()));
        assert_eq!(e.directories[0].path, "caf\\xe9");
        assert!(e.rsync_filter().ends_with(b"- /caf\xe9\n"), "{:?}", e.rsync_filter());
    }

    #[test]
    fn refuses_patterns_that_escape_or_do_not_parse() {
        for bad in ["", "/", "../etc", "a//b", "a/./b"] {
            assert!(normalize_pattern(bad).is_err(), "{bad:?}");
        }
        assert_eq!(normalize_pattern("/logs/").unwrap(), "/logs");
        assert_eq!(normalize_pattern("logs/").unwrap(), "logs");
        let table = MountTable::default();
        let err = Exclusions::new(Path::new("/w"), None, &table, &["[ab".to_string()]).unwrap_err();
        assert!(err.to_string().contains("class"), "{err}");
    }
}
