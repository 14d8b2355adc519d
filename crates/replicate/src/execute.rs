//! Carrying out the plans: buckets created, objects copied (streamed, in
//! parallel), then, where asked and nothing failed, extra objects deleted.

use std::collections::HashSet;
use std::sync::Mutex;

use adt_datastore::{COPY_PART_SIZE, Copied, DatastoreError, MemoryBudget, ObjectInfo, Store};
use futures::StreamExt;

use crate::compare::{REPLACED_PREFIX, SOURCE_ETAG_KEY};
use crate::plan::{BucketPlan, Destination, fatal};
use crate::report::{BucketReport, Report};
use crate::{Progress, ReplicateOptions};

enum Outcome {
    /// Copied; true when the destination's old version was kept first.
    Copied(Copied, bool),
    /// Deleted, its version kept first.
    Deleted,
    /// Gone from the primary between listing and copying: its key.
    Vanished(String),
    /// Not tried: the destination had already failed.
    Abandoned,
    Failed(DatastoreError),
}

/// The destinations found unreachable during the run, so their other
/// objects are not tried (each would wait out the retry policy).
struct Dead(Mutex<HashSet<usize>>);

impl Dead {
    fn contains(&self, index: usize) -> bool {
        self.0.lock().map(|d| d.contains(&index)).unwrap_or(false)
    }

    fn insert(&self, index: usize) {
        if let Ok(mut d) = self.0.lock() {
            d.insert(index);
        }
    }
}

pub(crate) async fn execute(
    primary: &Store,
    destinations: &[Destination],
    plans: &[BucketPlan],
    opts: &ReplicateOptions,
    progress: &dyn Progress,
    report: &mut Report,
) {
    let dead = Dead(Mutex::new(HashSet::new()));
    // This run's folder for the versions it replaces or deletes.
    let run = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let keep_as = |key: &str| format!("{REPLACED_PREFIX}{run}/{key}");
    let keep_as = &keep_as;
    let mut rows: Vec<BucketReport> = plans.iter().map(|p| p.row(destinations)).collect();
    let mut first_error: Vec<Option<String>> = vec![None; plans.len()];

    // Buckets first: a destination that cannot create one fails that bucket only.
    for (i, plan) in plans.iter().enumerate() {
        let dest = &destinations[plan.destination];
        if !plan.create || dead.contains(plan.destination) {
            continue;
        }
        if let Err(e) = dest.store.ensure_bucket(&plan.bucket).await {
            if fatal(&e) {
                dead.insert(plan.destination);
            }
            rows[i].failed += plan.copies.len() as u64;
            first_error[i] = Some(e.to_string());
        }
    }

    let mut work: Vec<(usize, &ObjectInfo)> = plans
        .iter()
        .enumerate()
        .filter(|(i, _)| first_error[*i].is_none())
        .flat_map(|(i, p)| p.copies.iter().map(move |o| (i, o)))
        .collect();
    // Largest first: a big object copied last would finish alone while
    // the other jobs sit idle.
    work.sort_by_key(|w| std::cmp::Reverse(w.1.size));
    progress.start(work.len() as u64, work.iter().map(|(_, o)| o.size).sum());
    // Each copy holds up to one part of its object.
    let budget = MemoryBudget::new(opts.memory_budget.max(COPY_PART_SIZE));
    let copies: Vec<(usize, Outcome)> = futures::stream::iter(work)
        .map(|(i, object)| {
            let plan = &plans[i];
            let dest = &destinations[plan.destination];
            let dead = &dead;
            let budget = &budget;
            async move {
                let _held = budget.take(object.size.min(COPY_PART_SIZE as u64)).await;
                if dead.contains(plan.destination) {
                    return (i, Outcome::Abandoned);
                }
                // The version about to be replaced is kept first; if that
                // fails, nothing is replaced.
                let keep = plan.replaces.contains(&object.key);
                if keep
                    && let Err(e) = dest
                        .store
                        .copy_within(&plan.bucket, &object.key, &keep_as(&object.key))
                        .await
                {
                    return (i, classify(Err(e), primary, dest, plan.destination, dead));
                }
                let result = adt_datastore::copy_object_recording(
                    primary,
                    &plan.bucket,
                    &object.key,
                    &dest.store,
                    &plan.bucket,
                    Some(SOURCE_ETAG_KEY),
                )
                .await;
                progress.advance(1, object.size);
                let outcome = match classify(result, primary, dest, plan.destination, dead) {
                    Outcome::Copied(c, _) => Outcome::Copied(c, keep),
                    other => other,
                };
                (i, outcome)
            }
        })
        .buffer_unordered(opts.jobs.max(1))
        .collect()
        .await;
    tally(copies, &mut rows, &mut first_error, &mut report.warnings, plans);

    if opts.delete {
        let work: Vec<(usize, &ObjectInfo)> = plans
            .iter()
            .enumerate()
            .filter(|(i, p)| first_error[*i].is_none() && !dead.contains(p.destination))
            .flat_map(|(i, p)| p.extra.iter().map(move |o| (i, o)))
            .collect();
        let deletes: Vec<(usize, Outcome)> = futures::stream::iter(work)
            .map(|(i, object)| {
                let plan = &plans[i];
                let dest = &destinations[plan.destination];
                let dead = &dead;
                async move {
                    if dead.contains(plan.destination) {
                        return (i, Outcome::Abandoned);
                    }
                    let kept = dest
                        .store
                        .copy_within(&plan.bucket, &object.key, &keep_as(&object.key))
                        .await;
                    let result = match kept {
                        Ok(()) => dest.store.delete(&plan.bucket, &object.key).await,
                        Err(e) => Err(e),
                    };
                    let outcome = match result {
                        Ok(()) => Outcome::Deleted,
                        Err(e) => {
                            if fatal(&e) {
                                dead.insert(plan.destination);
                            }
                            Outcome::Failed(e)
                        }
                    };
                    (i, outcome)
                }
            })
            .buffer_unordered(opts.jobs.max(1))
            .collect()
            .await;
        tally(deletes, &mut rows, &mut first_error, &mut report.warnings, plans);
    }

    // Versions kept longer than the retention go, bucket by bucket.
    if let Some(keep) = opts.keep_replaced {
        for (i, plan) in plans.iter().enumerate() {
            let dest = &destinations[plan.destination];
            if dead.contains(plan.destination) {
                continue;
            }
            match expire(&dest.store, &plan.bucket, keep).await {
                Ok(n) => rows[i].expired += n,
                Err(e) => {
                    first_error[i].get_or_insert_with(|| e.to_string());
                }
            }
        }
    }

    for (i, plan) in plans.iter().enumerate() {
        if let Some(error) = first_error[i].take() {
            let failed = destinations[plan.destination].failure(Some(&plan.bucket), error);
            report.failed_destinations.push(failed);
        }
    }
    report.buckets.extend(rows);
}

fn classify(
    result: Result<Copied, DatastoreError>,
    primary: &Store,
    dest: &Destination,
    index: usize,
    dead: &Dead,
) -> Outcome {
    match result {
        Ok(c) => Outcome::Copied(c, false),
        Err(DatastoreError::NoSuchKey { target }) if target.endpoint == primary.endpoint().url() => {
            Outcome::Vanished(target.key.clone().unwrap_or_default())
        }
        Err(e) => {
            let at_destination = e.target().is_none_or(|t| t.endpoint == dest.endpoint());
            if fatal(&e) && at_destination {
                dead.insert(index);
            }
            Outcome::Failed(e)
        }
    }
}

fn tally(
    outcomes: Vec<(usize, Outcome)>,
    rows: &mut [BucketReport],
    first_error: &mut [Option<String>],
    warnings: &mut Vec<String>,
    plans: &[BucketPlan],
) {
    for (i, outcome) in outcomes {
        match outcome {
            Outcome::Copied(c, kept) => {
                rows[i].copied += 1;
                rows[i].bytes += c.bytes;
                rows[i].preserved += u64::from(kept);
            }
            Outcome::Deleted => {
                rows[i].deleted += 1;
                rows[i].preserved += 1;
            }
            Outcome::Vanished(key) => warnings.push(format!(
                "s3://{}/{key} was deleted from the primary while the run copied it; not copied",
                plans[i].bucket
            )),
            Outcome::Abandoned => {
                rows[i].failed += 1;
                first_error[i].get_or_insert_with(|| "not tried: the destination failed earlier in this run".into());
            }
            Outcome::Failed(e) => {
                rows[i].failed += 1;
                first_error[i].get_or_insert_with(|| e.to_string());
            }
        }
    }
}

/// Deletes the versions under `.adt-replaced/` of `bucket` kept longer
/// than `keep`; returns how many.
async fn expire(store: &Store, bucket: &str, keep: std::time::Duration) -> Result<u64, DatastoreError> {
    let Ok(limit) = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs().saturating_sub(keep.as_secs()))
    else {
        return Ok(0);
    };
    let mut expired = 0;
    for object in store.list(bucket, Some(REPLACED_PREFIX)).await? {
        // The run's time is in the key: `.adt-replaced/SECONDS/...`.
        let run = object.key[REPLACED_PREFIX.len()..]
            .split('/')
            .next()
            .and_then(|s| s.parse::<u64>().ok());
        if run.is_some_and(|r| r < limit) {
            store.delete(bucket, &object.key).await?;
            expired += 1;
        }
    }
    Ok(expired)
}
