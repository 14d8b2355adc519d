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
    let mut first: HashMap<&str, (u32, &str)> = HashMap::new();
    for a in t.assignments() {
        if let Some((first, value)) = first.get(a.name.as_str()).copied() {
            // ADT's own webserver descriptor writes DATABASEINSTALLATIONTYPE
            // and SSLLIVECERT twice from the same variable: the same value
            // again changes nothing. A different value does: ADT's
            // ExtractConfigValue.sh then returns both lines.
            if descriptor && value == a.value.text {
                continue;
            }
            out.push(Diagnostic::new(
                Rule::DuplicateVariable,
                Severity::Warning,
                a.key_span,
                if descriptor {
                    format!(
                        "{} is set again with another value (first set on line {first}); ADT's readers get both lines",
                        a.key
                    )
                } else {
                    format!(
                        "{} is set again (first set on line {first}); the last value wins",
                        a.key
                    )
                },
                format!("keep one setting of {} and remove the other", a.key),
            ));
        } else {
            first.insert(&a.name, (a.key_span.line, &a.value.text));
        }
        if names::is_known(&a.name) || (descriptor && names::is_descriptor_variable(&a.name)) {
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
