//! Findings of the checks: which rule, how bad, where, and how to fix it.

use std::fmt;

use serde::Serialize;

use crate::source::Span;

/// Every rule `adt-check` knows. The ids are a stable contract
/// (design.md): scripts match on them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Rule {
    /// `syntax`: a line a shell would run as a command, or that cannot be
    /// read (a warning for an expansion read literally).
    Syntax,
    /// `duplicate-variable`: a variable set twice (the last one wins).
    DuplicateVariable,
    /// `unknown-variable`: a name ADT does not document.
    UnknownVariable,
    /// `invalid-boolean`: a 0/1 setting with another value.
    InvalidBoolean,
    /// `invalid-archive-choice`: a BUILD_ARCHIVE_CHOICE ADT cannot build from.
    InvalidArchiveChoice,
    /// `persist-on-fresh-build`: assets persisted from a virgin or baseline
    /// build, which has none.
    PersistOnFreshBuild,
    /// `persist-without-directories`: persistence on, no directories named.
    PersistWithoutDirectories,
    /// `directories-without-persist`: directories named, persistence off.
    DirectoriesWithoutPersist,
    /// `invalid-mount-entry`: a DIRECTORIES_TO_MOUNT entry that is refused.
    InvalidMountEntry,
    /// `sloppy-mount-entry`: empty entries, blanks between entries or a
    /// doubled `/`, which ADT tolerates and so do we.
    SloppyMountEntry,
    /// `legacy-dotted-entry`: an old ADT entry with `.` for `/`
    /// (`wp-content.uploads`), read as ADT's Backup.sh reads it.
    LegacyDottedEntry,
    /// `overlapping-mounts`: one mount would hide another, or cover the
    /// webroot.
    OverlappingMounts,
    /// `bucket-name-invalid`: a derived bucket name S3 does not allow.
    BucketNameInvalid,
    /// `bucket-name-collision`: two entries derive the same bucket name.
    BucketNameCollision,
    /// `invalid-website-url`: WEBSITE_URL is not a bare host name, or is
    /// unset while persistence is on.
    InvalidWebsiteUrl,
    /// `chained-count-mismatch`: the `|`-chained S3 settings have different
    /// numbers of tokens.
    ChainedCountMismatch,
    /// `missing-credentials`: a datastore without its key, secret or host.
    MissingCredentials,
    /// `invalid-endpoint`: an S3_HOST_BASE token that is not a host or an
    /// http(s) URL (a warning for plain http).
    InvalidEndpoint,
    /// `invalid-region`: an S3_LOCATION token that is not a region name
    /// (letters, digits and `-`, at most 63 characters).
    InvalidRegion,
    /// `unknown-application`: an APPLICATION this crate does not know.
    UnknownApplication,
    /// `unusual-asset-directory`: an entry that is not where the application
    /// keeps its assets, or is its code.
    UnusualAssetDirectory,
    /// `mount-dir-missing-in-backup`: an entry the webroot backup has no
    /// directory for (checked only with [`CheckOptions::backup`](crate::CheckOptions::backup)).
    MountDirMissingInBackup,
    /// `assets-already-stored`: a virgin or baseline build whose asset
    /// buckets already hold objects (checked only with
    /// [`CheckOptions::stored`](crate::CheckOptions::stored); ADT's
    /// CheckForAssetsOverwrite).
    AssetsAlreadyStored,
}

impl Rule {
    /// Every rule, in the order above.
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
        Rule::SloppyMountEntry,
        Rule::LegacyDottedEntry,
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
        Rule::AssetsAlreadyStored,
    ];

    /// The rule's stable id (`duplicate-variable`), as printed and in JSON.
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
            Rule::SloppyMountEntry => "sloppy-mount-entry",
            Rule::LegacyDottedEntry => "legacy-dotted-entry",
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
            Rule::AssetsAlreadyStored => "assets-already-stored",
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
    /// Breaks a deployment or loses data: [`crate::load`] refuses the
    /// template.
    Error,
    /// Doubtful.
    Warning,
    /// A hint.
    Info,
}

impl Severity {
    /// The severity in lower case (`error`), as printed and in JSON.
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
    /// The whole source line, secret values replaced by `*`.
    pub line: String,
    /// Where the caret starts: 1-based, in characters.
    pub caret_column: u32,
    /// How many characters the caret underlines (at least 1).
    pub caret_len: u32,
}

/// One finding. Serializes to the JSON contract of design.md.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// The rule that found it.
    pub rule: Rule,
    /// How bad it is.
    pub severity: Severity,
    /// The line it points at, 1-based.
    pub line: u32,
    /// The column it points at: 1-based, in characters.
    pub column: u32,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub help: String,
    /// How many characters it covers (at least 1). Not in the JSON.
    #[serde(skip)]
    pub len: u32,
    /// The line it points into, set by [`check`](crate::check); None when
    /// the line is not in the template. Not in the JSON.
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

    /// Where it points: line, column and length.
    pub fn span(&self) -> Span {
        Span {
            line: self.line,
            column: self.column,
            len: self.len,
        }
    }
}
