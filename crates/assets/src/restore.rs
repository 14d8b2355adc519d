//! Rebuilding a site from its backup and its asset buckets into a new
//! webroot: the archive (a period's backup, or a local file) is checked
//! whole, extracted without its asset directories, and the assets come
//! from their buckets, mounted (the normal case) or downloaded (to leave
//! S3, or move to another provider).

use std::collections::HashSet;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use adt_backups::{DownloadReport, DownloadTarget, ExtractOptions, ExtractReport};
use adt_localfs::MountTable;
use adt_template::Period;
use serde::Serialize;

use crate::error::Error;
use crate::mount::MountSettings;
use crate::owner::web_server_owner;
use crate::site::{Site, SiteOptions};

/// Which backup to restore.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum RestoreFrom {
    /// A period's backup on datastore 1; the one kept as `.BACKUP` with
    /// `previous`.
    Period {
        /// The period.
        period: Period,
        /// The previous backup instead of the current one.
        previous: bool,
    },
    /// A backup archive on this machine.
    Archive(PathBuf),
}

/// Where the asset directories' files come from after the archive is in
/// place.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum RestoreAssets {
    /// Mount the buckets in place of the directories, as adt-mount does.
    Mount(MountSettings),
    /// Download every object into the directories, with the mode, owner
    /// and time its metadata holds.
    Download,
    /// Neither: only the archive (the asset directories stay empty).
    Leave,
}

/// How [`Site::restore`] runs.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RestoreOptions {
    /// Restore into a target that already holds files (not an unfinished
    /// restore of the same backup): every file the backup holds is
    /// written again, nothing else in it is touched or deleted.
    pub force: bool,
    /// Where the asset directories' files come from.
    pub assets: RestoreAssets,
}

impl RestoreOptions {
    /// Not over existing files; `assets` as given.
    pub fn new(assets: RestoreAssets) -> RestoreOptions {
        RestoreOptions { force: false, assets }
    }
}

/// What [`Site::restore`] did.
#[derive(Debug, Serialize)]
#[non_exhaustive]
pub struct RestoreReport {
    /// Where the archive came from (`s3://BUCKET/KEY at ENDPOINT`, or its path).
    pub source: String,
    /// What the archive gave.
    pub archive: ExtractReport,
    /// Each asset bucket downloaded ([`RestoreAssets::Download`]).
    pub downloaded: Vec<DownloadReport>,
    /// What mounting did ([`RestoreAssets::Mount`]): one line each.
    pub mounted: Vec<String>,
    /// What needs a person's attention.
    pub warnings: Vec<String>,
}

impl Site {
    /// Restores this site into `target` (a new directory; its parent must
    /// exist): the backup `from` is checked whole (a complete gzip tar
    /// with the marker) before anything is written, extracted without
    /// the asset directories' contents, then the assets are mounted or
    /// downloaded. Run again after a failure or `stop`, it carries on.
    pub async fn restore(
        &self,
        from: &RestoreFrom,
        target: &Path,
        options: &RestoreOptions,
        stop: &AtomicBool,
    ) -> Result<RestoreReport, Error> {
        let mut warnings = Vec::new();
        // The site as it will be: the same settings, at the target.
        let restored = Site::from_config(
            self.name(),
            self.config().clone(),
            SiteOptions {
                webroot: target.to_path_buf(),
                ..self.options().clone()
            },
        );
        let layout = if self.config().persist_assets {
            Some(restored.layout()?)
        } else {
            None
        };
        let mut extract = ExtractOptions::default();
        for entry in layout.iter().flat_map(|l| &l.entries) {
            match &entry.backup_dir {
                Some(dir) => extract.leave_out.push(dir.as_bytes().to_vec()),
                None => warnings.push(format!(
                    "entry `{}` is outside the webroot: its bucket is not restored here",
                    entry.entry
                )),
            }
        }

        let table = MountTable::read().map_err(|source| Error::Io {
            what: "/proc/self/mountinfo".into(),
            source,
        })?;
        // The archive: a local file opened once (never a FIFO), or the
        // period's backup downloaded into an unnamed temporary file beside
        // the target (nobody can swap it); checked whole before the target
        // is touched, then read through the same handle.
        let (mut archive, source) = match from {
            RestoreFrom::Archive(path) => {
                let file = adt_backups::open_archive(path)?;
                let identity = adt_backups::archive_identity(path, &file)?;
                (file, identity)
            }
            RestoreFrom::Period { period, previous } => {
                let bucket = self.backup_bucket(*period)?;
                let key = if *previous {
                    adt_template::PREVIOUS_KEY
                } else {
                    adt_template::ARCHIVE_KEY
                };
                let store = self.store(1)?;
                let parent = target.parent().unwrap_or(Path::new("/"));
                let mut file = tempfile::tempfile_in(parent).map_err(|source| Error::Io {
                    what: format!("a temporary file in {}", parent.display()),
                    source,
                })?;
                let (bytes, etag) = adt_backups::fetch(&store, &bucket, key, &mut file).await?;
                (
                    file,
                    format!(
                        "s3://{bucket}/{key} at {} ({bytes} bytes, ETag {etag})",
                        store.endpoint()
                    ),
                )
            }
        };
        let mut restore =
            blocking(|| adt_backups::Restore::begin(&mut archive, &source, target, &table, options.force))?;
        let archive_report = blocking(|| restore.extract(&mut archive, &extract, stop))?;

        let mut report = RestoreReport {
            source,
            archive: archive_report,
            downloaded: Vec::new(),
            mounted: Vec::new(),
            warnings,
        };
        let Some(layout) = layout else {
            restore.finish()?;
            return Ok(report);
        };
        match &options.assets {
            RestoreAssets::Leave => {}
            RestoreAssets::Mount(_) => {}
            RestoreAssets::Download => {
                let store = self.store(1)?;
                let owner = web_server_owner();
                for entry in &layout.entries {
                    let Some(rel) = &entry.backup_dir else { continue };
                    let parts: Vec<&[u8]> = rel.as_bytes().split(|b| *b == b'/').filter(|p| !p.is_empty()).collect();
                    let dir_owned;
                    let dir = if parts.is_empty() {
                        restore.dir()
                    } else {
                        // Backups never hold a mount point: one made here
                        // belongs to the web server, as its mount would.
                        let (name, above) = parts.split_last().expect("not empty");
                        let name = std::ffi::OsStr::from_bytes(name);
                        let parent = if above.is_empty() {
                            None
                        } else {
                            Some(restore.dir().open_dirs(above, true, 0o755)?)
                        };
                        let parent = parent.as_ref().unwrap_or(restore.dir());
                        let made = parent.stat_at(name)?.is_none();
                        dir_owned = restore.dir().open_dirs(&parts, true, 0o755)?;
                        if made {
                            dir_owned.set_attributes(&adt_localfs::Attributes {
                                uid: owner.uid,
                                gid: owner.gid,
                                mode: 0o755,
                                mtime: dir_owned.stat().mtime,
                            })?;
                        }
                        &dir_owned
                    };
                    let mut into = DownloadTarget::new(dir, (owner.uid, owner.gid));
                    into.keep_unchanged = restore.trusted();
                    let mut seen = HashSet::new();
                    let merge = entry.mounts.len() > 1;
                    for m in &entry.mounts {
                        let seen = if merge { Some(&mut seen) } else { None };
                        report
                            .downloaded
                            .push(adt_backups::download_bucket(&store, &m.bucket, &into, seen, stop).await?);
                    }
                }
            }
        }
        // Done: the target gets its owner and mode, then (the normal case)
        // the buckets are mounted in it as adt-mount does.
        restore.finish()?;
        if let RestoreAssets::Mount(settings) = &options.assets {
            let job = restored.mounts(settings)?;
            let store = job.store()?;
            let mounted = job.mount(&store, stop).await?;
            report.mounted = mounted.actions;
            report.warnings.extend(mounted.warnings);
        }
        Ok(report)
    }
}

/// Runs blocking work from async code: off the executor's other tasks on
/// a multi-threaded runtime, in place on a current-thread one.
fn blocking<T>(work: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(work),
        _ => work(),
    }
}
