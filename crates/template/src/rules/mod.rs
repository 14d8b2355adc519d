//! The checks behind `adt-check`. Each module holds the rules about one
//! part of the template; `check` runs them all and attaches snippets.

mod datastores;
mod mounts;
mod settings;
mod variables;

use std::path::PathBuf;

use crate::archive;
use crate::diagnostic::Diagnostic;
use crate::error::TemplateError;
use crate::layout::DEFAULT_WEBROOT;
use crate::source::{Span, Template};

/// What a check looks at besides the template.
#[derive(Clone, Debug)]
pub struct CheckOptions {
    /// Where relative entries are mounted (default /var/www/html).
    pub webroot: PathBuf,
    /// A webroot backup to look for the entries' directories in
    /// (enables mount-dir-missing-in-backup).
    pub backup: Option<PathBuf>,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            webroot: PathBuf::from(DEFAULT_WEBROOT),
            backup: None,
        }
    }
}

/// Runs every rule on `template`, findings sorted by position. Fails only
/// when the backup archive given in `options` cannot be read.
pub fn check(template: &Template, options: &CheckOptions) -> Result<Vec<Diagnostic>, TemplateError> {
    let backup_dirs = options.backup.as_deref().map(archive::directories).transpose()?;
    let mut found = template.findings.clone();
    variables::check(template, &mut found);
    settings::check(template, &mut found);
    datastores::check(template, &mut found);
    mounts::check(template, &options.webroot, backup_dirs.as_ref(), &mut found);
    found.sort_by(|a, b| (a.line, a.column, a.rule).cmp(&(b.line, b.column, b.rule)));
    for d in &mut found {
        d.snippet = template.snippet(d.span());
    }
    Ok(found)
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
