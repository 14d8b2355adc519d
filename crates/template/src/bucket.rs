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
}
