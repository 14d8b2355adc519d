//! Where the backup archive comes from: a local file, or the backup bucket
//! in the datastore. Either way it is streamed, never written to disk, and
//! read twice (a check pass, then the upload pass); the second read is
//! guarded so it sees the same bytes as the first.

use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use adt_datastore::Store;

use crate::error::SeedError;

/// The temporal backup to seed from.
#[derive(Clone, Debug)]
pub enum ArchiveSource {
    /// applicationsourcecode.tar.gz on local disk.
    File(PathBuf),
    /// An object in the datastore, e.g. `${URL}-hourly/applicationsourcecode.tar.gz`.
    Datastore {
        /// The datastore holding the archive.
        store: Store,
        /// The bucket holding it.
        bucket: String,
        /// Its key in that bucket.
        key: String,
    },
}

/// What identifies one version of the archive, and how to check a second
/// read sees that version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Identity {
    pub text: String,
    pub etag: Option<String>,
}

impl ArchiveSource {
    /// For messages: the path, or `s3://bucket/key at endpoint`.
    pub fn name(&self) -> String {
        match self {
            ArchiveSource::File(path) => path.display().to_string(),
            ArchiveSource::Datastore { store, bucket, key } => format!("s3://{bucket}/{key} at {}", store.endpoint()),
        }
    }

    /// Local files: device, inode, size and modification and change times
    /// (what make and git trust); objects: their ETag and size.
    pub(crate) async fn identity(&self) -> Result<Identity, SeedError> {
        match self {
            ArchiveSource::File(path) => {
                let m = std::fs::metadata(path).map_err(|e| self.read_error(e))?;
                if !m.is_file() {
                    return Err(self.read_error("not a regular file"));
                }
                Ok(Identity {
                    text: format!(
                        "file:{}:{}:{}:{}:{}.{}:{}.{}",
                        path.canonicalize().unwrap_or_else(|_| path.clone()).display(),
                        m.dev(),
                        m.ino(),
                        m.len(),
                        m.mtime(),
                        m.mtime_nsec(),
                        m.ctime(),
                        m.ctime_nsec()
                    ),
                    etag: None,
                })
            }
            ArchiveSource::Datastore { store, bucket, key } => {
                let meta = store.head(bucket, key).await?.ok_or_else(|| SeedError::Read {
                    archive: self.name(),
                    detail: "no such object; has a backup been made for this period?".into(),
                })?;
                Ok(Identity {
                    text: format!("s3:{}:{bucket}:{key}:{}:{}", store.endpoint(), meta.etag, meta.size),
                    etag: Some(meta.etag),
                })
            }
        }
    }

    /// A reader over the compressed bytes. Call from a blocking thread.
    pub(crate) fn open(
        &self,
        identity: &Identity,
        runtime: &tokio::runtime::Handle,
    ) -> Result<Box<dyn Read + Send>, SeedError> {
        match self {
            ArchiveSource::File(path) => {
                let file = std::fs::File::open(path).map_err(|e| self.read_error(e))?;
                Ok(Box::new(std::io::BufReader::with_capacity(1 << 20, file)))
            }
            ArchiveSource::Datastore { store, bucket, key } => {
                let (_, body) = runtime
                    .block_on(store.get_matching(bucket, key, identity.etag.as_deref()))
                    .map_err(|e| match e {
                        adt_datastore::DatastoreError::Failed { status: 412, .. } => {
                            SeedError::Changed { archive: self.name() }
                        }
                        other => SeedError::Datastore(other),
                    })?;
                Ok(Box::new(adt_datastore::BlockingReader::new(body, runtime)))
            }
        }
    }

    pub(crate) fn read_error(&self, e: impl std::fmt::Display) -> SeedError {
        SeedError::Read {
            archive: self.name(),
            detail: e.to_string(),
        }
    }
}
