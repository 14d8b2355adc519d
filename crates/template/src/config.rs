//! The typed asset settings of a template.

use crate::entry::{self, MountEntry};
use crate::secret::Secret;
use crate::source::Template;

/// The application a template deploys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Application {
    /// `none`: no application, so no usual asset or code directories.
    None,
    /// `joomla`.
    Joomla,
    /// `wordpress`.
    Wordpress,
    /// `drupal`.
    Drupal,
    /// `moodle`.
    Moodle,
}

impl Application {
    /// Every application with its APPLICATION value (lower case).
    pub const ALL: &'static [(&'static str, Application)] = &[
        ("none", Application::None),
        ("joomla", Application::Joomla),
        ("wordpress", Application::Wordpress),
        ("drupal", Application::Drupal),
        ("moodle", Application::Moodle),
    ];

    /// The application whose APPLICATION value is exactly `text`; None for
    /// anything else (`WordPress` too: case matters).
    pub fn parse(text: &str) -> Option<Application> {
        Self::ALL.iter().find(|(name, _)| *name == text).map(|(_, app)| *app)
    }

    /// What ADT's application descriptor leaves out of every backup
    /// (EXCLUDE_FROM_BACKUP, reference §8): logs, temporary files, caches,
    /// and the configuration file holding the database credentials, which
    /// ADT regenerates at deploy. Directories below the webroot.
    pub fn backup_excludes(self) -> &'static [&'static str] {
        match self {
            Application::None => &[],
            Application::Joomla => &["logs", "tmp", "cache", "configuration.php"],
            Application::Wordpress => &["logs", "tmp", "cache", "wp-config.php"],
            Application::Drupal => &["logs", "tmp", "cache", "settings.php"],
            Application::Moodle => &["logs", "tmp", "cache", "config.php"],
        }
    }

    /// Where the application keeps its uploaded assets.
    pub fn asset_directories(self) -> &'static [&'static str] {
        match self {
            Application::None => &[],
            Application::Joomla => &["images", "media"],
            Application::Wordpress => &["wp-content/uploads"],
            Application::Drupal => &["sites/default/files"],
            Application::Moodle => &["moodledata/filedir", "moodledata"],
        }
    }

    /// Directories holding the application's code: never asset directories.
    pub fn code_directories(self) -> &'static [&'static str] {
        match self {
            Application::None => &[],
            Application::Joomla => &[
                "administrator",
                "components",
                "includes",
                "libraries",
                "modules",
                "plugins",
                "templates",
            ],
            Application::Wordpress => &["wp-admin", "wp-includes", "wp-content/plugins", "wp-content/themes"],
            Application::Drupal => &["core", "modules", "profiles", "themes", "vendor"],
            Application::Moodle => &["admin", "lib", "mod", "theme"],
        }
    }
}

/// BUILD_ARCHIVE_CHOICE: a fresh build or a temporal backup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArchiveChoice {
    /// `virgin`: a fresh build, with no assets to persist.
    Virgin,
    /// `baseline`: a fresh build, with no assets to persist.
    Baseline,
    /// `hourly`: a build from the hourly backup.
    Hourly,
    /// `daily`: a build from the daily backup.
    Daily,
    /// `weekly`: a build from the weekly backup.
    Weekly,
    /// `monthly`: a build from the monthly backup.
    Monthly,
    /// `bimonthly`: a build from the bimonthly backup.
    Bimonthly,
}

impl ArchiveChoice {
    /// Every choice with its BUILD_ARCHIVE_CHOICE value (lower case).
    pub const ALL: &'static [(&'static str, ArchiveChoice)] = &[
        ("virgin", ArchiveChoice::Virgin),
        ("baseline", ArchiveChoice::Baseline),
        ("hourly", ArchiveChoice::Hourly),
        ("daily", ArchiveChoice::Daily),
        ("weekly", ArchiveChoice::Weekly),
        ("monthly", ArchiveChoice::Monthly),
        ("bimonthly", ArchiveChoice::Bimonthly),
    ];

    /// The choice whose BUILD_ARCHIVE_CHOICE value is exactly `text`; None
    /// for anything else (`Hourly` too: case matters).
    pub fn parse(text: &str) -> Option<ArchiveChoice> {
        Self::ALL.iter().find(|(name, _)| *name == text).map(|(_, c)| *c)
    }

    /// The choice as a template writes it (`hourly`).
    pub fn as_str(self) -> &'static str {
        Self::ALL.iter().find(|(_, c)| *c == self).map_or("", |(name, _)| name)
    }

    /// Hourly to bimonthly: a build from a temporal backup of a live site.
    pub fn is_temporal(self) -> bool {
        !matches!(self, ArchiveChoice::Virgin | ArchiveChoice::Baseline)
    }
}

/// Datastore i: token i of the `|`-chained S3 settings. Datastore 1 (index 0)
/// is the primary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Datastore {
    /// S3_ACCESS_KEY token; empty when the template has no token i.
    pub access_key: Secret,
    /// S3_SECRET_KEY token; empty when the template has no token i.
    pub secret_key: Secret,
    /// S3_HOST_BASE token: a bare host (https implied) or a URL.
    pub host_base: String,
    /// S3_LOCATION token; None when unset.
    pub location: Option<String>,
}

/// What the asset tools need from a template.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AssetConfig {
    /// WEBSITE_URL as written; None when unset or empty. Not checked here
    /// (`check` does that).
    pub website_url: Option<String>,
    /// APPLICATION; None when unset or not a known application.
    pub application: Option<Application>,
    /// BUILD_ARCHIVE_CHOICE; None when unset or not a known choice.
    pub build_archive_choice: Option<ArchiveChoice>,
    /// PERSIST_ASSETS_TO_DATASTORE: true only for `1`.
    pub persist_assets: bool,
    /// SYNC_WEBROOTS: true only for `1`.
    pub sync_webroots: bool,
    /// The DIRECTORIES_TO_MOUNT entries, in order; entries that do not
    /// parse are left out. Empty when unset.
    pub directories_to_mount: Vec<MountEntry>,
    /// The template's own EXCLUDE_FROM_BACKUP (`:`-separated names below
    /// the webroot), when set.
    pub exclude_from_backup: Option<Vec<String>>,
    /// One datastore per S3_ACCESS_KEY token, as ADT counts them, in order
    /// (the primary first); a variable with a single value (no `|`) gives
    /// it to every datastore, as ADT's `cut -d'|' -f i` does. Empty when
    /// neither S3_ACCESS_KEY nor S3_HOST_BASE is set.
    pub datastores: Vec<Datastore>,
    /// SERVER_USER (SERVERUSER in a webserver descriptor, which ADT's build
    /// machine writes): names ADT's config bucket, where ADT's backup lock
    /// lives. None when unset or empty (a template has none).
    pub server_user: Option<String>,
    /// S3_CREDENTIALS_FILE (this toolkit's, not ADT's): a private file
    /// holding the datastores' keys, so the template need not (see
    /// [`crate::Credentials`]). None when unset or empty.
    pub credentials_file: Option<std::path::PathBuf>,
}

impl AssetConfig {
    /// What a backup leaves out besides the mounts, as rsync-style patterns
    /// anchored at the webroot (`/logs`): the template's EXCLUDE_FROM_BACKUP
    /// when set, else its application's defaults (ADT's descriptors).
    pub fn backup_excludes(&self) -> Vec<String> {
        let names: Vec<String> = match (&self.exclude_from_backup, self.application) {
            (Some(own), _) => own.clone(),
            (None, Some(app)) => app.backup_excludes().iter().map(|s| s.to_string()).collect(),
            (None, None) => Vec::new(),
        };
        names.into_iter().map(|n| format!("/{}", n.trim_matches('/'))).collect()
    }

    /// The settings of a site that persists `entries`, for tools that
    /// build a configuration without a template (and for tests).
    pub fn persisting(website_url: &str, entries: Vec<MountEntry>) -> AssetConfig {
        AssetConfig {
            website_url: Some(website_url.to_string()),
            application: None,
            build_archive_choice: None,
            persist_assets: true,
            sync_webroots: false,
            directories_to_mount: entries,
            exclude_from_backup: None,
            datastores: Vec::new(),
            server_user: None,
            credentials_file: None,
        }
    }

    /// Reads the settings leniently: unset or invalid values become `None`,
    /// `false` or are left out. Use [`crate::load`] to refuse a template
    /// with errors instead.
    pub fn from_template(t: &Template) -> AssetConfig {
        let non_empty = |name: &str| Some(t.value(name).to_string()).filter(|v| !v.is_empty());
        AssetConfig {
            website_url: non_empty("WEBSITE_URL"),
            application: Application::parse(t.value("APPLICATION")),
            build_archive_choice: ArchiveChoice::parse(t.value("BUILD_ARCHIVE_CHOICE")),
            persist_assets: persists(t),
            sync_webroots: t.value("SYNC_WEBROOTS") == "1",
            directories_to_mount: entry::split(t.value("DIRECTORIES_TO_MOUNT"))
                .0
                .into_iter()
                .filter_map(|item| MountEntry::parse(&item.meant).ok())
                .collect(),
            exclude_from_backup: t.get("EXCLUDE_FROM_BACKUP").map(|a| {
                a.value
                    .text
                    .split(|c: char| c == ':' || c.is_whitespace())
                    .filter(|e| !e.is_empty())
                    .map(str::to_string)
                    .collect()
            }),
            datastores: datastores(t),
            server_user: non_empty("SERVER_USER"),
            credentials_file: non_empty("S3_CREDENTIALS_FILE").map(std::path::PathBuf::from),
        }
    }
}

/// Whether the template persists assets as ADT's webservers read it: they
/// mount unless PERSIST_ASSETS_TO_DATASTORE is exactly 0, so `1` and a
/// value set but empty both mean on (unset means off: nothing asked for it).
pub(crate) fn persists(t: &Template) -> bool {
    t.get("PERSIST_ASSETS_TO_DATASTORE")
        .is_some_and(|a| matches!(a.value.text.as_str(), "1" | ""))
}

/// Splits a chained value into its tokens; an unset value has none.
pub(crate) fn tokens(value: &str) -> Vec<&str> {
    if value.is_empty() {
        Vec::new()
    } else {
        value.split('|').collect()
    }
}

/// How many datastores the template chains: ADT counts S3_ACCESS_KEY's
/// fields (S3_HOST_BASE's when no key is set).
pub(crate) fn datastore_count(t: &Template) -> usize {
    ["S3_ACCESS_KEY", "S3_HOST_BASE"]
        .iter()
        .map(|n| tokens(t.value(n)).len())
        .find(|n| *n > 0)
        .unwrap_or(0)
}

/// Field `i` of a chained value as ADT's `cut -d'|' -f i+1` reads it: a
/// value without `|` is the same for every datastore.
pub(crate) fn field<'a>(fields: &[&'a str], i: usize) -> Option<&'a str> {
    match fields {
        [one] => Some(one),
        many => many.get(i).copied(),
    }
}

fn datastores(t: &Template) -> Vec<Datastore> {
    let access = tokens(t.value("S3_ACCESS_KEY"));
    let secret = tokens(t.value("S3_SECRET_KEY"));
    let hosts = tokens(t.value("S3_HOST_BASE"));
    let locations = tokens(t.value("S3_LOCATION"));
    (0..datastore_count(t))
        .map(|i| Datastore {
            access_key: Secret::new(field(&access, i).unwrap_or("")),
            secret_key: Secret::new(field(&secret, i).unwrap_or("")),
            host_base: field(&hosts, i).unwrap_or("").to_string(),
            location: field(&locations, i).map(|l| l.to_string()).filter(|l| !l.is_empty()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    /// The defaults are ADT's own: each application descriptor's
    /// EXCLUDE_FROM_BACKUP line (fixtures/adt/application-descriptors, from
    /// adt-build-machine-scripts application/descriptors/*.dat).
    #[test]
    fn backup_excludes_are_the_application_descriptors_own() {
        for (app, descriptor) in [
            (
                Application::Joomla,
                include_str!("../../../fixtures/adt/application-descriptors/joomla.dat"),
            ),
            (
                Application::Wordpress,
                include_str!("../../../fixtures/adt/application-descriptors/wordpress.dat"),
            ),
            (
                Application::Drupal,
                include_str!("../../../fixtures/adt/application-descriptors/drupal.dat"),
            ),
            (
                Application::Moodle,
                include_str!("../../../fixtures/adt/application-descriptors/moodle.dat"),
            ),
        ] {
            let line = descriptor
                .lines()
                .find_map(|l| l.strip_prefix("EXCLUDE_FROM_BACKUP:"))
                .unwrap();
            let adts: Vec<&str> = line.split(':').collect();
            assert_eq!(app.backup_excludes(), &adts[..], "{app:?}");
        }
    }

    use super::*;

    /// Issue 15: what ADT deployments write, read as ADT reads it
    /// (reference §8).
    #[test]
    fn reads_settings_as_adt_does() {
        let t = Template::parse(
            "t.tmpl",
            "S3_ACCESS_KEY=\"k1|k2\"\nS3_SECRET_KEY=\"s1|s2\"\nS3_HOST_BASE=\"a.example.com|b.example.com\"\n\
             S3_LOCATION=\"eu-west-1\"\nPERSIST_ASSETS_TO_DATASTORE=\"\"\n\
             DIRECTORIES_TO_MOUNT=\"wp-content.uploads: images::a//b:\"\n",
        )
        .unwrap();
        let c = AssetConfig::from_template(&t);
        assert_eq!(c.datastores.len(), 2, "counted by S3_ACCESS_KEY");
        assert!(
            c.datastores.iter().all(|d| d.location.as_deref() == Some("eu-west-1")),
            "one S3_LOCATION for all"
        );
        assert!(
            c.persist_assets,
            "an empty PERSIST_ASSETS_TO_DATASTORE mounts on ADT's webservers"
        );
        let entries: Vec<String> = c.directories_to_mount.iter().map(|e| e.to_string()).collect();
        assert_eq!(entries, ["wp-content/uploads", "images", "a/b"]);
        let unset = Template::parse("t.tmpl", "S3_ACCESS_KEY=\"k\"\n").unwrap();
        assert!(!AssetConfig::from_template(&unset).persist_assets, "unset is off");
    }

    #[test]
    fn builds_chained_datastores() {
        let t = Template::parse(
            "t.tmpl",
            "export S3_ACCESS_KEY=\"k1|k2\"\nexport S3_SECRET_KEY=\"s1|s2\"\nexport S3_HOST_BASE=\"a.example.com|http://127.0.0.1:9000\"\nexport S3_LOCATION=\"US|\"\nexport PERSIST_ASSETS_TO_DATASTORE=\"1\"\nexport DIRECTORIES_TO_MOUNT=\"images:merge=media2\"\n",
        )
        .unwrap();
        let c = AssetConfig::from_template(&t);
        assert!(c.persist_assets);
        assert_eq!(c.datastores.len(), 2);
        assert_eq!(c.datastores[1].host_base, "http://127.0.0.1:9000");
        assert_eq!(c.datastores[1].secret_key.expose(), "s2");
        assert_eq!(c.datastores[0].location.as_deref(), Some("US"));
        assert_eq!(c.datastores[1].location, None);
        assert_eq!(c.directories_to_mount.len(), 2);
        assert!(!format!("{c:?}").contains("s2"));
    }
}
