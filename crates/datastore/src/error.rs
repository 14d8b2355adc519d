use std::fmt;
use std::path::PathBuf;

/// Where an operation was aimed: endpoint, and bucket and key when known.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Target {
    /// The endpoint URL (or an object_store URL).
    pub endpoint: String,
    /// The bucket, when the operation had one.
    pub bucket: Option<String>,
    /// The key, when the operation had one.
    pub key: Option<String>,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.endpoint)?;
        if let Some(bucket) = &self.bucket {
            write!(f, " bucket `{bucket}`")?;
        }
        if let Some(key) = &self.key {
            write!(f, " key `{key}`")?;
        }
        Ok(())
    }
}

/// Everything that can go wrong talking to a datastore. Messages never hold
/// a key or secret: texts from the server are scrubbed of both. (The
/// details from the SDK and the server are text: the SDK's error types are
/// not part of this crate's API.)
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DatastoreError {
    /// An endpoint (or store URL) that cannot be used; nothing was sent.
    #[error("invalid S3 endpoint `{endpoint}`: {reason}")]
    InvalidEndpoint {
        /// The endpoint as given.
        endpoint: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The extra CA certificates cannot be read or hold none.
    #[error("cannot use the CA bundle {path}: {reason}")]
    CaBundle {
        /// The bundle.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// No answer (connection refused, DNS, TLS, timeouts) after every retry.
    #[error(
        "{target}: cannot reach the datastore after {attempts} attempt(s): {detail}; check the endpoint and that it is up"
    )]
    Unreachable {
        /// Where.
        target: Box<Target>,
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        detail: String,
    },
    /// The credentials were refused (403, bad key id, bad signature).
    #[error("{target}: access denied ({code}): {detail}; check the access key and secret key of this datastore")]
    Denied {
        /// Where.
        target: Box<Target>,
        /// The S3 error code.
        code: String,
        /// The server's message.
        detail: String,
    },
    /// The bucket name belongs to another account.
    #[error("{target}: the bucket name is taken by another account; bucket names are global, choose another")]
    BucketTaken {
        /// Where.
        target: Box<Target>,
    },
    /// The bucket does not exist.
    #[error("{target}: no such bucket")]
    NoSuchBucket {
        /// Where.
        target: Box<Target>,
    },
    /// The object does not exist.
    #[error("{target}: no such object")]
    NoSuchKey {
        /// Where.
        target: Box<Target>,
    },
    /// The server refused the request, or kept failing it.
    #[error("{target}: {operation} failed after {attempts} attempt(s): HTTP {status} {code}: {detail}")]
    Failed {
        /// Where.
        target: Box<Target>,
        /// The S3 operation (`PutObject`).
        operation: &'static str,
        /// The HTTP status.
        status: u16,
        /// The S3 error code.
        code: String,
        /// The server's message.
        detail: String,
        /// Attempts made.
        attempts: u32,
    },
    /// The request failed without an HTTP answer that says more.
    #[error("{target}: {operation} failed: {detail}")]
    Request {
        /// Where.
        target: Box<Target>,
        /// The operation.
        operation: &'static str,
        /// Why.
        detail: String,
    },
    /// A local file to upload cannot be read.
    #[error("cannot read {path} to upload it: {source}")]
    LocalFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

impl DatastoreError {
    /// The target of the failed operation, when there is one.
    pub fn target(&self) -> Option<&Target> {
        match self {
            DatastoreError::InvalidEndpoint { .. }
            | DatastoreError::CaBundle { .. }
            | DatastoreError::LocalFile { .. } => None,
            DatastoreError::Unreachable { target, .. }
            | DatastoreError::Denied { target, .. }
            | DatastoreError::BucketTaken { target }
            | DatastoreError::NoSuchBucket { target }
            | DatastoreError::NoSuchKey { target }
            | DatastoreError::Failed { target, .. }
            | DatastoreError::Request { target, .. } => Some(target.as_ref()),
        }
    }
}
