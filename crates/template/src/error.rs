use std::path::PathBuf;

use crate::diagnostic::Diagnostic;

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TemplateError {
    /// The template file cannot be read.
    #[error("cannot read template {path}: {source}")]
    Read {
        /// The template.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is too large to be a template (it is refused unread).
    #[error("{path} is larger than {limit} bytes; a template is a small text file")]
    TooLarge {
        /// The template.
        path: PathBuf,
        /// The limit, in bytes.
        limit: u64,
    },
    /// The file is not UTF-8 text.
    #[error("{path} is not UTF-8 text (byte {offset}); a template is a text file")]
    NotText {
        /// The template's name.
        path: String,
        /// The first byte that is not UTF-8.
        offset: usize,
    },
    /// A YAML template does not parse.
    #[error("{path}:{line}:{column}: not valid YAML: {message}")]
    Yaml {
        /// The template's name.
        path: String,
        /// Where, 1-based.
        line: usize,
        /// Where, 1-based.
        column: usize,
        /// What the YAML parser said.
        message: String,
    },
    /// A YAML template is not a mapping of names to values.
    #[error("{path}: YAML template must be a mapping of VARIABLE: value, found {found}")]
    YamlShape {
        /// The template's name.
        path: String,
        /// What it is instead.
        found: &'static str,
    },
    /// The backup archive given for checking cannot be read whole.
    #[error("cannot read backup archive {path}: {source}")]
    Archive {
        /// The archive.
        path: PathBuf,
        /// Why.
        #[source]
        source: adt_archive::ArchiveError,
    },
    /// The checks found errors: the template is not acted on.
    #[error("{path} has {} error(s): {}", errors.len(), summary(errors))]
    Rejected {
        /// The template's name.
        path: String,
        /// The diagnostics of severity error (each with its line and fix).
        errors: Vec<Diagnostic>,
    },
    /// The webroot is not an absolute path below `/`.
    #[error("webroot {0} must be an absolute path below / (merge branches live in its parent)")]
    Webroot(PathBuf),
    /// WEBSITE_URL is not set, and bucket names are derived from it.
    #[error("WEBSITE_URL is not set; bucket names are derived from it")]
    NoWebsiteUrl,
    /// A DIRECTORIES_TO_MOUNT entry gives no valid bucket name.
    #[error("entry `{entry}`: {message}")]
    Bucket {
        /// The entry.
        entry: String,
        /// Which S3 rule the name breaks.
        message: String,
    },
}

fn summary(errors: &[Diagnostic]) -> String {
    errors
        .iter()
        .map(|d| format!("{}:{}: {} [{}]", d.line, d.column, d.message, d.rule))
        .collect::<Vec<_>>()
        .join("; ")
}
