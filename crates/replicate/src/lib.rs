//! Copies the asset buckets from the primary datastore to the others.
//!
//! What it does: for every bucket it is given, brings each destination
//! datastore up to date with the primary (datastore 1): creates the bucket
//! where it is missing, copies the objects that are missing or differ
//! (size, then ETag, or the source ETag a previous copy recorded; metadata
//! and content type travel along), streamed through memory and in parallel.
//! It deletes nothing unless asked, and then only objects the primary does
//! not have, within a guard that refuses the whole run when one bucket
//! would lose more than a set share of its objects. One destination
//! failing does not stop the others; the report says which failed. A run
//! that is interrupted is resumed by running it again: every object is
//! written whole, and what is already there is skipped.
//!
//! What it does not do: choose the buckets (adt-template's Layout does),
//! read templates or credentials, copy object versions or ACLs, or print.
//!
//! # Example
//!
//! Replicating one bucket from a primary held in memory to a copy in a
//! local directory (S3 datastores are opened with `Store::connect`). The
//! copy cannot be a second in-memory store: every one has the URL
//! `memory://`, and a destination at the primary's URL is refused.
//!
//! ```rust
//! use std::sync::Arc;
//!
//! use adt_datastore::{DatastoreError, PosixAttributes, Store};
//! use adt_replication::{Destination, NoProgress, ReplicateOptions};
//! use bytes::Bytes;
//!
//! let runtime = tokio::runtime::Runtime::new()?;
//! let buckets = vec!["www-example-com-assets-images".to_string()];
//! let bucket = &buckets[0];
//!
//! // Datastore 1, with two files in the bucket.
//! let primary = Store::in_memory();
//! runtime.block_on(async {
//!     primary.ensure_bucket(bucket).await?;
//!     for (key, body) in [("logo.png", &b"PNG logo"[..]), ("banners/a.jpg", b"JPEG banner")] {
//!         let opts = PosixAttributes::file(0o644, 33, 33, 1_700_000_000).put_options(key);
//!         primary.put(bucket, key, Bytes::from_static(body), &opts).await?;
//!     }
//!     Ok::<(), DatastoreError>(())
//! })?;
//!
//! // Datastore 2: a local directory.
//! let dir = tempfile::tempdir()?;
//! let copy = Store::open_url(&format!("file://{}", dir.path().display()))?;
//! let destinations = [Destination { number: 2, store: copy.clone() }];
//!
//! let options = ReplicateOptions::default();
//! let run = || adt_replication::replicate(&primary, &destinations, &buckets, &options, Arc::new(NoProgress));
//! let report = runtime.block_on(run())?;
//! assert!(report.ok(), "{:?}", report.failed_destinations);
//! assert_eq!((report.copied(), report.deleted()), (2, 0));
//! let row = &report.buckets[0];
//! assert_eq!((row.destination, row.created, row.copied, row.bytes), (2, true, 2, 19));
//!
//! // Content type and metadata travel with the bytes.
//! let meta = runtime.block_on(copy.head(bucket, "logo.png"))?.expect("copied");
//! assert_eq!(meta.content_type.as_deref(), Some("image/png"));
//! assert_eq!(meta.metadata["mode"], "33188");
//!
//! // A second run finds both objects up to date and copies nothing.
//! let again = runtime.block_on(run())?;
//! assert_eq!((again.copied(), again.buckets[0].skipped), (0, 2));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

mod compare;
mod error;
mod execute;
mod guard;
mod plan;
mod report;

use std::sync::Arc;

use adt_datastore::{DatastoreError, ObjectInfo, Store};

pub use adt_datastore::{NoProgress, Progress};
pub use compare::{REPLACED_PREFIX, SOURCE_ETAG_KEY, Verdict, compare};
pub use error::{Refusal, ReplicateError};
pub use guard::MaxChange;
pub use plan::Destination;
pub use report::{BucketReport, FailedDestination, Report};

/// How to replicate.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ReplicateOptions {
    /// Objects copied (or HEADs, deletions made) at once.
    pub jobs: usize,
    /// Object bytes held in memory at once, at most: a copy holds its
    /// object, or one 8 MiB part of a larger one, until it is written.
    pub memory_budget: usize,
    /// Plan and report; write and delete nothing.
    pub dry_run: bool,
    /// Delete destination objects the primary does not have.
    pub delete: bool,
    /// The most objects of a destination bucket one run may replace with
    /// other content or (with `delete`) delete.
    pub max_change: MaxChange,
    /// Ignore `max_change`.
    pub force: bool,
    /// How long versions kept under `.adt-replaced/` stay (None: forever).
    pub keep_replaced: Option<std::time::Duration>,
}

impl Default for ReplicateOptions {
    fn default() -> Self {
        ReplicateOptions {
            jobs: 32,
            memory_budget: 64 * 1024 * 1024,
            dry_run: false,
            delete: false,
            max_change: MaxChange::default(),
            force: false,
            keep_replaced: Some(std::time::Duration::from_secs(30 * 24 * 3600)),
        }
    }
}

/// Brings `buckets` on every destination up to date with `primary`.
///
/// Errors only for what stops the whole run (the primary unreadable, a
/// bucket missing on the primary, the deletion guard, a destination that
/// is the primary itself), and then before anything was written. A
/// destination that fails is in the report's `failed_destinations`.
pub async fn replicate(
    primary: &Store,
    destinations: &[Destination],
    buckets: &[String],
    opts: &ReplicateOptions,
    progress: Arc<dyn Progress>,
) -> Result<Report, ReplicateError> {
    tracing::info!(
        buckets = buckets.len(),
        destinations = destinations.len(),
        "replicating"
    );
    for d in destinations {
        if d.endpoint() == primary.endpoint().url() {
            return Err(ReplicateError::SameEndpoint {
                destination: d.number,
                endpoint: d.endpoint().to_string(),
            });
        }
    }
    let mut unique: Vec<&String> = Vec::new();
    for b in buckets {
        if !unique.contains(&b) {
            unique.push(b);
        }
    }
    let mut listings: Vec<(String, Vec<ObjectInfo>)> = Vec::new();
    let mut refused = Vec::new();
    for bucket in unique {
        let mut objects = primary.list(bucket, None).await.map_err(|e| match e {
            DatastoreError::NoSuchBucket { .. } => ReplicateError::MissingOnPrimary {
                bucket: bucket.clone(),
                endpoint: primary.endpoint().url().to_string(),
            },
            other => ReplicateError::Primary(other),
        })?;
        // The one key policy: a key some clients cannot list is not
        // spread to more datastores; it is named instead.
        objects.retain(|o| match adt_datastore::object_key(o.key.as_bytes()) {
            Ok(_) => true,
            Err(why)
                if !o.key.ends_with('/')
                    || adt_datastore::object_key(o.key.trim_end_matches('/').as_bytes()).is_err() =>
            {
                refused.push(format!(
                    "s3://{bucket}/{} on the primary is not replicated: its name {why}; rename it",
                    o.key.escape_debug()
                ));
                false
            }
            Err(_) => true,
        });
        listings.push((bucket.clone(), objects));
    }

    let planned = futures::future::join_all(
        destinations
            .iter()
            .enumerate()
            .map(|(i, d)| plan::plan_destination(primary, &listings, i, d, opts.jobs)),
    )
    .await;
    let mut report = Report {
        dry_run: opts.dry_run,
        warnings: refused,
        ..Report::default()
    };
    let mut plans = Vec::new();
    for (p, failures) in planned {
        plans.extend(p);
        report.failed_destinations.extend(failures);
    }
    if !opts.delete {
        for p in &mut plans {
            p.extra.clear();
        }
    }

    // Replacing content and deleting both lose the replica's version (kept
    // under .adt-replaced/, but a mistake on the primary should stop here).
    let changes = |p: &plan::BucketPlan| p.replaces.len() as u64 + p.extra.len() as u64;
    let refusals: Vec<Refusal> = plans
        .iter()
        .filter(|p| !opts.force && !opts.max_change.allows(changes(p), p.objects))
        .map(|p| Refusal {
            bucket: p.bucket.clone(),
            destination: destinations[p.destination].number,
            endpoint: destinations[p.destination].endpoint().to_string(),
            replaces: p.replaces.len() as u64,
            deletes: p.extra.len() as u64,
            objects: p.objects,
            limit: opts.max_change.limit(p.objects),
        })
        .collect();
    if !refusals.is_empty() {
        return Err(ReplicateError::TooManyChanges {
            max_change: opts.max_change.to_string(),
            refusals,
        });
    }

    if opts.dry_run {
        report.buckets = plans
            .iter()
            .map(|p| BucketReport {
                copied: p.copies.len() as u64,
                deleted: p.extra.len() as u64,
                bytes: p.copies.iter().map(|o| o.size).sum(),
                copy_keys: p.copies.iter().map(|o| o.key.clone()).collect(),
                delete_keys: p.extra.iter().map(|o| o.key.clone()).collect(),
                ..p.row(destinations)
            })
            .collect();
    } else {
        execute::execute(primary, destinations, &plans, opts, progress.as_ref(), &mut report).await;
    }
    report
        .buckets
        .sort_by(|a, b| (a.destination, &a.bucket).cmp(&(b.destination, &b.bucket)));
    report
        .failed_destinations
        .sort_by(|a, b| (a.destination, &a.bucket).cmp(&(b.destination, &b.bucket)));
    Ok(report)
}
