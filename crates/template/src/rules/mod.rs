//! The checks behind `adt-check`. Each module holds the rules about one
//! part of the template; `check` runs them all and attaches snippets.

mod datastores;
pub use datastores::valid_region;
mod mounts;
mod settings;
mod variables;

use std::path::PathBuf;

use crate::archive::BackupListing;
use crate::diagnostic::Diagnostic;
use crate::layout::DEFAULT_WEBROOT;
use crate::source::{Span, Template};

/// The most objects a caller counts in a bucket for
/// [`CheckOptions::stored`]: a count this high reads "or more".
pub const STORED_SAMPLE: u64 = 1000;

/// What a check looks at besides the template.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct CheckOptions {
    /// Where relative entries are mounted (default /var/www/html).
    pub webroot: PathBuf,
    /// The directories of a webroot backup to look for the entries in
    /// (enables mount-dir-missing-in-backup).
    pub backup: Option<BackupListing>,
    /// How many objects (at least) each asset bucket already holds on
    /// datastore 1, looked up by the caller (enables
    /// assets-already-stored); a bucket not in the map is taken as absent.
    pub stored: Option<std::collections::BTreeMap<String, u64>>,
}

impl CheckOptions {
    /// Relative entries mounted under `webroot`; nothing else looked at.
    pub fn new(webroot: impl Into<PathBuf>) -> CheckOptions {
        CheckOptions {
            webroot: webroot.into(),
            ..CheckOptions::default()
        }
    }
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            webroot: PathBuf::from(DEFAULT_WEBROOT),
            backup: None,
            stored: None,
        }
    }
}

/// Runs every rule on `template`, findings sorted by position.
pub fn check(template: &Template, options: &CheckOptions) -> Vec<Diagnostic> {
    let mut found = template.findings.clone();
    variables::check(template, &mut found);
    settings::check(template, &mut found);
    datastores::check(template, &mut found);
    mounts::check(template, options, &mut found);
    found.sort_by_key(|d| (d.line, d.column, d.rule));
    for d in &mut found {
        d.snippet = template.snippet(d.span());
    }
    found
}

/// Where a finding about `names` should point: the value of the first one
/// that is set, else the top of the file.
pub(crate) fn anchor(t: &Template, names: &[&str]) -> Span {
    names
        .iter()
        .find_map(|n| t.get(n).map(|a| a.value.span()))
        .unwrap_or(Span {
            line: 1,
            column: 1,
            len: 1,
        })
}
