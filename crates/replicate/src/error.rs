use adt_datastore::DatastoreError;

/// A destination bucket whose changes the guard refused.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Refusal {
    /// The bucket.
    pub bucket: String,
    /// The destination's number (2 for the first copy).
    pub destination: usize,
    /// The destination's endpoint.
    pub endpoint: String,
    /// Objects the run would replace with other content.
    pub replaces: u64,
    /// Objects the run would delete (with --delete).
    pub deletes: u64,
    /// Objects in the destination bucket.
    pub objects: u64,
    /// The limit they exceed.
    pub limit: u64,
}

/// What stops a whole run. A destination that fails does not stop the
/// run: it is reported in the [`crate::Report`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReplicateError {
    /// The deletion guard: some destination bucket would have more of its
    /// objects replaced or deleted than allowed. Nothing was changed.
    #[error("{}", refusal_message(.max_change, .refusals))]
    TooManyChanges {
        /// The limit as given (`10%`, `25`).
        max_change: String,
        /// Each bucket over it.
        refusals: Vec<Refusal>,
    },
    /// A destination is the primary itself.
    #[error(
        "datastore {destination} is the primary's endpoint ({endpoint}); bucket names are the same on every datastore, so it would copy each bucket onto itself"
    )]
    SameEndpoint {
        /// The destination's number.
        destination: usize,
        /// The endpoint they share.
        endpoint: String,
    },
    /// An asset bucket is missing on the primary.
    #[error(
        "bucket `{bucket}` does not exist on the primary datastore ({endpoint}); seed it first, nothing was replicated"
    )]
    MissingOnPrimary {
        /// The bucket.
        bucket: String,
        /// The primary's endpoint.
        endpoint: String,
    },
    /// The primary cannot be read.
    #[error("reading the primary datastore: {0}")]
    Primary(#[source] DatastoreError),
}

fn refusal_message(max_change: &str, refusals: &[Refusal]) -> String {
    let mut m = format!(
        "refusing to replace or delete more than {max_change} of a destination bucket's objects; nothing was copied or deleted:"
    );
    for r in refusals {
        m.push_str(&format!(
            "\n  datastore {} ({}) bucket `{}`: {} of {} objects would be replaced with other content and {} deleted (limit {})",
            r.destination, r.endpoint, r.bucket, r.replaces, r.objects, r.deletes, r.limit
        ));
    }
    m.push_str(
        "\ncheck that the primary holds what it should (a primary overwritten by mistake or by ransomware would be copied over the replica); then raise the limit, or force the run",
    );
    m
}
