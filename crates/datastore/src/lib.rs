//! S3 datastore access for the asset tools.
//!
//! What it does: a client for one S3-compatible endpoint (host, region and
//! keys given in code: it reads no template and no environment); creates buckets
//! idempotently; lists, reads, writes (plain, only-if-absent, multipart) and
//! deletes objects with their metadata; copies objects between two
//! datastores without spooling to disk; retries throttling, server errors,
//! timeouts and dropped connections with backoff and jitter, and nothing
//! else. Every error names the endpoint, bucket and key, never a secret.
//! It also owns the rules every object writer follows: the object-key
//! policy, the multipart part size, how a POSIX file becomes an object
//! ([`PosixAttributes`]), the memory budget of concurrent transfers and
//! the progress callbacks.
//!
//! What it does not do: read templates, decide bucket names (adt-template's
//! Layout does) or print anything.
//!
//! One client, aws-sdk-s3, serves buckets and objects alike (design.md chose
//! object_store for objects; see docs/architecture.md for why we did not).
//!
//! # Example
//!
//! A store held in memory ([`Store::in_memory`]) has the whole API and
//! needs no S3; a datastore is opened with [`Store::connect`] instead.
//!
//! ```rust
//! use adt_datastore::{BucketState, DatastoreError, EtagHasher, PART_SIZE, PosixAttributes, Store};
//! use bytes::Bytes;
//!
//! let runtime = tokio::runtime::Runtime::new()?;
//! runtime.block_on(async {
//!     let store = Store::in_memory();
//!     assert_eq!(store.ensure_bucket("assets").await?, BucketState::Created);
//!     assert_eq!(store.ensure_bucket("assets").await?, BucketState::Existed);
//!
//!     // A regular file, mode 0644, owner 33:33, as the seeder writes one.
//!     let key = "images/logo.png";
//!     let body = Bytes::from_static(b"not really a png");
//!     let opts = PosixAttributes::file(0o644, 33, 33, 1_700_000_000).put_options(key);
//!     let etag = store.put("assets", key, body.clone(), &opts).await?;
//!
//!     // The ETag can be computed from the bytes, without the store.
//!     let mut hasher = EtagHasher::new(body.len() as u64, PART_SIZE);
//!     hasher.update(&body);
//!     assert_eq!(hasher.finish(), etag);
//!
//!     let meta = store.head("assets", key).await?.expect("just written");
//!     assert_eq!((meta.size, meta.etag.as_str()), (16, etag.as_str()));
//!     assert_eq!(meta.content_type.as_deref(), Some("image/png"));
//!     assert_eq!(meta.metadata["mode"], "33188"); // 0o100644: a regular file
//!     assert_eq!(meta.metadata["mtime"], "1700000000");
//!
//!     let listed = store.list("assets", Some("images/")).await?;
//!     assert_eq!(listed.len(), 1);
//!     assert_eq!((listed[0].key.as_str(), listed[0].size), (key, 16));
//!     assert!(store.head("assets", "images/missing.png").await?.is_none());
//!     Ok::<(), DatastoreError>(())
//! })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

mod body;
mod budget;
mod client;
mod copy;
mod endpoint;
mod error;
mod etag;
mod inflight;
mod key;
mod multipart;
mod objects;
mod objects_body;
mod posix;
mod probe;
mod progress;
mod reader;
mod retry;
mod secret;
mod store;

/// The part size of every multipart upload the tools make (8 MiB). It is a
/// format rule, not a tuning knob: a multipart ETag depends on it, and the
/// seeder's conflict check, the mount's content check and the backup's
/// upload check compute ETags with it to compare local bytes with objects
/// without downloading them.
pub const PART_SIZE: usize = 8 * 1024 * 1024;

pub use budget::{MemoryBudget, MemoryPermit};
pub use copy::{COPY_PART_SIZE, Copied, copy_object, copy_object_recording};
pub use endpoint::{Connection, Endpoint, Timeouts};
pub use error::{DatastoreError, Target};
pub use etag::EtagHasher;
pub use inflight::Aborted;
pub use key::{KeyRefusal, MAX_KEY_BYTES, object_key};
pub use multipart::{FileUpload, MIN_PART_SIZE, MultipartUpload};
pub use posix::{DIRECTORY_CONTENT_TYPE, PosixAttributes, directory_key};
pub use probe::{ClockSkew, Probe, ProbeAnswer, RejectedKey, SKEW_FAIL_SECS, SKEW_WARN_SECS, SkewVerdict, Transport};
pub use progress::{NoProgress, Progress};
pub use reader::BlockingReader;
pub use retry::RetryPolicy;
pub use secret::Secret;
pub use store::{BucketState, ObjectInfo, ObjectMeta, PutOptions, PutOutcome, Store};

pub use body::{BodyError, ObjectBody};
