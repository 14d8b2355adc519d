//! The credential files the tools read: created in a 0700 directory, each
//! file 0600 from the moment it exists, written whole (temporary file,
//! then rename).

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use adt_template::Secret;

use crate::error::{MountError, io};
use crate::tool::CredentialFiles;

/// The keys only: endpoints and regions go on the command line, from the
/// plan, so there is one source for them.
pub(crate) fn write(files: &CredentialFiles, access: &Secret, secret: &Secret) -> Result<(), MountError> {
    if let Some(dir) = files.s3fs.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| io(dir, e))?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(|e| io(dir, e))?;
    }
    let (a, s) = (access.expose(), secret.expose());
    private(&files.s3fs, &format!("{a}:{s}\n"))?;
    private(
        &files.rclone,
        &format!(
            "[adt]\ntype = s3\nprovider = Other\naccess_key_id = {a}\nsecret_access_key = {s}\nforce_path_style = true\n"
        ),
    )?;
    private(
        &files.aws,
        &format!("[adt]\naws_access_key_id = {a}\naws_secret_access_key = {s}\n"),
    )
}

fn private(path: &Path, text: &str) -> Result<(), MountError> {
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| io(&tmp, e))?;
    file.write_all(text.as_bytes()).map_err(|e| io(&tmp, e))?;
    file.sync_all().map_err(|e| io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| io(path, e))
}
