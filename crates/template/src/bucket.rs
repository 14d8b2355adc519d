//! Bucket names (reference §3): ADT's derivation, lower-cased, checked
//! against the S3 naming rules ADT never checks.

/// ADT's name for the bucket of asset directory `dir` of site `url`:
/// `${url}-assets-${dir}`, then `.`->`-`, `/`->`-`, one pass of `--`->`-`,
/// `_`->`-`, then lower case. May be illegal: see [`validate_bucket_name`].
pub fn derive_bucket_name(url: &str, dir: &str) -> String {
    format!("{url}-assets-{dir}")
        .replace('.', "-")
        .replace('/', "-")
        .replace("--", "-")
        .replace('_', "-")
        .to_lowercase()
}

/// ADT's bucket for the webroot sync of site `url` (SYNC_WEBROOTS):
/// `${url}-webroot-sync-tunnel-var-www-html` with `.` -> `-`, lower case
/// (ADT's FileSystemsSyncingController.sh). May be illegal (a long URL):
/// see [`validate_bucket_name`].
pub fn sync_bucket_name(url: &str) -> String {
    format!("{}-webroot-sync-tunnel-var-www-html", url.replace('.', "-")).to_lowercase()
}

/// Checks a bucket name against the S3 rules; the error says which one fails.
pub fn validate_bucket_name(name: &str) -> Result<(), String> {
    let len = name.len();
    if !(3..=63).contains(&len) {
        return Err(format!("is {len} characters long; S3 allows 3 to 63"));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-' || *c == '.'))
    {
        return Err(format!("contains {bad:?}; S3 allows only a-z, 0-9, `-` and `.`"));
    }
    let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !edge_ok(name.chars().next()) || !edge_ok(name.chars().last()) {
        return Err("must start and end with a letter or digit".into());
    }
    if name.contains("..") {
        return Err("has two adjacent dots".into());
    }
    if name.split('.').count() == 4 && name.split('.').all(|p| p.parse::<u8>().is_ok()) {
        return Err("looks like an IP address".into());
    }
    for prefix in ["xn--", "sthree-", "amzn-s3-demo-"] {
        if name.starts_with(prefix) {
            return Err(format!("starts with the reserved prefix `{prefix}`"));
        }
    }
    for suffix in ["-s3alias", "--ol-s3", "--x-s3", "--table-s3", ".mrap"] {
        if name.ends_with(suffix) {
            return Err(format!("ends with the reserved suffix `{suffix}`"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derives_adt_names() {
        assert_eq!(
            derive_bucket_name("www.example.com", "wp-content/uploads"),
            "www-example-com-assets-wp-content-uploads"
        );
        assert_eq!(
            derive_bucket_name("www.example.com", "images1"),
            "www-example-com-assets-images1"
        );
        assert_eq!(
            derive_bucket_name("www.example.com", "/var/www/private"),
            "www-example-com-assets-var-www-private"
        );
        assert_eq!(
            derive_bucket_name("WWW.Example.com", "My_Files"),
            "www-example-com-assets-my-files"
        );
    }

    #[test]
    fn checks_s3_rules() {
        assert!(validate_bucket_name("www-example-com-assets-images").is_ok());
        assert!(validate_bucket_name("ab").is_err());
        assert!(validate_bucket_name(&"a".repeat(64)).is_err());
        assert!(validate_bucket_name("a_b").is_err());
        assert!(validate_bucket_name("-ab").is_err());
        assert!(validate_bucket_name("192.168.1.1").is_err());
        assert!(validate_bucket_name("xn--abc").is_err());
        assert!(validate_bucket_name("abc-s3alias").is_err());
    }

    /// Issue 15: bucket names pinned against ADT's own derivation, computed
    /// by running SetupAssetsStore.sh:128's pipeline (the bucket that is
    /// mounted) with WEBSITE_URL=www.example.com:
    /// `echo "${WEBSITE_URL}-assets-${directory}" | sed -e 's/\\./-/g' -e 's;/;-;g' -e 's/--/-/g' -e 's/_/-/g'`
    /// (docs/research/adt-issue15-notes.md §3.3-3.4). Where ADT's name is
    /// valid, ours is the same.
    #[test]
    fn bucket_names_match_adts_derivation() {
        let vectors = [
            ("images", "www-example-com-assets-images"),
            ("media", "www-example-com-assets-media"),
            ("wp-content/uploads", "www-example-com-assets-wp-content-uploads"),
            ("sites/default/files", "www-example-com-assets-sites-default-files"),
            ("moodledata/filedir", "www-example-com-assets-moodledata-filedir"),
            ("a_b_c", "www-example-com-assets-a-b-c"),
            ("a--b", "www-example-com-assets-a-b"),
            ("a---b", "www-example-com-assets-a--b"),
            ("a.b", "www-example-com-assets-a-b"),
            ("wp-content.uploads", "www-example-com-assets-wp-content-uploads"),
            ("a//b", "www-example-com-assets-a-b"),
            ("/var/www/private", "www-example-com-assets-var-www-private"),
            ("/srv/assets", "www-example-com-assets-srv-assets"),
            ("images2", "www-example-com-assets-images2"),
            ("x", "www-example-com-assets-x"),
            ("ab", "www-example-com-assets-ab"),
            ("a-b", "www-example-com-assets-a-b"),
            ("a.b.c", "www-example-com-assets-a-b-c"),
            ("0images", "www-example-com-assets-0images"),
            ("-images", "www-example-com-assets-images"),
            ("a/b/c/d", "www-example-com-assets-a-b-c-d"),
            ("files.d", "www-example-com-assets-files-d"),
            ("dir_with__double", "www-example-com-assets-dir-with--double"),
            ("tmp", "www-example-com-assets-tmp"),
            ("cache", "www-example-com-assets-cache"),
            ("logs", "www-example-com-assets-logs"),
            ("images/banners", "www-example-com-assets-images-banners"),
            ("media/2024/01", "www-example-com-assets-media-2024-01"),
            ("deep/a/b/c/d/e", "www-example-com-assets-deep-a-b-c-d-e"),
            ("with.dot/and_under", "www-example-com-assets-with-dot-and-under"),
            ("123", "www-example-com-assets-123"),
            ("a..b", "www-example-com-assets-a-b"),
            ("a/./b", "www-example-com-assets-a--b"),
            ("a/../b", "www-example-com-assets-a--b"),
            (
                "sites.default.files.pictures",
                "www-example-com-assets-sites-default-files-pictures",
            ),
            (
                "sites.default.files.styles",
                "www-example-com-assets-sites-default-files-styles",
            ),
            (
                "sites.default.files.inline-images",
                "www-example-com-assets-sites-default-files-inline-images",
            ),
            ("moodledata.filedir", "www-example-com-assets-moodledata-filedir"),
            ("media/videos", "www-example-com-assets-media-videos"),
            ("media/images", "www-example-com-assets-media-images"),
            ("/var/www/profile", "www-example-com-assets-var-www-profile"),
            ("webroot", "www-example-com-assets-webroot"),
            ("a____b", "www-example-com-assets-a----b"),
            ("a_-b", "www-example-com-assets-a--b"),
            ("a-_b", "www-example-com-assets-a--b"),
            ("a._b", "www-example-com-assets-a--b"),
        ];
        assert!(vectors.len() >= 40);
        for (entry, adt) in vectors {
            assert_eq!(derive_bucket_name("www.example.com", entry), adt, "entry {entry:?}");
            assert!(validate_bucket_name(adt).is_ok(), "{adt}");
        }
    }

    /// Where ADT's derivation gives a name S3 refuses, ours is either ADT's
    /// lower-cased (upper case in the entry: our documented fix) and valid,
    /// or refused by validate_bucket_name, or the entry itself is refused
    /// before a name is made (invalid-mount-entry).
    #[test]
    fn where_adts_names_are_invalid_ours_are_fixed_or_refused() {
        let vectors = [
            ("Images", "www-example-com-assets-Images"),
            ("My_Files", "www-example-com-assets-My-Files"),
            ("merge=images3", "www-example-com-assets-merge=images3"),
            ("images-", "www-example-com-assets-images-"),
            ("UPPER/Case", "www-example-com-assets-UPPER-Case"),
            ("trailing/", "www-example-com-assets-trailing-"),
            ("merge=images4", "www-example-com-assets-merge=images4"),
            ("merge=webroot2", "www-example-com-assets-merge=webroot2"),
            ("a b", "www-example-com-assets-a b"),
            ("img*", "www-example-com-assets-img*"),
        ];
        for (entry, adt) in vectors {
            let ours = derive_bucket_name("www.example.com", entry);
            let refused_entry = crate::MountEntry::parse(entry).is_err();
            let fixed = ours == adt.to_lowercase() && validate_bucket_name(&ours).is_ok();
            let refused_name = validate_bucket_name(&ours).is_err();
            assert!(
                refused_entry || fixed || refused_name,
                "entry {entry:?}: ADT {adt}, ours {ours}"
            );
        }
    }
}
