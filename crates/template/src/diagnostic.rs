//! Findings of the checks: which rule, how bad, where, and how to fix it.

use std::fmt;

use serde::Serialize;

use crate::source::Span;

/// Every rule `adt-check` knows. The ids are a stable contract
/// (design.md): scripts match on them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rule {
    Syntax,
    DuplicateVariable,
    UnknownVariable,
    InvalidBoolean,
    InvalidArchiveChoice,
    PersistOnFreshBuild,
    PersistWithoutDirectories,
    DirectoriesWithoutPersist,
    InvalidMountEntry,
    OverlappingMounts,
    BucketNameInvalid,
    BucketNameCollision,
    InvalidWebsiteUrl,
    ChainedCountMismatch,
    MissingCredentials,
    InvalidEndpoint,
    InvalidRegion,
    UnknownApplication,
    UnusualAssetDirectory,
    MountDirMissingInBackup,
}

impl Rule {
    pub const ALL: &'static [Rule] = &[
        Rule::Syntax,
        Rule::DuplicateVariable,
        Rule::UnknownVariable,
        Rule::InvalidBoolean,
        Rule::InvalidArchiveChoice,
        Rule::PersistOnFreshBuild,
        Rule::PersistWithoutDirectories,
        Rule::DirectoriesWithoutPersist,
        Rule::InvalidMountEntry,
        Rule::OverlappingMounts,
        Rule::BucketNameInvalid,
        Rule::BucketNameCollision,
        Rule::InvalidWebsiteUrl,
        Rule::ChainedCountMismatch,
        Rule::MissingCredentials,
        Rule::InvalidEndpoint,
        Rule::InvalidRegion,
        Rule::UnknownApplication,
        Rule::UnusualAssetDirectory,
        Rule::MountDirMissingInBackup,
    ];

    pub fn id(self) -> &'static str {
        match self {
            Rule::Syntax => "syntax",
            Rule::DuplicateVariable => "duplicate-variable",
            Rule::UnknownVariable => "unknown-variable",
            Rule::InvalidBoolean => "invalid-boolean",
            Rule::InvalidArchiveChoice => "invalid-archive-choice",
            Rule::PersistOnFreshBuild => "persist-on-fresh-build",
            Rule::PersistWithoutDirectories => "persist-without-directories",
            Rule::DirectoriesWithoutPersist => "directories-without-persist",
            Rule::InvalidMountEntry => "invalid-mount-entry",
            Rule::OverlappingMounts => "overlapping-mounts",
            Rule::BucketNameInvalid => "bucket-name-invalid",
            Rule::BucketNameCollision => "bucket-name-collision",
            Rule::InvalidWebsiteUrl => "invalid-website-url",
            Rule::ChainedCountMismatch => "chained-count-mismatch",
            Rule::MissingCredentials => "missing-credentials",
            Rule::InvalidEndpoint => "invalid-endpoint",
            Rule::InvalidRegion => "invalid-region",
            Rule::UnknownApplication => "unknown-application",
            Rule::UnusualAssetDirectory => "unusual-asset-directory",
            Rule::MountDirMissingInBackup => "mount-dir-missing-in-backup",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl Serialize for Rule {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.id())
    }
}

/// How bad a finding is: errors break a deployment or lose data, warnings
/// are doubtful, info is a hint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Info,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// The source line a finding points into, secrets masked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snippet {
    pub line: String,
    pub caret_column: u32,
    pub caret_len: u32,
}

/// One finding. Serializes to the JSON contract of design.md.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub rule: Rule,
    pub severity: Severity,
    pub line: u32,
    pub column: u32,
    pub message: String,
    pub help: String,
    #[serde(skip)]
    pub len: u32,
    #[serde(skip)]
    pub snippet: Option<Snippet>,
}

impl Diagnostic {
    pub(crate) fn new(
        rule: Rule,
        severity: Severity,
        span: Span,
        message: impl Into<String>,
        help: impl Into<String>,
    ) -> Self {
        Diagnostic {
            rule,
            severity,
            line: span.line.max(1),
            column: span.column.max(1),
            len: span.len.max(1),
            message: message.into(),
            help: help.into(),
            snippet: None,
        }
    }

    pub fn span(&self) -> Span {
        Span {
            line: self.line,
            column: self.column,
            len: self.len,
        }
    }
}
