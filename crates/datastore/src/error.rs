use std::fmt;
use std::path::PathBuf;

/// Where an operation was aimed: endpoint, and bucket and key when known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub endpoint: String,
    pub bucket: Option<String>,
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
/// a key or secret: texts from the server are scrubbed of both.
#[derive(Debug, thiserror::Error)]
pub enum DatastoreError {
    #[error("invalid S3 endpoint `{endpoint}`: {reason}")]
    InvalidEndpoint { endpoint: String, reason: String },
    #[error("cannot use the CA bundle {path} (AWS_CA_BUNDLE): {reason}")]
    CaBundle { path: PathBuf, reason: String },
    #[error(
        "{target}: cannot reach the datastore after {attempts} attempt(s): {detail}; check the endpoint (S3_HOST_BASE) and that it is up"
    )]
    Unreachable {
        target: Box<Target>,
        attempts: u32,
        detail: String,
    },
    #[error("{target}: access denied ({code}): {detail}; check S3_ACCESS_KEY and S3_SECRET_KEY for this datastore")]
    Denied {
        target: Box<Target>,
        code: String,
        detail: String,
    },
    #[error("{target}: the bucket name is taken by another account; bucket names are global, choose another")]
    BucketTaken { target: Box<Target> },
    #[error("{target}: no such bucket")]
    NoSuchBucket { target: Box<Target> },
    #[error("{target}: no such object")]
    NoSuchKey { target: Box<Target> },
    #[error("{target}: {operation} failed after {attempts} attempt(s): HTTP {status} {code}: {detail}")]
    Failed {
        target: Box<Target>,
        operation: &'static str,
        status: u16,
        code: String,
        detail: String,
        attempts: u32,
    },
    #[error("{target}: {operation} failed: {detail}")]
    Request {
        target: Box<Target>,
        operation: &'static str,
        detail: String,
    },
    #[error("cannot read {path} to upload it: {detail}")]
    LocalFile { path: PathBuf, detail: String },
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
