//! One look at an endpoint, changing nothing: does it answer, is TLS
//! accepted, are the keys, and how far apart are the clocks. For
//! `adt-check --online`; the caller turns the typed [`Probe`] into words.

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_s3::config::interceptors::BeforeDeserializationInterceptorContextRef;
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_s3::error::{BoxError, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::{DateTime, DateTimeFormat};

use crate::store::Store;

/// Past this many seconds apart, the clocks are worth a warning.
pub const SKEW_WARN_SECS: u64 = 60;
/// Past this many seconds apart, S3 refuses signed requests
/// (RequestTimeTooSkewed: 15 minutes).
pub const SKEW_FAIL_SECS: u64 = 15 * 60;

/// What one probe of an endpoint found.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Probe {
    /// The endpoint URL probed.
    pub endpoint: String,
    /// How it answered.
    pub answer: ProbeAnswer,
    /// Its clock against ours, when it sent a `Date` header.
    pub clock: Option<ClockSkew>,
}

/// How an endpoint answered one signed request (ListBuckets).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProbeAnswer {
    /// It answered and accepted the keys (a refusal to list buckets, as
    /// keys limited to some buckets get, counts: the keys were known).
    Accepted,
    /// No answer, or not over TLS as expected.
    Unreachable {
        /// Why.
        problem: Transport,
        /// The failure in one line (never a secret).
        detail: String,
    },
    /// The keys were refused.
    KeysRejected {
        /// Which one.
        key: RejectedKey,
        /// The S3 error code (`InvalidAccessKeyId`).
        code: String,
    },
    /// The request was refused because the clocks are too far apart
    /// (RequestTimeTooSkewed); [`Probe::clock`] says by how much when the
    /// answer had a `Date` header.
    ClockRejected,
    /// Another answer: a server error, or an S3 error this probe does not
    /// expect.
    Failed {
        /// The HTTP status.
        status: u16,
        /// The S3 error code, when given.
        code: String,
        /// The server's message (never a secret).
        detail: String,
    },
}

/// Why an endpoint could not be reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Transport {
    /// Nothing listens there: connection refused.
    Refused,
    /// The host name does not resolve.
    Dns,
    /// No answer in time.
    Timeout,
    /// The certificate is not trusted or not valid for the host name.
    Certificate,
    /// The port does not speak TLS (https given for a plain endpoint).
    NotTls,
    /// Another connection failure.
    Other,
}

impl Transport {
    /// True for the TLS failures: a certificate, or no TLS on the port.
    pub fn is_tls(self) -> bool {
        matches!(self, Transport::Certificate | Transport::NotTls)
    }
}

/// Which key an endpoint refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RejectedKey {
    /// The access key id is unknown (InvalidAccessKeyId).
    AccessKey,
    /// The signature does not match: the secret key is wrong
    /// (SignatureDoesNotMatch).
    SecretKey,
}

/// The datastore's clock minus ours, in whole seconds (positive: ours is
/// behind).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClockSkew {
    /// Seconds; the `Date` header has one-second resolution.
    pub seconds: i64,
}

/// How much a clock difference matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum SkewVerdict {
    /// At most [`SKEW_WARN_SECS`] apart.
    Fine,
    /// More than [`SKEW_WARN_SECS`], at most [`SKEW_FAIL_SECS`].
    Doubtful,
    /// More than [`SKEW_FAIL_SECS`]: signed requests are refused.
    Fatal,
}

impl ClockSkew {
    /// The skew between the server's `Date` and our clock when the answer
    /// came; None when `date` is not an HTTP date.
    pub fn from_date_header(date: &str, local: SystemTime) -> Option<ClockSkew> {
        let server = DateTime::from_str(date.trim(), DateTimeFormat::HttpDate).ok()?;
        let local = match local.duration_since(UNIX_EPOCH) {
            Ok(d) => d.as_secs() as i64,
            Err(e) => -(e.duration().as_secs() as i64),
        };
        Some(ClockSkew {
            seconds: server.secs() - local,
        })
    }

    /// How much it matters: more than a minute is doubtful, more than 15
    /// minutes breaks every signed request.
    pub fn verdict(self) -> SkewVerdict {
        match self.seconds.unsigned_abs() {
            s if s > SKEW_FAIL_SECS => SkewVerdict::Fatal,
            s if s > SKEW_WARN_SECS => SkewVerdict::Doubtful,
            _ => SkewVerdict::Fine,
        }
    }
}

/// Keeps the `Date` header of the response.
#[derive(Debug, Clone)]
struct DateHeader(Arc<Mutex<Option<(String, SystemTime)>>>);

impl Intercept for DateHeader {
    fn name(&self) -> &'static str {
        "adt-date-header"
    }

    fn read_before_deserialization(
        &self,
        context: &BeforeDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(date) = context.response().headers().get("date")
            && let Ok(mut seen) = self.0.lock()
        {
            *seen = Some((date.to_string(), SystemTime::now()));
        }
        Ok(())
    }
}

impl Store {
    /// One signed request (ListBuckets), once, without retries: whether the
    /// endpoint answers, accepts TLS and the keys, and its clock. Changes
    /// nothing. A store over object_store (memory, a directory) is always
    /// [`ProbeAnswer::Accepted`], without a clock.
    pub async fn probe(&self) -> Probe {
        let endpoint = self.endpoint().url().to_string();
        if self.objects.is_some() {
            return Probe {
                endpoint,
                answer: ProbeAnswer::Accepted,
                clock: None,
            };
        }
        let seen = DateHeader(Arc::new(Mutex::new(None)));
        let result = self
            .client
            .list_buckets()
            .customize()
            .interceptor(seen.clone())
            .send()
            .await;
        let clock = seen
            .0
            .lock()
            .ok()
            .and_then(|s| s.clone())
            .and_then(|(date, at)| ClockSkew::from_date_header(&date, at));
        let answer = match result {
            Ok(_) => ProbeAnswer::Accepted,
            Err(SdkError::ServiceError(ctx)) => {
                let status = ctx.raw().status().as_u16();
                let err = ctx.err();
                let code = err.code().unwrap_or_default().to_string();
                match code.as_str() {
                    "InvalidAccessKeyId" => ProbeAnswer::KeysRejected {
                        key: RejectedKey::AccessKey,
                        code,
                    },
                    "SignatureDoesNotMatch" => ProbeAnswer::KeysRejected {
                        key: RejectedKey::SecretKey,
                        code,
                    },
                    "RequestTimeTooSkewed" => ProbeAnswer::ClockRejected,
                    // Some stores (the embedded emulator among them) say
                    // AccessDenied for a bad key, and only their message
                    // says which; otherwise the keys were known and may
                    // only not list every bucket.
                    "AccessDenied" | "AllAccessDisabled" => match denied_key(err.message().unwrap_or_default()) {
                        Some(key) => ProbeAnswer::KeysRejected { key, code },
                        None => ProbeAnswer::Accepted,
                    },
                    _ => ProbeAnswer::Failed {
                        status,
                        detail: self.scrub.clean(err.message().unwrap_or_default()),
                        code,
                    },
                }
            }
            Err(e @ SdkError::TimeoutError(_)) => ProbeAnswer::Unreachable {
                problem: Transport::Timeout,
                detail: self.scrub.clean(&crate::client::causes(&e)),
            },
            Err(e) => {
                let text = self
                    .scrub
                    .clean(&aws_sdk_s3::error::DisplayErrorContext(&e).to_string());
                let problem = transport_kind(&text);
                let detail = match crate::client::transport_problem(&text) {
                    Some(line) => line.to_string(),
                    None => self.scrub.clean(&crate::client::causes(&e)),
                };
                ProbeAnswer::Unreachable { problem, detail }
            }
        };
        Probe {
            endpoint,
            answer,
            clock,
        }
    }
}

/// Which key an AccessDenied message blames, when it names one.
fn denied_key(message: &str) -> Option<RejectedKey> {
    let m = message.to_ascii_lowercase();
    if m.contains("signature") {
        Some(RejectedKey::SecretKey)
    } else if (m.contains("access key") || m.contains("accesskey") || m.contains("access-key"))
        && ["not found", "does not exist", "unknown", "invalid", "not valid"]
            .iter()
            .any(|w| m.contains(w))
    {
        Some(RejectedKey::AccessKey)
    } else {
        None
    }
}

/// What kind of connection failure an SDK error's text describes.
fn transport_kind(text: &str) -> Transport {
    let has = |needle: &str| text.contains(needle);
    if has("InvalidCertificate") || has("invalid peer certificate") || has("UnknownIssuer") {
        Transport::Certificate
    } else if has("InvalidContentType") || has("CorruptMessage") || has("received corrupt message") {
        Transport::NotTls
    } else if has("failed to lookup address") || has("dns error") || has("Name or service not known") {
        Transport::Dns
    } else if has("Connection refused") || has("connection refused") || has("os error 111") {
        Transport::Refused
    } else if has("timed out") || has("timeout") || has("Timeout") {
        Transport::Timeout
    } else {
        Transport::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn clock_skew_is_judged_by_its_size_either_way() {
        // Sun, 06 Nov 1994 08:49:37 GMT is 784111777.
        let date = "Sun, 06 Nov 1994 08:49:37 GMT";
        let skew = |local: u64| ClockSkew::from_date_header(date, at(local)).unwrap();
        assert_eq!(skew(784_111_777), ClockSkew { seconds: 0 });
        assert_eq!(skew(784_111_777).verdict(), SkewVerdict::Fine);
        assert_eq!(skew(784_111_777 - 60).verdict(), SkewVerdict::Fine, "60 s is fine");
        assert_eq!(skew(784_111_777 - 61), ClockSkew { seconds: 61 });
        assert_eq!(skew(784_111_777 - 61).verdict(), SkewVerdict::Doubtful);
        assert_eq!(skew(784_111_777 + 61).verdict(), SkewVerdict::Doubtful, "ahead too");
        assert_eq!(skew(784_111_777 + 900).verdict(), SkewVerdict::Doubtful);
        assert_eq!(skew(784_111_777 + 901).verdict(), SkewVerdict::Fatal);
        assert_eq!(skew(784_111_777 + 901).seconds, -901, "ours is ahead");
        assert_eq!(skew(784_111_777 - 3600).verdict(), SkewVerdict::Fatal);
        assert_eq!(ClockSkew::from_date_header("yesterday", at(0)), None);
        assert_eq!(ClockSkew::from_date_header("", at(0)), None);
    }

    #[test]
    fn connection_failures_are_told_apart() {
        assert_eq!(
            transport_kind("dispatch failure: io error: Connection refused (os error 111)"),
            Transport::Refused
        );
        assert_eq!(
            transport_kind("dns error: failed to lookup address information"),
            Transport::Dns
        );
        assert_eq!(
            transport_kind("invalid peer certificate: UnknownIssuer"),
            Transport::Certificate
        );
        assert_eq!(transport_kind("received corrupt message"), Transport::NotTls);
        assert_eq!(transport_kind("connect timed out"), Transport::Timeout);
        assert!(Transport::Certificate.is_tls() && !Transport::Refused.is_tls());
    }

    #[test]
    fn access_denied_messages_that_name_a_key() {
        assert_eq!(
            denied_key("Access key not found: <redacted>"),
            Some(RejectedKey::AccessKey)
        );
        assert_eq!(
            denied_key("The AWS Access Key Id you provided does not exist in our records."),
            Some(RejectedKey::AccessKey)
        );
        assert_eq!(denied_key("Signature does not match"), Some(RejectedKey::SecretKey));
        assert_eq!(denied_key("Access Denied"), None, "keys known, listing not allowed");
        assert_eq!(denied_key(""), None);
    }
}
