//! Planning one destination: which buckets to create, which objects to
//! copy and which to delete, from listings and (where they cannot tell)
//! HEADs. Nothing is written here.

use adt_datastore::{DatastoreError, ObjectInfo, Store};
use futures::StreamExt;

use crate::compare::{self, Verdict};
use crate::report::{BucketReport, FailedDestination};

/// A datastore to bring up to date with the primary.
#[derive(Clone, Debug)]
pub struct Destination {
    /// Its number in the template's chain (2 for the first copy).
    pub number: usize,
    /// The datastore to write to. Its endpoint URL must not be the
    /// primary's: `replicate` refuses the run if it is.
    pub store: Store,
}

impl Destination {
    /// The store's endpoint URL, as reports and errors name it.
    pub fn endpoint(&self) -> &str {
        self.store.endpoint().url()
    }

    /// This destination (or one bucket on it, when given) failed with `error`.
    pub(crate) fn failure(&self, bucket: Option<&str>, error: String) -> FailedDestination {
        FailedDestination {
            destination: self.number,
            endpoint: self.endpoint().to_string(),
            bucket: bucket.map(str::to_string),
            error,
        }
    }
}

/// What one bucket on one destination needs.
#[derive(Clone, Debug)]
pub(crate) struct BucketPlan {
    pub bucket: String,
    /// Index into the destinations.
    pub destination: usize,
    pub create: bool,
    pub copies: Vec<ObjectInfo>,
    pub skipped: u64,
    /// Objects on the destination the primary does not have.
    pub extra: Vec<ObjectInfo>,
    /// Keys among `copies` whose destination object has other content: a
    /// copy replaces it (the old version is kept under `.adt-replaced/`).
    pub replaces: std::collections::BTreeSet<String>,
    /// Objects on the destination before the run (its `.adt-replaced/`
    /// versions left out).
    pub objects: u64,
}

impl BucketPlan {
    /// The report row before anything is done: what the listings settled.
    pub(crate) fn row(&self, destinations: &[Destination]) -> BucketReport {
        BucketReport {
            bucket: self.bucket.clone(),
            destination: destinations[self.destination].number,
            skipped: self.skipped,
            created: self.create,
            ..BucketReport::default()
        }
    }
}

/// Whether an error means the whole destination is out of reach (so its
/// other buckets need not be tried), rather than one bucket or object.
pub(crate) fn fatal(e: &DatastoreError) -> bool {
    matches!(
        e,
        DatastoreError::Unreachable { .. }
            | DatastoreError::Denied { .. }
            | DatastoreError::InvalidEndpoint { .. }
            | DatastoreError::CaBundle { .. }
    )
}

/// Plans every bucket on one destination. A bucket that cannot be planned
/// is reported and left out; an unreachable destination ends the planning.
pub(crate) async fn plan_destination(
    primary: &Store,
    listings: &[(String, Vec<ObjectInfo>)],
    index: usize,
    dest: &Destination,
    jobs: usize,
) -> (Vec<BucketPlan>, Vec<FailedDestination>) {
    let mut plans = Vec::new();
    let mut failures = Vec::new();
    for (bucket, primary_objects) in listings {
        match plan_bucket(primary, bucket, primary_objects, index, dest, jobs).await {
            Ok(plan) => plans.push(plan),
            Err(e) if fatal(&e) => {
                failures.push(dest.failure(None, e.to_string()));
                return (Vec::new(), failures);
            }
            Err(e) => failures.push(dest.failure(Some(bucket), e.to_string())),
        }
    }
    (plans, failures)
}

async fn plan_bucket(
    primary: &Store,
    bucket: &str,
    primary_objects: &[ObjectInfo],
    index: usize,
    dest: &Destination,
    jobs: usize,
) -> Result<BucketPlan, DatastoreError> {
    let exists = dest.store.bucket_exists(bucket).await?;
    let theirs = if exists {
        dest.store.list(bucket, None).await?
    } else {
        Vec::new()
    };
    let diff = compare::diff(primary_objects, &theirs);
    let present: std::collections::HashSet<&str> = theirs.iter().map(|o| o.key.as_str()).collect();
    // Copied without a check: missing there, or another size (replaced).
    let mut replaces: std::collections::BTreeSet<String> = diff
        .copy
        .iter()
        .filter(|o| present.contains(o.key.as_str()))
        .map(|o| o.key.clone())
        .collect();
    let mut copies = diff.copy;
    let mut skipped = diff.same;
    let checked: Vec<Result<Option<(ObjectInfo, bool)>, DatastoreError>> = futures::stream::iter(diff.check)
        .map(|(src, dst, verdict)| async move {
            let needs_copy = check(primary, &dest.store, bucket, &src, &dst, verdict).await?;
            // Same size, other ETag, not our copy of it: other content.
            Ok(needs_copy.then_some((src, verdict == Verdict::CheckEtag)))
        })
        .buffer_unordered(jobs.max(1))
        .collect()
        .await;
    for c in checked {
        match c? {
            Some((src, replaced)) => {
                if replaced {
                    replaces.insert(src.key.clone());
                }
                copies.push(src)
            }
            None => skipped += 1,
        }
    }
    copies.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(BucketPlan {
        bucket: bucket.to_string(),
        destination: index,
        create: !exists,
        copies,
        skipped,
        extra: diff.extra,
        replaces,
        objects: theirs
            .iter()
            .filter(|o| !o.key.starts_with(compare::REPLACED_PREFIX))
            .count() as u64,
    })
}

/// Settles a question the listings left open; true when the object must be copied.
async fn check(
    primary: &Store,
    dest: &Store,
    bucket: &str,
    src: &ObjectInfo,
    dst: &ObjectInfo,
    verdict: Verdict,
) -> Result<bool, DatastoreError> {
    let Some(copy) = dest.head(bucket, &dst.key).await? else {
        return Ok(true);
    };
    if verdict == Verdict::CheckEtag && !compare::copied_from(src, &copy) {
        return Ok(true);
    }
    if !compare::newer(src, dst) {
        return Ok(false);
    }
    match primary.head(bucket, &src.key).await? {
        // Deleted from the primary meanwhile: the next run sees it gone.
        None => Ok(false),
        Some(original) => Ok(!compare::same_headers(&original, &copy)),
    }
}
