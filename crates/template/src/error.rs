use std::path::PathBuf;

use crate::diagnostic::Diagnostic;

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("cannot read template {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path} is larger than {limit} bytes; a template is a small text file")]
    TooLarge { path: PathBuf, limit: u64 },
    #[error("{path} is not UTF-8 text (byte {offset}); a template is a text file")]
    NotText { path: String, offset: usize },
    #[error("{path}:{line}:{column}: not valid YAML: {message}")]
    Yaml {
        path: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{path}: YAML template must be a mapping of VARIABLE: value, found {found}")]
    YamlShape { path: String, found: &'static str },
    #[error("cannot read backup archive {path}: {message}")]
    Archive { path: PathBuf, message: String },
    #[error("{path} has {} error(s); run adt-check on it: {}", errors.len(), summary(errors))]
    Rejected { path: String, errors: Vec<Diagnostic> },
    #[error("webroot {0} must be an absolute path below / (merge branches live in its parent)")]
    Webroot(PathBuf),
    #[error("WEBSITE_URL is not set; bucket names are derived from it")]
    NoWebsiteUrl,
    #[error("entry `{entry}`: {message}")]
    Bucket { entry: String, message: String },
}

fn summary(errors: &[Diagnostic]) -> String {
    errors
        .iter()
        .map(|d| format!("{}:{}: {} [{}]", d.line, d.column, d.message, d.rule))
        .collect::<Vec<_>>()
        .join("; ")
}
