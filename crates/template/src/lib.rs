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
//!
//! ```rust
//! use std::path::Path;
//!
//! use adt_template::{AssetConfig, CheckOptions, DEFAULT_WEBROOT, Layout, Rule, Severity, Template, check};
//!
//! // Parse a template (read a file with `Template::read`): never executed.
//! let template = Template::parse(
//!     "site.tmpl",
//!     r#"export WEBSITE_URL="www.example.com"
//! export APPLICATION="wordpress"
//! export BUILD_ARCHIVE_CHOICE="daily"
//! export PERSIST_ASSETS_TO_DATASTORE="1"
//! export DIRECTORIES_TO_MOUNT="wp-content/uploads:merge=images2"
//! export S3_ACCESS_KEY="AKIAEXAMPLE"
//! export S3_SECRET_KEY="example-secret"
//! export S3_HOST_BASE="gb-lon-1.linodeobjects.com"
//! export S3_LOCATION="gb-lon-1"
//! "#,
//! )?;
//!
//! // Run the checks adt-check runs: no errors here.
//! let findings = check(&template, &CheckOptions::default());
//! assert!(findings.iter().all(|d| d.severity != Severity::Error), "{findings:?}");
//!
//! // The typed settings, and the layout every tool takes names from.
//! let config = AssetConfig::from_template(&template);
//! assert!(config.persist_assets);
//! assert_eq!(config.datastores[0].access_key.expose(), "AKIAEXAMPLE");
//! let layout = Layout::new(&config, Path::new(DEFAULT_WEBROOT))?;
//! let uploads = &layout.entries[0];
//! assert_eq!(uploads.mounts[0].bucket, "www-example-com-assets-wp-content-uploads");
//! assert_eq!(uploads.visible_path(), Path::new("/var/www/html/wp-content/uploads"));
//! // A merge: one bucket per branch beside the webroot, shown as one
//! // directory in it.
//! let images = &layout.entries[1];
//! assert_eq!(images.mounts[1].bucket, "www-example-com-assets-images2");
//! assert_eq!(images.mounts[1].mountpoint, Path::new("/var/www/images2"));
//! assert_eq!(images.visible_path(), Path::new("/var/www/html/images"));
//!
//! // A finding says which rule, where, and how to fix it.
//! let bad = Template::parse("bad.tmpl", "export WEBSITE_URL=\"www.example.com\"\nexport SYNC_WEBROOTS=\"yes\"\n")?;
//! let finding = check(&bad, &CheckOptions::default())
//!     .into_iter()
//!     .find(|d| d.severity == Severity::Error)
//!     .expect("an error");
//! assert_eq!((finding.rule, finding.line, finding.column), (Rule::InvalidBoolean, 2, 23));
//! assert_eq!(finding.rule.id(), "invalid-boolean");
//! # Ok::<(), adt_template::TemplateError>(())
//! ```

#![warn(missing_docs)]

mod archive;
mod backup_format;
mod bucket;
mod config;
mod credentials;
mod diagnostic;
mod entry;
mod error;
mod explain;
mod layout;
mod names;
mod parse;
mod rules;
mod secret;
mod source;

pub use archive::BackupListing;
pub use backup_format::{
    ADT_LOCK_KEY, ADT_LOCK_STALE_SECS, ARCHIVE_KEY, LOCK_KEY, MARKER, PREVIOUS_KEY, Period, UnknownPeriod,
    adt_config_bucket_name, backup_bucket_name,
};
pub use bucket::{derive_bucket_name, sync_bucket_name, validate_bucket_name};
pub use config::{Application, ArchiveChoice, AssetConfig, Datastore};
pub use credentials::{Credentials, CredentialsError, Keys, MAX_CREDENTIALS_BYTES};
pub use diagnostic::{Diagnostic, Rule, Severity, Snippet};
pub use entry::{EntryError, MountEntry};
pub use error::TemplateError;
pub use layout::{BucketMount, DEFAULT_WEBROOT, Layout, LayoutEntry, stable_hash};
pub use names::{KNOWN_VARIABLES, is_secret_name};
pub use rules::{CheckOptions, STORED_SAMPLE, check, valid_region};
pub use secret::Secret;
pub use source::{Assignment, Format, MAX_TEMPLATE_BYTES, Span, Template, Value};

/// Reads a template and returns its asset settings, refusing it when the
/// checks find any error. This is what the other tools call: a template that
/// `adt-check` rejects is never acted on.
pub fn load(path: &std::path::Path, webroot: &std::path::Path) -> Result<AssetConfig, TemplateError> {
    let template = Template::read(path)?;
    let options = CheckOptions::new(webroot);
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
