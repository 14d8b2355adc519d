//! chained-count-mismatch, missing-credentials, invalid-endpoint and
//! invalid-region: the
//! `|`-chained S3 settings, datastore i from token i of each. Messages never
//! quote a key or secret, only which token of which variable.

use super::anchor;
use super::settings::host_problem;
use crate::config::tokens;
use crate::diagnostic::{Diagnostic, Rule, Severity};
use crate::source::Template;

const CHAINED: &[&str] = &["S3_ACCESS_KEY", "S3_SECRET_KEY", "S3_HOST_BASE", "S3_LOCATION"];
const REQUIRED: &[&str] = &["S3_ACCESS_KEY", "S3_SECRET_KEY", "S3_HOST_BASE"];

pub(super) fn check(t: &Template, out: &mut Vec<Diagnostic>) {
    let persist = crate::config::persists(t);
    let severity = if persist { Severity::Error } else { Severity::Warning };

    // ADT counts datastores by S3_ACCESS_KEY, and a variable with one
    // value (no `|`) gives it to every datastore (`cut -d'|' -f i`).
    let reference = ["S3_ACCESS_KEY", "S3_HOST_BASE"]
        .into_iter()
        .find(|n| !t.value(n).is_empty())
        .map(|n| (n, tokens(t.value(n)).len()));
    if let Some((reference, expected)) = reference {
        for name in CHAINED {
            let Some(a) = t.get(name).filter(|a| !a.value.text.is_empty()) else {
                continue;
            };
            let count = tokens(&a.value.text).len();
            if count != expected && count != 1 {
                out.push(Diagnostic::new(
                    Rule::ChainedCountMismatch,
                    Severity::Error,
                    a.value.span(),
                    format!("{name} has {count} `|`-separated value(s) but {reference} has {expected}"),
                    format!(
                        "give {name} one value per datastore, separated by `|`, in the same order as {reference} (or one value for them all)"
                    ),
                ));
            }
        }
    }

    if let Some(a) = t.get("S3_LOCATION").filter(|a| !a.value.text.is_empty()) {
        let mut offset = 0;
        for (i, token) in tokens(&a.value.text).iter().enumerate() {
            let len = token.chars().count();
            if !token.is_empty() && !valid_region(token) {
                out.push(Diagnostic::new(
                    Rule::InvalidRegion,
                    Severity::Error,
                    a.value.sub_span(offset, len),
                    format!(
                        "S3_LOCATION value {} is not a region name: only letters, digits and `-` (it reaches the mount tools' option strings)",
                        i + 1
                    ),
                    "write the provider's region, e.g. us-east-1, gb-lon-1, ams3",
                ));
            }
            offset += len + 1;
        }
    }

    // Keys may live outside the template: in the file S3_CREDENTIALS_FILE
    // names (any datastore), or for datastore 1 in the environment (the
    // binaries read S3_ACCESS_KEY/S3_SECRET_KEY, AWS_* and ~/.aws/credentials).
    let credentials_file = !t.value("S3_CREDENTIALS_FILE").is_empty();
    if let Some(a) = t.get("S3_CREDENTIALS_FILE").filter(|a| !a.value.text.is_empty())
        && !a.value.text.starts_with('/')
    {
        out.push(Diagnostic::new(
            Rule::MissingCredentials,
            Severity::Error,
            a.value.span(),
            "S3_CREDENTIALS_FILE is not an absolute path",
            "give the absolute path of the 0600 credentials file, e.g. /etc/adt/s3.credentials",
        ));
    }
    for name in REQUIRED {
        let is_key = *name != "S3_HOST_BASE";
        let Some(a) = t.get(name).filter(|a| !a.value.text.is_empty()) else {
            if is_key && credentials_file {
                continue;
            }
            let chained = tokens(t.value("S3_HOST_BASE")).len() > 1;
            let (severity, fix) = if is_key && !chained {
                (
                    Severity::Warning,
                    format!(
                        "the keys must then come from the environment (S3_ACCESS_KEY and S3_SECRET_KEY, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or ~/.aws/credentials); or set S3_CREDENTIALS_FILE to a 0600 file holding them, or set {name}"
                    ),
                )
            } else if is_key {
                (
                    severity,
                    format!(
                        "set {name} for each datastore, or set S3_CREDENTIALS_FILE to a 0600 file holding the keys (the environment gives datastore 1's only)"
                    ),
                )
            } else {
                (severity, format!("set {name} for each datastore"))
            };
            out.push(Diagnostic::new(
                Rule::MissingCredentials,
                severity,
                anchor(t, &[name, "PERSIST_ASSETS_TO_DATASTORE"]),
                format!("{name} is not set in the template"),
                fix,
            ));
            continue;
        };
        let mut offset = 0;
        for (i, token) in tokens(&a.value.text).iter().enumerate() {
            let len = token.chars().count();
            if token.trim().is_empty() && !(credentials_file && *name != "S3_HOST_BASE") {
                out.push(Diagnostic::new(
                    Rule::MissingCredentials,
                    severity,
                    a.value.sub_span(offset, len),
                    format!("{name} is empty for datastore {}", i + 1),
                    format!(
                        "fill in value {} of {name}, or remove that datastore from every S3_ setting",
                        i + 1
                    ),
                ));
            } else if *name == "S3_HOST_BASE" {
                endpoint(token, a.value.sub_span(offset, len), out);
            }
            offset += len + 1;
        }
    }
}

/// A token of S3_HOST_BASE: a bare host (https implied, optional port) or
/// an http(s) URL with scheme, host and optional port.
fn endpoint(token: &str, span: crate::source::Span, out: &mut Vec<Diagnostic>) {
    let (scheme, rest) = match token.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, token),
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let (host, port) = match rest.rsplit_once(':') {
        Some((host, port)) if !host.contains(']') || host.ends_with(']') => (host, Some(port)),
        _ => (rest, None),
    };
    let problem = if scheme.is_some_and(|s| s != "http" && s != "https") {
        Some("has a scheme other than http or https".to_string())
    } else if rest.contains('/') {
        Some("has a path; an endpoint is a host, with an optional scheme and port".to_string())
    } else if port.is_some_and(|p| p.parse::<u16>().map_or(true, |p| p == 0)) {
        Some("has an invalid port".to_string())
    } else {
        host_problem(host)
            .filter(|_| !is_ip(host) && host != "localhost")
            .map(|why| format!("is not a valid endpoint: its host {why}"))
    };
    if let Some(problem) = problem {
        out.push(Diagnostic::new(
            Rule::InvalidEndpoint,
            Severity::Error,
            span,
            format!("S3_HOST_BASE `{token}` {problem}"),
            "write the provider's endpoint host, e.g. gb-lon-1.linodeobjects.com, or a URL such as http://127.0.0.1:9000",
        ));
    } else if scheme == Some("http") && !(host == "localhost" || host.starts_with("127.") || host == "[::1]") {
        out.push(Diagnostic::new(
            Rule::InvalidEndpoint,
            Severity::Warning,
            span,
            format!("S3_HOST_BASE `{token}` is plain http: keys and assets would cross the network unencrypted"),
            "use https (write the bare host name, https is implied) unless this is a local test endpoint",
        ));
    }
}

/// A region name as providers spell them: letters, digits and `-`, at
/// most 63 characters. Nothing else may reach an option string.
pub fn valid_region(region: &str) -> bool {
    !region.is_empty() && region.len() <= 63 && region.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

fn is_ip(host: &str) -> bool {
    host.parse::<std::net::Ipv4Addr>().is_ok()
        || host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .is_some_and(|h| h.parse::<std::net::Ipv6Addr>().is_ok())
}
