//! What each rule is, for `adt-check --list-rules` and `--explain`: its
//! severity and a one-line summary here, its long help (what it finds, an
//! example, the fix) in docs/template-reference.md, read at build time so
//! that the documentation and `--explain` are one text.

use crate::diagnostic::{Rule, Severity};

/// The reference every rule's long help is a section of (`### id ...`).
const REFERENCE: &str = include_str!("../../../docs/template-reference.md");

pub(crate) struct RuleDoc {
    pub severity: Severity,
    pub summary: &'static str,
    pub online: bool,
}

const fn offline(severity: Severity, summary: &'static str) -> RuleDoc {
    RuleDoc {
        severity,
        summary,
        online: false,
    }
}

const fn online(severity: Severity, summary: &'static str) -> RuleDoc {
    RuleDoc {
        severity,
        summary,
        online: true,
    }
}

pub(crate) fn doc(rule: Rule) -> RuleDoc {
    use Severity::{Error, Info, Warning};
    match rule {
        Rule::Syntax => offline(
            Error,
            "a line a shell would run as a command, or that cannot be read (warning: an expansion)",
        ),
        Rule::DuplicateVariable => offline(Warning, "a variable set twice; the last one wins"),
        Rule::UnknownVariable => offline(
            Error,
            "a variable ADT does not know (warning unless it hides an asset setting)",
        ),
        Rule::InvalidBoolean => offline(Error, "a 0/1 setting with another value"),
        Rule::InvalidArchiveChoice => offline(Error, "a BUILD_ARCHIVE_CHOICE ADT cannot build from"),
        Rule::PersistOnFreshBuild => offline(
            Error,
            "assets persisted from a virgin or baseline build, which has none",
        ),
        Rule::PersistWithoutDirectories => offline(Error, "persistence on, but no DIRECTORIES_TO_MOUNT"),
        Rule::DirectoriesWithoutPersist => offline(Warning, "DIRECTORIES_TO_MOUNT set, but persistence off"),
        Rule::InvalidMountEntry => offline(Error, "a DIRECTORIES_TO_MOUNT entry that cannot be mounted"),
        Rule::SloppyMountEntry => offline(
            Warning,
            "empty entries, blanks or a doubled `/` in DIRECTORIES_TO_MOUNT",
        ),
        Rule::LegacyDottedEntry => offline(Warning, "an old entry with `.` for `/` (wp-content.uploads)"),
        Rule::OverlappingMounts => offline(Error, "one mount would hide another, or cover the webroot"),
        Rule::BucketNameInvalid => offline(Error, "a derived bucket name S3 does not allow"),
        Rule::BucketNameCollision => offline(Error, "two entries derive the same bucket name"),
        Rule::InvalidWebsiteUrl => offline(
            Error,
            "WEBSITE_URL is not a bare host name, or unset with persistence on",
        ),
        Rule::ChainedCountMismatch => offline(
            Error,
            "the `|`-chained S3 settings name different numbers of datastores",
        ),
        Rule::MissingCredentials => offline(
            Error,
            "a datastore without its key, secret or host (warning with persistence off)",
        ),
        Rule::InvalidEndpoint => offline(
            Error,
            "an S3_HOST_BASE that is not a host or http(s) URL (warning: plain http)",
        ),
        Rule::InvalidRegion => offline(Error, "an S3_LOCATION that is not a region name"),
        Rule::UnknownApplication => offline(Warning, "an APPLICATION this tool does not know"),
        Rule::UnusualAssetDirectory => offline(Warning, "an entry that is its code (info: not where it keeps assets)"),
        Rule::MountDirMissingInBackup => offline(Error, "an entry the webroot backup has no directory for (--archive)"),
        Rule::AssetsAlreadyStored => online(Warning, "a virgin or baseline build whose asset buckets hold objects"),
        Rule::DatastoreUnreachable => online(Error, "a datastore that does not answer, or answers with an error"),
        Rule::TlsInvalid => online(
            Error,
            "an https endpoint whose certificate is not trusted or speaks no TLS",
        ),
        Rule::KeysRejected => online(Error, "the datastore refuses the access key or the secret key"),
        Rule::ClockSkew => online(
            Error,
            "this machine's clock is over 15 min off the datastore's (warning: 60 s)",
        ),
        Rule::BucketMissing => online(Warning, "an asset or backup bucket not there yet; it would be created"),
        Rule::BackupBucketMissing => online(Error, "the backup bucket a temporal build restores from is missing"),
        Rule::BucketForbidden => online(Error, "a bucket these keys may not use (taken by another account)"),
        Rule::MountToolMissing => online(
            Error,
            "s3fs, rclone or mergerfs missing or not running (warning: s3fs only)",
        ),
        Rule::MountToolVersion => online(Info, "the mount tools found, and their versions"),
        Rule::FuseDeviceMissing => online(Error, "/dev/fuse absent or not a character device"),
        Rule::FuseAllowOther => online(Warning, "/etc/fuse.conf lacks user_allow_other"),
        Rule::WebUserMissing => online(Warning, "the web server's user (www-data) does not exist here"),
    }
}

/// The section of the reference about rule `id`: from its `### id` heading
/// to the next heading, trimmed.
pub(crate) fn section(id: &str) -> Option<&'static str> {
    let mut start = None;
    let mut offset = 0;
    for line in REFERENCE.split_inclusive('\n') {
        let heading = line.starts_with("## ") || line.starts_with("### ");
        if let Some(from) = start
            && heading
        {
            return Some(REFERENCE[from..offset].trim());
        }
        if start.is_none()
            && let Some(rest) = line.strip_prefix("### ")
            && rest.split_whitespace().next() == Some(id)
        {
            start = Some(offset);
        }
        offset += line.len();
    }
    start.map(|from| REFERENCE[from..].trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_has_a_section_with_an_example_and_a_fix() {
        for rule in Rule::ALL {
            let text = rule.explain();
            assert!(
                text.starts_with(&format!("### {} (", rule.id())),
                "no section for {}",
                rule.id()
            );
            assert!(text.contains("```"), "{}: no example", rule.id());
            assert!(text.contains("Fix"), "{}: no fix", rule.id());
            assert!(!text.contains("\n## "), "{}: runs into the next part", rule.id());
            assert!(
                text.lines().next().unwrap().contains(rule.severity().as_str()),
                "{}: the heading does not name its severity",
                rule.id()
            );
        }
    }

    #[test]
    fn ids_round_trip_and_typos_find_the_rule() {
        for rule in Rule::ALL {
            assert_eq!(Rule::from_id(rule.id()), Some(*rule));
        }
        assert_eq!(Rule::from_id("clock"), None);
        assert_eq!(Rule::closest("clock-skw"), Some(Rule::ClockSkew));
        assert_eq!(Rule::closest("keys-rejceted"), Some(Rule::KeysRejected));
        assert_eq!(Rule::closest("fuse"), Some(Rule::FuseDeviceMissing));
        assert_eq!(Rule::closest("zzzzzzzzzzzzzzzzzzzz"), None);
    }
}
