//! The demo's site: a small Joomla-like webroot, and the templates of its
//! deployment before and after its assets were persisted.

use std::path::Path;

/// (path under the webroot, size in bytes). Code, then assets: images/
/// (one directory) and media/ (spread over two merged buckets).
const FILES: &[(&str, usize)] = &[
    ("index.php", 1_420),
    ("configuration.php", 2_310),
    ("htaccess.txt", 3_050),
    ("robots.txt", 410),
    ("administrator/index.php", 1_250),
    ("administrator/components/com_admin/admin.php", 980),
    ("components/com_content/content.php", 1_630),
    ("libraries/src/Factory.php", 18_400),
    ("plugins/system/debug/debug.php", 21_700),
    ("templates/protostar/index.php", 9_800),
    ("templates/protostar/css/template.css", 96_000),
    ("images/joomla_black.png", 2_870),
    ("images/powered_by.png", 2_660),
    ("images/banners/osmbanner1.png", 5_540),
    ("images/banners/shop-ad.jpg", 13_340),
    ("images/headers/blue-flower.jpg", 42_040),
    ("images/headers/walden-pond.jpg", 39_870),
    ("images/sampledata/parks/animals/180px_koala_ag1.jpg", 7_750),
    ("images/sampledata/parks/landscape/120px_pinnacles.jpg", 6_120),
    ("images/headers/intro-video.mp4", 9 * 1024 * 1024 + 7),
    ("media/system/js/core.js", 11_400),
    ("media/system/css/system.css", 1_920),
    ("media/jui/js/jquery.min.js", 95_800),
    ("media/jui/fonts/IcoMoon.woff", 26_700),
    ("media/editors/tinymce/tinymce.min.js", 365_000),
    ("media/media/images/con_info.png", 1_040),
];

/// Empty directories the site has (an upload directory waiting for files).
const EMPTY_DIRS: &[&str] = &["images/uploads", "tmp", "logs"];

/// Writes the webroot; returns (files, bytes, asset files).
pub(crate) fn write_webroot(webroot: &Path) -> Result<(usize, u64, usize), String> {
    let mut bytes = 0;
    for (i, (path, size)) in FILES.iter().enumerate() {
        let file = webroot.join(path);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("create {}: {e}", parent.display()))?;
        }
        std::fs::write(&file, body(*size, i as u8)).map_err(|e| format!("write {}: {e}", file.display()))?;
        bytes += *size as u64;
    }
    for dir in EMPTY_DIRS {
        let d = webroot.join(dir);
        std::fs::create_dir_all(&d).map_err(|e| format!("create {}: {e}", d.display()))?;
    }
    let assets = FILES
        .iter()
        .filter(|(p, _)| p.starts_with("images/") || p.starts_with("media/"))
        .count();
    Ok((FILES.len(), bytes, assets))
}

/// Repeatable bytes that differ per file and, like real images, hardly
/// compress (xorshift).
pub(crate) fn body(len: usize, seed: u8) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15 ^ u64::from(seed);
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// The deployment template. `persist` false is the site as it was first
/// deployed (assets on the webservers' disks, in every backup); true is
/// its redeployment from the hourly backup with assets in buckets on
/// `primary`, copied to `second`.
pub(crate) fn template(persist: bool, primary: &str, second: &str) -> String {
    let (key, secret) = (adt_testkit::ACCESS_KEY, adt_testkit::SECRET_KEY);
    let region = adt_testkit::REGION;
    if persist {
        format!(
            "#####The demo site, redeployed from its hourly backup with its assets in buckets#######\n\
             export APPLICATION=\"joomla\"\n\
             export WEBSITE_URL=\"{URL}\"\n\
             export BUILD_ARCHIVE_CHOICE=\"hourly\"\n\
             #####S3 Datastore Settings: datastore 1 (primary) | datastore 2 (second region)#######\n\
             export S3_ACCESS_KEY=\"{key}|{key}\"\n\
             export S3_SECRET_KEY=\"{secret}|{secret}\"\n\
             export S3_HOST_BASE=\"{primary}|{second}\"\n\
             export S3_LOCATION=\"{region}|{region}\"\n\
             export DIRECTORIES_TO_MOUNT=\"images:merge=media2\"\n\
             export PERSIST_ASSETS_TO_DATASTORE=\"1\"\n\
             export SYNC_WEBROOTS=\"0\"\n"
        )
    } else {
        format!(
            "#####The demo site as first deployed: assets on the webservers' disks#######\n\
             export APPLICATION=\"joomla\"\n\
             export WEBSITE_URL=\"{URL}\"\n\
             export BUILD_ARCHIVE_CHOICE=\"baseline\"\n\
             export S3_ACCESS_KEY=\"{key}\"\n\
             export S3_SECRET_KEY=\"{secret}\"\n\
             export S3_HOST_BASE=\"{primary}\"\n\
             export S3_LOCATION=\"{region}\"\n\
             export DIRECTORIES_TO_MOUNT=\"\"\n\
             export PERSIST_ASSETS_TO_DATASTORE=\"0\"\n\
             export SYNC_WEBROOTS=\"0\"\n"
        )
    }
}

/// The demo site's WEBSITE_URL.
pub(crate) const URL: &str = "www.adt-demo.example.com";
