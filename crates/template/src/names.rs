//! The variables ADT documents, which of them hold secrets, and the nearest
//! known name for a misspelt one.

/// Every variable ADT documents (reference §1). A real template uses only these.
pub const KNOWN_VARIABLES: &[&str] = &[
    "ACCESS_KEY",
    "ACTIVE_FIREWALLS",
    "ALGORITHM",
    "APPLICATION",
    "APPLICATION_BASELINE_SOURCECODE_REPOSITORY",
    "APPLICATION_LANGUAGE",
    "APPLICATION_NAME",
    "APPLICATION_REPOSITORY_OWNER",
    "APPLICATION_REPOSITORY_PROVIDER",
    "APPLICATION_REPOSITORY_TOKEN",
    "APPLICATION_REPOSITORY_USERNAME",
    "AS_SERVER_TYPE",
    "AUTHENTICATOR_TYPE",
    "AUTH_DNS_CHOICE",
    "AUTH_DNS_SECURITY_KEY",
    "AUTH_DNS_USERNAME",
    "AUTH_SERVER_TYPE",
    "AUTH_SERVER_URL",
    "BASELINE_DB_REPOSITORY",
    "BUILDOS",
    "BUILDOS_VERSION",
    "BUILD_ARCHIVE_CHOICE",
    "BUILD_FROM_SNAPSHOT",
    "BUILD_IDENTIFIER",
    "BUILD_MACHINE_VPC",
    "CLOUDHOST",
    "CLOUDHOST_ACCOUNT_ID",
    "DATABASE_DBaaS_INSTALLATION_TYPE",
    "DATABASE_INSTALLATION_TYPE",
    "DBaaS_PUBLIC_ENDPOINT",
    "DB_INSTALL_MODE",
    "DB_PORT",
    "DB_SERVER_TYPE",
    "DEVELOPMENT",
    "DIRECTORIES_TO_MOUNT",
    "DNS_CHOICE",
    "DNS_SECURITY_KEY",
    "DNS_USERNAME",
    "EMAIL_NOTIFICATION_LEVEL",
    "EXCLUDE_FROM_BACKUP",
    "GIT_EMAIL_ADDRESS",
    "GIT_USER",
    "INFRASTRUCTURE_REPOSITORY_OWNER",
    "INFRASTRUCTURE_REPOSITORY_PROVIDER",
    "INFRASTRUCTURE_REPOSITORY_USERNAME",
    "IN_PARALLEL",
    "MACHINE_TYPE",
    "MAX_WEBSERVERS",
    "MOD_SECURITY",
    "MULTI_REGION",
    "NO_AUTHENTICATORS",
    "NO_AUTOSCALERS",
    "NO_REVERSE_PROXY",
    "NO_WEBSERVERS",
    "PERSIST_ASSETS_TO_DATASTORE",
    "PHP_VERSION",
    "PRIMARY_REGION",
    "PRODUCTION",
    "PUBLIC_KEY_NAME",
    "REGION",
    "REVERSE_PROXY",
    "REVERSE_PROXY_WEBSERVER",
    "RP_SERVER_TYPE",
    "S3_ACCESS_KEY",
    "S3_CREDENTIALS_FILE",
    "S3_HOST_BASE",
    "S3_LOCATION",
    "S3_SECRET_KEY",
    "SECRET_KEY",
    "SELECTED_TEMPLATE",
    "SERVER_TIMEZONE_CITY",
    "SERVER_TIMEZONE_CONTINENT",
    "SSH",
    "SSH_PORT",
    "SSL_GENERATION_METHOD",
    "SSL_GENERATION_SERVICE",
    "SSL_LIVE_CERT",
    "SYNC_WEBROOTS",
    "SYSTEM_EMAIL_PASSWORD",
    "SYSTEM_EMAIL_PROVIDER",
    "SYSTEM_EMAIL_USERNAME",
    "SYSTEM_FROMEMAIL_ADDRESS",
    "SYSTEM_TOEMAIL_ADDRESS",
    "TOKEN",
    "USER",
    "USER_EMAIL_DOMAIN",
    "VPC_IP_RANGE",
    "VPC_NAME",
    "WEBSERVER_CHOICE",
    "WEBSITE_DISPLAY_NAME",
    "WEBSITE_NAME",
    "WEBSITE_URL",
    "WS_SERVER_TYPE",
];

/// Keys of ADT's webserver descriptor (builddescriptors/webserver_descriptor.dat,
/// and WEBSITEURLORIGINAL, which a webserver adds) whose value is not a
/// template variable of the same name, with the variable it holds: what
/// the build machine sets (addresses, the server user, database
/// credentials) or a template variable under another key (EMAILUSERNAME
/// is SYSTEM_EMAIL_USERNAME). Known in descriptors only.
pub const DESCRIPTOR_KEYS: &[(&str, &str)] = &[
    ("ASIP", "ASIP_PRIVATE"),
    ("ASIPS", "ASIPS"),
    ("ASPUBLICIP", "ASIP_PUBLIC"),
    ("BUILDMACHINEIP", "BUILD_MACHINE_IP"),
    ("DBIDENTIFIER", "DB_IDENTIFIER"),
    ("DBNAME", "DB_NAME"),
    ("DBPASSWORD", "DB_PASSWORD"),
    ("DBUSERNAME", "DB_USERNAME"),
    ("EMAILPASSWORD", "SYSTEM_EMAIL_PASSWORD"),
    ("EMAILPROVIDER", "SYSTEM_EMAIL_PROVIDER"),
    ("EMAILUSERNAME", "SYSTEM_EMAIL_USERNAME"),
    ("MYIP", "WSIP_PRIVATE"),
    ("MYPUBLICIP", "WSIP_PUBLIC"),
    ("SERVERUSER", "SERVER_USER"),
    ("SERVERUSERPASSWORD", "SERVER_USER_PASSWORD"),
    ("WEBSITEURLORIGINAL", "WEBSITE_URL_ORIGINAL"),
];

pub(crate) fn is_known(name: &str) -> bool {
    KNOWN_VARIABLES.contains(&name)
}

/// True for a variable only a webserver descriptor carries (see
/// [`DESCRIPTOR_KEYS`]).
pub(crate) fn is_descriptor_variable(name: &str) -> bool {
    DESCRIPTOR_KEYS.iter().any(|(_, variable)| *variable == name)
}

/// True for names whose values are credentials (keys, secrets, tokens,
/// passwords), including misspelt ones: a value is hidden whenever its name
/// looks secret, since a typo does not make a key public.
pub fn is_secret_name(name: &str) -> bool {
    let squashed = descriptor_form(name);
    if squashed == "PUBLICKEYNAME" {
        return false;
    }
    ["KEY", "SECRET", "TOKEN", "PASSWORD", "PASSWD"]
        .iter()
        .any(|word| squashed.contains(word))
}

/// The descriptor spelling of a name: underscores removed, upper case.
pub(crate) fn descriptor_form(name: &str) -> String {
    name.chars()
        .filter(|c| *c != '_')
        .collect::<String>()
        .to_ascii_uppercase()
}

/// The known variable a descriptor key stands for (`DIRECTORIESTOMOUNT` ->
/// `DIRECTORIES_TO_MOUNT`). Keys written with underscores are accepted too.
pub(crate) fn from_descriptor_key(key: &str) -> Option<&'static str> {
    let wanted = descriptor_form(key);
    DESCRIPTOR_KEYS
        .iter()
        .find(|(k, _)| *k == wanted)
        .map(|(_, variable)| *variable)
        .or_else(|| {
            KNOWN_VARIABLES
                .iter()
                .copied()
                .find(|known| descriptor_form(known) == wanted)
        })
}

/// The known name nearest to `name`, when it is near enough to be a typo.
pub(crate) fn nearest_known(name: &str, descriptor: bool) -> Option<String> {
    let spell = |known: &str| {
        if descriptor {
            descriptor_form(known)
        } else {
            known.to_string()
        }
    };
    let upper = name.to_ascii_uppercase();
    KNOWN_VARIABLES
        .iter()
        .map(|known| {
            let candidate = spell(known);
            (edit_distance(&upper, &candidate.to_ascii_uppercase()), candidate)
        })
        .filter(|(distance, candidate)| *distance <= (candidate.len() / 4).clamp(1, 4))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// Levenshtein distance over chars.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitute = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitute.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_the_documented_typo_fix() {
        assert_eq!(
            nearest_known("PERIST_ASSETS_TO_DATASTORE", false).as_deref(),
            Some("PERSIST_ASSETS_TO_DATASTORE")
        );
        assert_eq!(
            nearest_known("DIRECTORIESTOMOUNTT", true).as_deref(),
            Some("DIRECTORIESTOMOUNT")
        );
        assert_eq!(nearest_known("FOO", false), None);
        assert_eq!(nearest_known("sync_webroots", false).as_deref(), Some("SYNC_WEBROOTS"));
    }

    #[test]
    fn descriptor_keys_map_to_variables() {
        assert_eq!(from_descriptor_key("DIRECTORIESTOMOUNT"), Some("DIRECTORIES_TO_MOUNT"));
        assert_eq!(from_descriptor_key("S3ACCESSKEY"), Some("S3_ACCESS_KEY"));
        assert_eq!(
            from_descriptor_key("DATABASEDBAASINSTALLATIONTYPE"),
            Some("DATABASE_DBaaS_INSTALLATION_TYPE")
        );
        assert_eq!(from_descriptor_key("NOPE"), None);
        assert_eq!(from_descriptor_key("SERVERUSER"), Some("SERVER_USER"));
        assert_eq!(from_descriptor_key("EMAILUSERNAME"), Some("SYSTEM_EMAIL_USERNAME"));
        assert_eq!(from_descriptor_key("MYIP"), Some("WSIP_PRIVATE"));
    }

    #[test]
    fn secret_names() {
        for name in [
            "S3_SECRET_KEY",
            "S3ACCESSKEY",
            "TOKEN",
            "SYSTEM_EMAIL_PASSWORD",
            "S3_SECERT_KEY",
        ] {
            assert!(is_secret_name(name), "{name}");
        }
        for name in ["PUBLIC_KEY_NAME", "S3_HOST_BASE", "WEBSITE_URL"] {
            assert!(!is_secret_name(name), "{name}");
        }
    }
}
