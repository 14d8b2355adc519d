//! The backup format, one owner for it (reference §3 and §6): which
//! periods a site is backed up for, the bucket of each, the keys inside it
//! and the marker file at the archive's root. adt-backup writes it,
//! adt-seed reads it, restore and replication depend on it.

use std::fmt;
use std::str::FromStr;

/// The current backup's key in a period's bucket.
pub const ARCHIVE_KEY: &str = "applicationsourcecode.tar.gz";
/// The previous backup's key (kept when a new one replaces it).
pub const PREVIOUS_KEY: &str = "applicationsourcecode.tar.gz.BACKUP";
/// The lock object two webservers uploading at once take turns through.
pub const LOCK_KEY: &str = "applicationsourcecode.tar.gz.lock";
/// The file at the archive's root that ADT's restore requires.
pub const MARKER: &str = "XXXXXX-DO_NOT_REMOVE";

/// A backup period: which of a site's backup buckets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Period {
    /// `${URL}-hourly`
    Hourly,
    /// `${URL}-daily`
    Daily,
    /// `${URL}-weekly`
    Weekly,
    /// `${URL}-monthly`
    Monthly,
    /// `${URL}-bimonthly`
    Bimonthly,
    /// `${URL}-shutdown`: taken when a webserver is shut down.
    Shutdown,
}

impl Period {
    /// Every period, in ADT's order.
    pub const ALL: &'static [Period] = &[
        Period::Hourly,
        Period::Daily,
        Period::Weekly,
        Period::Monthly,
        Period::Bimonthly,
        Period::Shutdown,
    ];

    /// The period's name, lower case, as in its bucket's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Period::Hourly => "hourly",
            Period::Daily => "daily",
            Period::Weekly => "weekly",
            Period::Monthly => "monthly",
            Period::Bimonthly => "bimonthly",
            Period::Shutdown => "shutdown",
        }
    }

    /// The names of every period, for help and argument parsers.
    pub fn names() -> Vec<&'static str> {
        Self::ALL.iter().map(|p| p.as_str()).collect()
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not a backup period.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a backup period (hourly, daily, weekly, monthly, bimonthly or shutdown)")]
pub struct UnknownPeriod(pub String);

impl FromStr for Period {
    type Err = UnknownPeriod;

    /// Any case: ADT's cron passes `HOURLY` and its Backup.sh lowercases it.
    fn from_str(text: &str) -> Result<Period, UnknownPeriod> {
        Self::ALL
            .iter()
            .copied()
            .find(|p| p.as_str().eq_ignore_ascii_case(text))
            .ok_or_else(|| UnknownPeriod(text.to_string()))
    }
}

/// The bucket holding site `url`'s backups for `period`: ADT's
/// `${URL}-${period}` with `.` -> `-`, in lower case.
pub fn backup_bucket_name(url: &str, period: Period) -> String {
    format!("{}-{period}", url.replace('.', "-")).to_lowercase()
}

/// ADT's own backup lock (its cron/BackupFromCron.sh): an object whose
/// presence means a webserver is backing up, at the root of the site's
/// config bucket ([`adt_config_bucket_name`]) on datastore 1.
pub const ADT_LOCK_KEY: &str = "BACKUP_RUNNING";

/// ADT deletes its lock as stale when its Last-Modified is more than this
/// many seconds old (measured from when it was written; ADT never renews it).
pub const ADT_LOCK_STALE_SECS: u64 = 300;

/// ADT's config bucket for site `url`: `${WEBSITE_URL}-config` with `.` ->
/// `-`, then `-` and the first four characters of SERVER_USER in lower
/// case (the TOKEN of ADT's datastore operations scripts), all in lower
/// case. None when SERVER_USER is empty.
pub fn adt_config_bucket_name(url: &str, server_user: &str) -> Option<String> {
    let token: String = server_user.chars().take(4).collect();
    (!token.is_empty()).then(|| format!("{}-config-{token}", url.replace('.', "-")).to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_buckets_follow_adt() {
        for p in Period::ALL {
            assert_eq!(p.as_str().parse::<Period>(), Ok(*p));
        }
        assert!("yearly".parse::<Period>().is_err());
        assert!("month".parse::<Period>().is_err());
        assert_eq!(
            "HOURLY".parse::<Period>(),
            Ok(Period::Hourly),
            "ADT's cron passes upper case"
        );
        assert_eq!("BiMonthly".parse::<Period>(), Ok(Period::Bimonthly));
        assert_eq!(
            backup_bucket_name("www.Example.com", Period::Hourly),
            "www-example-com-hourly"
        );
    }

    /// `echo "${WEBSITE_URL}"-config | sed 's/\./-/g'`-${TOKEN}, TOKEN from
    /// `echo ${SERVER_USER} | fold -w 4 | head -n 1 | tr '[:upper:]' '[:lower:]'`,
    /// run with dash: www.example.com and Xk29fixtureuser give
    /// www-example-com-config-xk29.
    #[test]
    fn the_config_bucket_follows_adts_token() {
        assert_eq!(
            adt_config_bucket_name("www.example.com", "Xk29fixtureuser").as_deref(),
            Some("www-example-com-config-xk29")
        );
        assert_eq!(
            adt_config_bucket_name("shop.example.org", "ab").as_deref(),
            Some("shop-example-org-config-ab")
        );
        assert_eq!(adt_config_bucket_name("www.example.com", ""), None);
    }
}
