//! Credentials files: the file a template names in S3_CREDENTIALS_FILE,
//! and AWS's shared credentials file (`~/.aws/credentials`), one format
//! for both. Sections in brackets, `name = value` lines, `#` and `;`
//! comments:
//!
//! ```text
//! [datastore1]            # or [default]: datastore 1
//! aws_access_key_id = AKIA...
//! aws_secret_access_key = ...
//! [datastore2]
//! aws_access_key_id = ...
//! aws_secret_access_key = ...
//! ```
//!
//! Parsing only: reading the file safely (not through a link, private to
//! its owner) is the caller's.

use std::collections::BTreeMap;

use crate::secret::Secret;

/// The most bytes a credentials file may hold.
pub const MAX_CREDENTIALS_BYTES: usize = 64 * 1024;

/// A pair of keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keys {
    /// The access key id.
    pub access_key: Secret,
    /// The secret access key.
    pub secret_key: Secret,
}

/// A parsed credentials file: its sections with both keys.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Credentials {
    sections: BTreeMap<String, Keys>,
}

/// Why a credentials file cannot be read. Never quotes a value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialsError {
    /// A line is neither a section, a `name = value` pair, blank nor a comment.
    #[error("line {0} is not `[section]`, `name = value` or a comment")]
    BadLine(usize),
    /// A section has one key and not the other.
    #[error("section [{0}] has only one of aws_access_key_id and aws_secret_access_key")]
    HalfKeys(String),
    /// The file is larger than [`MAX_CREDENTIALS_BYTES`].
    #[error("it is larger than {MAX_CREDENTIALS_BYTES} bytes")]
    TooLarge,
}

impl Credentials {
    /// Parses a credentials file's text.
    pub fn parse(text: &str) -> Result<Credentials, CredentialsError> {
        if text.len() > MAX_CREDENTIALS_BYTES {
            return Err(CredentialsError::TooLarge);
        }
        let mut partial: BTreeMap<String, (Option<String>, Option<String>)> = BTreeMap::new();
        let mut section: Option<String> = None;
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                // `[profile NAME]` is how ~/.aws/config writes it.
                let name = name.trim();
                let name = name.strip_prefix("profile ").unwrap_or(name).trim().to_string();
                partial.entry(name.clone()).or_default();
                section = Some(name);
                continue;
            }
            let (Some(current), Some((key, value))) = (&section, line.split_once('=')) else {
                return Err(CredentialsError::BadLine(i + 1));
            };
            let entry = partial.entry(current.clone()).or_default();
            match key.trim().to_ascii_lowercase().as_str() {
                "aws_access_key_id" => entry.0 = Some(value.trim().to_string()),
                "aws_secret_access_key" => entry.1 = Some(value.trim().to_string()),
                _ => {}
            }
        }
        let mut sections = BTreeMap::new();
        for (name, keys) in partial {
            match keys {
                (Some(a), Some(s)) if !a.is_empty() && !s.is_empty() => {
                    sections.insert(
                        name,
                        Keys {
                            access_key: Secret::new(a),
                            secret_key: Secret::new(s),
                        },
                    );
                }
                (None, None) => {}
                _ => return Err(CredentialsError::HalfKeys(name)),
            }
        }
        Ok(Credentials { sections })
    }

    /// The keys of section `name`.
    pub fn section(&self, name: &str) -> Option<&Keys> {
        self.sections.get(name)
    }

    /// The keys of datastore `number` (from 1): section `datastoreN`, or
    /// for datastore 1 also `default`.
    pub fn datastore(&self, number: usize) -> Option<&Keys> {
        self.section(&format!("datastore{number}"))
            .or_else(|| (number == 1).then(|| self.section("default")).flatten())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_give_each_datastore_its_keys() {
        let c = Credentials::parse(
            "# keys\n[default]\naws_access_key_id = A1\naws_secret_access_key=S1 \n\n; two\n[datastore2]\r\nAWS_ACCESS_KEY_ID=A2\r\naws_secret_access_key = S2\r\nregion = x\n",
        )
        .unwrap();
        assert_eq!(c.datastore(1).unwrap().access_key.expose(), "A1");
        assert_eq!(c.datastore(1).unwrap().secret_key.expose(), "S1");
        assert_eq!(c.datastore(2).unwrap().secret_key.expose(), "S2");
        assert!(c.datastore(3).is_none());
        let c = Credentials::parse("[datastore1]\naws_access_key_id=B\naws_secret_access_key=T\n[default]\naws_access_key_id=A\naws_secret_access_key=S\n").unwrap();
        assert_eq!(c.datastore(1).unwrap().access_key.expose(), "B", "datastore1 first");
        assert_eq!(
            Credentials::parse("[profile ci]\naws_access_key_id=A\naws_secret_access_key=S\n")
                .unwrap()
                .section("ci")
                .unwrap()
                .access_key
                .expose(),
            "A"
        );
    }

    #[test]
    fn bad_files_are_named_without_their_values() {
        assert_eq!(
            Credentials::parse("aws_access_key_id=A\n"),
            Err(CredentialsError::BadLine(1))
        );
        assert_eq!(
            Credentials::parse("[x]\nnot a pair\n"),
            Err(CredentialsError::BadLine(2))
        );
        let e = Credentials::parse("[x]\naws_access_key_id=SECRETISH\n").unwrap_err();
        assert_eq!(e, CredentialsError::HalfKeys("x".into()));
        assert!(!e.to_string().contains("SECRETISH"));
        assert_eq!(
            Credentials::parse(&"#".repeat(MAX_CREDENTIALS_BYTES + 1)),
            Err(CredentialsError::TooLarge)
        );
    }
}
