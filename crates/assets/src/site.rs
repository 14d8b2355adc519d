//! [`Site`]: a template's asset settings and the webroot they apply to,
//! and the queries every job needs (layout, datastores, backup buckets).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use adt_datastore::{Connection, Endpoint, Secret, Store};
use adt_template::{AssetConfig, Keys, Layout, Period};

use crate::error::Error;

/// Where a site lives and how to reach its datastores; everything a
/// [`Site`] needs besides its template. Nothing here is read from the
/// environment unless you call [`SiteOptions::with_env`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SiteOptions {
    /// The webroot the template's relative DIRECTORIES_TO_MOUNT entries
    /// are below (merge branches live in its parent).
    pub webroot: PathBuf,
    /// Reach datastore 1 at this endpoint instead of its S3_HOST_BASE
    /// (keys and region still come from the template).
    pub endpoint: Option<String>,
    /// Extra trusted CA certificates (PEM) for https datastores.
    pub ca_bundle: Option<PathBuf>,
    /// Use this store as datastore 1 instead of the template's S3 endpoint
    /// (say [`Store::in_memory`], or a `file://` store): seeding, backups
    /// and replication then work without S3.
    pub primary: Option<Store>,
    /// Keys for datastore 1 when the template and its credentials file
    /// give none ([`SiteOptions::with_env`] reads them from the environment).
    pub fallback_keys: Option<Keys>,
}

impl Default for SiteOptions {
    fn default() -> Self {
        SiteOptions {
            webroot: PathBuf::from(adt_template::DEFAULT_WEBROOT),
            endpoint: None,
            ca_bundle: None,
            primary: None,
            fallback_keys: None,
        }
    }
}

impl SiteOptions {
    /// The defaults, for the site at `webroot`.
    pub fn new(webroot: impl Into<PathBuf>) -> SiteOptions {
        SiteOptions {
            webroot: webroot.into(),
            ..SiteOptions::default()
        }
    }

    /// Reach datastore 1 at `endpoint` (`http://127.0.0.1:9000`).
    pub fn with_endpoint(mut self, endpoint: Option<String>) -> SiteOptions {
        self.endpoint = endpoint;
        self
    }

    /// Use `store` as datastore 1.
    pub fn with_primary_store(mut self, store: Store) -> SiteOptions {
        self.primary = Some(store);
        self
    }

    /// Takes what the environment says where nothing was set in code:
    /// `AWS_CA_BUNDLE` for the CA bundle; for datastore 1's keys when the
    /// template has none, `S3_ACCESS_KEY` and `S3_SECRET_KEY`, else
    /// `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`, else the shared
    /// credentials file (`AWS_SHARED_CREDENTIALS_FILE`, else
    /// `~/.aws/credentials`; profile `AWS_PROFILE`, else `default`).
    pub fn with_env(mut self) -> SiteOptions {
        if self.ca_bundle.is_none() {
            self.ca_bundle = std::env::var_os("AWS_CA_BUNDLE")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from);
        }
        if self.fallback_keys.is_none() {
            self.fallback_keys = keys_from_env(&|name| std::env::var(name).ok().filter(|v| !v.is_empty()));
        }
        self
    }
}

/// One site's asset persistence: its template's settings, checked, and
/// the webroot they apply to. The jobs (seed, mount, backup, replicate)
/// start here; each refuses what the tools refuse.
///
/// ```
/// use adt_assets::{Site, SiteOptions};
/// use adt_template::{AssetConfig, MountEntry, Period};
///
/// let entries = vec![MountEntry::parse("images").unwrap()];
/// let config = AssetConfig::persisting("www.example.com", entries);
/// let site = Site::from_config("example", config, SiteOptions::new("/var/www/html"));
/// assert_eq!(site.buckets().unwrap(), ["www-example-com-assets-images"]);
/// assert_eq!(site.backup_bucket(Period::Daily).unwrap(), "www-example-com-daily");
/// ```
#[derive(Clone, Debug)]
pub struct Site {
    name: String,
    config: AssetConfig,
    options: SiteOptions,
}

impl Site {
    /// Reads the template at `template` and checks it the way adt-check
    /// does; a template with errors is refused
    /// ([`adt_template::TemplateError::Rejected`] lists them).
    pub fn load(template: &Path, options: SiteOptions) -> Result<Site, Error> {
        let config = adt_template::load(template, &options.webroot).map_err(Error::Template)?;
        Ok(Site {
            name: template.display().to_string(),
            config,
            options,
        })
    }

    /// A site from settings made in code; `name` names it in messages.
    pub fn from_config(name: impl Into<String>, config: AssetConfig, options: SiteOptions) -> Site {
        Site {
            name: name.into(),
            config,
            options,
        }
    }

    /// The template's name (its path when loaded from a file).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The asset settings.
    pub fn config(&self) -> &AssetConfig {
        &self.config
    }

    /// The options the site was opened with.
    pub fn options(&self) -> &SiteOptions {
        &self.options
    }

    /// The webroot.
    pub fn webroot(&self) -> &Path {
        &self.options.webroot
    }

    /// Refuses a site whose assets are not persisted; `action` says what
    /// there is then nothing of ("to seed").
    pub fn require_persistence(&self, action: &'static str) -> Result<(), Error> {
        if self.config.persist_assets {
            return Ok(());
        }
        Err(Error::NotPersisted {
            template: self.name.clone(),
            action,
        })
    }

    /// Bucket name and mount point of every DIRECTORIES_TO_MOUNT entry.
    pub fn layout(&self) -> Result<Layout, Error> {
        Layout::new(&self.config, &self.options.webroot).map_err(Error::Layout)
    }

    /// The asset buckets, in the layout's order.
    pub fn buckets(&self) -> Result<Vec<String>, Error> {
        Ok(self.layout()?.mounts().map(|(_, m)| m.bucket.clone()).collect())
    }

    /// How many objects (up to [`adt_template::STORED_SAMPLE`]) each asset
    /// bucket already holds on datastore 1; buckets that do not exist are
    /// left out. For [`adt_template::CheckOptions::stored`]: adt-check
    /// `--online` warns when a virgin or baseline build finds any.
    pub async fn stored_assets(&self) -> Result<BTreeMap<String, u64>, Error> {
        if self.config.directories_to_mount.is_empty() {
            return Ok(BTreeMap::new());
        }
        let store = self.store(1)?;
        let failed = |source| Error::Datastore { number: 1, source };
        let mut found = BTreeMap::new();
        for bucket in self.buckets()? {
            if !store.bucket_exists(&bucket).await.map_err(failed)? {
                continue;
            }
            let sample = usize::try_from(adt_template::STORED_SAMPLE).unwrap_or(usize::MAX);
            let objects = store.list_first(&bucket, sample).await.map_err(failed)?;
            found.insert(bucket, objects.len() as u64);
        }
        Ok(found)
    }

    /// The bucket of the site's backups for `period`.
    pub fn backup_bucket(&self, period: Period) -> Result<String, Error> {
        let url = self.config.website_url.as_deref().ok_or(Error::NoWebsiteUrl)?;
        Ok(adt_template::backup_bucket_name(url, period))
    }

    /// How many datastores the template chains (1 is the primary).
    pub fn datastore_count(&self) -> usize {
        self.config.datastores.len()
    }

    /// The connection to datastore `number` (1 is the primary; the
    /// endpoint override applies to it alone).
    pub fn connection(&self, number: usize) -> Result<Connection, Error> {
        let d = number
            .checked_sub(1)
            .and_then(|i| self.config.datastores.get(i))
            .ok_or(Error::NoDatastore)?;
        let host = match (number, &self.options.endpoint) {
            (1, Some(endpoint)) => endpoint.as_str(),
            _ => d.host_base.as_str(),
        };
        let endpoint =
            Endpoint::parse(host, d.location.as_deref()).map_err(|source| Error::Endpoint { number, source })?;
        let keys = self.keys(number, d)?;
        let mut c = Connection::new(
            endpoint,
            Secret::new(keys.access_key.expose()),
            Secret::new(keys.secret_key.expose()),
        );
        c.ca_bundle = self.options.ca_bundle.clone();
        Ok(c)
    }

    /// Datastore `number`'s keys: the template's, else those of its
    /// S3_CREDENTIALS_FILE (section `datastoreN`, or `default` for 1),
    /// else for datastore 1 the options' fallback (the environment).
    fn keys(&self, number: usize, d: &adt_template::Datastore) -> Result<Keys, Error> {
        if !d.access_key.is_empty() && !d.secret_key.is_empty() {
            return Ok(Keys {
                access_key: d.access_key.clone(),
                secret_key: d.secret_key.clone(),
            });
        }
        if let Some(path) = &self.config.credentials_file
            && let Some(keys) = crate::credentials::read(path)?.datastore(number)
        {
            return Ok(keys.clone());
        }
        match (&self.options.fallback_keys, number) {
            (Some(keys), 1) => Ok(keys.clone()),
            _ => Err(Error::NoKeys {
                number,
                file: self.config.credentials_file.is_some(),
            }),
        }
    }

    /// A client for datastore `number`.
    pub fn store(&self, number: usize) -> Result<Store, Error> {
        if let (1, Some(store)) = (number, &self.options.primary) {
            return Ok(store.clone());
        }
        let connection = self.connection(number)?;
        Store::connect(&connection).map_err(|source| Error::Connect { number, source })
    }

    /// A connection to another endpoint with this site's trust settings
    /// (for a destination outside the template).
    pub fn other_connection(&self, endpoint: Endpoint, access_key: Secret, secret_key: Secret) -> Connection {
        let mut c = Connection::new(endpoint, access_key, secret_key);
        c.ca_bundle = self.options.ca_bundle.clone();
        c
    }
}

/// Datastore 1's keys from environment variables (`var` reads one):
/// `S3_ACCESS_KEY`/`S3_SECRET_KEY`, else `AWS_ACCESS_KEY_ID`/
/// `AWS_SECRET_ACCESS_KEY`, else the shared credentials file's profile.
fn keys_from_env(var: &dyn Fn(&str) -> Option<String>) -> Option<Keys> {
    let pair = |a: &str, s: &str| {
        Some(Keys {
            access_key: adt_template::Secret::new(var(a)?),
            secret_key: adt_template::Secret::new(var(s)?),
        })
    };
    pair("S3_ACCESS_KEY", "S3_SECRET_KEY")
        .or_else(|| pair("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"))
        .or_else(|| {
            let file = var("AWS_SHARED_CREDENTIALS_FILE")
                .map(PathBuf::from)
                .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".aws/credentials")))?;
            let profile = var("AWS_PROFILE").unwrap_or_else(|| "default".into());
            crate::credentials::read_shared(&file)?.section(&profile).cloned()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(text: &str, options: SiteOptions) -> Site {
        let t = adt_template::Template::parse("t.tmpl", text).unwrap();
        Site::from_config("t.tmpl", AssetConfig::from_template(&t), options)
    }

    #[test]
    fn datastores_and_the_endpoint_override() {
        let s = site(
            "S3_ACCESS_KEY=\"k1|k2\"\nS3_SECRET_KEY=\"s1|s2\"\nS3_HOST_BASE=\"ams3.digitaloceanspaces.com|gb-lon-1.linodeobjects.com\"\nS3_LOCATION=\"ams3|US\"\n",
            SiteOptions::new("/var/www/html").with_endpoint(Some("http://127.0.0.1:9000".into())),
        );
        let second = s.connection(2).unwrap();
        assert_eq!(second.endpoint.url(), "https://gb-lon-1.linodeobjects.com");
        assert_eq!(second.endpoint.region(), "us-east-1");
        assert_eq!(second.secret_key.expose(), "s2");
        let first = s.connection(1).unwrap();
        assert_eq!(
            (first.endpoint.url(), first.endpoint.region()),
            ("http://127.0.0.1:9000", "ams3")
        );
        assert_eq!(first.access_key.expose(), "k1");
        assert!(matches!(s.connection(3), Err(Error::NoDatastore)));
        assert!(matches!(s.connection(0), Err(Error::NoDatastore)));
    }

    #[test]
    fn keys_come_from_the_template_then_its_file_then_the_environment() {
        use std::os::unix::fs::PermissionsExt;
        let env = |pairs: &[(&str, String)]| {
            let map: BTreeMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
            keys_from_env(&move |name: &str| map.get(name).cloned())
        };
        let v = |s: &str| s.to_string();
        let s3 = env(&[
            ("S3_ACCESS_KEY", v("a1")),
            ("S3_SECRET_KEY", v("s1")),
            ("AWS_ACCESS_KEY_ID", v("a2")),
            ("AWS_SECRET_ACCESS_KEY", v("s2")),
        ])
        .unwrap();
        assert_eq!(s3.access_key.expose(), "a1");
        let aws = env(&[
            ("AWS_ACCESS_KEY_ID", v("a2")),
            ("AWS_SECRET_ACCESS_KEY", v("s2")),
            ("S3_ACCESS_KEY", v("half")),
        ])
        .unwrap();
        assert_eq!(aws.secret_key.expose(), "s2", "S3_* only as a pair");
        let dir = tempfile::tempdir().unwrap();
        let shared = dir.path().join("credentials");
        std::fs::write(
            &shared,
            "[default]\naws_access_key_id=d\naws_secret_access_key=ds\n[ci]\naws_access_key_id=c\naws_secret_access_key=cs\n",
        )
        .unwrap();
        let file_var = ("AWS_SHARED_CREDENTIALS_FILE", shared.display().to_string());
        assert_eq!(
            env(&[file_var.clone(), ("AWS_PROFILE", v("ci"))])
                .unwrap()
                .access_key
                .expose(),
            "c"
        );
        assert_eq!(env(&[file_var]).unwrap().access_key.expose(), "d", "profile default");
        assert!(env(&[("HOME", dir.path().join("nowhere").display().to_string())]).is_none());

        // The template's own keys win; without them its file; then the fallback.
        let file = dir.path().join("s3.credentials");
        std::fs::write(&file, "[datastore2]\naws_access_key_id=f2\naws_secret_access_key=fs2\n").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let text = format!(
            "S3_HOST_BASE=\"a.example.com|b.example.com\"\nS3_CREDENTIALS_FILE=\"{}\"\n",
            file.display()
        );
        let mut options = SiteOptions::new("/var/www/html");
        options.fallback_keys = Some(s3);
        let s = site(&text, options.clone());
        assert_eq!(
            s.connection(1).unwrap().access_key.expose(),
            "a1",
            "datastore 1 from the fallback"
        );
        assert_eq!(
            s.connection(2).unwrap().secret_key.expose(),
            "fs2",
            "datastore 2 from the file"
        );
        let bare = site(
            "S3_HOST_BASE=\"a.example.com|b.example.com\"\n",
            SiteOptions::new("/var/www/html"),
        );
        let e = bare.connection(1).unwrap_err();
        assert!(
            matches!(e, Error::NoKeys { number: 1, file: false }) && e.is_bad_input(),
            "{e}"
        );
        let with_template = site(
            "S3_ACCESS_KEY=\"t1\"\nS3_SECRET_KEY=\"ts1\"\nS3_HOST_BASE=\"a.example.com\"\n",
            options,
        );
        assert_eq!(with_template.connection(1).unwrap().access_key.expose(), "t1");
    }

    #[test]
    fn refusals_name_the_template() {
        let s = site("WEBSITE_URL=\"www.example.com\"\n", SiteOptions::default());
        let e = s.require_persistence("to seed").unwrap_err();
        assert!(e.to_string().contains("t.tmpl"), "{e}");
        assert!(!e.is_bad_input());
        assert_eq!(s.backup_bucket(Period::Hourly).unwrap(), "www-example-com-hourly");
        let no_url = site("S3_HOST_BASE=\"x.example.com\"\n", SiteOptions::default());
        assert!(matches!(no_url.backup_bucket(Period::Hourly), Err(Error::NoWebsiteUrl)));
    }
}
