//! What can go wrong at the front door: each refusal the tools make, and
//! the failures of the crates below, with their causes chained.

use std::path::PathBuf;

/// Everything the front door can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The template cannot be read or parsed, or its checks found errors
    /// ([`adt_template::TemplateError::Rejected`] lists them).
    #[error(transparent)]
    Template(adt_template::TemplateError),
    /// The template does not persist assets (PERSIST_ASSETS_TO_DATASTORE is not 1).
    #[error(
        "PERSIST_ASSETS_TO_DATASTORE is not 1 in {template}: assets are not persisted, so there is nothing {action}"
    )]
    NotPersisted {
        /// The template's name.
        template: String,
        /// What was asked: "to seed", "to replicate", "to mount".
        action: &'static str,
    },
    /// A webroot sync was asked of a template whose SYNC_WEBROOTS is not 1.
    #[error("SYNC_WEBROOTS is not 1 in {template}: its webroots are not synced")]
    NotSyncing {
        /// The template's name.
        template: String,
    },
    /// A seed was asked of a template that builds from a virgin or baseline archive.
    #[error(
        "{template} builds from a {choice} archive; only a temporal backup (hourly, daily, ...) has assets to seed"
    )]
    NotTemporal {
        /// The template's name.
        template: String,
        /// Its BUILD_ARCHIVE_CHOICE.
        choice: &'static str,
    },
    /// A seed from the template's BUILD_ARCHIVE_CHOICE, which is not set.
    #[error("{template} sets no BUILD_ARCHIVE_CHOICE, so there is no backup period to seed from")]
    NoArchiveChoice {
        /// The template's name.
        template: String,
    },
    /// The template names no datastore.
    #[error("the template names no datastore (S3_HOST_BASE is empty)")]
    NoDatastore,
    /// No keys for a datastore anywhere they are looked for.
    #[error(
        "no keys for datastore {number}: the template's S3_ACCESS_KEY and S3_SECRET_KEY are empty for it{}{}",
        if *.file { ", S3_CREDENTIALS_FILE has no section for it" } else { "" },
        if *.number == 1 { ", and the environment has none (S3_ACCESS_KEY and S3_SECRET_KEY, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or the shared credentials file)" } else { "" }
    )]
    NoKeys {
        /// The datastore, from 1.
        number: usize,
        /// True when a credentials file was read.
        file: bool,
    },
    /// The credentials file cannot be used.
    #[error("credentials file {path}: {problem}")]
    CredentialsFile {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong (never a key).
        problem: String,
    },
    /// Replication was asked of a template with one datastore and no other destination.
    #[error(
        "{template} names one datastore, so there is nowhere to replicate to: chain a second one with `|` in \
         S3_ACCESS_KEY, S3_SECRET_KEY, S3_HOST_BASE and S3_LOCATION, or name another destination"
    )]
    NoReplica {
        /// The template's name.
        template: String,
    },
    /// WEBSITE_URL is not set, and the backup buckets are named after it.
    #[error("WEBSITE_URL is not set; the backup bucket is named after it")]
    NoWebsiteUrl,
    /// The bucket names or mount points cannot be derived.
    #[error("{0}")]
    Layout(#[source] adt_template::TemplateError),
    /// Datastore `number`'s settings do not make an endpoint.
    #[error("datastore {number}: {source}")]
    Endpoint {
        /// 1 for the primary.
        number: usize,
        /// Why.
        #[source]
        source: adt_datastore::DatastoreError,
    },
    /// A client for datastore `number` cannot be made.
    #[error("datastore {number}: {source}")]
    Connect {
        /// 1 for the primary.
        number: usize,
        /// Why.
        #[source]
        source: adt_datastore::DatastoreError,
    },
    /// A request to datastore `number` failed.
    #[error("datastore {number}: {source}")]
    Datastore {
        /// 1 for the primary.
        number: usize,
        /// Why.
        #[source]
        source: adt_datastore::DatastoreError,
    },
    /// The webroot sync failed.
    #[error(transparent)]
    Sync(#[from] adt_webroot_sync::SyncError),
    /// A local file or directory could not be used safely.
    #[error(transparent)]
    Local(#[from] adt_localfs::LocalError),
    /// A path given to the front door cannot be used.
    #[error("{role} {}: {problem}", path.display())]
    Path {
        /// Which path: "webroot", "state directory".
        role: &'static str,
        /// The path as given.
        path: PathBuf,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// Local input or output failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
    /// Seeding failed.
    #[error(transparent)]
    Seed(#[from] adt_seeder::SeedError),
    /// Mounting, unmounting or a status query failed.
    #[error(transparent)]
    Mount(#[from] adt_mounts::MountError),
    /// A backup could not be made, stored or verified.
    #[error(transparent)]
    Backup(#[from] adt_backups::BackupError),
    /// Replication stopped before changing anything.
    #[error(transparent)]
    Replicate(#[from] adt_replication::ReplicateError),
}

impl Error {
    /// True for input the caller must fix before trying again (an
    /// unreadable template, a malformed endpoint, an unusable path), as
    /// opposed to a refusal or a failure of the work itself. The binaries
    /// exit 2 for these, 1 for the rest.
    pub fn is_bad_input(&self) -> bool {
        match self {
            Error::Template(adt_template::TemplateError::Rejected { .. }) => false,
            Error::Template(_) | Error::Endpoint { .. } | Error::NoReplica { .. } | Error::NoArchiveChoice { .. } => {
                true
            }
            Error::Path { problem, .. } => *problem != PATH_MISSING,
            Error::Sync(adt_webroot_sync::SyncError::NodeId(_) | adt_webroot_sync::SyncError::OtherNode { .. }) => true,
            Error::Mount(adt_mounts::MountError::OtherSite { .. }) => true,
            Error::NoKeys { .. } | Error::CredentialsFile { .. } => true,
            Error::Backup(
                adt_backups::BackupError::TargetNotEmpty(_)
                | adt_backups::BackupError::OtherRestore { .. }
                | adt_backups::BackupError::TargetThroughLink { .. }
                | adt_backups::BackupError::BadTarget(_)
                | adt_backups::BackupError::IntoMount(_),
            ) => true,
            _ => false,
        }
    }
}

/// The problem of a path that does not exist (a failure, not bad usage:
/// the caller may have meant to create it first).
pub(crate) const PATH_MISSING: &str = "does not exist";
