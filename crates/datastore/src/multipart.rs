//! Multipart uploads for large objects: parts go up one by one, each
//! retried on its own; an upload that fails is aborted, so no half-written
//! object ever appears under its key.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::Bytes;

use crate::error::DatastoreError;
use crate::store::{PutOptions, PutOutcome, Store, conditional_conflict_is_transient, metadata_map, status, unquote};

/// The smallest part S3 accepts (all but the last part).
pub const MIN_PART_SIZE: usize = 5 * 1024 * 1024;

/// An unfinished multipart upload. Finish it with `complete` or `abort`;
/// dropping it leaves the parts on the server until the bucket's lifecycle
/// (or `Store::remove_bucket`) cleans them.
#[derive(Debug)]
pub struct MultipartUpload<'a> {
    store: &'a Store,
    bucket: String,
    key: String,
    upload_id: String,
    parts: Vec<CompletedPart>,
    bytes: u64,
    /// Set on an object_store backend: parts go there.
    objects: Option<crate::objects::Upload>,
}

impl Store {
    /// Starts a multipart upload with the object's content type and metadata.
    pub async fn start_multipart(
        &self,
        bucket: &str,
        key: &str,
        opts: &PutOptions,
    ) -> Result<MultipartUpload<'_>, DatastoreError> {
        if let Some(o) = &self.objects {
            let upload = o.start_upload(bucket, key, opts).await?;
            return Ok(MultipartUpload {
                store: self,
                bucket: bucket.to_string(),
                key: key.to_string(),
                upload_id: String::new(),
                parts: Vec::new(),
                bytes: 0,
                objects: Some(upload),
            });
        }
        let metadata = metadata_map(&opts.metadata);
        let upload_id = crate::retry::run(&self.retry, || async {
            let out = self
                .client
                .create_multipart_upload()
                .bucket(bucket)
                .key(key)
                .set_content_type(opts.content_type.clone())
                .set_metadata(metadata.clone())
                .send()
                .await
                .map_err(|e| self.fail(&e))?;
            Ok(out.upload_id().unwrap_or_default().to_string())
        })
        .await
        .map_err(|f| self.error("CreateMultipartUpload", Some(bucket), Some(key), f))?;
        self.in_flight.add(&upload_id, bucket, key);
        Ok(MultipartUpload {
            store: self,
            bucket: bucket.to_string(),
            key: key.to_string(),
            upload_id,
            parts: Vec::new(),
            bytes: 0,
            objects: None,
        })
    }
}

impl Store {
    /// The multipart uploads in progress in `bucket` (any client's), as
    /// `(key, upload id)`: what an interrupted upload would leave behind.
    pub async fn list_multipart_uploads(&self, bucket: &str) -> Result<Vec<(String, String)>, DatastoreError> {
        if self.objects.is_some() {
            // object_store's uploads leave nothing behind once aborted or dropped.
            return Ok(Vec::new());
        }
        let out = self
            .run("ListMultipartUploads", bucket, None, || async {
                self.client
                    .list_multipart_uploads()
                    .bucket(bucket)
                    .send()
                    .await
                    .map_err(|e| self.fail(&e))
            })
            .await?;
        Ok(out
            .uploads()
            .iter()
            .map(|u| {
                (
                    u.key().unwrap_or_default().to_string(),
                    u.upload_id().unwrap_or_default().to_string(),
                )
            })
            .collect())
    }

    /// Aborts the multipart upload `upload_id` of `key` (with retries);
    /// once aborted, it leaves the registry of uploads in flight. One that
    /// could not be aborted stays registered for `abort_in_flight`.
    pub async fn abort_upload(&self, bucket: &str, key: &str, upload_id: &str) -> Result<(), DatastoreError> {
        if self.objects.is_some() {
            return Ok(());
        }
        self.run("AbortMultipartUpload", bucket, Some(key), || async {
            self.client
                .abort_multipart_upload()
                .bucket(bucket)
                .key(key)
                .upload_id(upload_id)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| self.fail(&e))
        })
        .await?;
        self.in_flight.remove(upload_id);
        Ok(())
    }
}

/// The result of `Store::put_file`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileUpload {
    /// Created with the ETag the store gave, or Exists when `if_absent`
    /// found an object already there (it is kept, nothing is written).
    pub outcome: PutOutcome,
    /// The file's size when read.
    pub size: u64,
    /// The ETag S3 gives what was read (MD5, or the multipart form).
    pub etag: String,
}

impl Store {
    /// Uploads a local file: one PUT up to `part_size` bytes, else a
    /// multipart upload in parts of `part_size`, read one part at a time.
    /// With `if_absent`, an object already there is kept. A failure,
    /// reading the file or uploading it, aborts a multipart upload, so no
    /// partial object and no orphan parts are left.
    pub async fn put_file(
        &self,
        bucket: &str,
        key: &str,
        path: &std::path::Path,
        opts: &PutOptions,
        if_absent: bool,
        part_size: usize,
    ) -> Result<FileUpload, DatastoreError> {
        let file = std::fs::File::open(path).map_err(|source| DatastoreError::LocalFile {
            path: path.to_path_buf(),
            source,
        })?;
        self.put_open_file(bucket, key, file, path, opts, if_absent, part_size)
            .await
    }

    /// `put_file` for a file the caller has opened (safely: see
    /// adt-localfs); `path` only names it in errors.
    #[allow(clippy::too_many_arguments)]
    pub async fn put_open_file(
        &self,
        bucket: &str,
        key: &str,
        file: std::fs::File,
        path: &std::path::Path,
        opts: &PutOptions,
        if_absent: bool,
        part_size: usize,
    ) -> Result<FileUpload, DatastoreError> {
        use std::io::Read;
        let local = |source: std::io::Error| DatastoreError::LocalFile {
            path: path.to_path_buf(),
            source,
        };
        let size = file.metadata().map_err(local)?.len();
        // The bytes the file had when opened, no more: a file that grows
        // while read (or is truncated to a sparse terabyte) cannot make
        // this read without bound.
        let mut file = file.take(size);
        let mut hasher = crate::EtagHasher::new(size, part_size);
        if size <= part_size as u64 {
            let mut body = Vec::with_capacity(size as usize);
            file.read_to_end(&mut body).map_err(local)?;
            hasher.update(&body);
            let size = body.len() as u64;
            let body = Bytes::from(body);
            let outcome = if if_absent {
                self.put_if_absent(bucket, key, body, opts).await?
            } else {
                PutOutcome::Created {
                    etag: self.put(bucket, key, body, opts).await?,
                }
            };
            return Ok(FileUpload {
                outcome,
                size,
                etag: hasher.finish(),
            });
        }
        let mut upload = self.start_multipart(bucket, key, opts).await?;
        let mut sent = 0u64;
        loop {
            let mut part = Vec::with_capacity(part_size);
            if let Err(e) = (&mut file).take(part_size as u64).read_to_end(&mut part) {
                let _ = upload.abort().await;
                return Err(local(e));
            }
            if part.is_empty() {
                break;
            }
            hasher.update(&part);
            sent += part.len() as u64;
            if let Err(e) = upload.upload_part(Bytes::from(part)).await {
                let _ = upload.abort().await;
                return Err(e);
            }
        }
        let outcome = if if_absent {
            upload.complete_if_absent().await?
        } else {
            PutOutcome::Created {
                etag: upload.complete().await?,
            }
        };
        Ok(FileUpload {
            outcome,
            size: sent,
            etag: hasher.finish(),
        })
    }
}

impl MultipartUpload<'_> {
    /// Uploads the next part (at least MIN_PART_SIZE, except the last).
    pub async fn upload_part(&mut self, data: Bytes) -> Result<(), DatastoreError> {
        if let Some(o) = &mut self.objects {
            let len = data.len() as u64;
            o.part(data).await?;
            self.bytes += len;
            return Ok(());
        }
        let number = self.parts.len() as i32 + 1;
        let s = self.store;
        let etag = crate::retry::run(&s.retry, || async {
            let request = s
                .client
                .upload_part()
                .bucket(&self.bucket)
                .key(&self.key)
                .upload_id(&self.upload_id)
                .part_number(number)
                .content_length(data.len() as i64)
                .body(ByteStream::from(data.clone()))
                .customize();
            let sent = if s.endpoint().signs_payload() {
                request.send().await
            } else {
                request.disable_payload_signing().send().await
            };
            let out = sent.map_err(|e| s.fail(&e))?;
            Ok(out.e_tag().unwrap_or_default().to_string())
        })
        .await
        .map_err(|f| s.error("UploadPart", Some(&self.bucket), Some(&self.key), f))?;
        self.parts
            .push(CompletedPart::builder().part_number(number).e_tag(etag).build());
        self.bytes += data.len() as u64;
        Ok(())
    }

    /// Copies bytes `start..=end` of `source` (`bucket/key`, URL-encoded
    /// key) on the server as the next part.
    pub async fn upload_part_copy(&mut self, source: &str, start: u64, end: u64) -> Result<(), DatastoreError> {
        if let Some(o) = &mut self.objects {
            o.part_copy(source, start, end).await?;
            self.bytes += end - start + 1;
            return Ok(());
        }
        let number = self.parts.len() as i32 + 1;
        let s = self.store;
        let range = format!("bytes={start}-{end}");
        let etag = crate::retry::run(&s.retry, || async {
            let out = s
                .client
                .upload_part_copy()
                .bucket(&self.bucket)
                .key(&self.key)
                .upload_id(&self.upload_id)
                .part_number(number)
                .copy_source(source)
                .copy_source_range(&range)
                .send()
                .await
                .map_err(|e| s.fail(&e))?;
            Ok(out
                .copy_part_result()
                .and_then(|r| r.e_tag())
                .unwrap_or_default()
                .to_string())
        })
        .await
        .map_err(|f| s.error("UploadPartCopy", Some(&self.bucket), Some(&self.key), f))?;
        self.parts
            .push(CompletedPart::builder().part_number(number).e_tag(etag).build());
        self.bytes += end - start + 1;
        Ok(())
    }

    /// Bytes uploaded so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Makes the object appear, replacing any there.
    pub async fn complete(self) -> Result<String, DatastoreError> {
        match self.finish(false).await? {
            PutOutcome::Created { etag } => Ok(etag),
            PutOutcome::Exists => unreachable!("an unconditional completion never finds the object"),
        }
    }

    /// Makes the object appear only if none is there; otherwise the upload
    /// is aborted and the existing object kept.
    pub async fn complete_if_absent(self) -> Result<PutOutcome, DatastoreError> {
        self.finish(true).await
    }

    /// Like `Store::put_new`: If-None-Match: * without a HEAD first, for a
    /// key the caller has just seen absent from a listing.
    pub async fn complete_new(self) -> Result<PutOutcome, DatastoreError> {
        self.finish_with(true, false).await
    }

    async fn finish(self, if_absent: bool) -> Result<PutOutcome, DatastoreError> {
        self.finish_with(if_absent, if_absent).await
    }

    async fn finish_with(mut self, if_absent: bool, check_first: bool) -> Result<PutOutcome, DatastoreError> {
        if let Some(o) = self.objects.take() {
            return o.finish(if_absent).await;
        }
        let s = self.store;
        // As in put_if_absent: not every store honours If-None-Match.
        if check_first {
            match s.head(&self.bucket, &self.key).await {
                Ok(Some(_)) => {
                    let _ = self.abort_ref().await;
                    return Ok(PutOutcome::Exists);
                }
                Ok(None) => {}
                Err(e) => {
                    let _ = self.abort_ref().await;
                    return Err(e);
                }
            }
        }
        let done = CompletedMultipartUpload::builder()
            .set_parts(Some(self.parts.clone()))
            .build();
        let result = crate::retry::run(&s.retry, || async {
            let sent = s
                .client
                .complete_multipart_upload()
                .bucket(&self.bucket)
                .key(&self.key)
                .upload_id(&self.upload_id)
                .multipart_upload(done.clone())
                .set_if_none_match(if_absent.then(|| "*".to_string()))
                .send()
                .await;
            match sent {
                Ok(o) => Ok(PutOutcome::Created {
                    etag: unquote(o.e_tag()),
                }),
                Err(e) if if_absent && status(&e) == Some(412) => Ok(PutOutcome::Exists),
                Err(e) => Err(conditional_conflict_is_transient(s.fail(&e))),
            }
        })
        .await
        .map_err(|f| s.error("CompleteMultipartUpload", Some(&self.bucket), Some(&self.key), f));
        if matches!(result, Ok(PutOutcome::Created { .. })) {
            s.in_flight.remove(&self.upload_id);
        } else {
            let _ = self.abort_ref().await;
        }
        result
    }

    /// Abandons the upload and its parts.
    pub async fn abort(mut self) -> Result<(), DatastoreError> {
        if let Some(o) = self.objects.take() {
            return o.abort().await;
        }
        self.abort_ref().await
    }

    async fn abort_ref(&self) -> Result<(), DatastoreError> {
        self.store.abort_upload(&self.bucket, &self.key, &self.upload_id).await
    }
}
