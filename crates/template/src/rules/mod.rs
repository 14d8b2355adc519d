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

/// What a check looks at besides the template.
#[derive(Clone, Debug)]
pub struct CheckOptions {
    /// Where relative entries are mounted (default /var/www/html).
    pub webroot: PathBuf,
    /// The directories of a webroot backup to look for the entries in
    /// (enables mount-dir-missing-in-backup).
    pub backup: Option<BackupListing>,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            webroot: PathBuf::from(DEFAULT_WEBROOT),
            backup: None,
        }
    }
}

/// Runs every rule on `template`, findings sorted by position.
pub fn check(template: &Template, options: &CheckOptions) -> Vec<Diagnostic> {
    let mut found = template.findings.clone();
    variables::check(template, &mut found);
    settings::check(template, &mut found);
    datastores::check(template, &mut found);
    mounts::check(template, &options.webroot, options.backup.as_ref(), &mut found);
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
