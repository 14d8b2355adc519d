//! Pass 2: stream the archive again and upload what belongs in the buckets.
//!
//! One blocking thread reads the archive; each file's bytes become a job
//! for `jobs` async uploaders. Memory is bounded by a byte budget (a
//! semaphore): the reader waits for budget before it reads a file or a
//! part, and budget comes back when the upload is done, so peak memory does
//! not grow with the archive. Files larger than one part go up as multipart
//! uploads, part by part. Objects are only ever created whole (a PUT or a
//! completed multipart upload), so a run killed at any moment leaves no
//! partial object, and the next run finds what is there and skips it.

use std::collections::HashMap;
use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use adt_datastore::{DatastoreError, MemoryBudget, MemoryPermit, PutOptions, PutOutcome, Store};
use bytes::Bytes;
use tokio::sync::mpsc;

use crate::error::SeedError;
use crate::route::{Dest, Router, attributes, normalize};
use crate::scan::{Scan, corrupt, unreadable};
use crate::summary::BucketSummary;
use crate::{Progress, SeedOptions};
use adt_datastore::EtagHasher;

/// What is in each bucket already: key -> (size, etag).
pub(crate) type Listing = Vec<HashMap<String, (u64, String)>>;

/// Per-bucket results, shared by the reader and the uploaders.
pub(crate) struct Shared {
    pub store: Store,
    pub options: SeedOptions,
    pub listing: Listing,
    pub stats: Mutex<Vec<BucketSummary>>,
    /// Every object the archive gives each bucket, with its etag.
    pub recorded: Mutex<Vec<Vec<(String, u64, String)>>>,
    pub planned: Mutex<Vec<(String, String, u64)>>,
    pub budget: MemoryBudget,
    pub failed: AtomicBool,
    pub error: Mutex<Option<SeedError>>,
    pub progress: Arc<dyn Progress>,
    pub bucket_names: Vec<String>,
    /// Multipart uploads under way; waited for before the seed reports.
    pub tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl Shared {
    pub fn fail(&self, e: SeedError) {
        self.failed.store(true, Ordering::SeqCst);
        let mut slot = self.error.lock().unwrap_or_else(|p| p.into_inner());
        slot.get_or_insert(e);
    }

    fn stopped(&self) -> bool {
        self.failed.load(Ordering::SeqCst)
    }

    /// Where `path` goes, keeping a merge-set file in the branch that
    /// already holds it.
    fn route(&self, router: &Router, path: &str, dir: bool) -> Option<Dest> {
        router.route_where(path, dir, |bucket, key| self.listing[bucket].contains_key(key))
    }

    fn with_stats(&self, bucket: usize, f: impl FnOnce(&mut BucketSummary)) {
        let mut stats = self.stats.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut stats[bucket]);
    }

    fn record(&self, dest: &Dest, size: u64, etag: String) {
        let mut recorded = self.recorded.lock().unwrap_or_else(|p| p.into_inner());
        recorded[dest.bucket].push((dest.key.clone(), size, etag));
    }

    /// Counts an object already in the bucket: same content, or a conflict.
    fn compare(&self, dest: &Dest, size: u64, etag: &str) {
        let (there_size, there_etag) = self.listing[dest.bucket].get(&dest.key).cloned().unwrap_or_default();
        let same = there_size == size && there_etag == etag;
        self.with_stats(dest.bucket, |s| {
            s.objects += 1;
            if same {
                s.skipped += 1;
            } else {
                s.conflicts += 1;
                s.conflict_keys.push(dest.key.clone());
            }
        });
        // The record keeps what the archive holds, so a rerun compares the
        // bucket with the archive again and still sees the conflict.
        self.record(dest, size, etag.to_string());
    }

    fn uploaded(&self, dest: &Dest, size: u64, outcome: PutOutcome) {
        match outcome {
            PutOutcome::Created { etag } => {
                self.with_stats(dest.bucket, |s| {
                    s.objects += 1;
                    s.uploaded += 1;
                    s.bytes += size;
                });
                self.record(dest, size, etag);
            }
            // Appeared since the listing: someone else wrote it; it stays.
            PutOutcome::Exists => self.with_stats(dest.bucket, |s| {
                s.objects += 1;
                s.conflicts += 1;
                s.conflict_keys.push(dest.key.clone());
            }),
        }
    }

    fn plan(&self, dest: &Dest, size: u64) {
        self.with_stats(dest.bucket, |s| {
            s.objects += 1;
            s.uploaded += 1;
            s.bytes += size;
        });
        let mut planned = self.planned.lock().unwrap_or_else(|p| p.into_inner());
        planned.push((self.bucket_names[dest.bucket].clone(), dest.key.clone(), size));
    }

    async fn put(&self, dest: &Dest, body: Bytes, opts: &PutOptions) -> Result<PutOutcome, DatastoreError> {
        let bucket = &self.bucket_names[dest.bucket];
        if self.options.overwrite {
            let etag = self.store.put(bucket, &dest.key, body, opts).await?;
            Ok(PutOutcome::Created { etag })
        } else {
            // The key was absent from the listing taken just before.
            self.store.put_new(bucket, &dest.key, body, opts).await
        }
    }
}

/// A whole small file for the uploaders.
pub(crate) struct Job {
    dests: Vec<Dest>,
    body: Bytes,
    opts: PutOptions,
    _permit: MemoryPermit,
}

pub(crate) async fn uploader(shared: Arc<Shared>, jobs: Arc<tokio::sync::Mutex<mpsc::Receiver<Job>>>) {
    loop {
        let job = { jobs.lock().await.recv().await };
        let Some(job) = job else { return };
        if shared.stopped() {
            continue; // drain, so the reader never blocks on a full queue
        }
        for dest in &job.dests {
            match shared.put(dest, job.body.clone(), &job.opts).await {
                Ok(outcome) => shared.uploaded(dest, job.body.len() as u64, outcome),
                Err(e) => {
                    shared.fail(e.into());
                    break;
                }
            }
        }
        shared.progress.advance(1, job.body.len() as u64);
    }
}

/// One part of a large file on its way to a multipart upload.
enum Part {
    Data(Bytes, Arc<MemoryPermit>),
    /// The whole file was read: complete the upload.
    Done,
}

async fn multipart(shared: Arc<Shared>, dest: Dest, size: u64, opts: PutOptions, mut parts: mpsc::Receiver<Part>) {
    let bucket = shared.bucket_names[dest.bucket].clone();
    let mut upload = match shared.store.start_multipart(&bucket, &dest.key, &opts).await {
        Ok(u) => u,
        Err(e) => return shared.fail(e.into()),
    };
    loop {
        match parts.recv().await {
            Some(Part::Data(bytes, _permit)) => {
                if let Err(e) = upload.upload_part(bytes).await {
                    let _ = upload.abort().await;
                    return shared.fail(e.into());
                }
            }
            Some(Part::Done) => break,
            None => {
                // The reader stopped before the end: leave nothing behind.
                let _ = upload.abort().await;
                return;
            }
        }
    }
    let done = if shared.options.overwrite {
        upload.complete().await.map(|etag| PutOutcome::Created { etag })
    } else {
        upload.complete_new().await
    };
    match done {
        Ok(outcome) => shared.uploaded(&dest, size, outcome),
        Err(e) => shared.fail(e.into()),
    }
}

/// Reads the archive and feeds the uploaders. Runs on a blocking thread.
pub(crate) fn read(
    reader: Box<dyn Read + Send>,
    archive: &str,
    scan: &Scan,
    router: &Router,
    shared: &Arc<Shared>,
    jobs: mpsc::Sender<Job>,
    runtime: &tokio::runtime::Handle,
) -> Result<(), SeedError> {
    let part_size = shared.options.part_size;
    let mut tar = adt_archive::Reader::new(reader, adt_archive::Limits::default());
    let mut next = 0usize;
    while let Some(mut entry) = tar.next_entry().map_err(|e| unreadable(archive, e))? {
        let index = next;
        next += 1;
        if shared.stopped() {
            break;
        }
        let path = normalize(&entry.header.name).map_err(|_| SeedError::Changed {
            archive: archive.to_string(),
        })?;
        // Contiguous files ('7') are files too: the reader says File.
        if entry.header.kind != adt_archive::Kind::File {
            continue;
        }
        let mut dests = Vec::new();
        if scan.last_index.get(&path) == Some(&index) {
            dests.extend(shared.route(router, &path, false));
        }
        for link in scan.links.get(&path).into_iter().flatten() {
            dests.extend(shared.route(router, link, false));
        }
        if dests.is_empty() {
            continue;
        }
        let size = entry.header.size;
        let opts = attributes(&entry.header, false).put_options(&path);
        let (existing, missing): (Vec<Dest>, Vec<Dest>) = dests
            .into_iter()
            .partition(|d| !shared.options.overwrite && shared.listing[d.bucket].contains_key(&d.key));
        let mut hasher = (!existing.is_empty()).then(|| EtagHasher::new(size, part_size));
        if shared.options.dry_run {
            missing.iter().for_each(|d| shared.plan(d, size));
        }
        let upload = if shared.options.dry_run { Vec::new() } else { missing };
        if upload.is_empty() && hasher.is_none() {
            shared.progress.advance(1, size);
            continue; // nothing to send or compare: tar skips the bytes
        }

        if size <= part_size as u64 {
            let permit = runtime.block_on(shared.budget.take(size));
            let mut body = Vec::with_capacity(size as usize);
            entry.read_to_end(&mut body).map_err(|e| corrupt(archive, e))?;
            if let Some(h) = hasher.as_mut() {
                h.update(&body);
            }
            if let Some(h) = hasher.take() {
                let etag = h.finish();
                existing.iter().for_each(|d| shared.compare(d, size, &etag));
            }
            if upload.is_empty() {
                shared.progress.advance(1, size);
            } else {
                let job = Job {
                    dests: upload,
                    body: Bytes::from(body),
                    opts,
                    _permit: permit,
                };
                if runtime.block_on(jobs.send(job)).is_err() {
                    break;
                }
            }
            continue;
        }

        let mut senders = Vec::new();
        for dest in upload {
            let (tx, rx) = mpsc::channel(2);
            let task = runtime.spawn(multipart(Arc::clone(shared), dest, size, opts.clone(), rx));
            shared.tasks.lock().unwrap_or_else(|p| p.into_inner()).push(task);
            senders.push(tx);
        }
        let mut left = size;
        while left > 0 && !shared.stopped() {
            let take = left.min(part_size as u64) as usize;
            let permit = runtime.block_on(shared.budget.take(take as u64));
            let mut part = vec![0u8; take];
            entry.read_exact(&mut part).map_err(|e| corrupt(archive, e))?;
            if let Some(h) = hasher.as_mut() {
                h.update(&part);
            }
            let (part, permit) = (Bytes::from(part), Arc::new(permit));
            for tx in &senders {
                let _ = runtime.block_on(tx.send(Part::Data(part.clone(), Arc::clone(&permit))));
            }
            left -= take as u64;
            shared.progress.advance(0, take as u64);
        }
        if !shared.stopped() {
            for tx in &senders {
                let _ = runtime.block_on(tx.send(Part::Done));
            }
            if let Some(h) = hasher.take() {
                let etag = h.finish();
                existing.iter().for_each(|d| shared.compare(d, size, &etag));
            }
        }
        shared.progress.advance(1, 0);
    }
    // Leaving the loop at the end-of-archive blocks means the reader read
    // the gzip stream to its end and checked it.
    Ok(())
}

/// Zero-byte `dir/` markers for the directories, as s3fs makes them.
pub(crate) async fn markers(shared: &Arc<Shared>, scan: &Scan, router: &Router) {
    for (dir, attributes) in &scan.dirs {
        if shared.stopped() {
            return;
        }
        let Some(dest) = shared.route(router, dir, true) else {
            continue;
        };
        if !shared.options.overwrite && shared.listing[dest.bucket].contains_key(&dest.key) {
            shared.compare(&dest, 0, "d41d8cd98f00b204e9800998ecf8427e");
            continue;
        }
        if shared.options.dry_run {
            shared.plan(&dest, 0);
            continue;
        }
        let opts = attributes.put_options(&dest.key);
        match shared.put(&dest, Bytes::new(), &opts).await {
            Ok(outcome) => shared.uploaded(&dest, 0, outcome),
            Err(e) => shared.fail(e.into()),
        }
    }
}
