//! The DIRECTORIES_TO_MOUNT rules: invalid-mount-entry, overlapping-mounts,
//! bucket-name-invalid, bucket-name-collision, unusual-asset-directory,
//! mount-dir-missing-in-backup and assets-already-stored.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use super::settings::host_problem;
use crate::archive::BackupListing;
use crate::bucket::{derive_bucket_name, validate_bucket_name};
use crate::config::Application;
use crate::diagnostic::{Diagnostic, Rule, Severity};
use crate::entry::{self, MountEntry};
use crate::source::{Span, Template};

const DIRS: &str = "DIRECTORIES_TO_MOUNT";

struct Parsed {
    entry: MountEntry,
    text: String,
    span: Span,
}

pub(super) fn check(t: &Template, options: &super::CheckOptions, out: &mut Vec<Diagnostic>) {
    let webroot = options.webroot.as_path();
    let Some(a) = t.get(DIRS) else {
        return;
    };
    let mut entries = Vec::new();
    let (items, sloppy) = entry::split(&a.value.text);
    if sloppy {
        out.push(Diagnostic::new(
            Rule::SloppyMountEntry,
            Severity::Warning,
            a.value.span(),
            format!("{DIRS} has empty entries or blanks between entries; ADT ignores them, and so does adt"),
            "separate entries with a single `:`, e.g. images:media",
        ));
    }
    for item in items {
        let span = a.value.sub_span(item.offset, item.text.chars().count());
        if item.doubled_slash {
            out.push(Diagnostic::new(
                Rule::SloppyMountEntry,
                Severity::Warning,
                span,
                format!(
                    "entry `{}` has a doubled `/`; it is read as `{}`, as ADT mounts it and names its bucket",
                    item.text, item.meant
                ),
                format!("write {}", item.meant),
            ));
        }
        if item.dotted {
            out.push(Diagnostic::new(
                Rule::LegacyDottedEntry,
                Severity::Warning,
                span,
                format!(
                    "entry `{}` is an old-style dotted entry; it is read as `{}`, as ADT's Backup.sh reads `.` as `/`",
                    item.text, item.meant
                ),
                format!(
                    "write {} (a directory whose name holds a `.` cannot be named here)",
                    item.meant
                ),
            ));
        }
        match MountEntry::parse(&item.meant) {
            Ok(entry) => entries.push(Parsed {
                entry,
                text: item.meant.clone(),
                span,
            }),
            Err(e) => out.push(Diagnostic::new(
                Rule::InvalidMountEntry,
                Severity::Error,
                span,
                e.message,
                e.help,
            )),
        }
    }
    overlaps(&entries, webroot, out);
    buckets(t, &entries, out);
    unusual(t, &entries, out);
    if let Some(dirs) = &options.backup {
        missing_in_backup(&entries, dirs, out);
    }
    if let Some(stored) = &options.stored {
        already_stored(t, &entries, stored, out);
    }
}

/// ADT's CheckForAssetsOverwrite, without its purge: a virgin or baseline
/// build starts a new site, so objects already in its asset buckets are an
/// earlier deployment's, and a later seed (which never overwrites) would
/// keep them over the new site's files.
fn already_stored(t: &Template, entries: &[Parsed], stored: &BTreeMap<String, u64>, out: &mut Vec<Diagnostic>) {
    let choice = crate::config::ArchiveChoice::parse(t.value("BUILD_ARCHIVE_CHOICE"));
    let url = t.value("WEBSITE_URL");
    if choice.is_none_or(|c| c.is_temporal()) || url.is_empty() || host_problem(url).is_some() {
        return;
    }
    for e in entries {
        for dir in e.entry.bucket_dirs() {
            let name = derive_bucket_name(url, &dir);
            let Some(&count) = stored.get(&name).filter(|n| **n > 0) else {
                continue;
            };
            out.push(Diagnostic::new(
                Rule::AssetsAlreadyStored,
                Severity::Warning,
                e.span,
                format!(
                    "bucket `{name}` for entry `{}` already holds {count}{} object{} on datastore 1, and this is a {} build",
                    e.text,
                    if count >= super::STORED_SAMPLE { " or more" } else { "" },
                    if count == 1 { "" } else { "s" },
                    t.value("BUILD_ARCHIVE_CHOICE"),
                ),
                "they are an earlier deployment's assets: a later seed keeps them over this build's files. Copy them away (adt-replicate) and empty the bucket, or use another WEBSITE_URL; adt never deletes them (ADT's CheckForAssetsOverwrite purges them)",
            ));
        }
    }
}

/// The paths an entry occupies: its mount points and merge target.
fn paths(entry: &MountEntry, webroot: &Path) -> Vec<PathBuf> {
    let parent = webroot.parent().unwrap_or(Path::new("/"));
    match entry {
        MountEntry::Relative(p) => vec![webroot.join(p)],
        MountEntry::Absolute(p) => vec![PathBuf::from(p)],
        MountEntry::Merge { name, .. } => {
            let mut v: Vec<PathBuf> = entry.bucket_dirs().iter().map(|d| parent.join(d)).collect();
            v.push(if name == "webroot" {
                webroot.to_path_buf()
            } else {
                webroot.join(name)
            });
            v
        }
    }
}

fn nested(a: &Path, b: &Path) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

fn overlaps(entries: &[Parsed], webroot: &Path, out: &mut Vec<Diagnostic>) {
    let mut seen: Vec<(&Parsed, Vec<PathBuf>)> = Vec::new();
    for e in entries {
        let mine = paths(&e.entry, webroot);
        // A mount over the webroot or above it hides the whole site.
        let hides_webroot = match &e.entry {
            MountEntry::Absolute(p) => webroot.starts_with(p),
            MountEntry::Merge { .. } => mine[..mine.len() - 1].iter().any(|b| nested(b, webroot)),
            MountEntry::Relative(_) => false,
        };
        if hides_webroot {
            out.push(Diagnostic::new(
                Rule::OverlappingMounts,
                Severity::Error,
                e.span,
                format!("entry `{}` would mount over the webroot {}", e.text, webroot.display()),
                "to serve the whole webroot from buckets use merge=webrootN; otherwise name an asset directory",
            ));
            seen.push((e, mine));
            continue;
        }
        let clash = seen.iter().find_map(|(other, theirs)| {
            mine.iter().find_map(|m| {
                theirs
                    .iter()
                    .find(|o| nested(m, o))
                    .map(|o| (other, m.clone(), o.clone()))
            })
        });
        if let Some((other, m, o)) = clash {
            let message = if m == o {
                format!(
                    "entry `{}` mounts on {} like entry `{}`",
                    e.text,
                    m.display(),
                    other.text
                )
            } else {
                format!(
                    "entry `{}` ({}) and entry `{}` ({}) are nested: one mount would hide the other",
                    e.text,
                    m.display(),
                    other.text,
                    o.display()
                )
            };
            out.push(Diagnostic::new(
                Rule::OverlappingMounts,
                Severity::Error,
                e.span,
                message,
                "list each asset directory once, and none inside another",
            ));
        }
        seen.push((e, mine));
    }
}

fn buckets(t: &Template, entries: &[Parsed], out: &mut Vec<Diagnostic>) {
    let url = t.value("WEBSITE_URL");
    if url.is_empty() || host_problem(url).is_some() {
        return; // invalid-website-url says why; names made from it would only repeat that.
    }
    let mut owners: HashMap<String, &Parsed> = HashMap::new();
    for e in entries {
        for dir in e.entry.bucket_dirs() {
            let name = derive_bucket_name(url, &dir);
            if let Err(why) = validate_bucket_name(&name) {
                out.push(Diagnostic::new(
                    Rule::BucketNameInvalid,
                    Severity::Error,
                    e.span,
                    format!("bucket name `{name}` for entry `{}` {why}", e.text),
                    "the bucket is named ${WEBSITE_URL}-assets-${DIRECTORY}; shorten or rename the directory (letters, digits and `-`)",
                ));
                continue;
            }
            match owners.get(&name) {
                Some(other) if other.entry != e.entry => out.push(Diagnostic::new(
                    Rule::BucketNameCollision,
                    Severity::Error,
                    e.span,
                    format!("entries `{}` and `{}` would share bucket `{name}`", other.text, e.text),
                    "ADT's names turn `.`, `/` and `_` into `-` and ignore case; rename one directory so each has its own bucket",
                )),
                Some(_) => {}
                None => {
                    owners.insert(name, e);
                }
            }
        }
    }
}

fn unusual(t: &Template, entries: &[Parsed], out: &mut Vec<Diagnostic>) {
    let Some(app) = Application::parse(t.value("APPLICATION")).filter(|a| *a != Application::None) else {
        return;
    };
    let app_name = t.value("APPLICATION");
    for e in entries {
        let dir = match &e.entry {
            MountEntry::Relative(p) => p.as_str(),
            MountEntry::Merge { name, .. } if name != "webroot" => name.as_str(),
            _ => continue,
        };
        let under = |list: &[&str]| list.iter().any(|d| Path::new(dir).starts_with(d));
        if under(app.code_directories()) {
            out.push(Diagnostic::new(
                Rule::UnusualAssetDirectory,
                Severity::Warning,
                e.span,
                format!("`{dir}` holds {app_name}'s code, not uploaded assets"),
                format!(
                    "mounting code from a bucket slows every request; {app_name} keeps assets in {}",
                    app.asset_directories().join(" or ")
                ),
            ));
        } else if !under(app.asset_directories()) {
            out.push(Diagnostic::new(
                Rule::UnusualAssetDirectory,
                Severity::Info,
                e.span,
                format!("`{dir}` is not where {app_name} keeps its assets"),
                format!(
                    "{app_name} keeps uploads in {}; check the entry matches your webroot",
                    app.asset_directories().join(" or ")
                ),
            ));
        }
    }
}

fn missing_in_backup(entries: &[Parsed], dirs: &BackupListing, out: &mut Vec<Diagnostic>) {
    for e in entries {
        let Some(dir) = e.entry.backup_dir().filter(|d| !d.is_empty()) else {
            continue;
        };
        if !dirs.has_dir(&dir) {
            out.push(Diagnostic::new(
                Rule::MountDirMissingInBackup,
                Severity::Error,
                e.span,
                if dir == e.text {
                    format!("the backup has no directory `{dir}`")
                } else {
                    format!("the backup has no directory `{dir}` for entry `{}`", e.text)
                },
                "DIRECTORIES_TO_MOUNT must match the webroot in the backup; check the path, or that this is the right archive",
            ));
        }
    }
}
