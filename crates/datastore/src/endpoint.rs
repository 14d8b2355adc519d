//! From a template's S3_HOST_BASE / S3_LOCATION token (or an `--endpoint`
//! override) to an endpoint URL, signing region and connection settings.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::DatastoreError;
use crate::retry::RetryPolicy;
use crate::secret::Secret;

/// An S3 endpoint: scheme, host and port, and the region to sign for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    url: String,
    region: String,
}

impl Endpoint {
    /// `host_base` is a bare host (`gb-lon-1.linodeobjects.com`, https
    /// implied, optional `:port`) or an http(s) URL with optional port.
    /// `location` is S3_LOCATION; unset means us-east-1, and `US` (what
    /// Linode templates say) is the legacy name of us-east-1.
    pub fn parse(host_base: &str, location: Option<&str>) -> Result<Endpoint, DatastoreError> {
        let bad = |reason: &str| DatastoreError::InvalidEndpoint {
            endpoint: host_base.to_string(),
            reason: reason.to_string(),
        };
        let trimmed = host_base.trim();
        if trimmed.is_empty() {
            return Err(bad("it is empty; set S3_HOST_BASE or pass --endpoint"));
        }
        let (scheme, rest) = match trimmed.split_once("://") {
            Some(("http", rest)) => ("http", rest),
            Some(("https", rest)) => ("https", rest),
            Some((other, _)) => return Err(bad(&format!("scheme `{other}` is not http or https"))),
            None => ("https", trimmed),
        };
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.is_empty() {
            return Err(bad("it has no host"));
        }
        if authority.contains('/') || authority.contains('?') || authority.contains('#') {
            return Err(bad("it has a path; give only scheme, host and port"));
        }
        // It goes into the mount tools' option strings (`url=...`): a host
        // is letters, digits, `.`, `-` (or a bracketed IPv6 address), then
        // an optional port; a `,` or `=` could inject options.
        let host_ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']');
        if !authority.chars().all(host_ok) {
            return Err(bad(
                "it is not a host name (only letters, digits, `.` and `-`, then an optional :port)",
            ));
        }
        if let Some((_, port)) = authority
            .rsplit_once(':')
            .filter(|(h, _)| !h.ends_with(']') || h.starts_with('['))
            && !authority.ends_with(']')
            && port.parse::<u16>().map_or(true, |p| p == 0)
        {
            return Err(bad("its port is not a number from 1 to 65535"));
        }
        let region = match location.map(str::trim) {
            None | Some("") | Some("US") | Some("us") => "us-east-1".to_string(),
            // It goes into the mount tools' option strings: nothing but a
            // region name may (`us-east-1,passwd_file=...` would inject).
            Some(region) if !region_name(region) => {
                return Err(bad(&format!(
                    "its region (S3_LOCATION) `{region}` is not a region name: only letters, digits and `-`"
                )));
            }
            Some(region) => region.to_string(),
        };
        Ok(Endpoint {
            url: format!("{scheme}://{authority}"),
            region,
        })
    }

    /// What an object_store backend shows where an S3 endpoint would be.
    pub(crate) fn object_store(url: &str) -> Endpoint {
        Endpoint {
            url: url.to_string(),
            region: String::new(),
        }
    }

    /// `scheme://host[:port]` (or an object_store URL: `file:///srv/x`)
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The region requests are signed for: `us-east-1` when S3_LOCATION
    /// is unset or `US`. Empty for an object_store backend.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// True when the URL's scheme is https (false for http and for an
    /// object_store URL).
    pub fn is_https(&self) -> bool {
        self.url.starts_with("https://")
    }

    /// True for 127.0.0.0/8, ::1 and localhost: no network between us.
    pub fn is_loopback(&self) -> bool {
        let authority = self.url.split_once("://").map_or("", |(_, a)| a);
        let host = if authority.starts_with('[') {
            authority.split(']').next().unwrap_or("").trim_start_matches('[')
        } else {
            authority.split(':').next().unwrap_or("")
        };
        host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }

    /// Whether request bodies need a SigV4 payload hash. Over https, TLS
    /// already guarantees the bytes arrive unchanged (AWS's SDKs skip it for
    /// S3 there too), and on loopback there is no wire; on plain http across
    /// a network the signed hash is the only integrity check, so keep it.
    pub fn signs_payload(&self) -> bool {
        !self.is_https() && !self.is_loopback()
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url)
    }
}

/// How long to wait before giving up on a connection or a silent server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// TCP and TLS connection set-up.
    pub connect: Duration,
    /// Longest silence while waiting for response bytes.
    pub read: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(3),
            read: Duration::from_secs(30),
        }
    }
}

/// Everything needed to open a [`crate::Store`]. Debug never shows the keys.
#[derive(Clone, Debug)]
pub struct Connection {
    /// Where requests go, and the region they are signed for.
    pub endpoint: Endpoint,
    /// The access key ID. Debug and Display never show it.
    pub access_key: Secret,
    /// The secret access key. Debug and Display never show it.
    pub secret_key: Secret,
    /// How failed requests are retried.
    pub retry: RetryPolicy,
    /// How long to wait for a connection and for response bytes.
    pub timeouts: Timeouts,
    /// Extra trusted CA certificates (PEM) for https (the front door reads
    /// $AWS_CA_BUNDLE; nothing here reads the environment).
    pub ca_bundle: Option<PathBuf>,
}

impl Connection {
    /// A connection with the default retry policy and timeouts (3 s to
    /// connect, 30 s of silence) and no extra CA certificates. It makes
    /// no request.
    pub fn new(endpoint: Endpoint, access_key: Secret, secret_key: Secret) -> Connection {
        Connection {
            endpoint,
            access_key,
            secret_key,
            retry: RetryPolicy::default(),
            timeouts: Timeouts::default(),
            ca_bundle: None,
        }
    }
}

/// A region name as SigV4 and the mount tools' option strings take it:
/// letters, digits and `-`, at most 63 (adt-template's check of
/// S3_LOCATION applies the same rule to a template, with its line).
fn region_name(region: &str) -> bool {
    !region.is_empty() && region.len() <= 63 && region.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_that_could_inject_options_is_refused() {
        for bad in [
            "s3.example.com,passwd_file=/x",
            "s3.example.com=x",
            "a b.com",
            "user@host",
            "h\u{e9}.com",
        ] {
            assert!(Endpoint::parse(bad, None).is_err(), "{bad}");
        }
        assert!(Endpoint::parse("http://[::1]:9000", None).is_ok());
        assert!(Endpoint::parse("http://127.0.0.1:9000", None).is_ok());
    }

    #[test]
    fn a_region_that_is_not_a_name_is_refused() {
        for bad in [
            "us-east-1,passwd_file=/etc/other.passwd,curldbg",
            "eu west",
            "a;b",
            "x\ny",
        ] {
            let err = Endpoint::parse("s3.example.com", Some(bad)).unwrap_err();
            assert!(err.to_string().contains("not a region name"), "{bad}: {err}");
        }
        assert_eq!(
            Endpoint::parse("s3.example.com", Some("gb-lon-1")).unwrap().region(),
            "gb-lon-1"
        );
    }

    #[test]
    fn bare_hosts_are_https_and_urls_keep_scheme_and_port() {
        let e = Endpoint::parse("gb-lon-1.linodeobjects.com", Some("US")).unwrap();
        assert_eq!(
            (e.url(), e.region()),
            ("https://gb-lon-1.linodeobjects.com", "us-east-1")
        );
        let e = Endpoint::parse("http://127.0.0.1:9000/", Some("eu-west-2")).unwrap();
        assert_eq!(
            (e.url(), e.region(), e.is_https()),
            ("http://127.0.0.1:9000", "eu-west-2", false)
        );
        assert!(e.is_loopback() && !e.signs_payload());
        let e = Endpoint::parse("nyc3.digitaloceanspaces.com:8443", None).unwrap();
        assert!(!e.is_loopback() && !e.signs_payload(), "TLS protects the payload");
        assert!(Endpoint::parse("http://10.0.0.5:9000", None).unwrap().signs_payload());
        assert!(Endpoint::parse("http://localhost:9000", None).unwrap().is_loopback());
        assert_eq!(e.url(), "https://nyc3.digitaloceanspaces.com:8443");
        assert_eq!(
            Endpoint::parse("http://[::1]:9000", None).unwrap().url(),
            "http://[::1]:9000"
        );
    }

    #[test]
    fn refuses_what_is_not_an_endpoint() {
        for bad in [
            "",
            "ftp://x.example.com",
            "https://",
            "https://x.example.com/bucket",
            "a b.com",
            "x.com:0",
            "x.com:http",
        ] {
            assert!(Endpoint::parse(bad, None).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn debug_hides_keys() {
        let c = Connection::new(
            Endpoint::parse("x.example.com", None).unwrap(),
            Secret::new("AKIAVISIBLE"),
            Secret::new("very-secret"),
        );
        let text = format!("{c:?}");
        assert!(!text.contains("AKIAVISIBLE") && !text.contains("very-secret"), "{text}");
    }
}
