//! invalid-boolean, invalid-archive-choice, unknown-application,
//! invalid-website-url and the three persistence rules.

use super::anchor;
use crate::config::{Application, ArchiveChoice};
use crate::diagnostic::{Diagnostic, Rule, Severity};
use crate::source::Template;

const BOOLEANS: &[&str] = &[
    "PERSIST_ASSETS_TO_DATASTORE",
    "SYNC_WEBROOTS",
    "MULTI_REGION",
    "PRIMARY_REGION",
];
const PERSIST: &str = "PERSIST_ASSETS_TO_DATASTORE";
const DIRS: &str = "DIRECTORIES_TO_MOUNT";

pub(super) fn check(t: &Template, out: &mut Vec<Diagnostic>) {
    if let Some(a) = t.get(PERSIST)
        && a.value.text.is_empty()
    {
        out.push(Diagnostic::new(
            Rule::InvalidBoolean,
            Severity::Warning,
            a.value.span(),
            format!("{PERSIST} is empty; ADT's webservers read that as on (they stop only on 0), and so does adt"),
            format!("set {PERSIST} to 1 to persist the assets, or 0 not to"),
        ));
    }
    for name in BOOLEANS {
        if let Some(a) = t.get(name)
            && !matches!(a.value.text.as_str(), "" | "0" | "1")
        {
            out.push(Diagnostic::new(
                Rule::InvalidBoolean,
                Severity::Error,
                a.value.span(),
                format!("{name} is `{}`; it must be 0 or 1", a.value.text),
                format!(
                    "ADT only treats \"1\" as on, so `{}` means off; set {name} to 1 or 0",
                    a.value.text
                ),
            ));
        }
    }

    // The webroot sync's bucket is named from WEBSITE_URL with a long
    // suffix: a URL over 30 characters makes a name S3 refuses.
    let url = t.value("WEBSITE_URL");
    if let Some(a) = t.get("SYNC_WEBROOTS").filter(|a| a.value.text == "1")
        && !url.is_empty()
        && host_problem(url).is_none()
    {
        let name = crate::bucket::sync_bucket_name(url);
        if let Err(why) = crate::bucket::validate_bucket_name(&name) {
            out.push(Diagnostic::new(
                Rule::BucketNameInvalid,
                Severity::Error,
                a.value.span(),
                format!("the webroot sync's bucket name `{name}` {why}"),
                "the bucket is named ${WEBSITE_URL}-webroot-sync-tunnel-var-www-html, as ADT names it; a WEBSITE_URL of at most 30 characters fits, or set SYNC_WEBROOTS to 0",
            ));
        }
    }

    let choice_text = t.value("BUILD_ARCHIVE_CHOICE");
    let choice = ArchiveChoice::parse(choice_text);
    if let Some(a) = t.get("BUILD_ARCHIVE_CHOICE")
        && choice.is_none()
        && !choice_text.is_empty()
    {
        let lower = choice_text.to_ascii_lowercase();
        let help = match ArchiveChoice::parse(&lower) {
            Some(c) => format!("write it in lower case: {}", c.as_str()),
            None => "use virgin or baseline for a fresh build, or hourly, daily, weekly, monthly or bimonthly to build from that temporal backup".into(),
        };
        out.push(Diagnostic::new(
            Rule::InvalidArchiveChoice,
            Severity::Error,
            a.value.span(),
            format!("BUILD_ARCHIVE_CHOICE `{choice_text}` is not an archive ADT can build from"),
            help,
        ));
    }

    if let Some(a) = t.get("APPLICATION")
        && !a.value.text.is_empty()
        && Application::parse(&a.value.text).is_none()
    {
        let lower = a.value.text.to_ascii_lowercase();
        let near = Application::ALL
            .iter()
            .map(|(name, _)| *name)
            .find(|name| *name == lower || (lower.len() > 3 && (name.starts_with(&lower) || lower.starts_with(name))));
        let help = match near {
            Some(name) => format!("did you mean `{name}`?"),
            None => "APPLICATION is one of none, joomla, wordpress, drupal, moodle".into(),
        };
        out.push(Diagnostic::new(
            Rule::UnknownApplication,
            Severity::Warning,
            a.value.span(),
            format!("APPLICATION `{}` is not an application ADT deploys", a.value.text),
            help,
        ));
    }

    let persist = crate::config::persists(t);
    let has_dirs = !t.value(DIRS).is_empty();
    if persist && choice.is_some_and(|c| !c.is_temporal()) {
        out.push(Diagnostic::new(
            Rule::PersistOnFreshBuild,
            Severity::Error,
            anchor(t, &[PERSIST]),
            format!("{PERSIST} is 1 for a {choice_text} build"),
            format!("a virgin or baseline build has no assets to persist: set {PERSIST} to 0, or build from a temporal backup (hourly, daily, weekly, monthly, bimonthly)"),
        ));
    }
    if persist && !has_dirs {
        out.push(Diagnostic::new(
            Rule::PersistWithoutDirectories,
            Severity::Error,
            anchor(t, &[PERSIST]),
            format!("{PERSIST} is 1 but {DIRS} names no directory"),
            format!("set {DIRS} to the asset directories, e.g. images (joomla) or wp-content/uploads (wordpress), or set {PERSIST} to 0"),
        ));
    }
    if !persist && has_dirs {
        out.push(Diagnostic::new(
            Rule::DirectoriesWithoutPersist,
            Severity::Warning,
            anchor(t, &[DIRS]),
            format!("{DIRS} is set but {PERSIST} is not 1, so nothing will be mounted"),
            format!("set {PERSIST} to 1 to mount these directories from the datastore, or empty {DIRS}"),
        ));
    }

    website_url(t, persist || has_dirs, out);
}

fn website_url(t: &Template, needed: bool, out: &mut Vec<Diagnostic>) {
    let Some(a) = t.get("WEBSITE_URL").filter(|a| !a.value.text.is_empty()) else {
        if needed {
            out.push(Diagnostic::new(
                Rule::InvalidWebsiteUrl,
                Severity::Error,
                anchor(t, &["WEBSITE_URL", PERSIST, DIRS]),
                "WEBSITE_URL is not set; the asset bucket names are made from it",
                "set WEBSITE_URL to the site's host name, e.g. www.example.com",
            ));
        }
        return;
    };
    if let Some(problem) = host_problem(&a.value.text) {
        let bare = a
            .value
            .text
            .split("://")
            .last()
            .unwrap_or("")
            .split(['/', ':'])
            .next()
            .unwrap_or("");
        let help = if bare.is_empty() || host_problem(bare).is_some() {
            "write the site's host name only, e.g. www.example.com".to_string()
        } else {
            format!("write the host name only: {bare}")
        };
        out.push(Diagnostic::new(
            Rule::InvalidWebsiteUrl,
            Severity::Error,
            a.value.span(),
            format!("WEBSITE_URL `{}` {problem}", a.value.text),
            help,
        ));
    }
}

/// Why `host` is not a DNS host name, if it is not.
pub(super) fn host_problem(host: &str) -> Option<&'static str> {
    if host.contains("://") {
        return Some("has a scheme; it must be a host name");
    }
    if host.contains('/') {
        return Some("has a path; it must be a host name");
    }
    if host.contains(':') {
        return Some("has a port; it must be a host name");
    }
    if host.len() > 253 {
        return Some("is longer than 253 characters");
    }
    let labels: Vec<&str> = host.split('.').collect();
    if labels.len() < 2 {
        return Some("has no domain; it must be a full host name such as www.example.com");
    }
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.len() <= 63
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if !labels.iter().all(label_ok) {
        return Some("is not a valid host name (labels of letters, digits and `-`, separated by single dots)");
    }
    None
}
