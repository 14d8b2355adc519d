//! duplicate-variable and unknown-variable.

use std::collections::HashMap;

use crate::diagnostic::{Diagnostic, Rule, Severity};
use crate::names;
use crate::source::{Format, Template};

/// The settings the asset tools act on.
const ASSET_SETTINGS: &[&str] = &[
    "PERSIST_ASSETS_TO_DATASTORE",
    "DIRECTORIES_TO_MOUNT",
    "SYNC_WEBROOTS",
    "BUILD_ARCHIVE_CHOICE",
    "WEBSITE_URL",
    "S3_ACCESS_KEY",
    "S3_SECRET_KEY",
    "S3_HOST_BASE",
    "S3_LOCATION",
];

pub(super) fn check(t: &Template, out: &mut Vec<Diagnostic>) {
    let descriptor = t.format() == Format::Descriptor;
    let mut first_line: HashMap<&str, u32> = HashMap::new();
    for a in t.assignments() {
        if let Some(first) = first_line.get(a.name.as_str()) {
            out.push(Diagnostic::new(
                Rule::DuplicateVariable,
                Severity::Warning,
                a.key_span,
                format!(
                    "{} is set again (first set on line {first}); the last value wins",
                    a.key
                ),
                format!("keep one setting of {} and remove the other", a.key),
            ));
        } else {
            first_line.insert(&a.name, a.key_span.line);
        }
        if names::is_known(&a.name) {
            continue;
        }
        let near = names::nearest_known(&a.key, descriptor);
        // A misspelt asset setting leaves the real one unset: persistence
        // silently off, or buckets unreachable. That breaks a deployment.
        let breaks = near
            .as_deref()
            .and_then(names::from_descriptor_key)
            .is_some_and(|known| ASSET_SETTINGS.contains(&known) && t.get(known).is_none());
        let help = match &near {
            Some(near) => format!("did you mean `{near}`? ADT ignores `{}`", a.key),
            None => format!("ADT does not read `{}`; check the spelling or remove it", a.key),
        };
        out.push(Diagnostic::new(
            Rule::UnknownVariable,
            if breaks { Severity::Error } else { Severity::Warning },
            a.key_span,
            format!("unknown variable `{}`", a.key),
            help,
        ));
    }
}
