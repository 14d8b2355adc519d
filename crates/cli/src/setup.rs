//! What every binary does first: read the template (refusing one that
//! adt-check rejects), and open datastore 1 (or an --endpoint override).

use std::path::Path;

use adt_datastore::{Connection, Store};
use adt_template::{AssetConfig, Severity, TemplateError};

use crate::exit;

/// A failure already explained to the user: what to print, and the exit code.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    pub fn new(code: u8, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
        }
    }
}

/// Ends a binary: prints a failure as `PROGRAM: message` on stderr, and
/// returns its exit code.
pub fn conclude(program: &str, result: Result<u8, Failure>) -> std::process::ExitCode {
    match result {
        Ok(code) => std::process::ExitCode::from(code),
        Err(failure) => {
            eprintln!("{program}: {}", failure.message);
            std::process::ExitCode::from(failure.code)
        }
    }
}

/// Refuses (exit 1) a template whose assets are not persisted: `what`
/// says what there is then nothing of to do ("to seed", "to replicate").
pub fn require_persistence(config: &AssetConfig, template: &Path, what: &str) -> Result<(), Failure> {
    if config.persist_assets {
        return Ok(());
    }
    Err(Failure::new(
        exit::FAILURE,
        format!(
            "PERSIST_ASSETS_TO_DATASTORE is not 1 in {}: assets are not persisted, so there is nothing {what}",
            template.display()
        ),
    ))
}

/// The template's asset settings. Unreadable or unparsable input exits 2;
/// a template with errors exits 1, listing them.
pub fn load_template(path: &Path, webroot: &Path) -> Result<AssetConfig, Failure> {
    adt_template::load(path, webroot).map_err(|e| match e {
        TemplateError::Rejected { path, errors } => {
            let mut message = format!("{path} has errors; fix them first (adt-check {path} shows each with its fix):");
            for d in errors.iter().filter(|d| d.severity == Severity::Error) {
                message.push_str(&format!(
                    "\n  {path}:{}:{}: {} [{}]",
                    d.line, d.column, d.message, d.rule
                ));
            }
            Failure::new(exit::FAILURE, message)
        }
        other => Failure::new(exit::USAGE, other.to_string()),
    })
}

/// The connection to datastore 1 of the template, or to `endpoint` with its keys.
pub fn primary_connection(config: &AssetConfig, endpoint: Option<&str>) -> Result<Connection, Failure> {
    let first = config
        .datastores
        .first()
        .ok_or_else(|| Failure::new(exit::FAILURE, "the template names no datastore (S3_HOST_BASE is empty)"))?;
    Connection::from_datastore(first, endpoint).map_err(|e| Failure::new(exit::USAGE, e.to_string()))
}

/// A client for datastore 1 of the template, or for `endpoint` with its keys.
pub fn primary_store(config: &AssetConfig, endpoint: Option<&str>) -> Result<Store, Failure> {
    let connection = primary_connection(config, endpoint)?;
    Store::connect(&connection).map_err(|e| Failure::new(exit::FAILURE, e.to_string()))
}

/// The async runtime the binaries drive the libraries with.
pub fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::new(exit::FAILURE, format!("cannot start the async runtime: {e}")))
}

/// A path argument (`flag` names it in messages): UTF-8 (it appears in
/// JSON output), absolute, without `..`; made canonical once when it
/// exists (links resolved by the kernel), so comparisons with the mount
/// table and the Layout use real paths. With `must_exist`, a missing one
/// is an error (a typo must not become a new directory).
pub fn resolve_dir(flag: &str, path: &Path, must_exist: bool) -> Result<std::path::PathBuf, Failure> {
    let shown = path.display();
    if path.to_str().is_none() {
        return Err(Failure::new(
            exit::USAGE,
            format!("{flag} {shown}: the path is not valid UTF-8"),
        ));
    }
    if !path.is_absolute() || path.components().any(|c| c == std::path::Component::ParentDir) {
        return Err(Failure::new(
            exit::USAGE,
            format!("{flag} {shown}: give an absolute path without `..`"),
        ));
    }
    match adt_localfs::canonical_dir(path) {
        Ok(canonical) if canonical.is_dir() => Ok(canonical),
        Ok(_) => Err(Failure::new(exit::USAGE, format!("{flag} {shown} is not a directory"))),
        Err(e) if e.is_missing() && !must_exist => Ok(path.to_path_buf()),
        Err(e) if e.is_missing() => Err(Failure::new(exit::FAILURE, format!("{flag} {shown} does not exist"))),
        Err(e) => Err(Failure::new(exit::FAILURE, format!("{flag}: {e}"))),
    }
}
