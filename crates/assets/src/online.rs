//! What `adt-check --online` looks at beyond the template, as findings of
//! the online rules: every datastore (reachable, TLS, keys, clock, the
//! buckets) and, when assets are persisted, this machine (mount tools,
//! FUSE, the web server's user). Nothing is created or written.

use adt_datastore::{ProbeAnswer, RejectedKey, SkewVerdict, Transport};
use adt_mounts::{FuseDevice, Machine, Needs, ToolState};
use adt_template::{Diagnostic, MountEntry, Period, Rule, Severity, Template};

use crate::Site;

/// What the online checks found for one site.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct OnlineReport {
    /// The findings, datastores first (in their order), then this machine.
    pub diagnostics: Vec<Diagnostic>,
    /// Whether datastore 1 answered and accepted the keys, so that further
    /// look-ups there ([`Site::stored_assets`]) can be made.
    pub primary_usable: bool,
}

/// The web server's user the mounted files belong to (see
/// [`crate::web_server_owner`]).
pub const WEB_SERVER_USER: &str = "www-data";

impl Site {
    /// Reaches every datastore of the site and, when it persists assets,
    /// looks at `machine`; `template` is the one the site was made from
    /// (the findings point into it). Changes nothing anywhere.
    pub async fn check_online(&self, template: &Template, machine: &Machine) -> OnlineReport {
        let mut report = OnlineReport::default();
        for number in 1..=self.datastore_count() {
            let usable = self.check_datastore(template, number, &mut report.diagnostics).await;
            if number == 1 {
                report.primary_usable = usable;
            }
        }
        let config = self.config();
        if config.persist_assets && !config.directories_to_mount.is_empty() {
            let needs = Needs {
                merge: config
                    .directories_to_mount
                    .iter()
                    .any(|e| matches!(e, MountEntry::Merge { .. })),
                web_user: WEB_SERVER_USER.to_string(),
            };
            machine_findings(template, machine, &needs, &mut report.diagnostics);
        }
        report
    }

    /// Probes datastore `number` and looks for its buckets; true when it
    /// answered and accepted the keys.
    async fn check_datastore(&self, template: &Template, number: usize, out: &mut Vec<Diagnostic>) -> bool {
        let store = match self.store(number) {
            Ok(s) => s,
            Err(e) => {
                out.push(Diagnostic::on_datastore_setting(
                    template,
                    "S3_HOST_BASE",
                    number,
                    Rule::DatastoreUnreachable,
                    Severity::Error,
                    format!("datastore {number} cannot be used: {e}"),
                    "check this datastore's S3_HOST_BASE and S3_LOCATION",
                ));
                return false;
            }
        };
        let probe = store.probe().await;
        let name = format!("datastore {number} ({})", probe.endpoint);
        if let Some(skew) = probe.clock {
            let (severity, effect) = match skew.verdict() {
                SkewVerdict::Fine => (None, ""),
                SkewVerdict::Doubtful => (
                    Some(Severity::Warning),
                    "; past 15 minutes S3 refuses every signed request",
                ),
                SkewVerdict::Fatal => (
                    Some(Severity::Error),
                    "; S3 refuses signed requests past 15 minutes, so uploads and mounts fail",
                ),
            };
            if let Some(severity) = severity {
                let way = if skew.seconds > 0 { "behind" } else { "ahead of" };
                out.push(Diagnostic::on_datastore_setting(
                    template,
                    "S3_HOST_BASE",
                    number,
                    Rule::ClockSkew,
                    severity,
                    format!(
                        "this machine's clock is {} s {way} {name}{effect}",
                        skew.seconds.unsigned_abs()
                    ),
                    "run a time service (systemd-timesyncd or chrony) and check `timedatectl`",
                ));
            }
        }
        match probe.answer {
            ProbeAnswer::Accepted => {}
            ProbeAnswer::Unreachable { problem, detail } if problem.is_tls() => {
                out.push(Diagnostic::on_datastore_setting(
                    template,
                    "S3_HOST_BASE",
                    number,
                    Rule::TlsInvalid,
                    Severity::Error,
                    format!("{name}: {detail}"),
                    "use the provider's own host name; for a private CA set AWS_CA_BUNDLE; for a plain endpoint write http:// and its port",
                ));
                return false;
            }
            ProbeAnswer::Unreachable { problem, detail } => {
                let why = match problem {
                    Transport::Refused => "connection refused".to_string(),
                    Transport::Dns => "its host name does not resolve".to_string(),
                    Transport::Timeout => "no answer in time".to_string(),
                    _ => format!("the connection failed ({detail})"),
                };
                out.push(Diagnostic::on_datastore_setting(
                    template,
                    "S3_HOST_BASE",
                    number,
                    Rule::DatastoreUnreachable,
                    Severity::Error,
                    format!("{name} is unreachable: {why}"),
                    "check this datastore's S3_HOST_BASE (scheme, host, port), that the service is up, and that this machine may reach it",
                ));
                return false;
            }
            ProbeAnswer::KeysRejected { key, code } => {
                let (variable, what) = match key {
                    RejectedKey::AccessKey => ("S3_ACCESS_KEY", "the access key is unknown there"),
                    RejectedKey::SecretKey => {
                        ("S3_SECRET_KEY", "the signature does not match: the secret key is wrong")
                    }
                };
                out.push(Diagnostic::on_datastore_setting(
                    template,
                    variable,
                    number,
                    Rule::KeysRejected,
                    Severity::Error,
                    format!("keys rejected by {name}: {what} ({variable}, datastore {number}'s value; {code})"),
                    format!(
                        "fix datastore {number}'s value of {variable} (value {number} of its `|`-separated list, or its only value) as the provider's console shows it"
                    ),
                ));
                return false;
            }
            ProbeAnswer::ClockRejected => {
                if probe.clock.is_none() {
                    out.push(Diagnostic::on_datastore_setting(
                        template,
                        "S3_HOST_BASE",
                        number,
                        Rule::ClockSkew,
                        Severity::Error,
                        format!("{name} refuses requests from this machine's clock (RequestTimeTooSkewed)"),
                        "run a time service (systemd-timesyncd or chrony) and check `timedatectl`",
                    ));
                }
                return false;
            }
            ProbeAnswer::Failed { status, code, detail } => {
                out.push(Diagnostic::on_datastore_setting(
                    template,
                    "S3_HOST_BASE",
                    number,
                    Rule::DatastoreUnreachable,
                    Severity::Error,
                    format!("{name} answered HTTP {status} {code}: {detail}"),
                    "check this datastore's S3_HOST_BASE and the provider's status page",
                ));
                return false;
            }
            // A future answer: say so rather than pass it over.
            _ => {
                out.push(Diagnostic::on_datastore_setting(
                    template,
                    "S3_HOST_BASE",
                    number,
                    Rule::DatastoreUnreachable,
                    Severity::Error,
                    format!("{name} gave an answer adt-check does not know"),
                    "check this datastore's S3_HOST_BASE",
                ));
                return false;
            }
        }
        for (bucket, role) in self.buckets_on(number) {
            let missing = |severity, rule, message: String, help: &str| {
                Diagnostic::on_setting(template, role.anchor(), rule, severity, message, help)
            };
            match store.bucket_exists(&bucket).await {
                Ok(true) => {}
                Ok(false) => out.push(match role {
                    BucketRole::Restore(period) => missing(
                        Severity::Error,
                        Rule::BackupBucketMissing,
                        format!("backup bucket `{bucket}` is not on {name}; the build (BUILD_ARCHIVE_CHOICE={period}) restores from it"),
                        "check WEBSITE_URL and BUILD_ARCHIVE_CHOICE, or make a backup of that period first (adt-backup upload)",
                    ),
                    BucketRole::Asset(ref entry) => missing(
                        Severity::Warning,
                        Rule::BucketMissing,
                        format!("bucket `{bucket}` (entry `{entry}`) is not on {name}"),
                        "adt-seed or adt-mount creates it (the keys work and the name is valid); on a temporal build, seed the assets first",
                    ),
                    BucketRole::Backup(period) => missing(
                        Severity::Warning,
                        Rule::BucketMissing,
                        format!("backup bucket `{bucket}` ({period}) is not on {name}"),
                        "adt-backup upload creates it (the keys work and the name is valid)",
                    ),
                }),
                Err(adt_datastore::DatastoreError::Denied { code, .. }) => out.push(missing(
                    Severity::Error,
                    Rule::BucketForbidden,
                    format!("bucket `{bucket}` on {name} cannot be used with these keys ({code})"),
                    "bucket names are global: another account may own it; use keys that may, or another WEBSITE_URL",
                )),
                Err(e) => out.push(missing(
                    Severity::Error,
                    Rule::DatastoreUnreachable,
                    format!("{name}: cannot look for bucket `{bucket}`: {e}"),
                    "check this datastore and try again",
                )),
            }
        }
        true
    }

    /// The buckets datastore `number` should have: the asset buckets on
    /// datastore 1 when assets are persisted; the backup bucket of a
    /// temporal build's period on every datastore.
    fn buckets_on(&self, number: usize) -> Vec<(String, BucketRole)> {
        let config = self.config();
        let mut buckets = Vec::new();
        if number == 1
            && config.persist_assets
            && let Ok(layout) = self.layout()
        {
            for (entry, mount) in layout.mounts() {
                buckets.push((mount.bucket.clone(), BucketRole::Asset(entry.entry.clone())));
            }
        }
        let period = config
            .build_archive_choice
            .filter(|c| c.is_temporal())
            .and_then(|c| c.as_str().parse::<Period>().ok());
        if let Some(period) = period
            && let Ok(bucket) = self.backup_bucket(period)
        {
            let role = if number == 1 {
                BucketRole::Restore(period)
            } else {
                BucketRole::Backup(period)
            };
            buckets.push((bucket, role));
        }
        buckets
    }
}

enum BucketRole {
    /// An asset bucket, for this DIRECTORIES_TO_MOUNT entry.
    Asset(String),
    /// The backup bucket the build restores from (datastore 1).
    Restore(Period),
    /// A backup bucket adt-backup upload writes to.
    Backup(Period),
}

impl BucketRole {
    fn anchor(&self) -> &'static [&'static str] {
        match self {
            BucketRole::Asset(_) => &["DIRECTORIES_TO_MOUNT"],
            BucketRole::Restore(_) | BucketRole::Backup(_) => &["BUILD_ARCHIVE_CHOICE", "WEBSITE_URL"],
        }
    }
}

/// The machine's findings: what is missing, and the tools' versions.
fn machine_findings(template: &Template, machine: &Machine, needs: &Needs, out: &mut Vec<Diagnostic>) {
    let found = adt_mounts::preflight(machine, needs);
    let at_persist = ["PERSIST_ASSETS_TO_DATASTORE", "DIRECTORIES_TO_MOUNT"];
    let runs = |program: &str| {
        found
            .tools
            .iter()
            .any(|t| t.program == program && matches!(t.state, ToolState::Found { .. }))
    };
    let mut versions = Vec::new();
    for tool in &found.tools {
        let why = match &tool.state {
            ToolState::Found { version, .. } => {
                versions.push(format!("{} {version}", tool.program));
                continue;
            }
            ToolState::Missing => "is not on PATH".to_string(),
            ToolState::Broken { path, detail } => format!("at {} does not run: {detail}", path.display()),
        };
        let (severity, purpose, anchor): (_, _, &[&str]) = match tool.program {
            "mergerfs" => (Severity::Error, "merge= entries need it", &["DIRECTORIES_TO_MOUNT"]),
            "s3fs" if runs("rclone") => (
                Severity::Warning,
                "adt-mount mounts with it unless given --tool rclone",
                &at_persist,
            ),
            "s3fs" => (Severity::Error, "adt-mount mounts with it", &at_persist),
            _ if runs("s3fs") => continue,
            _ => (Severity::Error, "nothing can mount the buckets", &at_persist),
        };
        out.push(Diagnostic::on_setting(
            template,
            anchor,
            Rule::MountToolMissing,
            severity,
            format!("{} {why}; {purpose}", tool.program),
            format!("install it: {}", tool.install),
        ));
    }
    if !versions.is_empty() {
        out.push(Diagnostic::on_setting(
            template,
            &at_persist,
            Rule::MountToolVersion,
            Severity::Info,
            format!("mount tools: {}", versions.join(", ")),
            "docs/mounting.md says which versions the tests cover",
        ));
    }
    let device = machine.dev_fuse.display();
    let fuse_problem = match found.fuse_device {
        FuseDevice::Present => None,
        FuseDevice::Missing => Some(format!("{device} does not exist; FUSE mounts are impossible here")),
        FuseDevice::NotCharDevice => Some(format!("{device} is not a character device; FUSE cannot use it")),
    };
    if let Some(message) = fuse_problem {
        out.push(Diagnostic::on_setting(
            template,
            &at_persist,
            Rule::FuseDeviceMissing,
            Severity::Error,
            message,
            "modprobe fuse and apt-get install fuse3; in a container, pass --device /dev/fuse --cap-add SYS_ADMIN",
        ));
    }
    if !found.as_root && found.allow_other != Some(true) {
        let conf = machine.fuse_conf.display();
        let state = if found.allow_other.is_none() {
            "cannot be read"
        } else {
            "does not enable user_allow_other"
        };
        out.push(Diagnostic::on_setting(
            template,
            &at_persist,
            Rule::FuseAllowOther,
            Severity::Warning,
            format!(
                "{conf} {state}; the mounts use allow_other, which FUSE allows a user other than root only with it"
            ),
            format!("add a line `user_allow_other` to {conf}, or mount as root"),
        ));
    }
    let (user, exists) = &found.web_user;
    if !exists {
        out.push(Diagnostic::on_setting(
            template,
            &at_persist,
            Rule::WebUserMissing,
            Severity::Warning,
            format!("user `{user}` does not exist on this machine; the mounted files would belong to the user running adt-mount"),
            "install the web server first (it creates www-data)",
        ));
    }
}
