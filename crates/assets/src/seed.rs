//! Seeding a site's buckets from a temporal backup.

use std::path::PathBuf;
use std::sync::Arc;

use adt_datastore::{Progress, Store};
use adt_seeder::{ArchiveSource, SeedOptions, Summary};
use adt_template::{Layout, Period};

use crate::error::Error;
use crate::site::Site;

/// Where a seed reads the backup archive from.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SeedFrom {
    /// A gzip tar on local disk whose root is the webroot.
    File(PathBuf),
    /// The current backup of `period` in datastore 1.
    Period(Period),
    /// The current backup of the period the template builds from
    /// (BUILD_ARCHIVE_CHOICE), as ADT's deploy does.
    BuildArchiveChoice,
}

/// A seed ready to run: the refusals are behind it.
#[derive(Debug)]
pub struct SeedJob {
    store: Store,
    layout: Layout,
    source: ArchiveSource,
}

impl Site {
    /// Prepares seeding every asset bucket (datastore 1) from `from`.
    /// Refuses a site that does not persist assets, and one built from a
    /// virgin or baseline archive (it has no assets to seed).
    pub fn seed(&self, from: SeedFrom) -> Result<SeedJob, Error> {
        self.require_persistence("to seed")?;
        if let Some(choice) = self.config().build_archive_choice.filter(|c| !c.is_temporal()) {
            return Err(Error::NotTemporal {
                template: self.name().to_string(),
                choice: choice.as_str(),
            });
        }
        let layout = self.layout()?;
        let store = self.store(1)?;
        let source = match from {
            SeedFrom::File(path) => ArchiveSource::File(path),
            SeedFrom::Period(period) => ArchiveSource::Datastore {
                store: store.clone(),
                bucket: self.backup_bucket(period)?,
                key: adt_template::ARCHIVE_KEY.to_string(),
            },
            SeedFrom::BuildArchiveChoice => {
                let period = self
                    .config()
                    .build_archive_choice
                    .and_then(|c| c.as_str().parse::<Period>().ok())
                    .ok_or_else(|| Error::NoArchiveChoice {
                        template: self.name().to_string(),
                    })?;
                ArchiveSource::Datastore {
                    store: store.clone(),
                    bucket: self.backup_bucket(period)?,
                    key: adt_template::ARCHIVE_KEY.to_string(),
                }
            }
        };
        Ok(SeedJob { store, layout, source })
    }
}

impl SeedJob {
    /// The datastore the buckets are on (to abort its uploads if the run
    /// is stopped).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The archive, for messages.
    pub fn source_name(&self) -> String {
        self.source.name()
    }

    /// Seeds; see [`adt_seeder::seed`].
    pub async fn run(&self, options: &SeedOptions, progress: Arc<dyn Progress>) -> Result<Summary, Error> {
        Ok(adt_seeder::seed(&self.store, &self.layout, &self.source, options, progress).await?)
    }
}

/// The usual place of seed records: `$XDG_CACHE_HOME/adt-seed`, else
/// `~/.cache/adt-seed` (None when neither is set).
pub fn seed_cache_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .map(|d| d.join("adt-seed"))
}
