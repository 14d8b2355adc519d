//! What every binary does first and last: open the site (refusing a
//! template that adt-check rejects), and turn a failure into a message
//! and an exit code.

use std::path::Path;

use adt_template::{Severity, TemplateError};

use crate::exit;

/// A failure already explained to the user: what to print, and the exit code.
#[derive(Debug)]
pub struct Failure {
    /// The exit code ([`crate::exit`]).
    pub code: u8,
    /// What to print after `PROGRAM: `.
    pub message: String,
}

impl Failure {
    /// A failure with its exit code and message.
    pub fn new(code: u8, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
        }
    }
}

/// Ends a binary: prints a failure as `PROGRAM: message` on stderr (and,
/// with `--format json`, as one JSON object on stdout, so a script reading
/// stdout gets an answer too: `{"error": {"program", "exit_code",
/// "message"}}`), and returns its exit code.
pub fn conclude(program: &str, json: bool, result: Result<u8, Failure>) -> std::process::ExitCode {
    match result {
        Ok(code) => std::process::ExitCode::from(code),
        Err(failure) => {
            eprintln!("{program}: {}", failure.message);
            if json {
                println!(
                    "{}",
                    serde_json::json!({
                        "error": {"program": program, "exit_code": failure.code, "message": failure.message}
                    })
                );
            }
            std::process::ExitCode::from(failure.code)
        }
    }
}

/// The one exit-code map and the one place library errors become words
/// for people: bad input (an unreadable template, a malformed endpoint, an
/// unusable path) exits 2, everything else 1; where the fix is a flag,
/// the message names it.
impl From<adt_assets::Error> for Failure {
    fn from(e: adt_assets::Error) -> Failure {
        Failure::from_ref(&e)
    }
}

impl Failure {
    /// [`From`] for an error the caller keeps (a failed datastore among
    /// several).
    pub fn from_ref(e: &adt_assets::Error) -> Failure {
        use adt_assets::Error;
        let code = if e.is_bad_input() { exit::USAGE } else { exit::FAILURE };
        let message = match e {
            Error::Template(TemplateError::Rejected { path, errors }) => {
                let mut message =
                    format!("{path} has errors; fix them first (adt-check {path} shows each with its fix):");
                for d in errors.iter().filter(|d| d.severity == Severity::Error) {
                    message.push_str(&format!(
                        "\n  {path}:{}:{}: {} [{}]",
                        d.line, d.column, d.message, d.rule
                    ));
                }
                message
            }
            Error::NoArchiveChoice { .. } => format!("{e}: give --archive FILE or --from-period PERIOD"),
            Error::Backup(adt_backups::BackupError::TargetNotEmpty(_)) => {
                e.to_string().replacen("or force it", "or give --force", 1)
            }
            Error::Backup(adt_backups::BackupError::OtherRestore { .. }) => {
                e.to_string().replacen("or force this one", "or give --force", 1)
            }
            Error::NoReplica { .. } => {
                format!("{e} (give --to-endpoint URL, keys from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)")
            }
            Error::Replicate(adt_replication::ReplicateError::TooManyChanges { max_change, .. }) => e
                .to_string()
                .replacen(
                    &format!("more than {max_change}"),
                    &format!("more than --max-change {max_change}"),
                    1,
                )
                .replacen(
                    "then raise the limit, or force the run",
                    "rerun with a higher --max-change, or --force",
                    1,
                ),
            Error::Path { role, path, problem } => {
                let flag = match *role {
                    "state directory" => "--state-dir",
                    "webroot" => "--webroot",
                    other => other,
                };
                format!("{flag} {}: {problem}", path.display())
            }
            _ => e.to_string(),
        };
        Failure::new(code, message + datastore_hint(e))
    }
}

/// Which template settings to check when a datastore could not be used.
fn datastore_hint(e: &adt_assets::Error) -> &'static str {
    use adt_assets::Error;
    use adt_datastore::DatastoreError;
    let cause = match e {
        Error::Endpoint { source, .. } | Error::Connect { source, .. } => Some(source),
        Error::Seed(adt_seeder::SeedError::Datastore(d))
        | Error::Mount(adt_mounts::MountError::Datastore(d))
        | Error::Backup(adt_backups::BackupError::Datastore(d))
        | Error::Replicate(adt_replication::ReplicateError::Primary(d)) => Some(d),
        _ => None,
    };
    match cause {
        Some(DatastoreError::Unreachable { .. }) => " (S3_HOST_BASE, or --endpoint)",
        Some(DatastoreError::Denied { .. }) => " (S3_ACCESS_KEY and S3_SECRET_KEY)",
        Some(DatastoreError::CaBundle { .. }) => " (AWS_CA_BUNDLE)",
        _ => "",
    }
}

/// The store at `url` (`--to`): `file:///DIR`, or a cloud bucket
/// (`s3://BUCKET/PREFIX`, `gs://BUCKET`, `az://CONTAINER`) whose
/// credentials and settings come from the environment as object_store
/// names them (`AWS_*`, `GOOGLE_*`, `AZURE_*`), never from the command line.
pub fn store_at(url: &str) -> Result<adt_datastore::Store, Failure> {
    let settings: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| ["AWS_", "GOOGLE_", "AZURE_"].iter().any(|p| k.starts_with(p)))
        .collect();
    adt_datastore::Store::open_url_with(url, &settings).map_err(|e| Failure::new(exit::USAGE, format!("--to: {e}")))
}

/// The site of `template` at `webroot` (datastore 1 at `endpoint` when
/// given; $AWS_CA_BUNDLE trusted).
pub fn open_site(template: &Path, webroot: &Path, endpoint: Option<&str>) -> Result<adt_assets::Site, Failure> {
    let options = adt_assets::SiteOptions::new(webroot)
        .with_endpoint(endpoint.map(str::to_string))
        .with_env();
    Ok(adt_assets::Site::load(template, options)?)
}

/// The async runtime the binaries drive the libraries with.
pub fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::new(exit::FAILURE, format!("cannot start the async runtime: {e}")))
}

/// An input file argument (an archive to read): one that does not exist
/// or is not a regular file is input that cannot be read, exit 2, the
/// same in every binary (adt-check --archive, adt-seed --archive,
/// adt-backup upload --archive).
pub fn input_file(flag: &str, path: &Path) -> Result<(), Failure> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => Ok(()),
        Ok(_) => Err(Failure::new(
            exit::USAGE,
            format!("{flag} {}: not a regular file", path.display()),
        )),
        Err(e) => Err(Failure::new(exit::USAGE, format!("{flag} {}: {e}", path.display()))),
    }
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

/// How much a binary logs, and where: the same flags on every binary.
/// Log lines go to stderr (or `--log-file`), never to stdout, which holds
/// the report.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct LogArgs {
    /// More log lines: -v what each step does, -vv details (the S3 SDK's
    /// requests, with their request ids), -vvv everything. RUST_LOG, when
    /// set, decides instead.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Only errors are logged.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Append the log lines to this file (created 0600, never through a
    /// link) instead of stderr.
    #[arg(long, value_name = "PATH", global = true)]
    pub log_file: Option<std::path::PathBuf>,
}

impl LogArgs {
    /// The filter the flags ask for: warnings by default.
    fn directives(&self) -> &'static str {
        match (self.quiet, self.verbose) {
            (true, _) => "error",
            (false, 0) => "warn",
            (false, 1) => "info",
            (false, 2) => "debug",
            (false, _) => "trace",
        }
    }

    /// Installs the log subscriber for this process (once, first thing in
    /// `run`). RUST_LOG, when set, replaces the flags' filter.
    pub fn start(&self) -> Result<(), Failure> {
        use tracing_subscriber::EnvFilter;
        let filter = match std::env::var("RUST_LOG") {
            Ok(spec) if !spec.is_empty() => {
                EnvFilter::try_new(&spec).map_err(|e| Failure::new(exit::USAGE, format!("RUST_LOG={spec}: {e}")))?
            }
            _ => EnvFilter::new(self.directives()),
        };
        let builder = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(false)
            .with_target(true);
        let result = match &self.log_file {
            Some(path) => {
                use std::os::unix::fs::OpenOptionsExt;
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .mode(0o600)
                    .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
                    .open(path)
                    .map_err(|e| Failure::new(exit::FAILURE, format!("--log-file {}: {e}", path.display())))?;
                builder.with_writer(std::sync::Mutex::new(file)).try_init()
            }
            None => builder.with_writer(std::io::stderr).try_init(),
        };
        // A subscriber already installed (a test harness) is fine.
        let _ = result;
        Ok(())
    }
}
