//! Mounting a site's asset buckets in place of its directories.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use adt_datastore::{Connection, Store};
use adt_mounts::{Keys, MountOptions, MountState, Plan, Report, Retired, Target, Tool, Unit, UnitOptions};

use crate::error::{Error, PATH_MISSING};
use crate::owner::web_server_owner;
use crate::site::Site;

/// How to mount; [`MountSettings::new`] gives the defaults.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct MountSettings {
    /// The FUSE tool that mounts each bucket; None: the one the state
    /// directory last mounted with, else s3fs (the tool that keeps every
    /// version whole when several webservers share a bucket;
    /// docs/mounting.md).
    pub tool: Option<Tool>,
    /// Owner the files appear to have [default: the web server's user].
    pub uid: Option<u32>,
    /// Group the files appear to have [default: the web server's group].
    pub gid: Option<u32>,
    /// Private directory for credential files, caches and the record of
    /// moved-aside directories (absolute).
    pub state_dir: PathBuf,
    /// How long to wait for a mount to answer.
    pub timeout: Duration,
}

impl MountSettings {
    /// The tool the state directory remembers (else s3fs), the web
    /// server's owner, a 30 s timeout, state in `state_dir`.
    pub fn new(state_dir: impl Into<PathBuf>) -> MountSettings {
        MountSettings {
            tool: None,
            uid: None,
            gid: None,
            state_dir: state_dir.into(),
            timeout: Duration::from_secs(30),
        }
    }
}

/// The site's mounts, planned: what `mount`, `unmount`, `status` and
/// `units` act on.
#[derive(Debug)]
pub struct MountJob {
    plan: Plan,
    connection: Connection,
    webroot: PathBuf,
}

impl Site {
    /// Plans the mounts (nothing is changed). The state directory must be
    /// absolute and UTF-8, and neither it nor the webroot may hold a `,`,
    /// `:` or `=` (separators in the mount tools' options).
    pub fn mounts(&self, settings: &MountSettings) -> Result<MountJob, Error> {
        let state_dir = &settings.state_dir;
        if state_dir.to_str().is_none() || !state_dir.is_absolute() {
            return Err(Error::Path {
                role: "state directory",
                path: state_dir.clone(),
                problem: "give an absolute UTF-8 path",
            });
        }
        for (role, path) in [("state directory", state_dir.as_path()), ("webroot", self.webroot())] {
            if path.to_string_lossy().contains([',', ':', '=']) {
                return Err(Error::Path {
                    role,
                    path: path.to_path_buf(),
                    problem: "a `,`, `:` or `=` would be read as a separator in the mount tools' options; choose a path without them",
                });
            }
        }
        let layout = self.layout()?;
        let connection = self.connection(1)?;
        let owner = web_server_owner();
        let options = MountOptions {
            tool: settings
                .tool
                .or_else(|| adt_mounts::remembered_tool(state_dir))
                .unwrap_or(Tool::S3fs),
            uid: settings.uid.unwrap_or(owner.uid),
            gid: settings.gid.unwrap_or(owner.gid),
            state_dir: state_dir.clone(),
            timeout: settings.timeout.max(Duration::from_secs(1)),
        };
        let target = Target {
            endpoint: connection.endpoint.url().to_string(),
            region: connection.endpoint.region().to_string(),
            ca_bundle: connection.ca_bundle.clone().filter(|_| connection.endpoint.is_https()),
        };
        Ok(MountJob {
            plan: Plan::new(&layout, &target, &options),
            connection,
            webroot: self.webroot().to_path_buf(),
        })
    }
}

impl MountJob {
    /// Each bucket, mount point, tool and command line.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// A client for the bucket's datastore.
    pub fn store(&self) -> Result<Store, Error> {
        Store::connect(&self.connection).map_err(|source| Error::Connect { number: 1, source })
    }

    /// Mounts every entry; see [`adt_mounts::mount`]. The webroot must exist.
    pub async fn mount(&self, store: &Store, stop: &AtomicBool) -> Result<Report, Error> {
        let webroot = self.webroot.as_path();
        if !webroot.is_dir() {
            return Err(Error::Path {
                role: "webroot",
                path: webroot.to_path_buf(),
                problem: PATH_MISSING,
            });
        }
        let keys = Keys {
            access: &self.connection.access_key,
            secret: &self.connection.secret_key,
        };
        Ok(adt_mounts::mount(&self.plan, store, &keys, stop).await?)
    }

    /// Deletes moved-aside directories whose every file is in the bucket.
    pub async fn purge_retired(&self, store: &Store) -> Result<Report, Error> {
        Ok(adt_mounts::purge_retired(&self.plan, store).await?)
    }

    /// Unmounts every entry (merges first), retrying a busy one for `grace`.
    pub fn unmount(&self, grace: Duration) -> Result<Report, Error> {
        Ok(adt_mounts::unmount(&self.plan, grace)?)
    }

    /// Mounted, stale or unmounted, per mount point.
    pub fn status(&self) -> Result<Vec<MountState>, Error> {
        Ok(adt_mounts::status(&self.plan)?)
    }

    /// The moved-aside directories on record.
    pub fn retired(&self) -> Vec<Retired> {
        adt_mounts::retired(&self.plan.options.state_dir)
    }

    /// Directories named as moved-aside ones beside a mount point but not
    /// on record (a restored backup brings them back): shown, never purged
    /// until adopted.
    pub fn unrecorded_retired(&self) -> Vec<Retired> {
        adt_mounts::find_unrecorded_retired(&self.plan)
    }

    /// Puts every [`MountJob::unrecorded_retired`] directory on record, so
    /// purges treat it like one adt-mount moved aside.
    pub fn adopt_retired(&self) -> Result<Report, Error> {
        Ok(adt_mounts::adopt_retired(&self.plan)?)
    }

    /// One systemd unit per FUSE mount, the programs at their absolute
    /// paths (found on PATH, else under /usr/bin), ready once the mount
    /// answers (within the settings' timeout), before `options.before`.
    pub fn units(&self, options: &UnitOptions) -> Vec<Unit> {
        adt_mounts::units(
            &self.plan.with_root_modes(),
            &|program| {
                adt_mounts::find_program(program)
                    .unwrap_or_else(|| Path::new("/usr/bin").join(program))
                    .display()
                    .to_string()
            },
            options,
        )
    }
}
