//! Reads ADT deployment templates and checks their asset settings.
//!
//! What it does: parses the three template formats (ADT `.tmpl` shell
//! assignments, webserver `KEY:value` descriptors, YAML) without executing
//! anything; builds the typed [`AssetConfig`]; derives the [`Layout`] (bucket
//! name and mount point of every `DIRECTORIES_TO_MOUNT` entry), which every
//! other crate takes its names and paths from; and runs the rule checks that
//! `adt-check` reports as [`Diagnostic`]s.
//!
//! What it does not do: talk to S3, mount anything, or print. Rendering
//! diagnostics for people is the binary's job.

mod archive;
mod backup_format;
mod bucket;
mod config;
mod diagnostic;
mod entry;
mod error;
mod layout;
mod names;
mod parse;
mod rules;
mod secret;
mod source;

pub use archive::BackupListing;
pub use backup_format::{ARCHIVE_KEY, LOCK_KEY, MARKER, PREVIOUS_KEY, Period, UnknownPeriod, backup_bucket_name};
pub use bucket::{derive_bucket_name, validate_bucket_name};
pub use config::{Application, ArchiveChoice, AssetConfig, Datastore};
pub use diagnostic::{Diagnostic, Rule, Severity, Snippet};
pub use entry::{EntryError, MountEntry};
pub use error::TemplateError;
pub use layout::{BucketMount, DEFAULT_WEBROOT, Layout, LayoutEntry, stable_hash};
pub use names::{KNOWN_VARIABLES, is_secret_name};
pub use rules::{CheckOptions, check, valid_region};
pub use secret::Secret;
pub use source::{Assignment, Format, MAX_TEMPLATE_BYTES, Span, Template, Value};

/// Reads a template and returns its asset settings, refusing it when the
/// checks find any error. This is what the other tools call: a template that
/// `adt-check` rejects is never acted on.
pub fn load(path: &std::path::Path, webroot: &std::path::Path) -> Result<AssetConfig, TemplateError> {
    let template = Template::read(path)?;
    let options = CheckOptions {
        webroot: webroot.to_path_buf(),
        backup: None,
    };
    let errors: Vec<Diagnostic> = check(&template, &options)
        .into_iter()
        .filter(|d| d.severity == Severity::Error)
        .collect();
    if !errors.is_empty() {
        return Err(TemplateError::Rejected {
            path: template.name().to_string(),
            errors,
        });
    }
    Ok(AssetConfig::from_template(&template))
}
