//! Building the aws-sdk-s3 client for one endpoint, and reading its errors.

use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_smithy_http_client::tls;

use crate::endpoint::Connection;
use crate::error::DatastoreError;
use crate::retry::Failure;

/// The SDK client for `c`: path-style addressing (S3-compatible providers
/// and emulators need it), checksums only when an operation requires them
/// (many providers reject the newer default), no SDK retries (ours classify
/// and count them), and the CA bundle trusted for https.
pub(crate) fn build(c: &Connection) -> Result<aws_sdk_s3::Client, DatastoreError> {
    let credentials = Credentials::new(c.access_key.expose(), c.secret_key.expose(), None, None, "adt-template");
    let mut trust = tls::TrustStore::empty().with_native_roots(true);
    if let Some(path) = c.ca_bundle.as_ref().filter(|_| c.endpoint.is_https()) {
        let pem = std::fs::read(path).map_err(|e| DatastoreError::CaBundle {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        // rustls skips what it cannot parse; a bundle without a single
        // certificate would only show up later as a baffling TLS failure.
        if !pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") {
            return Err(DatastoreError::CaBundle {
                path: path.clone(),
                reason: "it holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into(),
            });
        }
        trust = trust.with_pem_certificate(pem);
    }
    let tls_context = tls::TlsContext::builder()
        .with_trust_store(trust)
        .build()
        .map_err(|e| DatastoreError::CaBundle {
            path: c.ca_bundle.clone().unwrap_or_default(),
            reason: e.to_string(),
        })?;
    let http_client = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::AwsLc))
        .tls_context(tls_context)
        .build_https();
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(c.endpoint.region().to_string()))
        .endpoint_url(c.endpoint.url())
        .credentials_provider(credentials)
        .force_path_style(true)
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
        .retry_config(RetryConfig::disabled())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(c.timeouts.connect)
                .read_timeout(c.timeouts.read)
                .build(),
        )
        .http_client(http_client)
        .build();
    Ok(aws_sdk_s3::Client::from_conf(config))
}

/// Removes the connection's key and secret from a text that came from the
/// server or the SDK, so no error message can carry them.
#[derive(Clone)]
pub(crate) struct Scrubber {
    secrets: Vec<String>,
}

impl Scrubber {
    pub(crate) fn new(c: &Connection) -> Scrubber {
        Scrubber {
            secrets: [c.access_key.expose(), c.secret_key.expose()]
                .into_iter()
                .filter(|s| s.len() >= 4)
                .map(str::to_string)
                .collect(),
        }
    }

    pub(crate) fn clean(&self, text: &str) -> String {
        self.secrets
            .iter()
            .fold(text.to_string(), |t, secret| t.replace(secret.as_str(), "<redacted>"))
    }
}

/// Classifies an SDK error for retrying.
pub(crate) fn failure<E>(err: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>, scrub: &Scrubber) -> Failure
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let detail = scrub.clean(&DisplayErrorContext(err).to_string());
    let short = scrub.clean(&causes(err));
    match err {
        SdkError::ServiceError(ctx) => {
            let status = ctx.raw().status().as_u16();
            let code = err.code().map(str::to_string);
            // An answer without a message (a HEAD has no body): the status
            // and request id, not the SDK's whole debug dump (that is
            // logged at -vv).
            let request_id = ctx
                .raw()
                .headers()
                .get("x-amz-request-id")
                .map(|id| format!(", request id {id}"))
                .unwrap_or_default();
            let message = err.message().map(|m| scrub.clean(m)).unwrap_or_else(|| {
                tracing::debug!(detail = %detail, "S3 error without a message");
                format!("HTTP {status}{request_id}")
            });
            let retry_code = matches!(
                code.as_deref(),
                Some("SlowDown" | "RequestTimeout" | "InternalError" | "ServiceUnavailable" | "RequestTimeTooSkewed")
            );
            Failure {
                transient: status >= 500 || status == 429 || retry_code,
                status: Some(status),
                code,
                detail: message,
            }
        }
        // A certificate, a name that does not resolve, or TLS spoken to a
        // plain port: no retry cures them; one line says which.
        SdkError::DispatchFailure(_) if let Some(problem) = transport_problem(&detail) => Failure {
            transient: false,
            status: None,
            code: None,
            detail: problem.to_string(),
        },
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => Failure {
            transient: true,
            status: None,
            code: None,
            detail: short,
        },
        _ => Failure {
            transient: false,
            status: None,
            code: None,
            detail,
        },
    }
}

/// An error and its causes in one line, without the SDK's debug dump:
/// "dispatch failure: io error: ...: Connection refused (os error 111)".
pub(crate) fn causes(err: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next: Option<&dyn std::error::Error> = Some(err);
    while let Some(e) = next {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}

/// A connection failure that retrying cannot cure, read from the SDK's
/// error text (the TLS and DNS errors arrive as opaque I/O errors), as one
/// line with the fix.
pub(crate) fn transport_problem(text: &str) -> Option<&'static str> {
    let has = |needle: &str| text.contains(needle);
    if has("InvalidCertificate") || has("invalid peer certificate") || has("UnknownIssuer") {
        Some(
            "TLS: the endpoint's certificate is not trusted or not valid for its host name; check S3_HOST_BASE, or set AWS_CA_BUNDLE to the CA that signed it",
        )
    } else if has("failed to lookup address") || has("dns error") || has("Name or service not known") {
        Some("DNS: the endpoint's host name does not resolve; check S3_HOST_BASE and the resolver")
    } else if has("InvalidContentType") || has("CorruptMessage") || has("received corrupt message") {
        Some(
            "TLS: the endpoint does not speak TLS on this port; use http:// for a plain endpoint, or the provider's https port",
        )
    } else {
        None
    }
}

/// The client of a store whose operations all go to an object_store
/// backend: it is never sent a request, and points nowhere routable so
/// that a mistake would fail rather than reach someone.
pub(crate) fn build_unused(_c: &Connection) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url("http://127.0.0.1:9")
        .credentials_provider(Credentials::new("unused", "unused", None, None, "unused"))
        .force_path_style(true)
        .retry_config(RetryConfig::disabled())
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

#[cfg(test)]
mod tests {
    use super::transport_problem;

    #[test]
    fn permanent_transport_failures_are_recognised() {
        let tls = "dispatch failure: io error: invalid peer certificate: UnknownIssuer (DispatchFailure(...))";
        assert!(
            transport_problem(tls)
                .unwrap()
                .starts_with("TLS: the endpoint's certificate")
        );
        let dns = "dispatch failure: other: client error (Connect): dns error: failed to lookup address information";
        assert!(transport_problem(dns).unwrap().starts_with("DNS:"));
        assert!(transport_problem("dispatch failure: io error: connection refused").is_none());
    }
}
