//! The object_store backend of a [`Store`](crate::Store): the same
//! operations on an in-memory store (`memory://`, for embedders and unit
//! tests) or a local directory (`file:///srv/offsite`).
//!
//! The layout under the store's root, one owner for it:
//! - `BUCKET/.adt-bucket`: the bucket exists (buckets are directories);
//! - `BUCKET/KEY`: the object's bytes, each `/`-separated segment of KEY
//!   percent-encoded the way object_store encodes path parts; a directory
//!   object `DIR/` is stored as `BUCKET/DIR/%dir` (a raw `%` never comes
//!   out of the encoding, so no real name can collide with it);
//! - `.adt-meta/BUCKET/KEY`: a JSON sidecar with what S3 keeps beside the
//!   bytes: the S3-style ETag (MD5, or MD5 of part MD5s `-N`, as our
//!   uploads compute it), the content type and the user metadata. The
//!   local filesystem store cannot keep attributes, so every backend keeps
//!   them here, written after the bytes: an object seen without its
//!   sidecar has an unknown (empty) ETag and is copied again, never
//!   mistaken for an identical one.
//!
//! Limits (stated in docs/architecture.md): a key with an empty segment
//! other than a directory object's trailing `/` cannot be stored; a file
//! `a` and an object `a/b` cannot coexist on the local filesystem;
//! conditional writes and deletes are checked, then done (there is no
//! server to make them atomic with other writers).

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use object_store::path::{Path, PathPart};
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions as OsPutOptions, PutPayload};
use serde::{Deserialize, Serialize};

use crate::error::{DatastoreError, Target};
use crate::store::{BucketState, ObjectInfo, ObjectMeta, PutOptions, PutOutcome};

const BUCKET_MARKER: &str = ".adt-bucket";
const META_ROOT: &str = ".adt-meta";
const DIR_PART: &str = "%dir";

/// What S3 keeps beside an object's bytes.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Sidecar {
    etag: String,
    #[serde(default)]
    content_type: Option<String>,
    #[serde(default)]
    metadata: BTreeMap<String, String>,
}

/// An object_store under a root, holding buckets as above.
#[derive(Clone)]
pub(crate) struct Objects {
    store: Arc<dyn ObjectStore>,
    url: String,
}

impl std::fmt::Debug for Objects {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.url)
    }
}

impl Objects {
    pub(crate) fn new(store: Arc<dyn ObjectStore>, url: String) -> Objects {
        Objects { store, url }
    }

    fn target(&self, bucket: Option<&str>, key: Option<&str>) -> Box<Target> {
        Box::new(Target {
            endpoint: self.url.clone(),
            bucket: bucket.map(str::to_string),
            key: key.map(str::to_string),
        })
    }

    fn fail(&self, operation: &'static str, bucket: &str, key: Option<&str>, e: object_store::Error) -> DatastoreError {
        match e {
            object_store::Error::NotFound { .. } if key.is_some() => DatastoreError::NoSuchKey {
                target: self.target(Some(bucket), key),
            },
            other => DatastoreError::Request {
                target: self.target(Some(bucket), key),
                operation,
                detail: other.to_string(),
            },
        }
    }

    fn bad_key(&self, bucket: &str, key: &str, why: &str) -> DatastoreError {
        DatastoreError::Request {
            target: self.target(Some(bucket), Some(key)),
            operation: "store",
            detail: format!("this key cannot be stored in {}: {why}", self.url),
        }
    }

    /// Where `key`'s bytes live.
    fn object_path(&self, bucket: &str, key: &str) -> Result<Path, DatastoreError> {
        let (body, directory) = match key.strip_suffix('/') {
            Some(body) => (body, true),
            None => (key, false),
        };
        let mut parts: Vec<PathPart<'static>> = vec![PathPart::from(bucket.to_string())];
        if !body.is_empty() {
            for segment in body.split('/') {
                if segment.is_empty() {
                    return Err(self.bad_key(bucket, key, "it has an empty segment"));
                }
                parts.push(PathPart::from(segment.to_string()));
            }
        } else if !directory {
            return Err(self.bad_key(bucket, key, "it is empty"));
        }
        if directory {
            parts.push(PathPart::parse(DIR_PART).map_err(|e| self.bad_key(bucket, key, &e.to_string()))?);
        }
        Ok(Path::from_iter(parts))
    }

    /// Where `key`'s sidecar lives.
    fn meta_path(&self, bucket: &str, key: &str) -> Result<Path, DatastoreError> {
        let object = self.object_path(bucket, key)?;
        Ok(Path::from_iter(
            std::iter::once(PathPart::from(META_ROOT)).chain(object.parts()),
        ))
    }

    /// The key a path under `bucket` stands for; None for our own files.
    fn key_of(bucket: &str, path: &Path) -> Option<String> {
        let mut parts = path.parts();
        if parts.next()?.as_ref() != bucket {
            return None;
        }
        let raw: Vec<String> = parts.map(|p| p.as_ref().to_string()).collect();
        match raw.as_slice() {
            [] => None,
            [only] if only == BUCKET_MARKER => None,
            [dirs @ .., last] if last == DIR_PART => {
                let decoded: Option<Vec<String>> = dirs.iter().map(|d| decode(d)).collect();
                Some(format!("{}/", decoded?.join("/")))
            }
            all => {
                let decoded: Option<Vec<String>> = all.iter().map(|d| decode(d)).collect();
                Some(decoded?.join("/"))
            }
        }
    }

    async fn sidecar(&self, bucket: &str, key: &str) -> Result<Sidecar, DatastoreError> {
        let path = self.meta_path(bucket, key)?;
        match self.store.get(&path).await {
            Ok(found) => {
                let bytes = found
                    .bytes()
                    .await
                    .map_err(|e| self.fail("GetObject", bucket, Some(key), e))?;
                // A damaged sidecar means an unknown ETag: copied again, never trusted.
                Ok(serde_json::from_slice(&bytes).unwrap_or_default())
            }
            Err(object_store::Error::NotFound { .. }) => Ok(Sidecar::default()),
            Err(e) => Err(self.fail("GetObject", bucket, Some(key), e)),
        }
    }

    async fn write_sidecar(&self, bucket: &str, key: &str, sidecar: &Sidecar) -> Result<(), DatastoreError> {
        let path = self.meta_path(bucket, key)?;
        let body = serde_json::to_vec(sidecar).map_err(|e| DatastoreError::Request {
            target: self.target(Some(bucket), Some(key)),
            operation: "PutObject",
            detail: e.to_string(),
        })?;
        self.store
            .put(&path, PutPayload::from(body))
            .await
            .map(|_| ())
            .map_err(|e| self.fail("PutObject", bucket, Some(key), e))
    }

    pub(crate) async fn list_buckets(&self) -> Result<Vec<String>, DatastoreError> {
        let listed = self
            .store
            .list_with_delimiter(None)
            .await
            .map_err(|e| self.fail("ListBuckets", "", None, e))?;
        let mut names: Vec<String> = listed
            .common_prefixes
            .iter()
            .filter_map(|p| p.parts().next().map(|p| p.as_ref().to_string()))
            .filter(|name| name != META_ROOT)
            .collect();
        names.sort();
        Ok(names)
    }

    pub(crate) async fn bucket_exists(&self, bucket: &str) -> Result<bool, DatastoreError> {
        let marker = Path::from_iter([bucket, BUCKET_MARKER]);
        match self.store.head(&marker).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(self.fail("HeadBucket", bucket, None, e)),
        }
    }

    pub(crate) async fn ensure_bucket(&self, bucket: &str) -> Result<BucketState, DatastoreError> {
        // Looked at first: not every store honours a conditional create.
        if self.bucket_exists(bucket).await? {
            return Ok(BucketState::Existed);
        }
        let marker = Path::from_iter([bucket, BUCKET_MARKER]);
        let create = OsPutOptions {
            mode: PutMode::Create,
            ..Default::default()
        };
        match self.store.put_opts(&marker, PutPayload::new(), create).await {
            Ok(_) => Ok(BucketState::Created),
            Err(object_store::Error::AlreadyExists { .. }) => Ok(BucketState::Existed),
            Err(e) => Err(self.fail("CreateBucket", bucket, None, e)),
        }
    }

    pub(crate) async fn list(&self, bucket: &str, prefix: Option<&str>) -> Result<Vec<ObjectInfo>, DatastoreError> {
        if !self.bucket_exists(bucket).await? {
            return Err(DatastoreError::NoSuchBucket {
                target: self.target(Some(bucket), None),
            });
        }
        let root = Path::from_iter([bucket]);
        let mut stream = self.store.list(Some(&root));
        let mut found = Vec::new();
        while let Some(item) = stream.next().await {
            let meta = item.map_err(|e| self.fail("ListObjectsV2", bucket, None, e))?;
            let Some(key) = Self::key_of(bucket, &meta.location) else {
                continue;
            };
            if prefix.is_some_and(|p| !key.starts_with(p)) {
                continue;
            }
            found.push((key, meta.size, meta.last_modified.timestamp()));
        }
        let mut objects = Vec::with_capacity(found.len());
        for (key, size, modified) in found {
            let etag = self.sidecar(bucket, &key).await?.etag;
            objects.push(ObjectInfo {
                key,
                size,
                etag,
                last_modified: Some(modified),
            });
        }
        objects.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(objects)
    }

    pub(crate) async fn head(&self, bucket: &str, key: &str) -> Result<Option<ObjectMeta>, DatastoreError> {
        let path = self.object_path(bucket, key)?;
        let meta = match self.store.head(&path).await {
            Ok(meta) => meta,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(self.fail("HeadObject", bucket, Some(key), e)),
        };
        let sidecar = self.sidecar(bucket, key).await?;
        Ok(Some(ObjectMeta {
            size: meta.size,
            etag: sidecar.etag,
            content_type: sidecar.content_type,
            metadata: sidecar.metadata,
        }))
    }

    /// Whether an object's bytes are at `path` (one HEAD; the sidecar is
    /// not read: existence is all a conditional write needs).
    async fn exists(&self, path: &Path, bucket: &str, key: &str) -> Result<bool, DatastoreError> {
        match self.store.head(path).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(self.fail("HeadObject", bucket, Some(key), e)),
        }
    }

    /// Writes the bytes (only when absent with `if_absent`), then the sidecar.
    pub(crate) async fn put(
        &self,
        bucket: &str,
        key: &str,
        body: Bytes,
        opts: &PutOptions,
        if_absent: bool,
    ) -> Result<PutOutcome, DatastoreError> {
        let path = self.object_path(bucket, key)?;
        // As on S3: some stores (S3 emulators among them) ignore a
        // conditional create, so look first.
        if if_absent && self.exists(&path, bucket, key).await? {
            return Ok(PutOutcome::Exists);
        }
        let etag = format!("{:x}", md5::Md5::digest(&body));
        let mode = if if_absent { PutMode::Create } else { PutMode::Overwrite };
        let put = OsPutOptions {
            mode,
            ..Default::default()
        };
        match self.store.put_opts(&path, PutPayload::from(body), put).await {
            Ok(_) => {}
            Err(object_store::Error::AlreadyExists { .. }) if if_absent => return Ok(PutOutcome::Exists),
            Err(e) => return Err(self.fail("PutObject", bucket, Some(key), e)),
        }
        self.write_sidecar(bucket, key, &sidecar(&etag, opts)).await?;
        Ok(PutOutcome::Created { etag })
    }

    /// The object's headers and a stream of its bytes (If-Match `etag`).
    pub(crate) async fn get(
        &self,
        bucket: &str,
        key: &str,
        etag: Option<&str>,
    ) -> Result<(ObjectMeta, crate::ObjectBody), DatastoreError> {
        let path = self.object_path(bucket, key)?;
        let sidecar = self.sidecar(bucket, key).await?;
        if etag.is_some_and(|e| e != sidecar.etag) {
            // What S3 answers to If-Match on a changed object.
            return Err(DatastoreError::Failed {
                target: self.target(Some(bucket), Some(key)),
                operation: "GetObject",
                status: 412,
                code: "PreconditionFailed".into(),
                detail: "the object changed (its ETag no longer matches)".into(),
                attempts: 1,
            });
        }
        let found = self
            .store
            .get(&path)
            .await
            .map_err(|e| self.fail("GetObject", bucket, Some(key), e))?;
        let meta = ObjectMeta {
            size: found.meta.size,
            etag: sidecar.etag,
            content_type: sidecar.content_type,
            metadata: sidecar.metadata,
        };
        Ok((meta, crate::objects_body::stream(found.into_stream())))
    }

    pub(crate) async fn copy_within(&self, bucket: &str, from: &str, to: &str) -> Result<(), DatastoreError> {
        let (src, dst) = (self.object_path(bucket, from)?, self.object_path(bucket, to)?);
        let sidecar = self.sidecar(bucket, from).await?;
        self.store
            .copy(&src, &dst)
            .await
            .map_err(|e| self.fail("CopyObject", bucket, Some(from), e))?;
        self.write_sidecar(bucket, to, &sidecar).await
    }

    pub(crate) async fn delete(&self, bucket: &str, key: &str) -> Result<(), DatastoreError> {
        for path in [self.object_path(bucket, key)?, self.meta_path(bucket, key)?] {
            match self.store.delete(&path).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(self.fail("DeleteObject", bucket, Some(key), e)),
            }
        }
        Ok(())
    }

    /// Deletes `key` if its ETag is still `etag`: checked, then deleted.
    pub(crate) async fn delete_if_match(&self, bucket: &str, key: &str, etag: &str) -> Result<bool, DatastoreError> {
        match self.head(bucket, key).await? {
            Some(meta) if meta.etag == etag => {
                self.delete(bucket, key).await?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    pub(crate) async fn remove_bucket(&self, bucket: &str) -> Result<(), DatastoreError> {
        for root in [Path::from_iter([bucket]), Path::from_iter([META_ROOT, bucket])] {
            let mut stream = self.store.list(Some(&root));
            while let Some(item) = stream.next().await {
                let meta = item.map_err(|e| self.fail("DeleteBucket", bucket, None, e))?;
                match self.store.delete(&meta.location).await {
                    Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                    Err(e) => return Err(self.fail("DeleteBucket", bucket, None, e)),
                }
            }
        }
        Ok(())
    }

    /// Starts writing `key` in parts; see [`Upload`].
    pub(crate) async fn start_upload(
        &self,
        bucket: &str,
        key: &str,
        opts: &PutOptions,
    ) -> Result<Upload, DatastoreError> {
        let path = self.object_path(bucket, key)?;
        let inner = self
            .store
            .put_multipart(&path)
            .await
            .map_err(|e| self.fail("CreateMultipartUpload", bucket, Some(key), e))?;
        Ok(Upload {
            objects: self.clone(),
            inner: std::sync::Mutex::new(inner),
            bucket: bucket.to_string(),
            key: key.to_string(),
            opts: opts.clone(),
            part_digests: Vec::new(),
        })
    }

    /// Bytes `start..=end` of `source` (`bucket/key`), for a part copy.
    async fn range(&self, bucket: &str, key: &str, start: u64, end: u64) -> Result<Bytes, DatastoreError> {
        let path = self.object_path(bucket, key)?;
        self.store
            .get_range(&path, start..end + 1)
            .await
            .map_err(|e| self.fail("UploadPartCopy", bucket, Some(key), e))
    }
}

/// An object being written in parts: object_store's multipart write (the
/// local store writes a staging file and renames it; memory holds parts),
/// with the part MD5s kept for the S3-style ETag.
pub(crate) struct Upload {
    objects: Objects,
    /// In a mutex only so that an `Upload` is `Sync` (object_store's is
    /// not); the lock is never held across an await.
    inner: std::sync::Mutex<Box<dyn object_store::MultipartUpload>>,
    bucket: String,
    key: String,
    opts: PutOptions,
    part_digests: Vec<u8>,
}

impl std::fmt::Debug for Upload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upload")
            .field("bucket", &self.bucket)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl Upload {
    pub(crate) async fn part(&mut self, data: Bytes) -> Result<(), DatastoreError> {
        self.part_digests.extend_from_slice(&md5::Md5::digest(&data));
        let sending = self
            .inner
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .put_part(PutPayload::from(data));
        sending
            .await
            .map_err(|e| self.objects.fail("UploadPart", &self.bucket, Some(&self.key), e))
    }

    /// `source` is `bucket/key` as UploadPartCopy names it (URL-encoded key).
    pub(crate) async fn part_copy(&mut self, source: &str, start: u64, end: u64) -> Result<(), DatastoreError> {
        let (bucket, key) = source.split_once('/').unwrap_or((source, ""));
        let key = decode(key).unwrap_or_else(|| key.to_string());
        let data = self.objects.range(bucket, &key, start, end).await?;
        self.part(data).await
    }

    pub(crate) async fn finish(self, if_absent: bool) -> Result<PutOutcome, DatastoreError> {
        let Upload {
            objects,
            inner,
            bucket,
            key,
            opts,
            part_digests,
        } = self;
        let mut inner = inner.into_inner().unwrap_or_else(|p| p.into_inner());
        if if_absent {
            let path = objects.object_path(&bucket, &key)?;
            match objects.exists(&path, &bucket, &key).await {
                Ok(false) => {}
                Ok(true) => {
                    let _ = inner.abort().await;
                    return Ok(PutOutcome::Exists);
                }
                Err(e) => {
                    let _ = inner.abort().await;
                    return Err(e);
                }
            }
        }
        if let Err(e) = inner.complete().await {
            let _ = inner.abort().await;
            return Err(objects.fail("CompleteMultipartUpload", &bucket, Some(&key), e));
        }
        let parts = part_digests.len() / 16;
        let etag = format!("{:x}-{parts}", md5::Md5::digest(&part_digests));
        objects.write_sidecar(&bucket, &key, &sidecar(&etag, &opts)).await?;
        Ok(PutOutcome::Created { etag })
    }

    pub(crate) async fn abort(self) -> Result<(), DatastoreError> {
        let mut inner = self.inner.into_inner().unwrap_or_else(|p| p.into_inner());
        inner.abort().await.map_err(|e| {
            self.objects
                .fail("AbortMultipartUpload", &self.bucket, Some(&self.key), e)
        })
    }
}

use md5::Digest as _;

fn sidecar(etag: &str, opts: &PutOptions) -> Sidecar {
    Sidecar {
        etag: etag.to_string(),
        content_type: opts.content_type.clone(),
        metadata: opts.metadata.clone(),
    }
}

/// Percent-decoding of one path part (object_store encodes `%` itself, so
/// this is exact); None for bytes that are not UTF-8.
fn decode(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn objects() -> Objects {
        Objects::new(Arc::new(object_store::memory::InMemory::new()), "memory://".into())
    }

    #[test]
    fn keys_round_trip_through_paths() {
        let o = objects();
        for key in [
            "a.png",
            "dir/b c.jpg",
            "x#y[1]%~.gif",
            "caf\u{e9}/%dir",
            "dir/",
            "a/b/",
            "/",
            ".",
            "a/./b",
        ] {
            let path = o.object_path("bkt", key).unwrap();
            assert_eq!(Objects::key_of("bkt", &path).as_deref(), Some(key), "{key} as {path}");
        }
        assert!(o.object_path("bkt", "a//b").is_err());
        assert!(o.object_path("bkt", "").is_err());
        assert_eq!(Objects::key_of("bkt", &Path::from_iter(["bkt", BUCKET_MARKER])), None);
    }
}
