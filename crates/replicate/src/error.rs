use adt_datastore::DatastoreError;

/// A destination bucket whose deletions the guard refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub bucket: String,
    pub destination: usize,
    pub endpoint: String,
    /// Objects the run would delete.
    pub deletes: u64,
    /// Objects in the destination bucket.
    pub objects: u64,
    /// The limit they exceed.
    pub limit: u64,
}

/// What stops a whole run. A destination that fails does not stop the
/// run: it is reported in the [`crate::Report`].
#[derive(Debug, thiserror::Error)]
pub enum ReplicateError {
    #[error("{}", refusal_message(.max_delete, .refusals))]
    TooManyDeletes { max_delete: String, refusals: Vec<Refusal> },
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

fn refusal_message(max_delete: &str, refusals: &[Refusal]) -> String {
    let mut m = format!(
        "refusing to delete more than --max-delete {max_delete} of a destination bucket's objects; nothing was copied or deleted:"
    );
    for r in refusals {
        m.push_str(&format!(
            "\n  datastore {} ({}) bucket `{}`: {} of {} objects are not on the primary (limit {})",
            r.destination, r.endpoint, r.bucket, r.deletes, r.objects, r.limit
        ));
    }
    m.push_str(
        "\ncheck that the primary holds what it should; rerun with a higher --max-delete, or --force, to delete them",
    );
    m
}
