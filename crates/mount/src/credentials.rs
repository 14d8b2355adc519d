//! The credential files the tools read: created in a 0700 directory, each
//! file 0600 from the moment it exists, written whole (temporary file,
//! then rename).

use std::path::Path;

use adt_datastore::Secret;

use crate::error::{MountError, io};
use crate::tool::CredentialFiles;

/// The keys only: endpoints and regions go on the command line, from the
/// plan, so there is one source for them. The directory must be private
/// (it is created 0700 when missing, refused otherwise, never chmodded).
pub(crate) fn write(files: &CredentialFiles, access: &Secret, secret: &Secret) -> Result<(), MountError> {
    let dir_path = files.s3fs.parent().ok_or_else(|| io(&files.s3fs, "has no directory"))?;
    let dir = adt_localfs::ensure_private_dir(dir_path)?;
    let (a, s) = (access.expose(), secret.expose());
    private(&dir, &files.s3fs, &format!("{a}:{s}\n"))?;
    private(
        &dir,
        &files.rclone,
        &format!(
            "[adt]\ntype = s3\nprovider = Other\naccess_key_id = {a}\nsecret_access_key = {s}\nforce_path_style = true\n"
        ),
    )?;
    private(
        &dir,
        &files.aws,
        &format!("[adt]\naws_access_key_id = {a}\naws_secret_access_key = {s}\n"),
    )
}

fn private(dir: &adt_localfs::Dir, path: &Path, text: &str) -> Result<(), MountError> {
    let name = path.file_name().ok_or_else(|| io(path, "names no file"))?;
    adt_localfs::write_private(dir, name, text.as_bytes())?;
    Ok(())
}
