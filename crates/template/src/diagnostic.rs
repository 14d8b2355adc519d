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
    /// `datastore-unreachable`: a datastore that does not answer (connection
    /// refused, DNS, timeout) or answers with a server error (`--online`).
    DatastoreUnreachable,
    /// `tls-invalid`: an https endpoint whose certificate is not trusted or
    /// not valid for its name, or that does not speak TLS (`--online`).
    TlsInvalid,
    /// `keys-rejected`: the datastore refuses the access key or the
    /// signature made with the secret key (`--online`).
    KeysRejected,
    /// `clock-skew`: this machine's clock differs from the datastore's
    /// (`--online`; an error past 15 minutes, where S3 signatures fail).
    ClockSkew,
    /// `bucket-missing`: an asset or backup bucket that is not there yet and
    /// would be created (`--online`).
    BucketMissing,
    /// `backup-bucket-missing`: the backup bucket a temporal build restores
    /// from is not on datastore 1 (`--online`).
    BackupBucketMissing,
    /// `bucket-forbidden`: a bucket these keys may not use, e.g. a name taken
    /// by another account (`--online`).
    BucketForbidden,
    /// `mount-tool-missing`: a FUSE tool the mounts need is not on PATH or
    /// does not run (`--online`, persistence on).
    MountToolMissing,
    /// `mount-tool-version`: which mount tools and versions were found
    /// (`--online`, persistence on).
    MountToolVersion,
    /// `fuse-device-missing`: /dev/fuse is absent or not a character device
    /// (`--online`, persistence on).
    FuseDeviceMissing,
    /// `fuse-allow-other`: /etc/fuse.conf lacks `user_allow_other`, which a
    /// mount by a user other than root needs for `allow_other` (`--online`,
    /// persistence on).
    FuseAllowOther,
    /// `web-user-missing`: the web server's user (www-data) does not exist
    /// on this machine (`--online`, persistence on).
    WebUserMissing,
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
        Rule::DatastoreUnreachable,
        Rule::TlsInvalid,
        Rule::KeysRejected,
        Rule::ClockSkew,
        Rule::BucketMissing,
        Rule::BackupBucketMissing,
        Rule::BucketForbidden,
        Rule::MountToolMissing,
        Rule::MountToolVersion,
        Rule::FuseDeviceMissing,
        Rule::FuseAllowOther,
        Rule::WebUserMissing,
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
            Rule::DatastoreUnreachable => "datastore-unreachable",
            Rule::TlsInvalid => "tls-invalid",
            Rule::KeysRejected => "keys-rejected",
            Rule::ClockSkew => "clock-skew",
            Rule::BucketMissing => "bucket-missing",
            Rule::BackupBucketMissing => "backup-bucket-missing",
            Rule::BucketForbidden => "bucket-forbidden",
            Rule::MountToolMissing => "mount-tool-missing",
            Rule::MountToolVersion => "mount-tool-version",
            Rule::FuseDeviceMissing => "fuse-device-missing",
            Rule::FuseAllowOther => "fuse-allow-other",
            Rule::WebUserMissing => "web-user-missing",
        }
    }

    /// The rule whose [`Rule::id`] is `id`.
    pub fn from_id(id: &str) -> Option<Rule> {
        Rule::ALL.iter().copied().find(|r| r.id() == id)
    }

    /// The rule whose id is nearest to `text` (a typo, or a word of the
    /// id), when one is near enough to suggest.
    pub fn closest(text: &str) -> Option<Rule> {
        let text = text.trim().to_ascii_lowercase();
        if text.is_empty() {
            return None;
        }
        Rule::ALL
            .iter()
            .map(|r| (crate::names::edit_distance(&text, r.id()), *r))
            .filter(|(distance, r)| *distance <= (r.id().len() / 3).max(2))
            .min_by_key(|(distance, _)| *distance)
            .map(|(_, r)| r)
            .or_else(|| Rule::ALL.iter().copied().find(|r| r.id().contains(&text)))
    }

    /// The most severe finding the rule makes (some rules make milder
    /// ones too: [`Rule::explain`] says when).
    pub fn severity(self) -> Severity {
        crate::explain::doc(self).severity
    }

    /// What the rule finds, in one line (`adt-check --list-rules`).
    pub fn summary(self) -> &'static str {
        crate::explain::doc(self).summary
    }

    /// Whether the rule needs `adt-check --online` (a datastore or this
    /// machine) rather than the template alone.
    pub fn is_online(self) -> bool {
        crate::explain::doc(self).online
    }

    /// The long help (`adt-check --explain RULE`): what the rule finds, an
    /// example of the failure, and the fix. The same text as the rule's
    /// section of docs/template-reference.md, which it is read from.
    pub fn explain(self) -> &'static str {
        crate::explain::section(self.id()).unwrap_or("")
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

    /// A finding about the setting of the first of `names` that `template`
    /// sets (its value underlined), else about the top of the file; for
    /// findings made outside [`check`](crate::check) (adt-check `--online`).
    /// The snippet is attached, secrets masked.
    pub fn on_setting(
        template: &crate::Template,
        names: &[&str],
        rule: Rule,
        severity: Severity,
        message: impl Into<String>,
        help: impl Into<String>,
    ) -> Self {
        let mut d = Diagnostic::new(rule, severity, crate::rules::anchor(template, names), message, help);
        d.snippet = template.snippet(d.span());
        d
    }

    /// A finding about datastore `number` (1-based) of the `|`-chained
    /// setting `name`: its value for that datastore underlined (the whole
    /// value when it has one for all), else as [`Diagnostic::on_setting`].
    pub fn on_datastore_setting(
        template: &crate::Template,
        name: &str,
        number: usize,
        rule: Rule,
        severity: Severity,
        message: impl Into<String>,
        help: impl Into<String>,
    ) -> Self {
        let mut d = Diagnostic::on_setting(template, &[name], rule, severity, message, help);
        if let Some(assignment) = template.get(name) {
            let tokens: Vec<&str> = assignment.value.text.split('|').collect();
            if tokens.len() > 1 && (1..=tokens.len()).contains(&number) {
                let start: usize = tokens[..number - 1].iter().map(|t| t.chars().count() + 1).sum();
                let span = assignment.value.sub_span(start, tokens[number - 1].chars().count());
                (d.line, d.column, d.len) = (span.line.max(1), span.column.max(1), span.len.max(1));
                d.snippet = template.snippet(d.span());
            }
        }
        d
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
