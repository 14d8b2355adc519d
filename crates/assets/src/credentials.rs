//! Reading the credentials file a template names (S3_CREDENTIALS_FILE):
//! not through a link, a regular file, private to its owner (root or this
//! process's user), at most 64 KiB.

use std::io::Read;
use std::path::Path;

use adt_localfs::{Dir, canonical_dir};
use adt_template::{Credentials, MAX_CREDENTIALS_BYTES};

use crate::error::Error;

/// The parsed file at `path`, or why it cannot be used.
pub(crate) fn read(path: &Path) -> Result<Credentials, Error> {
    let problem = |problem: String| Error::CredentialsFile {
        path: path.to_path_buf(),
        problem,
    };
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(problem("give the absolute path of a file".into()));
    };
    let dir = canonical_dir(parent)
        .and_then(|p| Dir::open(&p))
        .map_err(|e| problem(e.to_string()))?;
    let mut opened = dir.open_file(name, None).map_err(|e| problem(e.to_string()))?;
    let stat = opened.stat;
    let me = rustix::process::geteuid().as_raw();
    if stat.uid != me && stat.uid != 0 {
        return Err(problem(format!(
            "it belongs to uid {}; it must belong to root or to the user running this",
            stat.uid
        )));
    }
    if stat.permissions() & 0o077 != 0 {
        return Err(problem(format!(
            "its mode is {:04o}: others could read the keys; chmod 600 it",
            stat.permissions()
        )));
    }
    let mut text = String::new();
    (&mut opened.file)
        .take(MAX_CREDENTIALS_BYTES as u64 + 1)
        .read_to_string(&mut text)
        .map_err(|e| problem(format!("cannot read it: {e}")))?;
    Credentials::parse(&text).map_err(|e| problem(e.to_string()))
}

/// The shared credentials file (`~/.aws/credentials`), read only if it
/// is a regular file (never blocking on a FIFO), at most 64 KiB; None when
/// it is missing or unusable (the keys are then looked for nowhere else,
/// and the error for missing keys says where they were looked for).
pub(crate) fn read_shared(path: &Path) -> Option<Credentials> {
    let file = adt_localfs::open_regular_file(path).ok()?;
    let mut text = String::new();
    file.take(MAX_CREDENTIALS_BYTES as u64 + 1)
        .read_to_string(&mut text)
        .ok()?;
    Credentials::parse(&text).ok()
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    const TEXT: &str = "[datastore1]\naws_access_key_id = AK1\naws_secret_access_key = SK1\n";

    #[test]
    fn a_private_file_is_read_and_others_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("s3.credentials");
        std::fs::write(&file, TEXT).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(read(&file).unwrap().datastore(1).unwrap().access_key.expose(), "AK1");

        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = read(&file).unwrap_err().to_string();
        assert!(e.contains("0644") && e.contains("chmod 600"), "{e}");
        assert!(!e.contains("SK1"));

        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        let e = read(&link).unwrap_err().to_string();
        assert!(e.contains("symbolic link"), "{e}");

        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::write(&file, "[datastore1]\naws_access_key_id = AK1\n").unwrap();
        let e = read(&file).unwrap_err().to_string();
        assert!(e.contains("only one of"), "{e}");
        assert!(read(&dir.path().join("missing")).is_err());
    }
}
