//! Replicating a site's asset buckets to its other datastores.

use std::sync::Arc;

use adt_datastore::{Endpoint, Progress, Secret, Store};
use adt_replication::{Destination, ReplicateOptions, Report};

use crate::error::Error;
use crate::site::Site;

/// Where replication copies to.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum ReplicaTo {
    /// The template's datastores 2..n.
    Chain,
    /// One other S3 endpoint, with its own keys (it is numbered 2).
    Endpoint {
        /// Its URL and region.
        endpoint: Endpoint,
        /// Its access key.
        access_key: Secret,
        /// Its secret key.
        secret_key: Secret,
    },
    /// Any other store (it is numbered 2): an object_store URL opened with
    /// [`Store::open_url`] (`file:///srv/asset-copies`), or
    /// [`Store::in_memory`].
    Store(Store),
}

/// A replication ready to run.
#[derive(Debug)]
pub struct ReplicateJob {
    primary: Store,
    destinations: Vec<Destination>,
    buckets: Vec<String>,
}

impl Site {
    /// Prepares bringing every asset bucket on `to` up to date with
    /// datastore 1. Refuses a site that does not persist assets, and a
    /// chain of one datastore.
    pub fn replicate(&self, to: ReplicaTo) -> Result<ReplicateJob, Error> {
        self.require_persistence("to replicate")?;
        let buckets = self.buckets()?;
        let primary = self.store(1)?;
        let connections = match to {
            ReplicaTo::Endpoint {
                endpoint,
                access_key,
                secret_key,
            } => vec![(2, Ok(self.other_connection(endpoint, access_key, secret_key)))],
            ReplicaTo::Store(store) => vec![(2, Err(store))],
            ReplicaTo::Chain => {
                if self.datastore_count() < 2 {
                    return Err(Error::NoReplica {
                        template: self.name().to_string(),
                    });
                }
                (2..=self.datastore_count())
                    .map(|n| Ok((n, Ok(self.connection(n)?))))
                    .collect::<Result<Vec<_>, Error>>()?
            }
        };
        let destinations = connections
            .into_iter()
            .map(|(number, to)| {
                let store = match to {
                    Ok(c) => Store::connect(&c).map_err(|source| Error::Connect { number, source })?,
                    Err(store) => store,
                };
                Ok(Destination { number, store })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        Ok(ReplicateJob {
            primary,
            destinations,
            buckets,
        })
    }
}

impl ReplicateJob {
    /// Datastore 1.
    pub fn primary(&self) -> &Store {
        &self.primary
    }

    /// The datastores copied to.
    pub fn destinations(&self) -> &[Destination] {
        &self.destinations
    }

    /// Replicates; see [`adt_replication::replicate`].
    pub async fn run(&self, options: &ReplicateOptions, progress: Arc<dyn Progress>) -> Result<Report, Error> {
        Ok(adt_replication::replicate(&self.primary, &self.destinations, &self.buckets, options, progress).await?)
    }
}
