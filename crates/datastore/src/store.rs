//! One datastore endpoint: bucket and object operations, each retried by
//! the policy and failing with an error that names endpoint, bucket and key.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};

use crate::body::ObjectBody;
use crate::client::{self, Scrubber};
use crate::endpoint::{Connection, Endpoint};
use crate::error::{DatastoreError, Target};
use crate::retry::{self, Failure, RetryPolicy};

/// Whether `ensure_bucket` made the bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BucketState {
    /// There was no such bucket; it was made.
    Created,
    /// The bucket was already there, and ours.
    Existed,
}

/// An object as a listing shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectInfo {
    /// The object's key.
    pub key: String,
    /// The object's size, in bytes.
    pub size: u64,
    /// Without the quotes S3 puts around it.
    pub etag: String,
    /// Seconds since the epoch.
    pub last_modified: Option<i64>,
}

/// An object's headers: what HEAD or GET tells.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ObjectMeta {
    /// The object's size, in bytes.
    pub size: u64,
    /// Without the quotes S3 puts around it; empty when the store gives none.
    pub etag: String,
    /// The Content-Type stored with the object; None when it has none.
    pub content_type: Option<String>,
    /// User metadata (`x-amz-meta-NAME`), keyed by NAME in lower case.
    pub metadata: BTreeMap<String, String>,
}

/// What to store with an object besides its bytes.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct PutOptions {
    /// The Content-Type to store; None gives none (the store may then
    /// apply its own default).
    pub content_type: Option<String>,
    /// User metadata, stored as `x-amz-meta-NAME` headers.
    pub metadata: BTreeMap<String, String>,
}

/// The result of a conditional write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PutOutcome {
    /// Written; its ETag.
    Created {
        /// The new object's ETag, without quotes.
        etag: String,
    },
    /// Nothing written: an object was already there.
    Exists,
}

/// A client for one datastore endpoint.
#[derive(Clone)]
pub struct Store {
    pub(crate) client: aws_sdk_s3::Client,
    endpoint: Endpoint,
    pub(crate) retry: RetryPolicy,
    pub(crate) scrub: Scrubber,
    pub(crate) in_flight: crate::inflight::InFlight,
    /// Set for an object_store backend (memory, local directory): every
    /// operation goes there instead, and `client` is never used.
    pub(crate) objects: Option<crate::objects::Objects>,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

type Attempt<T> = Result<T, Failure>;

impl Store {
    /// A client for the connection. No request is made yet.
    pub fn connect(c: &Connection) -> Result<Store, DatastoreError> {
        Ok(Store {
            client: client::build(c)?,
            endpoint: c.endpoint.clone(),
            retry: c.retry,
            scrub: Scrubber::new(c),
            in_flight: Default::default(),
            objects: None,
        })
    }

    /// An empty store held in memory, for embedders and tests that need no
    /// S3: every operation works as on S3 (buckets, conditional writes,
    /// multipart uploads, S3-style ETags, metadata). Clones share it.
    pub fn in_memory() -> Store {
        // Each one its own name: replication tells stores apart by it.
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Store::over(
            std::sync::Arc::new(object_store::memory::InMemory::new()),
            &format!("memory://store-{n}"),
        )
    }

    /// A store at an object_store URL: `memory://`, or `file:///DIR` (a
    /// local directory, created if missing: buckets are its
    /// subdirectories), or a bucket (and optional prefix) of a cloud store:
    /// `s3://BUCKET/PREFIX`, `gs://BUCKET`, `az://CONTAINER` (our buckets
    /// are then prefixes inside it). Cloud credentials and settings come
    /// from `options` ([`Store::open_url_with`]); none here. An
    /// `http(s)://` URL is an S3 endpoint: use [`Store::connect`].
    pub fn open_url(url: &str) -> Result<Store, DatastoreError> {
        Store::open_url_with(url, &[])
    }

    /// [`Store::open_url`] with object_store's settings for cloud stores,
    /// as `(key, value)` pairs, e.g. `("aws_access_key_id", ..)`,
    /// `("aws_endpoint", ..)`, `("google_service_account", ..)`,
    /// `("azure_storage_account_name", ..)`; unknown keys are ignored.
    /// Nothing is read from the environment.
    pub fn open_url_with(url: &str, options: &[(String, String)]) -> Result<Store, DatastoreError> {
        let bad = |reason: String| DatastoreError::InvalidEndpoint {
            endpoint: url.to_string(),
            reason,
        };
        if url == "memory://" || url == "memory:" {
            return Ok(Store::in_memory());
        }
        if [
            "s3://", "s3a://", "gs://", "az://", "abfs://", "abfss://", "azure://", "adl://",
        ]
        .iter()
        .any(|scheme| url.starts_with(scheme))
        {
            let parsed = url::Url::parse(url).map_err(|e| bad(e.to_string()))?;
            let (store, prefix) = object_store::parse_url_opts(&parsed, options.iter().map(|(k, v)| (k, v)))
                .map_err(|e| bad(e.to_string()))?;
            let store: std::sync::Arc<dyn object_store::ObjectStore> = if prefix.as_ref().is_empty() {
                std::sync::Arc::from(store)
            } else {
                std::sync::Arc::new(object_store::prefix::PrefixStore::new(store, prefix))
            };
            return Ok(Store::over(store, url));
        }
        let Some(path) = url.strip_prefix("file://") else {
            return Err(bad(
                "not a store URL this build opens (memory://, file:///DIR, s3://BUCKET, gs://BUCKET, az://CONTAINER; S3 endpoints are http(s)://)".into(),
            ));
        };
        let dir = std::path::Path::new(path);
        if !dir.is_absolute() || dir.components().any(|c| c == std::path::Component::ParentDir) {
            return Err(bad(
                "give an absolute directory without `..`: file:///srv/offsite".into()
            ));
        }
        std::fs::create_dir_all(dir).map_err(|e| bad(format!("cannot create {}: {e}", dir.display())))?;
        let local = object_store::local::LocalFileSystem::new_with_prefix(dir)
            .map_err(|e| bad(e.to_string()))?
            .with_automatic_cleanup(true);
        Ok(Store::over(std::sync::Arc::new(local), url))
    }

    fn over(store: std::sync::Arc<dyn object_store::ObjectStore>, url: &str) -> Store {
        let endpoint = Endpoint::object_store(url);
        // Never used: every operation of an object_store backend goes to
        // `objects`. Building it makes no request.
        let connection = Connection::new(endpoint.clone(), crate::Secret::default(), crate::Secret::default());
        let client = client::build_unused(&connection);
        Store {
            client,
            endpoint,
            retry: RetryPolicy::default(),
            scrub: Scrubber::new(&connection),
            in_flight: Default::default(),
            objects: Some(crate::objects::Objects::new(store, url.to_string())),
        }
    }

    /// The endpoint requests go to; for an object_store backend, its URL
    /// (`memory://`, `file:///DIR`) with an empty region.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    pub(crate) fn target(&self, bucket: Option<&str>, key: Option<&str>) -> Box<Target> {
        Box::new(Target {
            endpoint: self.endpoint.url().to_string(),
            bucket: bucket.map(str::to_string),
            key: key.map(str::to_string),
        })
    }

    pub(crate) fn fail<E>(&self, err: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> Failure
    where
        E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        client::failure(err, &self.scrub)
    }

    /// Turns the last failed attempt into the error the caller sees.
    pub(crate) fn error(
        &self,
        operation: &'static str,
        bucket: Option<&str>,
        key: Option<&str>,
        (failure, attempts): (Failure, u32),
    ) -> DatastoreError {
        let target = self.target(bucket, key);
        let code = failure.code.clone().unwrap_or_default();
        match failure.status {
            None if failure.transient => DatastoreError::Unreachable {
                target,
                attempts,
                detail: failure.detail,
            },
            None => DatastoreError::Request {
                target,
                operation,
                detail: failure.detail,
            },
            Some(403) | Some(401) => DatastoreError::Denied {
                target,
                code: if code.is_empty() { "AccessDenied".into() } else { code },
                detail: failure.detail,
            },
            _ if matches!(code.as_str(), "InvalidAccessKeyId" | "SignatureDoesNotMatch") => DatastoreError::Denied {
                target,
                code,
                detail: failure.detail,
            },
            _ if code == "NoSuchBucket" => DatastoreError::NoSuchBucket { target },
            Some(404) if code == "NoSuchKey" || (key.is_some() && code.is_empty()) => {
                DatastoreError::NoSuchKey { target }
            }
            Some(status) => DatastoreError::Failed {
                target,
                operation,
                status,
                code,
                detail: failure.detail,
                attempts,
            },
        }
    }

    pub(crate) async fn run<T, F, Fut>(
        &self,
        op: &'static str,
        bucket: &str,
        key: Option<&str>,
        f: F,
    ) -> Result<T, DatastoreError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Attempt<T>>,
    {
        retry::run(&self.retry, f)
            .await
            .map_err(|f| self.error(op, Some(bucket), key, f))
    }

    /// Every bucket the credentials can see.
    pub async fn list_buckets(&self) -> Result<Vec<String>, DatastoreError> {
        if let Some(o) = &self.objects {
            return o.list_buckets().await;
        }
        retry::run(&self.retry, || async {
            let out = self.client.list_buckets().send().await.map_err(|e| self.fail(&e))?;
            Ok(out
                .buckets()
                .iter()
                .filter_map(|b| b.name().map(str::to_string))
                .collect())
        })
        .await
        .map_err(|f| self.error("ListBuckets", None, None, f))
    }

    /// True when the bucket exists and the credentials may use it.
    pub async fn bucket_exists(&self, bucket: &str) -> Result<bool, DatastoreError> {
        if let Some(o) = &self.objects {
            return o.bucket_exists(bucket).await;
        }
        self.run("HeadBucket", bucket, None, || async {
            match self.client.head_bucket().bucket(bucket).send().await {
                Ok(_) => Ok(true),
                Err(e) if status(&e) == Some(404) => Ok(false),
                Err(e) => Err(self.fail(&e)),
            }
        })
        .await
    }

    /// Creates the bucket unless it is already ours. A name taken by another
    /// account, and wrong credentials, are told apart and reported as such.
    pub async fn ensure_bucket(&self, bucket: &str) -> Result<BucketState, DatastoreError> {
        if let Some(o) = &self.objects {
            return o.ensure_bucket(bucket).await;
        }
        match self.bucket_exists(bucket).await {
            Ok(true) => return Ok(BucketState::Existed),
            Ok(false) => {}
            Err(DatastoreError::Denied { target, code, detail }) => {
                // 403 on a bucket: ours with bad keys, or someone else's. If
                // the keys can list our buckets, they are good.
                return Err(match self.list_buckets().await {
                    Ok(_) => DatastoreError::BucketTaken { target },
                    Err(_) => DatastoreError::Denied { target, code, detail },
                });
            }
            Err(e) => return Err(e),
        }
        let region = self.endpoint.region();
        let config = (region != "us-east-1").then(|| {
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(region))
                .build()
        });
        self.run("CreateBucket", bucket, None, || async {
            let sent = self
                .client
                .create_bucket()
                .bucket(bucket)
                .set_create_bucket_configuration(config.clone())
                .send()
                .await;
            match sent {
                Ok(_) => Ok(Some(BucketState::Created)),
                Err(e) => {
                    let failure = self.fail(&e);
                    match failure.code.as_deref() {
                        Some("BucketAlreadyOwnedByYou") => Ok(Some(BucketState::Existed)),
                        Some("BucketAlreadyExists") => Ok(None),
                        _ => Err(failure),
                    }
                }
            }
        })
        .await?
        .ok_or_else(|| DatastoreError::BucketTaken {
            target: self.target(Some(bucket), None),
        })
    }

    /// Every object under `prefix` (all when None), in key order.
    pub async fn list(&self, bucket: &str, prefix: Option<&str>) -> Result<Vec<ObjectInfo>, DatastoreError> {
        if let Some(o) = &self.objects {
            return o.list(bucket, prefix).await;
        }
        let mut objects = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let (page, next) = self.list_page(bucket, prefix, token).await?;
            objects.extend(page);
            match next {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        Ok(objects)
    }

    /// One page of [`Store::list`] (up to 1000 objects), and the token
    /// for the next when there is one: memory holds one page however many
    /// objects there are. `token` is None for the first page.
    pub async fn list_page(
        &self,
        bucket: &str,
        prefix: Option<&str>,
        token: Option<String>,
    ) -> Result<(Vec<ObjectInfo>, Option<String>), DatastoreError> {
        if let Some(o) = &self.objects {
            // Stores held by object_store (memory, a directory) list whole.
            return Ok((o.list(bucket, prefix).await?, None));
        }
        let page = self
            .run("ListObjectsV2", bucket, None, || async {
                self.client
                    .list_objects_v2()
                    .bucket(bucket)
                    .set_prefix(prefix.map(str::to_string))
                    .set_continuation_token(token.clone())
                    .send()
                    .await
                    .map_err(|e| self.fail(&e))
            })
            .await?;
        let objects = page
            .contents()
            .iter()
            .map(|o| ObjectInfo {
                key: o.key().unwrap_or_default().to_string(),
                size: o.size().unwrap_or(0).max(0) as u64,
                etag: unquote(o.e_tag()),
                last_modified: o.last_modified().map(|t| t.secs()),
            })
            .collect();
        let next = page
            .next_continuation_token()
            .filter(|_| page.is_truncated() == Some(true))
            .map(str::to_string);
        Ok((objects, next))
    }

    /// At most `max` objects of the bucket (the first in key order, one
    /// request for up to 1000): enough to tell an empty bucket from one
    /// in use without listing a large one.
    pub async fn list_first(&self, bucket: &str, max: usize) -> Result<Vec<ObjectInfo>, DatastoreError> {
        if let Some(o) = &self.objects {
            let mut all = o.list(bucket, None).await?;
            all.truncate(max);
            return Ok(all);
        }
        let page = self
            .run("ListObjectsV2", bucket, None, || async {
                self.client
                    .list_objects_v2()
                    .bucket(bucket)
                    .max_keys(i32::try_from(max.min(1000)).unwrap_or(1000))
                    .send()
                    .await
                    .map_err(|e| self.fail(&e))
            })
            .await?;
        let mut objects: Vec<ObjectInfo> = page
            .contents()
            .iter()
            .map(|o| ObjectInfo {
                key: o.key().unwrap_or_default().to_string(),
                size: o.size().unwrap_or(0).max(0) as u64,
                etag: unquote(o.e_tag()),
                last_modified: o.last_modified().map(|t| t.secs()),
            })
            .collect();
        objects.truncate(max);
        Ok(objects)
    }

    /// Every object under `prefix` with its headers (one HEAD each,
    /// `concurrency` at a time). Objects deleted meanwhile are left out.
    pub async fn list_with_metadata(
        &self,
        bucket: &str,
        prefix: Option<&str>,
        concurrency: usize,
    ) -> Result<Vec<(ObjectInfo, ObjectMeta)>, DatastoreError> {
        let objects = self.list(bucket, prefix).await?;
        let mut found: Vec<(ObjectInfo, ObjectMeta)> = futures::stream::iter(objects)
            .map(|o| async move { self.head(bucket, &o.key).await.map(|m| m.map(|m| (o, m))) })
            .buffer_unordered(concurrency.max(1))
            .try_filter_map(|x| async move { Ok(x) })
            .try_collect()
            .await?;
        found.sort_by(|a, b| a.0.key.cmp(&b.0.key));
        Ok(found)
    }

    /// The object's headers, or None when there is no such object.
    pub async fn head(&self, bucket: &str, key: &str) -> Result<Option<ObjectMeta>, DatastoreError> {
        if let Some(o) = &self.objects {
            return o.head(bucket, key).await;
        }
        self.run("HeadObject", bucket, Some(key), || async {
            match self.client.head_object().bucket(bucket).key(key).send().await {
                Ok(o) => Ok(Some(ObjectMeta {
                    size: o.content_length().unwrap_or(0).max(0) as u64,
                    etag: unquote(o.e_tag()),
                    content_type: o.content_type().map(str::to_string),
                    metadata: lower_keys(o.metadata()),
                })),
                Err(e) if status(&e) == Some(404) => Ok(None),
                Err(e) => Err(self.fail(&e)),
            }
        })
        .await
    }

    /// Writes the object, replacing any there.
    pub async fn put(&self, bucket: &str, key: &str, body: Bytes, opts: &PutOptions) -> Result<String, DatastoreError> {
        match self.put_inner(bucket, key, body, opts, false).await? {
            PutOutcome::Created { etag } => Ok(etag),
            PutOutcome::Exists => unreachable!("an unconditional put never finds the object"),
        }
    }

    /// Writes the object only when none is there; an existing object is
    /// left as it is. A HEAD comes first, because some S3-compatible stores
    /// (the embedded emulator among them) ignore If-None-Match on PUT; the
    /// PUT then carries If-None-Match: * so stores that honour it also close
    /// the window between the two.
    pub async fn put_if_absent(
        &self,
        bucket: &str,
        key: &str,
        body: Bytes,
        opts: &PutOptions,
    ) -> Result<PutOutcome, DatastoreError> {
        self.put_inner(bucket, key, body, opts, true).await
    }

    /// Writes an object the caller has just seen absent from a listing:
    /// one PUT with If-None-Match: *, no HEAD first. On stores that ignore
    /// the header, an object created since the listing would be replaced,
    /// so use this only right after listing, as the seeder does.
    pub async fn put_new(
        &self,
        bucket: &str,
        key: &str,
        body: Bytes,
        opts: &PutOptions,
    ) -> Result<PutOutcome, DatastoreError> {
        self.put_request(bucket, key, body, opts, true).await
    }

    async fn put_inner(
        &self,
        bucket: &str,
        key: &str,
        body: Bytes,
        opts: &PutOptions,
        if_absent: bool,
    ) -> Result<PutOutcome, DatastoreError> {
        if let Some(o) = &self.objects {
            return o.put(bucket, key, body, opts, if_absent).await;
        }
        if if_absent && self.head(bucket, key).await?.is_some() {
            return Ok(PutOutcome::Exists);
        }
        self.put_request(bucket, key, body, opts, if_absent).await
    }

    async fn put_request(
        &self,
        bucket: &str,
        key: &str,
        body: Bytes,
        opts: &PutOptions,
        if_absent: bool,
    ) -> Result<PutOutcome, DatastoreError> {
        if let Some(o) = &self.objects {
            return o.put(bucket, key, body, opts, if_absent).await;
        }
        let metadata = metadata_map(&opts.metadata);
        self.run("PutObject", bucket, Some(key), || async {
            let request = self
                .client
                .put_object()
                .bucket(bucket)
                .key(key)
                .content_length(body.len() as i64)
                .body(ByteStream::from(body.clone()))
                .set_content_type(opts.content_type.clone())
                .set_metadata(metadata.clone())
                .set_if_none_match(if_absent.then(|| "*".to_string()))
                .customize();
            let sent = if self.endpoint.signs_payload() {
                request.send().await
            } else {
                request.disable_payload_signing().send().await
            };
            match sent {
                Ok(o) => Ok(PutOutcome::Created {
                    etag: unquote(o.e_tag()),
                }),
                Err(e) if if_absent && status(&e) == Some(412) => Ok(PutOutcome::Exists),
                Err(e) => Err(conditional_conflict_is_transient(self.fail(&e))),
            }
        })
        .await
    }

    /// Opens the object for reading: its headers and a stream of its bytes.
    /// A failure while reading the stream is the caller's to retry.
    pub async fn get(&self, bucket: &str, key: &str) -> Result<(ObjectMeta, ObjectBody), DatastoreError> {
        self.get_matching(bucket, key, None).await
    }

    /// Like `get`, but only if the object still has ETag `etag` (If-Match):
    /// a second read of an object is then sure to read the same bytes.
    pub async fn get_matching(
        &self,
        bucket: &str,
        key: &str,
        etag: Option<&str>,
    ) -> Result<(ObjectMeta, ObjectBody), DatastoreError> {
        if let Some(o) = &self.objects {
            return o.get(bucket, key, etag).await;
        }
        self.run("GetObject", bucket, Some(key), || self.get_once(bucket, key, etag))
            .await
    }

    /// The whole object in memory, retried as a whole (also when the
    /// connection drops mid-body). For small objects.
    pub async fn get_bytes(&self, bucket: &str, key: &str) -> Result<(ObjectMeta, Bytes), DatastoreError> {
        if let Some(o) = &self.objects {
            let (meta, body) = o.get(bucket, key, None).await?;
            let bytes = body.collect().await.map_err(|e| DatastoreError::Request {
                target: self.target(Some(bucket), Some(key)),
                operation: "GetObject",
                detail: format!("reading the body: {e}"),
            })?;
            return Ok((meta, bytes));
        }
        self.run("GetObject", bucket, Some(key), || async {
            let (meta, body) = self.get_once(bucket, key, None).await?;
            let bytes = body.collect().await.map_err(|e| Failure {
                transient: true,
                status: None,
                code: None,
                detail: format!("reading the body: {e}"),
            })?;
            Ok((meta, bytes))
        })
        .await
    }

    /// One GetObject attempt (If-Match `etag` when given).
    async fn get_once(&self, bucket: &str, key: &str, etag: Option<&str>) -> Attempt<(ObjectMeta, ObjectBody)> {
        let o = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .set_if_match(etag.map(|e| format!("\"{e}\"")))
            .send()
            .await
            .map_err(|e| self.fail(&e))?;
        let meta = ObjectMeta {
            size: o.content_length().unwrap_or(0).max(0) as u64,
            etag: unquote(o.e_tag()),
            content_type: o.content_type().map(str::to_string),
            metadata: lower_keys(o.metadata()),
        };
        Ok((meta, ObjectBody(o.body)))
    }

    /// Copies `from` to `to` in `bucket` on the server, metadata included;
    /// `to` is replaced at once, so a reader sees either the old object or
    /// the new one. Objects up to 5 GiB go in one CopyObject; larger ones
    /// (CopyObject's limit) are copied part by part (UploadPartCopy) and
    /// completed in one step.
    pub async fn copy_within(&self, bucket: &str, from: &str, to: &str) -> Result<(), DatastoreError> {
        if let Some(o) = &self.objects {
            return o.copy_within(bucket, from, to).await;
        }
        const SINGLE_COPY_LIMIT: u64 = 5 * 1024 * 1024 * 1024;
        match self.head(bucket, from).await? {
            Some(meta) if meta.size > SINGLE_COPY_LIMIT => {
                self.copy_within_parts(bucket, from, to, meta.size, 512 * 1024 * 1024)
                    .await
            }
            _ => self.copy_within_once(bucket, from, to).await,
        }
    }

    /// `copy_within` in parts of `part_size` bytes (at least 5 MiB), for
    /// objects of `size` bytes: the parts are copied on the server.
    pub async fn copy_within_parts(
        &self,
        bucket: &str,
        from: &str,
        to: &str,
        size: u64,
        part_size: u64,
    ) -> Result<(), DatastoreError> {
        if let Some(o) = &self.objects {
            // object_store copies whole (a file copy, a clone in memory,
            // CopyObject in a cloud store).
            return o.copy_within(bucket, from, to).await;
        }
        let source = format!("{bucket}/{}", encode_key(from));
        let mut upload = self.start_multipart(bucket, to, &PutOptions::default()).await?;
        let mut start = 0;
        while start < size {
            let end = (start + part_size).min(size) - 1;
            if let Err(e) = upload.upload_part_copy(&source, start, end).await {
                let _ = upload.abort().await;
                return Err(e);
            }
            start = end + 1;
        }
        upload.complete().await.map(|_| ())
    }

    async fn copy_within_once(&self, bucket: &str, from: &str, to: &str) -> Result<(), DatastoreError> {
        let source = format!("{bucket}/{}", encode_key(from));
        self.run("CopyObject", bucket, Some(to), || async {
            self.client
                .copy_object()
                .bucket(bucket)
                .key(to)
                .copy_source(&source)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| self.fail(&e))
        })
        .await
    }

    /// Deletes `key` only while its ETag is `etag`: a HEAD first (some
    /// stores ignore the header), then DELETE with If-Match, which stores
    /// that honour it check at the moment of deleting. Returns whether it
    /// was deleted (false: it changed, or is gone).
    pub async fn delete_if_match(&self, bucket: &str, key: &str, etag: &str) -> Result<bool, DatastoreError> {
        if let Some(o) = &self.objects {
            return o.delete_if_match(bucket, key, etag).await;
        }
        match self.head(bucket, key).await? {
            Some(meta) if meta.etag == etag => {}
            _ => return Ok(false),
        }
        let quoted = format!("\"{etag}\"");
        let result = self
            .run("DeleteObject", bucket, Some(key), || async {
                match self
                    .client
                    .delete_object()
                    .bucket(bucket)
                    .key(key)
                    .if_match(&quoted)
                    .send()
                    .await
                {
                    Ok(_) => Ok(true),
                    Err(e) if status(&e) == Some(412) => Ok(false),
                    Err(e) => Err(self.fail(&e)),
                }
            })
            .await?;
        Ok(result)
    }

    /// Deletes the object (nothing when it is not there).
    pub async fn delete(&self, bucket: &str, key: &str) -> Result<(), DatastoreError> {
        if let Some(o) = &self.objects {
            return o.delete(bucket, key).await;
        }
        self.run("DeleteObject", bucket, Some(key), || async {
            self.client
                .delete_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| self.fail(&e))
        })
        .await
    }

    /// Deletes every object, abandons every unfinished multipart upload,
    /// then deletes the bucket. For tests and demos that made the bucket.
    pub async fn remove_bucket(&self, bucket: &str) -> Result<(), DatastoreError> {
        if let Some(o) = &self.objects {
            return o.remove_bucket(bucket).await;
        }
        for object in self.list(bucket, None).await? {
            self.delete(bucket, &object.key).await?;
        }
        for (key, id) in self.list_multipart_uploads(bucket).await? {
            let _ = self.abort_upload(bucket, &key, &id).await;
        }
        self.run("DeleteBucket", bucket, None, || async {
            self.client
                .delete_bucket()
                .bucket(bucket)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| self.fail(&e))
        })
        .await
    }
}

/// HTTP status of a failed request, when the server answered.
pub(crate) fn status<E>(e: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> Option<u16> {
    e.raw_response().map(|r| r.status().as_u16())
}

/// 409 ConditionalRequestConflict means another conditional write raced
/// ours: try again, and the second try sees its result.
pub(crate) fn conditional_conflict_is_transient(mut f: Failure) -> Failure {
    if f.code.as_deref() == Some("ConditionalRequestConflict") {
        f.transient = true;
    }
    f
}

/// A key as the x-amz-copy-source header wants it: URL-encoded, `/` kept.
fn encode_key(key: &str) -> String {
    key.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

pub(crate) fn unquote(etag: Option<&str>) -> String {
    etag.unwrap_or_default().trim_matches('"').to_string()
}

pub(crate) fn metadata_map(m: &BTreeMap<String, String>) -> Option<HashMap<String, String>> {
    (!m.is_empty()).then(|| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
}

fn lower_keys(m: Option<&HashMap<String, String>>) -> BTreeMap<String, String> {
    m.into_iter()
        .flatten()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
        .collect()
}
