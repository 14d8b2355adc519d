//! adt-backup: backups and sync filters that leave the mounted asset
//! directories out.

use std::path::PathBuf;
use std::process::ExitCode;

use adt_assets::exit;
use adt_assets::interrupt::Interrupt;
use adt_assets::output::print_json;
use adt_assets::setup::{Failure, load_template, primary_store, resolve_dir, runtime};
use adt_backup::Exclusions;
use adt_mount::MountTable;
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
    /// /logs, /tmp, /cache, /configuration.php. Repeatable.
    #[arg(long, value_name = "PATTERN", global = true)]
    exclude: Vec<String>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print the exclusion set.
    Exclusions {
        /// json, human, or rsync: a filter file for
        /// `rsync -a --exclude-from FILE WEBROOT/ DEST` and webroot syncs.
        #[arg(long, value_enum, default_value_t = ExclusionFormat::Human)]
        format: ExclusionFormat,
    },
    /// Write the backup archive (gzip tar, root = webroot, with the marker file).
    Create {
        /// Where to write it (outside the webroot); written to a temporary
        /// file and renamed, never half-written under this name.
        #[arg(long, value_name = "FILE")]
        output: PathBuf,
        /// gzip level, 1 (fastest) to 9 (smallest); ADT's tar czf uses 6.
        #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u32).range(1..=9))]
        level: u32,
        /// human or json.
        #[arg(long, value_enum, default_value_t = adt_assets::output::OutputFormat::Human)]
        format: adt_assets::output::OutputFormat,
    },
    /// Store a backup as applicationsourcecode.tar.gz in bucket
    /// ${WEBSITE_URL}-PERIOD, keeping the previous one as .BACKUP. It goes
    /// up under a temporary key and is checked before it replaces the
    /// current one; two webservers uploading at once take turns.
    Upload {
        #[arg(long, value_parser = adt_backup::PERIODS.to_vec())]
        period: String,
        /// The archive to upload [default: create one now, in a temporary file].
        #[arg(long, value_name = "FILE")]
        archive: Option<PathBuf>,
        /// Use this S3 endpoint instead of the template's first S3_HOST_BASE.
        #[arg(long, value_name = "URL")]
        endpoint: Option<String>,
        /// human or json.
        #[arg(long, value_enum, default_value_t = adt_assets::output::OutputFormat::Human)]
        format: adt_assets::output::OutputFormat,
    },
    /// Check that the stored backup is a complete gzip tar holding the
    /// marker file (streamed; nothing written to disk).
    Verify {
        #[arg(long, value_parser = adt_backup::PERIODS.to_vec())]
        period: String,
        /// Check the previous backup (.BACKUP) instead of the current one.
        #[arg(long)]
        previous: bool,
        /// Use this S3 endpoint instead of the template's first S3_HOST_BASE.
        #[arg(long, value_name = "URL")]
        endpoint: Option<String>,
        /// human or json.
        #[arg(long, value_enum, default_value_t = adt_assets::output::OutputFormat::Human)]
        format: adt_assets::output::OutputFormat,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ExclusionFormat {
    Human,
    Json,
    Rsync,
}

fn main() -> ExitCode {
    adt_assets::setup::conclude("adt-backup", run(&Args::parse()))
}

fn run(args: &Args) -> Result<u8, Failure> {
    // Once, here: the mount table and the Layout name real paths.
    // It must exist where it is read: an archive made now.
    let reads_webroot = matches!(
        args.command,
        Command::Create { .. } | Command::Upload { archive: None, .. }
    );
    let webroot = &resolve_dir("--webroot", &args.webroot, reads_webroot)?;
    let config = match &args.template {
        Some(t) => Some(load_template(t, webroot)?),
        None => None,
    };
    let layout = match &config {
        Some(c) if c.persist_assets => {
            Some(adt_template::Layout::new(c, webroot).map_err(|e| Failure::new(exit::FAILURE, e.to_string()))?)
        }
        _ => None,
    };
    let table = MountTable::read().map_err(|e| Failure::new(exit::FAILURE, format!("/proc/self/mountinfo: {e}")))?;
    let exclusions = Exclusions::new(webroot, layout.as_ref(), &table, &args.exclude)
        .map_err(|e| Failure::new(exit::USAGE, e.to_string()))?;
    match &args.command {
        Command::Exclusions { format } => match format {
            ExclusionFormat::Json => print_json(&exclusions)?,
            ExclusionFormat::Rsync => print!("{}", exclusions.rsync_filter()),
            ExclusionFormat::Human => {
                for d in &exclusions.directories {
                    println!("{}/{}  ({:?})", webroot.display(), d.path, d.reason);
                }
                for p in &exclusions.patterns {
                    println!("{}/{p}  (pattern)", webroot.display());
                }
            }
        },
        Command::Create { output, level, format } => {
            let runtime = runtime()?;
            let interrupt = Interrupt::install(&runtime);
            let made = adt_backup::create_until(webroot, &exclusions, &table, output, *level, interrupt.flag());
            if interrupt.is_set() {
                eprintln!(
                    "adt-backup: stopped by {}: no archive written, no temporary file left",
                    interrupt.signal_name()
                );
                return Ok(interrupt.exit_code());
            }
            let report = made.map_err(|e| Failure::new(exit::FAILURE, e.to_string()))?;
            if *format == adt_assets::output::OutputFormat::Json {
                print_json(&report)?;
            } else {
                println!(
                    "{}: {} files ({} bytes), {} directories, {} symlinks; left out: {}",
                    output.display(),
                    report.files,
                    report.bytes,
                    report.directories,
                    report.symlinks,
                    if report.excluded.is_empty() {
                        "nothing".to_string()
                    } else {
                        report.excluded.join(", ")
                    }
                );
                for (what, list) in [
                    ("changed while read", &report.changed),
                    ("vanished during the walk", &report.vanished),
                    ("on another filesystem, not entered", &report.other_filesystems),
                    ("sockets, fifos or devices, not archived", &report.special),
                    ("nested too deep, not entered", &report.too_deep),
                    ("unreadable, left out", &report.unreadable),
                ] {
                    if !list.is_empty() {
                        println!("warning: {what}: {}", list.join(", "));
                    }
                }
            }
        }
        Command::Upload {
            period,
            archive,
            endpoint,
            format,
        } => {
            let (store, bucket) = datastore(config.as_ref(), endpoint.as_deref(), period)?;
            let runtime = runtime()?;
            let interrupt = Interrupt::install(&runtime);
            // A fresh private directory (0700, unpredictable name) for the
            // archive made now; removed with what it holds when done.
            let scratch;
            let path = match archive {
                Some(path) => path.clone(),
                None => {
                    scratch = tempfile::Builder::new()
                        .prefix("adt-backup-")
                        .tempdir()
                        .map_err(|e| Failure::new(exit::FAILURE, format!("cannot make a temporary directory: {e}")))?;
                    let made = scratch.path().join("applicationsourcecode.tar.gz");
                    let created = adt_backup::create_until(webroot, &exclusions, &table, &made, 6, interrupt.flag());
                    if interrupt.is_set() {
                        eprintln!(
                            "adt-backup: stopped by {} while writing the archive; nothing was uploaded",
                            interrupt.signal_name()
                        );
                        return Ok(interrupt.exit_code());
                    }
                    created.map_err(|e| Failure::new(exit::FAILURE, e.to_string()))?;
                    made
                }
            };
            let options = adt_backup::UploadOptions::default();
            let result = runtime.block_on(interrupt.run(adt_backup::upload(&store, &bucket, &path, &options)));
            let Some(result) = result else {
                let done = runtime.block_on(adt_backup::clean_interrupted(&store, &bucket));
                eprintln!(
                    "adt-backup: stopped by {}: the current backup is whole (the previous one, or the new one if it had already replaced it){}",
                    interrupt.signal_name(),
                    done.iter().map(|d| format!("; {d}")).collect::<String>()
                );
                return Ok(interrupt.exit_code());
            };
            let report = result.map_err(|e| Failure::new(exit::FAILURE, e.to_string()))?;
            if *format == adt_assets::output::OutputFormat::Json {
                print_json(&report)?;
            } else {
                println!(
                    "stored s3://{}/{} ({} bytes){}",
                    report.bucket,
                    report.key,
                    report.bytes,
                    if report.previous_kept {
                        "; the previous backup is kept as .BACKUP"
                    } else {
                        ""
                    }
                );
            }
        }
        Command::Verify {
            period,
            previous,
            endpoint,
            format,
        } => {
            let (store, bucket) = datastore(config.as_ref(), endpoint.as_deref(), period)?;
            let key = if *previous {
                adt_backup::PREVIOUS_KEY
            } else {
                adt_backup::ARCHIVE_KEY
            };
            let report = runtime()?
                .block_on(adt_backup::verify(&store, &bucket, key))
                .map_err(|e| Failure::new(exit::FAILURE, e.to_string()))?;
            if *format == adt_assets::output::OutputFormat::Json {
                print_json(&report)?;
            } else {
                println!(
                    "s3://{}/{} is a complete backup: {} entries, {} bytes, marker present",
                    report.bucket, report.key, report.entries, report.bytes
                );
            }
        }
    }
    Ok(exit::SUCCESS)
}

/// Datastore 1 and the backup bucket of `period`.
fn datastore(
    config: Option<&adt_template::AssetConfig>,
    endpoint: Option<&str>,
    period: &str,
) -> Result<(adt_datastore::Store, String), Failure> {
    let config =
        config.ok_or_else(|| Failure::new(exit::USAGE, "--template PATH is required to reach the datastore"))?;
    let url = config.website_url.as_deref().ok_or_else(|| {
        Failure::new(
            exit::FAILURE,
            "WEBSITE_URL is not set; the backup bucket is named after it",
        )
    })?;
    let store = primary_store(config, endpoint)?;
    Ok((store, adt_template::backup_bucket_name(url, period)))
}
