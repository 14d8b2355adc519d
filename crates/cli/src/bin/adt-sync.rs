//! adt-sync: keep the webroots of a site's webservers in sync
//! (SYNC_WEBROOTS), leaving the mounted directories out.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use adt_assets::SyncSettings;
use adt_cli::exit;
use adt_cli::interrupt::Interrupt;
use adt_cli::output::print_json;
use adt_cli::setup::{Failure, open_site, resolve_dir, runtime};
use clap::{Parser, Subcommand, ValueEnum};

/// Keep the webroots of a site's webservers in sync through the datastore.
///
/// Each webserver is a node with its own journal in the bucket
/// ${WEBSITE_URL}-webroot-sync-tunnel-var-www-html (dots as dashes): a
/// cycle applies the other nodes' changes, then publishes this webroot's
/// settled changes. Nothing mounted is ever read or written: the
/// DIRECTORIES_TO_MOUNT mount points, every other mount or filesystem below
/// the webroot, and whatever a backup leaves out (the application's logs,
/// tmp, cache and configuration file, or the template's
/// EXCLUDE_FROM_BACKUP, and --exclude). Concurrent edits of one file end
/// the same on every node; the losing version is kept in the bucket and
/// reported. Links, FIFOs and devices are not synced.
///
/// Exit status: 0 done, 1 failed or paused, 2 bad usage or input.
#[derive(Parser, Debug)]
#[command(name = "adt-sync", version)]
struct Args {
    #[command(subcommand)]
    command: Command,

    /// The deployment template (SYNC_WEBROOTS must be 1).
    #[arg(long, value_name = "PATH", global = true)]
    template: Option<PathBuf>,

    /// The webroot kept in sync.
    #[arg(long, value_name = "DIR", default_value = adt_template::DEFAULT_WEBROOT, global = true)]
    webroot: PathBuf,

    /// Use this S3 endpoint instead of the template's first S3_HOST_BASE.
    #[arg(long, value_name = "URL", global = true)]
    endpoint: Option<String>,

    /// human or json.
    #[arg(long, value_enum, default_value_t = Format::Human, global = true)]
    format: Format,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    Human,
    Json,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run one cycle: apply the other nodes' changes, then publish this
    /// webroot's. Safe to stop at any moment (even kill -9): the next run
    /// completes the work. ADT ran its sync from cron four times a minute;
    /// a cron line running this does the same.
    Run {
        /// This webserver's private state directory (its node id, kept
        /// once made, and what it knows of every path).
        #[arg(long, value_name = "DIR", default_value = "/var/lib/adt-sync")]
        state_dir: PathBuf,
        /// The node id the first time (a-z, 0-9, `-`) [default: random].
        #[arg(long, value_name = "ID")]
        node_id: Option<String>,
        /// Publish a file only once it has not changed for this long.
        #[arg(long, value_name = "SECONDS", default_value_t = 3)]
        settle: u64,
        /// Pause, publishing nothing, when more than this many files and
        /// directories disappeared at once ...
        #[arg(long, value_name = "N", default_value_t = 1000)]
        max_delete_count: u64,
        /// ... or more than this percentage of them (10 or fewer never pause).
        #[arg(long, value_name = "PERCENT", default_value_t = 50, value_parser = clap::value_parser!(u8).range(0..=100))]
        max_delete_percent: u8,
        /// Publish the deletions a paused node holds back, and resume.
        #[arg(long)]
        accept_deletes: bool,
        /// Also leave out paths matching PATTERN (rsync's rules, as
        /// adt-backup's --exclude). Repeatable.
        #[arg(long, value_name = "PATTERN")]
        exclude: Vec<String>,
    },
    /// Show every node: its last batch, how far behind the others it is,
    /// whether it is paused, and the conflicts kept.
    Status {
        /// This webserver's state directory (only to name this node).
        #[arg(long, value_name = "DIR", default_value = "/var/lib/adt-sync")]
        state_dir: PathBuf,
    },
}

fn main() -> ExitCode {
    adt_cli::setup::conclude("adt-sync", run(&Args::parse()))
}

fn run(args: &Args) -> Result<u8, Failure> {
    let template = args
        .template
        .as_deref()
        .ok_or_else(|| Failure::new(exit::USAGE, "--template PATH is required"))?;
    let webroot = resolve_dir("--webroot", &args.webroot, true)?;
    let site = open_site(template, &webroot, args.endpoint.as_deref())?;
    let json = args.format == Format::Json;
    match &args.command {
        Command::Run {
            state_dir,
            node_id,
            settle,
            max_delete_count,
            max_delete_percent,
            accept_deletes,
            exclude,
        } => {
            let mut settings = SyncSettings::new(state_dir);
            settings.node_id = node_id.clone();
            settings.options.settle = Duration::from_secs(*settle);
            settings.options.max_delete_count = *max_delete_count;
            settings.options.max_delete_percent = *max_delete_percent;
            settings.options.accept_deletes = *accept_deletes;
            let job = site.sync(settings, exclude)?;
            let runtime = runtime()?;
            let interrupt = Interrupt::install(&runtime);
            let Some(result) = runtime.block_on(interrupt.run(job.run())) else {
                eprintln!(
                    "adt-sync: stopped by {}; the next run completes the work",
                    interrupt.signal_name()
                );
                return Ok(interrupt.exit_code());
            };
            let report = result?;
            if json {
                print_json(&report)?;
            } else {
                print!("{}", adt_cli::human::sync_cycle(&report));
            }
            if let Some(why) = &report.paused {
                eprintln!("adt-sync: paused: {why}");
                return Ok(exit::FAILURE);
            }
        }
        Command::Status { state_dir } => {
            let job = site.sync(SyncSettings::new(state_dir), &[])?;
            let report = runtime()?.block_on(job.status())?;
            if json {
                print_json(&report)?;
            } else {
                print!("{}", adt_cli::human::sync_status(&report, job.node_id()));
            }
        }
    }
    Ok(exit::SUCCESS)
}
