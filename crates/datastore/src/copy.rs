//! Copying an object from one datastore to another (another region or
//! provider), streamed through memory in parts, never spooled to disk;
//! content type and metadata travel with it.

use bytes::{Bytes, BytesMut};

use crate::error::DatastoreError;
use crate::store::{PutOptions, Store};

/// The part size of streamed copies: parts of this size are read from the
/// source and written to the destination (objects smaller than one part go
/// in a single PUT), so one copy holds at most this much of the object in
/// memory. It is the upload part size, so a copy's multipart ETag is the
/// one the tools compute.
pub const COPY_PART_SIZE: usize = crate::PART_SIZE;
const PART: usize = COPY_PART_SIZE;

/// Copies `key` from `src_bucket` on `src` to `dst_bucket` on `dst`,
/// replacing what is there; returns the bytes copied. A connection dropped
/// while reading the source restarts the copy, up to the source's retry
/// policy; a failed multipart copy is aborted, never left half-written.
pub async fn copy_object(
    src: &Store,
    src_bucket: &str,
    key: &str,
    dst: &Store,
    dst_bucket: &str,
) -> Result<u64, DatastoreError> {
    Ok(copy_object_recording(src, src_bucket, key, dst, dst_bucket, None)
        .await?
        .bytes)
}

/// What [`copy_object_recording`] copied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Copied {
    /// The bytes read from the source and written to the destination.
    pub bytes: u64,
    /// The ETag of the source object whose bytes were copied (read from the
    /// same GET, so it cannot name a later version).
    pub source_etag: String,
}

/// [`copy_object`], also storing the source's ETag in the copy's metadata
/// under `etag_key` when given. The copy's own ETag depends on how it was
/// uploaded (one PUT or parts of some size), so it cannot always equal the
/// source's; the recorded one lets a later run recognise an identical copy.
pub async fn copy_object_recording(
    src: &Store,
    src_bucket: &str,
    key: &str,
    dst: &Store,
    dst_bucket: &str,
    etag_key: Option<&str>,
) -> Result<Copied, DatastoreError> {
    let mut attempt = 1;
    loop {
        match copy_once(src, src_bucket, key, dst, dst_bucket, etag_key).await {
            Err(Retry::Read(detail)) if attempt < src.retry.max_attempts => {
                tokio::time::sleep(src.retry.delay(attempt)).await;
                attempt += 1;
                let _ = detail;
            }
            Err(Retry::Read(detail)) => {
                return Err(DatastoreError::Unreachable {
                    target: src.target(Some(src_bucket), Some(key)),
                    attempts: attempt,
                    detail,
                });
            }
            Err(Retry::Other(e)) => return Err(e),
            Ok(copied) => return Ok(copied),
        }
    }
}

enum Retry {
    /// Reading the source body failed: worth another try.
    Read(String),
    Other(DatastoreError),
}

impl From<DatastoreError> for Retry {
    fn from(e: DatastoreError) -> Self {
        Retry::Other(e)
    }
}

async fn copy_once(
    src: &Store,
    src_bucket: &str,
    key: &str,
    dst: &Store,
    dst_bucket: &str,
    etag_key: Option<&str>,
) -> Result<Copied, Retry> {
    let (meta, mut body) = src.get(src_bucket, key).await?;
    let mut opts = PutOptions {
        content_type: meta.content_type.clone(),
        metadata: meta.metadata.clone(),
    };
    if let Some(name) = etag_key {
        opts.metadata.insert(name.to_string(), meta.etag.clone());
    }
    let copied = |bytes| Copied {
        bytes,
        source_etag: meta.etag.clone(),
    };
    let first = read_part(&mut body).await?;
    if first.len() < PART {
        let len = first.len() as u64;
        dst.put(dst_bucket, key, first, &opts).await?;
        return Ok(copied(len));
    }
    let mut upload = dst.start_multipart(dst_bucket, key, &opts).await?;
    let mut part = first;
    loop {
        if let Err(e) = upload.upload_part(part).await {
            let _ = upload.abort().await;
            return Err(e.into());
        }
        part = match read_part(&mut body).await {
            Ok(p) => p,
            Err(e) => {
                let _ = upload.abort().await;
                return Err(e);
            }
        };
        if part.is_empty() {
            break;
        }
    }
    let bytes = upload.bytes();
    upload.complete().await?;
    Ok(copied(bytes))
}

/// Up to PART bytes from the stream; fewer only at its end.
async fn read_part(body: &mut crate::ObjectBody) -> Result<Bytes, Retry> {
    let mut buf = BytesMut::with_capacity(PART.min(1 << 20));
    while buf.len() < PART {
        match body.0.try_next().await {
            Ok(Some(chunk)) => buf.extend_from_slice(&chunk),
            Ok(None) => break,
            Err(e) => return Err(Retry::Read(format!("reading the source object: {e}"))),
        }
    }
    Ok(buf.freeze())
}
