//! The multipart uploads a Store has started and not yet completed or
//! aborted, so that an interrupted program can abort them (parts of an
//! unfinished upload are stored, and billed, until aborted).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::error::DatastoreError;
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
            let sent = self
                .client
                .abort_multipart_upload()
                .bucket(&bucket)
                .key(&key)
                .upload_id(&id)
                .send()
                .await;
            match sent {
                Ok(_) => out.aborted.push(format!("{bucket}/{key}")),
                Err(e) => {
                    let error = self.error("AbortMultipartUpload", Some(&bucket), Some(&key), (self.fail(&e), 1));
                    out.failed.push(format!("{bucket}/{key}: {error}"));
                }
            }
        }
        out.aborted.sort();
        out.failed.sort();
        out
    }
}

impl Store {
    /// The multipart uploads in progress in `bucket` (any client's), as
    /// `(key, upload id)`: what an interrupted upload would leave behind.
    pub async fn list_multipart_uploads(&self, bucket: &str) -> Result<Vec<(String, String)>, DatastoreError> {
        let out = crate::retry::run(&self.retry, || async {
            self.client
                .list_multipart_uploads()
                .bucket(bucket)
                .send()
                .await
                .map_err(|e| self.fail(&e))
        })
        .await
        .map_err(|f| self.error("ListMultipartUploads", Some(bucket), None, f))?;
        Ok(out
            .uploads()
            .iter()
            .map(|u| {
                (
                    u.key().unwrap_or_default().to_string(),
                    u.upload_id().unwrap_or_default().to_string(),
                )
            })
            .collect())
    }
}

impl Store {
    /// Aborts the multipart upload `upload_id` of `key` (one found by
    /// `list_multipart_uploads`).
    pub async fn abort_upload(&self, bucket: &str, key: &str, upload_id: &str) -> Result<(), DatastoreError> {
        crate::retry::run(&self.retry, || async {
            self.client
                .abort_multipart_upload()
                .bucket(bucket)
                .key(key)
                .upload_id(upload_id)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| self.fail(&e))
        })
        .await
        .map_err(|f| self.error("AbortMultipartUpload", Some(bucket), Some(key), f))?;
        self.in_flight.remove(upload_id);
        Ok(())
    }
}
