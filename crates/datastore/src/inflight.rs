//! The multipart uploads a Store has started and not yet completed or
//! aborted, so that an interrupted program can abort them (parts of an
//! unfinished upload are stored, and billed, until aborted).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::store::Store;

#[derive(Clone, Debug, Default)]
pub(crate) struct InFlight {
    uploads: Arc<Mutex<HashMap<String, (String, String)>>>,
}

impl InFlight {
    pub(crate) fn add(&self, upload_id: &str, bucket: &str, key: &str) {
        if let Ok(mut map) = self.uploads.lock() {
            map.insert(upload_id.to_string(), (bucket.to_string(), key.to_string()));
        }
    }

    pub(crate) fn remove(&self, upload_id: &str) {
        if let Ok(mut map) = self.uploads.lock() {
            map.remove(upload_id);
        }
    }

    fn take(&self) -> Vec<(String, String, String)> {
        self.uploads
            .lock()
            .map(|mut map| map.drain().map(|(id, (b, k))| (id, b, k)).collect())
            .unwrap_or_default()
    }
}

/// What `Store::abort_in_flight` did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Aborted {
    /// `bucket/key` of each upload aborted.
    pub aborted: Vec<String>,
    /// `bucket/key: error` of each upload that could not be aborted (its
    /// parts stay until the bucket's lifecycle rule or removal).
    pub failed: Vec<String>,
}

impl Store {
    /// Aborts every multipart upload this Store (and its clones) started
    /// and has not finished: for a program stopping on a signal, after the
    /// work itself has been stopped.
    pub async fn abort_in_flight(&self) -> Aborted {
        let mut out = Aborted::default();
        for (id, bucket, key) in self.in_flight.take() {
            match self.abort_upload(&bucket, &key, &id).await {
                Ok(()) => out.aborted.push(format!("{bucket}/{key}")),
                Err(error) => out.failed.push(format!("{bucket}/{key}: {error}")),
            }
        }
        out.aborted.sort();
        out.failed.sort();
        out
    }
}
