//! Seeds asset buckets from a temporal backup of the webroot.
//!
//! What it does: reads a backup archive (a gzip tar whose root is the
//! webroot) from local disk or the datastore, streamed and never written
//! to disk, and copies every file under each DIRECTORIES_TO_MOUNT directory
//! into that entry's bucket (spread over the branch buckets for
//! `merge=NAMEn`; a file some branch already holds, as ADT leaves a merge
//! set it seeded into branch 1, is found there and never copied twice), with the metadata s3fs, rclone and geesefs read as the
//! file's mode, owner and mtime, and `dir/` markers for every directory.
//! It refuses unsafe or damaged archives before uploading anything, never
//! overwrites an object already in a bucket (unless asked), and can be
//! killed and run again at any moment.
//!
//! What it does not do: decide whether seeding is allowed (the binary
//! checks persistence and the build choice), name buckets (the Layout
//! does), or print.
//!
//! # Example
//!
//! Seeding the `images` entry of a site from a small backup, into a store
//! held in memory (a datastore is opened with `Store::connect` instead):
//!
//! ```rust
//! use std::path::Path;
//! use std::sync::Arc;
//!
//! use adt_datastore::Store;
//! use adt_seeder::{ArchiveSource, NoProgress, SeedOptions};
//! use adt_template::{AssetConfig, Layout, MountEntry};
//!
//! // A backup of the webroot: a gzip tar whose root is the webroot.
//! let dir = tempfile::tempdir()?;
//! let archive = dir.path().join("applicationsourcecode.tar.gz");
//! let gzip = flate2::write::GzEncoder::new(std::fs::File::create(&archive)?, flate2::Compression::default());
//! let mut tar = tar::Builder::new(gzip);
//! for (name, body) in [
//!     ("images/logo.png", &b"PNG logo"[..]),
//!     ("images/banners/a.jpg", b"JPEG banner"),
//!     ("index.php", b"<?php"), // not under an asset directory: not seeded
//! ] {
//!     let mut header = tar::Header::new_gnu();
//!     header.set_entry_type(tar::EntryType::Regular);
//!     header.set_size(body.len() as u64);
//!     header.set_mode(0o644);
//!     header.set_mtime(1_700_000_000);
//!     tar.append_data(&mut header, name, body)?;
//! }
//! tar.into_inner()?.finish()?;
//!
//! let config = AssetConfig::persisting("www.example.com", vec![MountEntry::parse("images").unwrap()]);
//! let layout = Layout::new(&config, Path::new("/var/www/html"))?;
//! let bucket = &layout.entries[0].mounts[0].bucket;
//! assert_eq!(bucket, "www-example-com-assets-images");
//!
//! let runtime = tokio::runtime::Runtime::new()?;
//! let store = Store::in_memory();
//! let source = ArchiveSource::File(archive);
//! let options = SeedOptions::default();
//! let summary = runtime.block_on(adt_seeder::seed(&store, &layout, &source, &options, Arc::new(NoProgress)))?;
//! assert_eq!((summary.uploaded(), summary.conflicts()), (2, 0));
//! let b = &summary.buckets[0];
//! assert_eq!((b.bucket.as_str(), b.objects, b.uploaded, b.bytes), (bucket.as_str(), 2, 2, 19));
//!
//! // Keys are relative to the entry's directory.
//! let keys: Vec<String> = runtime.block_on(store.list(bucket, None))?.into_iter().map(|o| o.key).collect();
//! assert_eq!(keys, ["banners/a.jpg", "logo.png"]);
//!
//! // A second run finds both objects there, the same, and writes nothing.
//! let again = runtime.block_on(adt_seeder::seed(&store, &layout, &source, &options, Arc::new(NoProgress)))?;
//! assert_eq!((again.uploaded(), again.buckets[0].skipped), (0, 2));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

mod error;
mod manifest;
mod route;
mod scan;
mod source;
mod summary;
mod upload;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use adt_datastore::{MemoryBudget, Store};
use adt_template::Layout;
use tokio::sync::mpsc;

pub use adt_datastore::{NoProgress, Progress};
pub use error::SeedError;
pub use source::ArchiveSource;
pub use summary::{BucketSummary, Summary};

use route::Router;
use upload::Shared;

/// How to seed.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SeedOptions {
    /// Uploads in flight at once.
    pub jobs: usize,
    /// List what would be uploaded; write nothing.
    pub dry_run: bool,
    /// Replace objects that differ from the archive's files.
    pub overwrite: bool,
    /// Files larger than this go up as multipart uploads in parts of this size.
    pub part_size: usize,
    /// File bytes held in memory at once, at most (at least one part).
    pub memory_budget: usize,
    /// Where records of completed seeds are kept, so a rerun of the same
    /// archive needs only a listing. None (the default): always read the
    /// archive. `adt_assets::seed_cache_dir` gives the usual place.
    pub cache_dir: Option<PathBuf>,
}

impl Default for SeedOptions {
    fn default() -> Self {
        SeedOptions {
            jobs: 16,
            dry_run: false,
            overwrite: false,
            part_size: adt_datastore::PART_SIZE,
            memory_budget: 48 * 1024 * 1024,
            cache_dir: None,
        }
    }
}

/// Seeds every bucket of `layout` on `store` from `source`.
pub async fn seed(
    store: &Store,
    layout: &Layout,
    source: &ArchiveSource,
    options: &SeedOptions,
    progress: Arc<dyn Progress>,
) -> Result<Summary, SeedError> {
    if options.part_size < adt_datastore::MIN_PART_SIZE {
        return Err(SeedError::Options(
            "the part size is smaller than 5 MiB, the least S3 accepts",
        ));
    }
    if options.jobs == 0 {
        return Err(SeedError::Options("jobs must be at least 1"));
    }
    let (router, mut warnings) = Router::new(layout);
    let router = Arc::new(router);
    let bucket_names: Vec<String> = router.buckets.iter().map(|b| b.name.clone()).collect();
    let identity = source.identity().await?;
    let record = options.cache_dir.as_ref().map(|dir| {
        manifest::path(
            dir,
            &identity.text,
            store.endpoint().url(),
            &bucket_names,
            options.part_size,
        )
    });

    if !options.overwrite
        && let Some(m) = record.as_deref().and_then(manifest::load)
        && let Some(summary) = already_seeded(store, &router, &m, options.dry_run).await?
    {
        return Ok(summary);
    }

    let runtime = tokio::runtime::Handle::current();
    let name = source.name();
    let scan = {
        let (source, identity, router, runtime, name) = (
            source.clone(),
            identity.clone(),
            Arc::clone(&router),
            runtime.clone(),
            name.clone(),
        );
        tokio::task::spawn_blocking(move || {
            let reader = source.open(&identity, &runtime)?;
            scan::scan(reader, &router, &name)
        })
        .await
        .map_err(SeedError::Internal)??
    };
    if !scan.skipped.is_empty() {
        let shown: Vec<&str> = scan.skipped.iter().take(20).map(String::as_str).collect();
        let more = scan.skipped.len().saturating_sub(shown.len());
        warnings.push(format!(
            "skipped {} entr{} that are not regular files: {}{}",
            scan.skipped.len(),
            if scan.skipped.len() == 1 { "y" } else { "ies" },
            shown.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        ));
    }
    // A backup made after the assets were persisted leaves them out: say
    // so, rather than seed nothing in silence.
    for (root, entry) in router.roots() {
        let inside = |p: &str| root.is_empty() || p.strip_prefix(root).is_some_and(|r| r.starts_with('/'));
        let seen = scan.last_index.keys().any(|p| inside(p)) || scan.dirs.iter().any(|(d, _)| inside(d));
        if !seen {
            warnings.push(format!(
                "the archive holds nothing under {root}/ (entry `{entry}`), so its bucket gets nothing: a backup made after the assets were persisted leaves them out; seed from a backup made before"
            ));
        }
    }
    tracing::info!(
        files = scan.files,
        directories = scan.dirs.len(),
        bytes = scan.bytes,
        "archive read"
    );
    progress.start(scan.files + scan.dirs.len() as u64, scan.bytes);

    let mut listing = Vec::new();
    for bucket in &bucket_names {
        let exists = if options.dry_run {
            store.bucket_exists(bucket).await?
        } else {
            store.ensure_bucket(bucket).await?;
            true
        };
        let objects = if exists {
            store.list(bucket, None).await?
        } else {
            Vec::new()
        };
        listing.push(
            objects
                .into_iter()
                .map(|o| (o.key, (o.size, o.etag)))
                .collect::<HashMap<_, _>>(),
        );
    }

    let shared = Arc::new(Shared {
        store: store.clone(),
        options: options.clone(),
        listing,
        stats: Mutex::new(
            router
                .buckets
                .iter()
                .map(|b| BucketSummary {
                    entry: b.entry.clone(),
                    bucket: b.name.clone(),
                    ..BucketSummary::default()
                })
                .collect(),
        ),
        recorded: Mutex::new(vec![Vec::new(); bucket_names.len()]),
        planned: Mutex::new(Vec::new()),
        budget: MemoryBudget::new(options.memory_budget.max(options.part_size)),
        failed: AtomicBool::new(false),
        error: Mutex::new(None),
        progress,
        bucket_names: bucket_names.clone(),
        tasks: Mutex::new(Vec::new()),
    });

    let (jobs_tx, jobs_rx) = mpsc::channel(options.jobs.max(1) * 2);
    let jobs_rx = Arc::new(tokio::sync::Mutex::new(jobs_rx));
    let uploaders: Vec<_> = (0..options.jobs.max(1))
        .map(|_| tokio::spawn(upload::uploader(Arc::clone(&shared), Arc::clone(&jobs_rx))))
        .collect();
    let scan = Arc::new(scan);
    let read = {
        let (source, shared, scan, router, runtime) = (
            source.clone(),
            Arc::clone(&shared),
            Arc::clone(&scan),
            Arc::clone(&router),
            runtime.clone(),
        );
        tokio::task::spawn_blocking(move || {
            let reader = source.open(&identity, &runtime)?;
            upload::read(reader, &source.name(), &scan, &router, &shared, jobs_tx, &runtime)
        })
        .await
    };
    match read {
        Ok(Ok(())) => {}
        Ok(Err(e)) => shared.fail(e),
        Err(e) => shared.fail(SeedError::Internal(e)),
    }
    for task in uploaders {
        let _ = task.await;
    }
    let tasks = std::mem::take(&mut *shared.tasks.lock().unwrap_or_else(|p| p.into_inner()));
    for task in tasks {
        let _ = task.await;
    }
    upload::markers(&shared, &scan, &router).await;
    if let Some(e) = shared.error.lock().unwrap_or_else(|p| p.into_inner()).take() {
        return Err(e);
    }

    let mut buckets = shared.stats.lock().unwrap_or_else(|p| p.into_inner()).clone();
    for b in &mut buckets {
        b.conflict_keys.sort();
    }
    let mut planned = std::mem::take(&mut *shared.planned.lock().unwrap_or_else(|p| p.into_inner()));
    planned.sort();
    if !options.dry_run
        && let Some(path) = &record
    {
        let recorded = std::mem::take(&mut *shared.recorded.lock().unwrap_or_else(|p| p.into_inner()));
        let m = manifest::Manifest {
            objects: bucket_names.iter().cloned().zip(recorded).collect(),
            warnings: warnings.clone(),
        };
        if let Err(e) = manifest::store(path, &m) {
            warnings.push(format!(
                "could not record this seed in {} ({e}); a rerun will read the archive again",
                path.display()
            ));
        }
    }
    Ok(Summary {
        buckets,
        warnings,
        dry_run: options.dry_run,
        already_seeded: false,
        planned,
    })
}

/// When a record of this archive's seed exists and every recorded object
/// is still in its bucket with its size, the summary of a run that would
/// upload nothing; otherwise None (the archive must be read).
async fn already_seeded(
    store: &Store,
    router: &Router,
    m: &manifest::Manifest,
    dry_run: bool,
) -> Result<Option<Summary>, SeedError> {
    let mut buckets = Vec::new();
    for info in &router.buckets {
        let Some(objects) = m.objects.get(&info.name) else {
            return Ok(None);
        };
        if !store.bucket_exists(&info.name).await? {
            return Ok(None);
        }
        let there: HashMap<String, (u64, String)> = store
            .list(&info.name, None)
            .await?
            .into_iter()
            .map(|o| (o.key, (o.size, o.etag)))
            .collect();
        let mut summary = BucketSummary {
            entry: info.entry.clone(),
            bucket: info.name.clone(),
            ..BucketSummary::default()
        };
        for (key, size, etag) in objects {
            match there.get(key) {
                Some((s, e)) if s == size => {
                    summary.objects += 1;
                    if e == etag {
                        summary.skipped += 1;
                    } else {
                        summary.conflicts += 1;
                        summary.conflict_keys.push(key.clone());
                    }
                }
                _ => return Ok(None),
            }
        }
        summary.conflict_keys.sort();
        buckets.push(summary);
    }
    Ok(Some(Summary {
        buckets,
        warnings: m.warnings.clone(),
        dry_run,
        already_seeded: true,
        planned: Vec::new(),
    }))
}
