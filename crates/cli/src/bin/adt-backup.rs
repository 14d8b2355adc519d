//! adt-backup: backups and sync filters that leave the mounted asset
//! directories out.

use std::path::PathBuf;
use std::process::ExitCode;

use adt_assets::{Site, SiteOptions};
use adt_cli::exit;
use adt_cli::interrupt::Interrupt;
use adt_cli::metrics::{Metrics, Recorder};
use adt_cli::output::print_json;
use adt_cli::setup::{Failure, open_site, resolve_dir, runtime};
use adt_template::AssetConfig;
use clap::{Parser, Subcommand, ValueEnum};

/// Back up the webroot without the directories mounted from the datastore.
///
/// Once assets are persisted, their bucket is the single place of truth:
/// backups and webroot syncing leave out every DIRECTORIES_TO_MOUNT mount
/// point, every other mount below the webroot (any filesystem type), and
/// the --exclude patterns. Nothing inside an excluded directory is ever
/// read: reading a FUSE mount would download its bucket.
///
/// Exit status: 0 done, 1 failed, 2 bad usage or input.
#[derive(Parser, Debug)]
#[command(name = "adt-backup", version)]
struct Args {
    #[command(flatten)]
    log: adt_cli::setup::LogArgs,

    #[command(subcommand)]
    command: Command,

    /// The deployment template; its mount points are excluded when
    /// PERSIST_ASSETS_TO_DATASTORE is 1.
    #[arg(long, value_name = "PATH", global = true)]
    template: Option<PathBuf>,

    /// The webroot to back up.
    #[arg(long, value_name = "DIR", default_value = adt_template::DEFAULT_WEBROOT, global = true)]
    webroot: PathBuf,

    /// A path to leave out, with rsync's rules: `/logs` is anchored at the
    /// webroot; `*.log` or `cache/*` match at any depth; `*` and `?` stay
    /// within a name, `**` crosses directories, `[...]` is a class. E.g.
    /// /uploads/tmp or *.bak. Repeatable. Added to ADT's defaults (see
    /// --no-default-excludes).
    #[arg(long, value_name = "PATTERN", global = true)]
    exclude: Vec<String>,

    /// Do not leave out what ADT leaves out of every backup by default (the
    /// template's EXCLUDE_FROM_BACKUP, else its APPLICATION's logs, tmp,
    /// cache and the configuration file holding database credentials).
    #[arg(long, global = true)]
    no_default_excludes: bool,

    /// human, json, or rsync (exclusions only: an rsync filter file).
    #[arg(long, value_enum, default_value_t = Format::Human, global = true)]
    format: Format,

    /// The same as --format json.
    #[arg(long, global = true, conflicts_with = "format")]
    json: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print the exclusion set (`--format rsync`: a filter file for
    /// `rsync -a --exclude-from FILE WEBROOT/ DEST` and webroot syncs).
    Exclusions,
    /// Write the backup archive (gzip tar, root = webroot, with the marker file).
    Create {
        /// Where to write it (outside the webroot); written to a temporary
        /// file and renamed, never half-written under this name (--output
        /// is an old name for it).
        #[arg(long, value_name = "FILE", alias = "output")]
        archive: PathBuf,
        /// gzip level, 1 (fastest) to 9 (smallest); ADT's tar czf uses 6.
        #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u32).range(1..=9))]
        level: u32,
        /// Also write the run's metrics here, in Prometheus's text format,
        /// on success and on failure (for the node exporter's textfile
        /// collector; docs/operations.md, "Metrics").
        #[arg(long, value_name = "PATH")]
        metrics_file: Option<PathBuf>,
    },
    /// Store a backup as applicationsourcecode.tar.gz in bucket
    /// ${WEBSITE_URL}-PERIOD, keeping the previous one as .BACKUP. It goes
    /// up under a temporary key and is checked before it replaces the
    /// current one; two webservers uploading at once take turns.
    Upload {
        #[arg(long, ignore_case = true, value_parser = adt_cli::args::period())]
        period: adt_template::Period,
        /// The archive to upload [default: create one now, in a temporary file].
        #[arg(long, value_name = "FILE")]
        archive: Option<PathBuf>,
        /// Use this S3 endpoint instead of the template's first S3_HOST_BASE.
        #[arg(long, value_name = "URL")]
        endpoint: Option<String>,
        /// Use this store instead of datastore 1: `file:///DIR` (the
        /// period's bucket is a subdirectory of DIR), or `s3://BUCKET/PREFIX`,
        /// `gs://BUCKET`, `az://CONTAINER` (credentials from AWS_*, GOOGLE_*,
        /// AZURE_* in the environment).
        #[arg(long, value_name = "URL", conflicts_with = "endpoint")]
        to: Option<String>,
        /// How long to wait for another webserver's backup to finish, for
        /// each of two locks in turn: ADT's BACKUP_RUNNING in its config
        /// bucket on datastore 1 (when the settings name SERVER_USER, as a
        /// webserver descriptor does), then ours in each backup bucket.
        /// Then give up with exit 1.
        #[arg(long, value_name = "SECONDS", default_value_t = 600)]
        lock_wait: u64,
        /// Also write the run's metrics here, in Prometheus's text format,
        /// on success and on failure (for the node exporter's textfile
        /// collector; docs/operations.md, "Metrics").
        #[arg(long, value_name = "PATH")]
        metrics_file: Option<PathBuf>,
    },
    /// Check that the stored backup is a complete gzip tar holding the
    /// marker file (streamed; nothing written to disk).
    Verify {
        #[arg(long, ignore_case = true, value_parser = adt_cli::args::period())]
        period: adt_template::Period,
        /// Check the previous backup (.BACKUP) instead of the current one.
        #[arg(long)]
        previous: bool,
        /// Also write the run's metrics here, in Prometheus's text format,
        /// on success and on failure (for the node exporter's textfile
        /// collector; docs/operations.md, "Metrics").
        #[arg(long, value_name = "PATH")]
        metrics_file: Option<PathBuf>,
        /// Use this S3 endpoint instead of the template's first S3_HOST_BASE.
        #[arg(long, value_name = "URL")]
        endpoint: Option<String>,
        /// Use this store instead of datastore 1: `file:///DIR` (the
        /// period's bucket is a subdirectory of DIR), or `s3://BUCKET/PREFIX`,
        /// `gs://BUCKET`, `az://CONTAINER` (credentials from AWS_*, GOOGLE_*,
        /// AZURE_* in the environment).
        #[arg(long, value_name = "URL", conflicts_with = "endpoint")]
        to: Option<String>,
    },
    /// List the stored backups of every period on datastore 1: the
    /// current one and the previous (.BACKUP) with sizes and dates, and
    /// any upload lock (stale when older than its expiry) or temporary
    /// key a dead upload left.
    List {
        /// Use this S3 endpoint instead of the template's first S3_HOST_BASE.
        #[arg(long, value_name = "URL")]
        endpoint: Option<String>,
    },
    /// Rebuild the site into a new directory from a backup and its asset
    /// buckets.
    ///
    /// The backup (a period's, from datastore 1, or a local archive) is
    /// checked whole first: a complete gzip tar holding the marker file;
    /// nothing is written otherwise. It is extracted into --target
    /// without the asset directories' contents (never through a link,
    /// never into a mount, never outside the target; set-id bits
    /// dropped; FIFOs and devices not restored), then the asset buckets
    /// are mounted there as adt-mount does, or with --with-assets their
    /// objects are downloaded into the directories with the mode, owner
    /// and time they carry (to leave S3 or move to another provider).
    ///
    /// Run again after a failure or an interruption, it carries on where
    /// it stopped (the target holds .adt-restore-unfinished until done).
    /// A target holding anything else is refused unless --force: then
    /// every file the backup holds is written again, and nothing else in
    /// the target is touched or deleted (stop the web server first).
    ///
    /// Exit status: 0 restored, 1 failed (run it again to carry on), 2
    /// bad usage or input (a target in use, a missing archive).
    Restore {
        /// Restore this period's backup from datastore 1.
        #[arg(long, ignore_case = true, value_parser = adt_cli::args::period(), required_unless_present = "archive")]
        period: Option<adt_template::Period>,
        /// With --period: the previous backup (.BACKUP) instead of the current one.
        #[arg(long, requires = "period")]
        previous: bool,
        /// Restore this local backup archive instead.
        #[arg(long, value_name = "FILE", conflicts_with = "period")]
        archive: Option<PathBuf>,
        /// The new webroot (absolute; its parent must exist).
        #[arg(long, value_name = "DIR")]
        target: PathBuf,
        /// Download the asset buckets' objects into the directories
        /// instead of mounting the buckets.
        #[arg(long, conflicts_with = "no_assets")]
        with_assets: bool,
        /// Restore the archive only: neither mount nor download the assets.
        #[arg(long)]
        no_assets: bool,
        /// Restore into a target that already holds files (nothing in it is deleted).
        #[arg(long)]
        force: bool,
        /// Use this S3 endpoint instead of the template's first S3_HOST_BASE.
        #[arg(long, value_name = "URL")]
        endpoint: Option<String>,
        /// Mounting: the FUSE tool [default: the one --state-dir last
        /// mounted with, else s3fs].
        #[arg(long, value_enum)]
        tool: Option<adt_cli::args::ToolArg>,
        /// Mounting: adt-mount's private state directory (give another
        /// one to restore beside a site already mounted on this machine).
        #[arg(long, value_name = "DIR", default_value = "/var/lib/adt-mount")]
        state_dir: PathBuf,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    Human,
    Json,
    Rsync,
}

impl Args {
    /// --format, or json with --json.
    fn format(&self) -> Format {
        if self.json { Format::Json } else { self.format }
    }
}

fn main() -> ExitCode {
    if let Some(code) = adt_cli::dist::generate::<Args>() {
        return code;
    }
    let args = Args::parse();
    let result = recorder(&args.command).and_then(|mut recorder| {
        let result = run(&args, recorder.metrics());
        recorder.finish("adt-backup", result)
    });
    adt_cli::setup::conclude("adt-backup", args.format() == Format::Json, result)
}

/// The metrics of this subcommand: `adt_backup_create_*`,
/// `adt_backup_upload_*{period}`, `adt_backup_verify_*{period,backup}`.
fn recorder(command: &Command) -> Result<Recorder, Failure> {
    match command {
        Command::Exclusions => Recorder::start("backup_exclusions", &[], None),
        Command::List { .. } => Recorder::start("backup_list", &[], None),
        Command::Restore { .. } => Recorder::start("backup_restore", &[], None),
        Command::Create { metrics_file, .. } => Recorder::start("backup_create", &[], metrics_file.as_deref()),
        Command::Upload {
            period, metrics_file, ..
        } => Recorder::start("backup_upload", &[("period", period.as_str())], metrics_file.as_deref()),
        Command::Verify {
            period,
            previous,
            metrics_file,
            ..
        } => Recorder::start(
            "backup_verify",
            &[
                ("period", period.as_str()),
                ("backup", if *previous { "previous" } else { "current" }),
            ],
            metrics_file.as_deref(),
        ),
    }
}

fn run(args: &Args, metrics: &mut Metrics) -> Result<u8, Failure> {
    args.log.start()?;
    // Once, here: the mount table and the Layout name real paths.
    // It must exist where it is read: an archive made now.
    let reads_webroot = matches!(
        args.command,
        Command::Create { .. } | Command::Upload { archive: None, .. }
    );
    let webroot = &resolve_dir("--webroot", &args.webroot, reads_webroot)?;
    let endpoint = match &args.command {
        Command::Upload { endpoint, .. }
        | Command::Verify { endpoint, .. }
        | Command::List { endpoint }
        | Command::Restore { endpoint, .. } => endpoint.as_deref(),
        _ => None,
    };
    let site = match &args.template {
        Some(t) => Some(open_site(t, webroot, endpoint)?),
        None => None,
    };
    let with_template = || {
        site.as_ref()
            .ok_or_else(|| Failure::new(exit::USAGE, "--template PATH is required to reach the datastore"))
    };
    let untemplated;
    let plan_site = match &site {
        Some(s) => s,
        None => {
            untemplated = Site::from_config("(no template)", AssetConfig::default(), SiteOptions::new(webroot));
            &untemplated
        }
    };
    let plan = plan_site
        .backup_plan(&args.exclude, !args.no_default_excludes)
        .map_err(|e| match e {
            // A bad --exclude is bad usage.
            adt_assets::Error::Backup(e) => Failure::new(exit::USAGE, e.to_string()),
            e => Failure::from(e),
        })?;
    let exclusions = plan.exclusions();
    if args.format() == Format::Rsync && !matches!(args.command, Command::Exclusions) {
        return Err(Failure::new(exit::USAGE, "--format rsync is for `exclusions` only"));
    }
    let json = args.format() == Format::Json;
    match &args.command {
        Command::Exclusions => match args.format() {
            Format::Json => print_json(exclusions)?,
            Format::Rsync => {
                use std::io::Write;
                std::io::stdout()
                    .write_all(&exclusions.rsync_filter())
                    .map_err(|e| Failure::new(exit::FAILURE, format!("cannot write the filter: {e}")))?;
            }
            Format::Human => {
                for d in &exclusions.directories {
                    println!("{}/{}  ({:?})", webroot.display(), d.path, d.reason);
                }
                for p in &exclusions.patterns {
                    println!("{}/{p}  (pattern)", webroot.display());
                }
            }
        },
        Command::Create {
            archive: output, level, ..
        } => {
            let runtime = runtime()?;
            let interrupt = Interrupt::install(&runtime);
            let made = plan.create(output, *level, interrupt.flag());
            if interrupt.is_set() {
                eprintln!(
                    "adt-backup: stopped by {}: no archive written, no temporary file left",
                    interrupt.signal_name()
                );
                return Ok(interrupt.exit_code());
            }
            let report = made?;
            let archive_bytes = std::fs::metadata(output).map(|m| m.len()).unwrap_or(0);
            metrics
                .gauge("adt_backup_create_files", "Regular files the last archive holds.")
                .sample(&[], report.files as f64);
            metrics
                .gauge(
                    "adt_backup_create_content_bytes",
                    "Bytes of file content the last archive holds.",
                )
                .sample(&[], report.bytes as f64);
            metrics
                .gauge(
                    "adt_backup_create_archive_bytes",
                    "The size of the last archive written (gzip).",
                )
                .sample(&[], archive_bytes as f64);
            if json {
                print_json(&report)?;
            } else {
                adt_cli::human::created(output, &report).print("adt-backup");
            }
        }
        Command::Upload {
            period,
            archive,
            to,
            lock_wait,
            ..
        } => {
            if let Some(path) = archive {
                adt_cli::setup::input_file("--archive", path)?;
            }
            // Every chained datastore, as ADT stores backups (or the one --to names).
            let targets: Vec<adt_assets::NumberedBucket> = match to {
                Some(_) => vec![(1, Ok(backup_bucket(with_template()?, *period, to.as_deref())?))],
                None => with_template()?.backup_buckets(*period)?,
            };
            let wait = std::time::Duration::from_secs(*lock_wait);
            let mut options = adt_backups::UploadOptions::default();
            options.lock_wait = wait;
            // ADT's own lock, while ADT's webservers may back up this site too.
            // It lives on datastore 1: when that cannot be reached, ADT's
            // webservers cannot take it either, and the other datastores
            // still get the backup.
            let adt_lock = match to {
                None => {
                    let mut o = adt_backups::AdtLockOptions::default();
                    o.wait = wait;
                    match with_template()?.adt_backup_lock(o) {
                        Ok(lock) => lock,
                        Err(e) => {
                            eprintln!(
                                "adt-backup: warning: ADT's backup lock not taken: {}",
                                Failure::from(e).message
                            );
                            None
                        }
                    }
                }
                Some(_) => None,
            };
            let runtime = runtime()?;
            let interrupt = Interrupt::install(&runtime);
            let guard = match &adt_lock {
                Some(lock) => match runtime.block_on(interrupt.run(lock.acquire())) {
                    None => {
                        runtime.block_on(lock.clear_if_ours());
                        eprintln!(
                            "adt-backup: stopped by {} while waiting for ADT's backup lock; nothing was uploaded",
                            interrupt.signal_name()
                        );
                        return Ok(interrupt.exit_code());
                    }
                    Some(Ok(guard)) => Some(guard),
                    // Another webserver is backing up: wait no more.
                    Some(Err(e @ adt_backups::BackupError::Busy { .. })) => {
                        return Err(adt_assets::Error::from(e).into());
                    }
                    Some(Err(e)) => {
                        eprintln!(
                            "adt-backup: warning: ADT's backup lock not taken: {}",
                            Failure::from(adt_assets::Error::from(e)).message
                        );
                        None
                    }
                },
                None => None,
            };
            let session = Session {
                runtime: &runtime,
                interrupt: &interrupt,
                json,
            };
            let outcome = upload_everywhere(
                &session,
                &plan,
                archive.as_deref(),
                &targets,
                &options,
                period.as_str(),
                metrics,
            );
            if let Some(guard) = guard
                && let Err(e) = runtime.block_on(guard.release())
            {
                eprintln!(
                    "adt-backup: warning: {}",
                    Failure::from(adt_assets::Error::from(e)).message
                );
            }
            return outcome;
        }
        Command::Verify {
            period, previous, to, ..
        } => {
            let backups = backup_bucket(with_template()?, *period, to.as_deref())?;
            let report = runtime()?.block_on(backups.verify(*previous))?;
            let labels = [
                ("period", period.as_str()),
                ("backup", if *previous { "previous" } else { "current" }),
            ];
            metrics
                .gauge(
                    "adt_backup_verify_archive_bytes",
                    "The size of the backup the last run read whole.",
                )
                .sample(&labels, report.bytes as f64);
            metrics
                .gauge(
                    "adt_backup_verify_entries",
                    "Entries in the backup the last run read whole.",
                )
                .sample(&labels, report.entries as f64);
            if json {
                print_json(&report)?;
            } else {
                println!(
                    "{} is a complete backup: {} entries, {} bytes, marker present",
                    adt_cli::human::location(backups.store(), &report.bucket, &report.key),
                    report.entries,
                    report.bytes
                );
            }
        }
        Command::List { .. } => {
            let listed = runtime()?.block_on(with_template()?.stored_backups())?;
            if json {
                print_json(&listed)?;
            } else {
                print!("{}", adt_cli::human::backups(&listed));
            }
        }
        Command::Restore {
            period,
            previous,
            archive,
            target,
            with_assets,
            no_assets,
            force,
            tool,
            state_dir,
            ..
        } => {
            return restore(
                with_template()?,
                match (period, archive) {
                    (Some(period), _) => adt_assets::RestoreFrom::Period {
                        period: *period,
                        previous: *previous,
                    },
                    (None, Some(path)) => {
                        adt_cli::setup::input_file("--archive", path)?;
                        adt_assets::RestoreFrom::Archive(path.clone())
                    }
                    (None, None) => return Err(Failure::new(exit::USAGE, "give --period PERIOD or --archive FILE")),
                },
                target,
                {
                    let mut o = adt_assets::RestoreOptions::new(if *with_assets {
                        adt_assets::RestoreAssets::Download
                    } else if *no_assets {
                        adt_assets::RestoreAssets::Leave
                    } else {
                        let mut settings =
                            adt_assets::MountSettings::new(resolve_dir("--state-dir", state_dir, false)?);
                        settings.tool = tool.map(adt_cli::args::ToolArg::tool);
                        adt_assets::RestoreAssets::Mount(settings)
                    });
                    o.force = *force;
                    o
                },
                json,
            );
        }
    }
    Ok(exit::SUCCESS)
}

/// Restores the site into `target`, rendering the report.
fn restore(
    site: &Site,
    from: adt_assets::RestoreFrom,
    target: &std::path::Path,
    options: adt_assets::RestoreOptions,
    json: bool,
) -> Result<u8, Failure> {
    if !target.is_absolute() || target.components().any(|c| c == std::path::Component::ParentDir) {
        return Err(Failure::new(
            exit::USAGE,
            format!("--target {}: give an absolute path without `..`", target.display()),
        ));
    }
    let runtime = runtime()?;
    let interrupt = Interrupt::install(&runtime);
    let done = runtime.block_on(site.restore(&from, target, &options, interrupt.flag()));
    if interrupt.is_set() {
        eprintln!(
            "adt-backup: stopped by {}; run the same command again to carry on",
            interrupt.signal_name()
        );
        return Ok(interrupt.exit_code());
    }
    let report = done?;
    for w in &report.warnings {
        eprintln!("adt-backup: warning: {w}");
    }
    if json {
        print_json(&report)?;
    } else {
        print!("{}", adt_cli::human::restored(&report));
    }
    Ok(exit::SUCCESS)
}

/// The backup bucket of `period` on datastore 1, or on the store `to` names.
fn backup_bucket(
    site: &Site,
    period: adt_template::Period,
    to: Option<&str>,
) -> Result<adt_assets::BackupBucket, Failure> {
    Ok(match to {
        Some(url) => site.backup_bucket_on(period, adt_cli::setup::store_at(url)?)?,
        None => site.backup_bucket_store(period)?,
    })
}

/// What an upload runs under: the runtime, the signal handler, the output format.
struct Session<'a> {
    runtime: &'a tokio::runtime::Runtime,
    interrupt: &'a Interrupt,
    json: bool,
}

/// Stores the archive (made now unless given) on every target, reporting
/// each; a failing datastore does not stop the others.
fn upload_everywhere(
    session: &Session<'_>,
    plan: &adt_assets::BackupPlan,
    archive: Option<&std::path::Path>,
    targets: &[adt_assets::NumberedBucket],
    options: &adt_backups::UploadOptions,
    period: &str,
    metrics: &mut Metrics,
) -> Result<u8, Failure> {
    let Session {
        runtime,
        interrupt,
        json,
    } = *session;
    let made;
    let path = match archive {
        Some(path) => path,
        None => {
            let created = plan.create_temporary(interrupt.flag());
            if interrupt.is_set() {
                eprintln!(
                    "adt-backup: stopped by {} while writing the archive; nothing was uploaded",
                    interrupt.signal_name()
                );
                return Ok(interrupt.exit_code());
            }
            made = created?;
            made.path()
        }
    };
    let archive_bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    metrics
        .gauge(
            "adt_backup_upload_archive_bytes",
            "The size of the archive the last run uploaded.",
        )
        .sample(&[("period", period)], archive_bytes as f64);
    let mut datastore_ok = |number: &usize, ok: bool| {
        let number = number.to_string();
        metrics
            .gauge(
                "adt_backup_upload_datastore_success",
                "1 when the last run stored the backup on this datastore, else 0.",
            )
            .sample(
                &[("period", period), ("datastore", &number)],
                if ok { 1.0 } else { 0.0 },
            );
    };
    let mut stored = Vec::new();
    let mut failed = Vec::new();
    for (number, target) in targets {
        let backups = match target {
            Ok(b) => b,
            Err(e) => {
                datastore_ok(number, false);
                failed.push(serde_json::json!({"datastore": number, "error": Failure::from_ref(e).message}));
                continue;
            }
        };
        let result = runtime.block_on(interrupt.run(backups.upload(path, options)));
        let Some(result) = result else {
            let done = runtime.block_on(backups.clean_interrupted());
            eprintln!(
                "adt-backup: stopped by {} during the upload to datastore {number}: the current backup is whole (the previous one, or the new one if it had already replaced it){}",
                interrupt.signal_name(),
                done.iter().map(|d| format!("; {d}")).collect::<String>()
            );
            return Ok(interrupt.exit_code());
        };
        let endpoint = backups.store().endpoint().url().to_string();
        datastore_ok(number, result.is_ok());
        match result {
            Ok(report) => {
                if !json {
                    println!(
                        "stored {} on datastore {number} ({} bytes){}",
                        adt_cli::human::location(backups.store(), &report.bucket, &report.key),
                        report.bytes,
                        if report.previous_kept {
                            "; the previous backup is kept as .BACKUP"
                        } else {
                            ""
                        }
                    );
                }
                stored.push(serde_json::json!({
                    "datastore": number, "endpoint": endpoint, "bucket": report.bucket,
                    "key": report.key, "bytes": report.bytes, "previous_kept": report.previous_kept,
                }));
            }
            Err(e) => failed.push(serde_json::json!({
                "datastore": number, "endpoint": endpoint, "error": Failure::from(e).message,
            })),
        }
    }
    if json {
        print_json(&serde_json::json!({ "stored": stored, "failed": failed }))?;
    }
    for f in &failed {
        eprintln!(
            "adt-backup: datastore {} failed: {}",
            f["datastore"],
            f["error"].as_str().unwrap_or_default()
        );
    }
    if !failed.is_empty() {
        return Ok(exit::FAILURE);
    }
    Ok(exit::SUCCESS)
}
