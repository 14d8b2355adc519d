//! DIRECTORIES_TO_MOUNT entries (reference §2): relative directories under
//! the webroot, absolute paths, and `merge=NAMEn` groups.

use std::fmt;

/// One parsed entry of DIRECTORIES_TO_MOUNT.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum MountEntry {
    /// A directory under the webroot, e.g. `wp-content/uploads`.
    Relative(String),
    /// An absolute path, mounted where it says, e.g. `/var/www/private`.
    Absolute(String),
    /// `merge=NAMEn`: n buckets mounted at NAME1..NAMEn beside the webroot
    /// and merged onto webroot/NAME (or onto the webroot for `webroot`).
    Merge {
        /// The merged directory's name, without the count (`images` for
        /// `merge=images3`; `webroot` for the webroot itself).
        name: String,
        /// How many buckets are merged, 1 to 9.
        branches: u8,
    },
}

/// Why an entry was refused, and how to write it instead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryError {
    /// What is wrong.
    pub message: String,
    /// How to write it instead.
    pub help: String,
}

/// Directories that must never be mounted over.
const SYSTEM_DIRS: &[&str] = &[
    "/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/proc", "/run", "/sbin", "/sys", "/usr",
];
/// Directories that may hold mounts below them but not be one.
const SYSTEM_PARENTS: &[&str] = &[
    "/", "/home", "/root", "/tmp", "/var", "/var/www", "/srv", "/opt", "/mnt",
];

impl MountEntry {
    /// Parses one `:`-separated entry.
    pub fn parse(text: &str) -> Result<MountEntry, EntryError> {
        let err = |message: String, help: &str| EntryError {
            message,
            help: help.to_string(),
        };
        if text.is_empty() {
            return Err(err(
                "empty entry in DIRECTORIES_TO_MOUNT".into(),
                "entries are separated by a single `:`; remove the extra `:`",
            ));
        }
        if let Some(bad) = text
            .chars()
            .find(|c| c.is_whitespace() || c.is_control() || "*?[]$`'\"\\;|&<>".contains(*c))
        {
            return Err(err(
                format!("entry `{text}` contains {bad:?}"),
                "directory names in DIRECTORIES_TO_MOUNT are letters, digits, `-`, `_`, `.` and `/`",
            ));
        }
        if let Some(spec) = text.strip_prefix("merge=") {
            return parse_merge(text, spec);
        }
        if text.contains('=') {
            return Err(err(
                format!("entry `{text}` has `=` but is not merge=NAMEn"),
                "write a directory such as images, or merge=images2 for two merged buckets",
            ));
        }
        let absolute = text.starts_with('/');
        let body = if absolute { &text[1..] } else { text };
        if body.is_empty() {
            return Err(err(
                "entry `/` would mount over the whole filesystem".into(),
                "name the asset directory itself",
            ));
        }
        for part in body.split('/') {
            match part {
                "" => {
                    return Err(err(
                        format!("entry `{text}` has an empty path segment"),
                        "write the path without a trailing `/`, e.g. wp-content/uploads",
                    ));
                }
                "." | ".." => {
                    return Err(err(
                        format!("entry `{text}` contains `{part}`"),
                        "write the directory's plain path, without `.` or `..` segments",
                    ));
                }
                _ => {}
            }
        }
        if absolute {
            let under_system = SYSTEM_DIRS
                .iter()
                .any(|dir| text == *dir || text.starts_with(&format!("{dir}/")));
            if under_system || SYSTEM_PARENTS.contains(&text) {
                return Err(err(
                    format!("entry `{text}` would mount a bucket over a system directory"),
                    "mount only asset directories, such as /var/www/private",
                ));
            }
            Ok(MountEntry::Absolute(text.to_string()))
        } else {
            Ok(MountEntry::Relative(text.to_string()))
        }
    }

    /// The directory holding this entry's files in a webroot backup,
    /// relative to the webroot ("" for the webroot itself); None for
    /// absolute entries, which live outside the webroot and its backups.
    pub fn backup_dir(&self) -> Option<String> {
        match self {
            MountEntry::Relative(p) => Some(p.clone()),
            MountEntry::Absolute(_) => None,
            MountEntry::Merge { name, .. } if name == "webroot" => Some(String::new()),
            MountEntry::Merge { name, .. } => Some(name.clone()),
        }
    }

    /// The directory name used to derive bucket names: the entry itself, or
    /// NAMEi for branch i of a merge.
    pub fn bucket_dirs(&self) -> Vec<String> {
        match self {
            MountEntry::Relative(p) | MountEntry::Absolute(p) => vec![p.clone()],
            MountEntry::Merge { name, branches } => (1..=*branches).map(|i| format!("{name}{i}")).collect(),
        }
    }
}

fn parse_merge(text: &str, spec: &str) -> Result<MountEntry, EntryError> {
    let help = "write merge=NAMEn with n from 1 to 9, e.g. merge=images4";
    let err = |message: String| EntryError {
        message,
        help: help.to_string(),
    };
    let Some(last) = spec.chars().last() else {
        return Err(err(format!("entry `{text}` names no merge directory")));
    };
    let name = &spec[..spec.len() - last.len_utf8()];
    let branches = match last.to_digit(10) {
        Some(0) => return Err(err(format!("entry `{text}` asks for 0 merge branches"))),
        Some(n) => n as u8,
        None => return Err(err(format!("entry `{text}` does not end with the number of branches"))),
    };
    if name.is_empty() {
        return Err(err(format!("entry `{text}` names no merge directory")));
    }
    if name.contains('/') || name == "." || name == ".." {
        return Err(err(format!(
            "merge name `{name}` must be a single directory name (its branches live beside the webroot)"
        )));
    }
    Ok(MountEntry::Merge {
        name: name.to_string(),
        branches,
    })
}

impl fmt::Display for MountEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MountEntry::Relative(p) | MountEntry::Absolute(p) => f.write_str(p),
            MountEntry::Merge { name, branches } => write!(f, "merge={name}{branches}"),
        }
    }
}

/// One entry of a DIRECTORIES_TO_MOUNT value as ADT reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Item<'a> {
    /// Where it starts in the value, in chars.
    pub offset: usize,
    /// As written.
    pub text: &'a str,
    /// As ADT means it: doubled `/` collapsed, and a legacy dotted entry
    /// (`wp-content.uploads`) with its dots read as `/`, as Backup.sh does.
    pub meant: String,
    /// It had doubled `/`.
    pub doubled_slash: bool,
    /// It was a legacy dotted entry.
    pub dotted: bool,
}

/// Splits a DIRECTORIES_TO_MOUNT value as ADT does: on `:` and blanks,
/// empty entries ignored. The second value is true when the value relied on
/// that leniency (an empty entry, or blanks between entries).
pub(crate) fn split(value: &str) -> (Vec<Item<'_>>, bool) {
    let separator = |c: char| c == ':' || c.is_whitespace();
    let sloppy =
        !value.is_empty() && (value.chars().any(char::is_whitespace) || value.split(':').any(|part| part.is_empty()));
    let mut items = Vec::new();
    let mut start: Option<(usize, usize)> = None; // (char offset, byte index)
    for (offset, (byte, c)) in value.char_indices().enumerate() {
        match (separator(c), start) {
            (true, Some((at, from))) => {
                items.push(item(at, &value[from..byte]));
                start = None;
            }
            (false, None) => start = Some((offset, byte)),
            _ => {}
        }
    }
    if let Some((at, from)) = start {
        items.push(item(at, &value[from..]));
    }
    (items, sloppy)
}

fn item(offset: usize, text: &str) -> Item<'_> {
    let mut meant = text.to_string();
    let doubled_slash = meant.contains("//");
    while meant.contains("//") {
        meant = meant.replace("//", "/");
    }
    let dotted = !meant.starts_with('/')
        && !meant.starts_with("merge=")
        && !meant.contains('/')
        && meant.contains('.')
        && meant.split('.').all(|part| !part.is_empty());
    if dotted {
        meant = meant.replace('.', "/");
    }
    Item {
        offset,
        text,
        meant,
        doubled_slash,
        dotted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_kinds() {
        assert_eq!(MountEntry::parse("images"), Ok(MountEntry::Relative("images".into())));
        assert_eq!(
            MountEntry::parse("/var/www/private"),
            Ok(MountEntry::Absolute("/var/www/private".into()))
        );
        assert_eq!(
            MountEntry::parse("merge=media2"),
            Ok(MountEntry::Merge {
                name: "media".into(),
                branches: 2
            })
        );
        assert_eq!(
            MountEntry::parse("merge=images4").unwrap().bucket_dirs(),
            ["images1", "images2", "images3", "images4"]
        );
    }

    #[test]
    fn refuses_what_breaks_adt() {
        for bad in [
            "",
            "../etc",
            "a/../b",
            "a//b",
            "images/",
            "/",
            "/etc",
            "/etc/x",
            "/var/www",
            "merge=",
            "merge=images",
            "merge=images0",
            "merge=a/b2",
            "merge=9",
            "img*",
            "my images",
            "x=y",
        ] {
            assert!(MountEntry::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    fn entries(value: &str) -> (Vec<(usize, &str, String)>, bool) {
        let (items, sloppy) = split(value);
        (items.into_iter().map(|i| (i.offset, i.text, i.meant)).collect(), sloppy)
    }

    /// ADT splits on `:` and blanks and ignores empty entries (reference §8).
    #[test]
    fn splits_as_adt_does_with_offsets() {
        let e = |o, t: &'static str| (o, t, t.to_string());
        assert_eq!(entries("a:bb:c"), (vec![e(0, "a"), e(2, "bb"), e(5, "c")], false));
        assert_eq!(entries("a:bb::c"), (vec![e(0, "a"), e(2, "bb"), e(6, "c")], true));
        assert_eq!(entries("images:"), (vec![e(0, "images")], true));
        assert_eq!(entries("images: media"), (vec![e(0, "images"), e(8, "media")], true));
        assert_eq!(entries("images::media"), (vec![e(0, "images"), e(8, "media")], true));
        assert_eq!(entries(""), (vec![], false));
    }

    #[test]
    fn reads_doubled_slashes_and_legacy_dots_as_adt_means_them() {
        let (items, _) = split("a//b:wp-content.uploads:/var/www//x:merge=media2:.hidden");
        let meant: Vec<&str> = items.iter().map(|i| i.meant.as_str()).collect();
        assert_eq!(
            meant,
            ["a/b", "wp-content/uploads", "/var/www/x", "merge=media2", ".hidden"]
        );
        assert!(items[0].doubled_slash && !items[0].dotted);
        assert!(items[1].dotted && !items[1].doubled_slash);
        assert!(!items[4].dotted, "a leading dot is a hidden directory, not a separator");
    }
}
