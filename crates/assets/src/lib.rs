//! The front door: one [`Site`] type that holds a deployment template's
//! asset settings (checked) and the webroot they apply to, and does the
//! whole job as typed calls that print nothing and return typed reports.
//!
//! What it does: loads and checks a template ([`Site::load`]) or takes
//! settings made in code ([`Site::from_config`]); answers the queries a
//! deployment tool needs (layout, buckets, datastores, the backup bucket
//! of a period, the web server's owner); and prepares each job with every
//! refusal the tools make: [`Site::seed`] (not for a site that does not
//! persist assets or builds from a virgin or baseline archive),
//! [`Site::mounts`] (mount, unmount, status, systemd units),
//! [`Site::backup_plan`] and [`Site::backup_bucket_store`] (create, upload,
//! verify) and [`Site::replicate`]. Each job runs on the crates below it:
//! adt-seeder, adt-mounts, adt-backups, adt-replication, over adt-datastore,
//! adt-template and adt-localfs (re-exported here, so one dependency is
//! enough).
//!
//! What it does not do: print, exit, parse arguments or read the
//! environment (except [`SiteOptions::with_env`] and [`seed_cache_dir`],
//! which say so). The adt-* binaries do those, on top of this crate.
//!
//! ```no_run
//! # async fn example() -> Result<(), adt_assets::Error> {
//! use std::sync::Arc;
//! use adt_assets::{SeedFrom, Site, SiteOptions};
//!
//! let site = Site::load("/etc/adt/site.tmpl".as_ref(), SiteOptions::new("/var/www/html").with_env())?;
//! let seed = site.seed(SeedFrom::File("/backups/applicationsourcecode.tar.gz".into()))?;
//! let summary = seed
//!     .run(&adt_seeder::SeedOptions::default(), Arc::new(adt_datastore::NoProgress))
//!     .await?;
//! println!("{} objects uploaded", summary.uploaded());
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

mod backup;
mod credentials;
mod error;
mod mount;
mod online;
mod owner;
mod replicate;
mod restore;
mod seed;
mod site;
mod sync;

pub use backup::{BackupBucket, BackupPlan, NumberedBucket, TemporaryArchive};
pub use error::Error;
pub use mount::{MountJob, MountSettings};
pub use online::{OnlineReport, WEB_SERVER_USER};
pub use owner::{Owner, web_server_owner};
pub use replicate::{ReplicaTo, ReplicateJob};
pub use restore::{RestoreAssets, RestoreFrom, RestoreOptions, RestoreReport};
pub use seed::{SeedFrom, SeedJob, seed_cache_dir};
pub use site::{Site, SiteOptions};
pub use sync::{SyncJob, SyncSettings, WatchPace};

pub use adt_backups;
pub use adt_datastore;
pub use adt_localfs;
pub use adt_mounts;
pub use adt_replication;
pub use adt_seeder;
pub use adt_template;
pub use adt_webroot_sync;
