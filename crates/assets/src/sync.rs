//! Keeping the site's webroots in sync between its webservers
//! (SYNC_WEBROOTS), the mounted directories left out.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use adt_datastore::Store;
use adt_localfs::Dir;
use adt_webroot_sync::{CycleReport, Node, StateDir, StatusReport, SyncOptions, Watcher};

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

/// How `watch` paces itself.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct WatchPace {
    /// How often the other nodes' changes are looked for and applied.
    pub poll: Duration,
    /// The longest time between two scans of the webroot, changes noticed
    /// or not.
    pub full_every: Duration,
}

impl Default for WatchPace {
    fn default() -> Self {
        WatchPace {
            poll: Duration::from_secs(2),
            full_every: Duration::from_secs(60),
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

impl Site {
    /// Every sync node's status, read from the bucket; with the node id
    /// kept in `state_dir` when there is one (this webserver's). Reads
    /// only: no state directory or node id is created.
    pub async fn sync_status(
        &self,
        state_dir: Option<&std::path::Path>,
    ) -> Result<(StatusReport, Option<String>), Error> {
        if !self.config().sync_webroots {
            return Err(Error::NotSyncing {
                template: self.name().to_string(),
            });
        }
        let url = self.config().website_url.as_deref().ok_or(Error::NoWebsiteUrl)?;
        // Only to name this node: a state directory that cannot be read
        // (another user's) names none, and the status is still shown.
        let me = state_dir.and_then(|dir| StateDir::existing_node_id(dir).ok().flatten());
        let store = self.store(1)?;
        let report = adt_webroot_sync::status(&store, &adt_template::sync_bucket_name(url)).await?;
        Ok((report, me))
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
        self.run_with(self.settings.options.publish, None).await
    }

    async fn run_with(&self, publish: bool, watcher: Option<&mut Option<Watcher>>) -> Result<CycleReport, Error> {
        // The exclusions and the mount table they were made from: one read
        // of /proc/self/mountinfo per cycle.
        let plan = self.site.backup_plan(&self.patterns, true)?;
        let table = plan.mount_table();
        let root = Dir::open(&adt_localfs::canonical_dir(&self.webroot)?)?;
        let node = Node {
            store: &self.store,
            bucket: &self.bucket,
            root: &root,
            exclusions: plan.exclusions(),
            table,
            state_dir: &self.state,
            id: &self.id,
        };
        let mut options = self.settings.options.clone();
        options.publish = publish;
        let report = adt_webroot_sync::run_cycle(&node, &options).await?;
        if let Some(slot) = watcher {
            // Watch what this cycle looked at (new directories included).
            *slot = Watcher::new(&root, plan.exclusions(), table).ok();
        }
        Ok(report)
    }

    /// Runs cycles until `stop` is set: every `pace.poll` the other nodes'
    /// changes are applied; the webroot is scanned and its changes
    /// published once a change noticed by inotify has been quiet for the
    /// settle time, and at least every `pace.full_every` (the safety net).
    /// `on_cycle` hears of every cycle; a failed cycle is reported there
    /// and retried at the next turn.
    pub async fn watch(
        &self,
        pace: &WatchPace,
        stop: &AtomicBool,
        on_cycle: &mut dyn FnMut(Result<&CycleReport, &Error>),
    ) -> Result<(), Error> {
        let settle = self.settings.options.settle;
        let mut watcher: Option<Watcher> = None;
        let mut last_full: Option<Instant> = None;
        let mut last_event: Option<Instant> = None;
        let mut unsettled = false;
        while !stop.load(Ordering::SeqCst) {
            if watcher.as_mut().is_some_and(Watcher::changed) {
                last_event = Some(Instant::now());
            }
            let full = last_full.is_none_or(|t| t.elapsed() >= pace.full_every)
                || watcher.is_none()
                || last_event.is_some_and(|t| t.elapsed() >= settle)
                || (unsettled && last_full.is_some_and(|t| t.elapsed() >= settle));
            let result = if full {
                let r = self.run_with(true, Some(&mut watcher)).await;
                last_full = Some(Instant::now());
                last_event = None;
                unsettled = r.as_ref().is_ok_and(|r| r.unsettled > 0);
                r
            } else {
                self.run_with(false, None).await
            };
            let more = result.as_ref().is_ok_and(|r| r.more);
            on_cycle(result.as_ref());
            if more {
                continue; // the rest of a long backlog, at once
            }
            let until = Instant::now() + pace.poll;
            while Instant::now() < until && !stop.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(100).min(pace.poll)).await;
            }
        }
        Ok(())
    }

    /// The systemd unit that runs `watch` for this webroot: after the
    /// network and the site's mount units (so the mounts exist before the
    /// first scan), restarted whenever it stops. `program` is adt-sync's
    /// absolute path, `template` the template's.
    pub fn unit(&self, program: &str, template: &std::path::Path) -> adt_mounts::Unit {
        let q = adt_mounts::systemd_quote;
        let mounts: Vec<String> = match self.site.config().persist_assets {
            true => self
                .site
                .layout()
                .map(|l| {
                    let mut names: Vec<String> =
                        l.mounts().map(|(_, m)| adt_mounts::unit_name(&m.mountpoint)).collect();
                    names.extend(
                        l.entries
                            .iter()
                            .filter_map(|e| e.merge_target.as_ref())
                            .map(|t| adt_mounts::unit_name(t)),
                    );
                    names
                })
                .unwrap_or_default(),
            false => Vec::new(),
        };
        let after = std::iter::once("network-online.target".to_string())
            .chain(mounts)
            .collect::<Vec<_>>()
            .join(" ");
        let exec = [
            q(program),
            "watch".into(),
            "--template".into(),
            q(&template.display().to_string()),
            "--webroot".into(),
            q(&self.webroot.display().to_string()),
            "--state-dir".into(),
            q(&self.settings.state_dir.display().to_string()),
        ]
        .join(" ");
        let text = format!(
            "# Generated by adt-sync. Reinstall with `adt-sync units` rather than editing.\n\
             [Unit]\n\
             Description=adt-sync: keeps {webroot} in sync with the site's other webservers (node {id})\n\
             Wants=network-online.target\n\
             After={after}\n\
             \n\
             [Service]\n\
             Type=simple\n\
             ExecStart={exec}\n\
             Restart=always\n\
             RestartSec=5\n\
             TimeoutStopSec=60\n\
             \n\
             [Install]\n\
             WantedBy=multi-user.target\n",
            webroot = self.webroot.display(),
            id = self.id,
        );
        adt_mounts::Unit {
            name: "adt-sync.service".into(),
            text,
        }
    }
}
