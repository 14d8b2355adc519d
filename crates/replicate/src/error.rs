use adt_datastore::DatastoreError;

/// A destination bucket whose changes the guard refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub bucket: String,
    pub destination: usize,
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
    #[error("{}", refusal_message(.max_change, .refusals))]
    TooManyChanges { max_change: String, refusals: Vec<Refusal> },
    #[error(
        "datastore {destination} is the primary's endpoint ({endpoint}); bucket names are the same on every datastore, so it would copy each bucket onto itself"
    )]
    SameEndpoint { destination: usize, endpoint: String },
    #[error(
        "bucket `{bucket}` does not exist on the primary datastore ({endpoint}); seed it first (adt-seed), nothing was replicated"
    )]
    MissingOnPrimary { bucket: String, endpoint: String },
    #[error("reading the primary datastore: {0}")]
    Primary(DatastoreError),
}

fn refusal_message(max_change: &str, refusals: &[Refusal]) -> String {
    let mut m = format!(
        "refusing to replace or delete more than --max-change {max_change} of a destination bucket's objects; nothing was copied or deleted:"
    );
    for r in refusals {
        m.push_str(&format!(
            "\n  datastore {} ({}) bucket `{}`: {} of {} objects would be replaced with other content and {} deleted (limit {})",
            r.destination, r.endpoint, r.bucket, r.replaces, r.objects, r.deletes, r.limit
        ));
    }
    m.push_str(
        "\ncheck that the primary holds what it should (a primary overwritten by mistake or by ransomware would be copied over the replica); rerun with a higher --max-change, or --force",
    );
    m
}
