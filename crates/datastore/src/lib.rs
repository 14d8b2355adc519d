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
pub use progress::{NoProgress, Progress};
pub use reader::BlockingReader;
pub use retry::RetryPolicy;
pub use secret::Secret;
pub use store::{BucketState, ObjectInfo, ObjectMeta, PutOptions, PutOutcome, Store};

/// The async byte stream of an object's body.
pub use aws_sdk_s3::primitives::ByteStream;
