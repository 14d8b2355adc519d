//! Keeping the site's webroots in sync between its webservers
//! (SYNC_WEBROOTS), the mounted directories left out.

use std::path::PathBuf;

use adt_datastore::Store;
use adt_localfs::{Dir, MountTable};
use adt_webroot_sync::{CycleReport, Node, StateDir, StatusReport, SyncOptions};

use crate::error::Error;
use crate::site::Site;

/// How to sync; [`SyncSettings::new`] gives the defaults.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SyncSettings {
    /// This webserver's private state directory (its node id, what it
    /// knows of every path).
    pub state_dir: PathBuf,
    /// The node id to use the first time [default: a random one, kept in
    /// the state directory].
    pub node_id: Option<String>,
    /// How a cycle behaves.
    pub options: SyncOptions,
}

impl SyncSettings {
    /// The defaults, with state in `state_dir`.
    pub fn new(state_dir: impl Into<PathBuf>) -> SyncSettings {
        SyncSettings {
            state_dir: state_dir.into(),
            node_id: None,
            options: SyncOptions::default(),
        }
    }
}

/// This webserver's sync, ready to run cycles.
pub struct SyncJob {
    store: Store,
    bucket: String,
    state: StateDir,
    id: String,
    settings: SyncSettings,
    webroot: PathBuf,
    patterns: Vec<String>,
    site: Site,
}

impl Site {
    /// This webserver's sync. SYNC_WEBROOTS must be 1. Everything a backup
    /// leaves out is left out of the sync too: the mounted directories (the
    /// Layout's, and every mount below the webroot), the application's
    /// EXCLUDE_FROM_BACKUP defaults (or the template's own), and
    /// `patterns`.
    pub fn sync(&self, settings: SyncSettings, patterns: &[String]) -> Result<SyncJob, Error> {
        if !self.config().sync_webroots {
            return Err(Error::NotSyncing {
                template: self.name().to_string(),
            });
        }
        let url = self.config().website_url.as_deref().ok_or(Error::NoWebsiteUrl)?;
        let state = StateDir::open(&settings.state_dir)?;
        let id = state.node_id(settings.node_id.as_deref())?;
        Ok(SyncJob {
            store: self.store(1)?,
            bucket: adt_template::sync_bucket_name(url),
            state,
            id,
            webroot: self.webroot().to_path_buf(),
            settings,
            patterns: patterns.to_vec(),
            site: self.clone(),
        })
    }
}

impl SyncJob {
    /// This node's id.
    pub fn node_id(&self) -> &str {
        &self.id
    }

    /// The sync bucket.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Runs one cycle (see [`adt_webroot_sync::run_cycle`]). The exclusions
    /// and the mount table are read afresh each time: a mount that appeared
    /// is never entered.
    pub async fn run(&self) -> Result<CycleReport, Error> {
        let plan = self.site.backup_plan(&self.patterns, true)?;
        let table = MountTable::read().map_err(|source| Error::Io {
            what: "/proc/self/mountinfo".into(),
            source,
        })?;
        let root = Dir::open(&adt_localfs::canonical_dir(&self.webroot)?)?;
        let node = Node {
            store: &self.store,
            bucket: &self.bucket,
            root: &root,
            exclusions: plan.exclusions(),
            table: &table,
            state_dir: &self.state,
            id: &self.id,
        };
        Ok(adt_webroot_sync::run_cycle(&node, &self.settings.options).await?)
    }

    /// Every node's status.
    pub async fn status(&self) -> Result<StatusReport, Error> {
        Ok(adt_webroot_sync::status(&self.store, &self.bucket).await?)
    }
}
