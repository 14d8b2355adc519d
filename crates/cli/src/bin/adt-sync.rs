//! adt-sync: keep the webroots of a site's webservers in sync
//! (SYNC_WEBROOTS), leaving the mounted directories out.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use adt_assets::SyncSettings;
use adt_cli::exit;
use adt_cli::interrupt::Interrupt;
use adt_cli::metrics::{Metrics, Recorder};
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
    #[command(flatten)]
    log: adt_cli::setup::LogArgs,

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

    /// The same as --format json.
    #[arg(long, global = true, conflicts_with = "format")]
    json: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    Human,
    Json,
}

/// How a cycle behaves (run and watch).
#[derive(clap::Args, Debug)]
struct CycleArgs {
    /// This webserver's private state directory (its node id, kept once
    /// made, and what it knows of every path).
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
    /// Write a snapshot, and collect the batches it covers, once the
    /// journals grew by this many batches.
    #[arg(long, value_name = "N", default_value_t = 500)]
    snapshot_batches: u64,
    /// Also leave out paths matching PATTERN (rsync's rules, as
    /// adt-backup's --exclude). Repeatable.
    #[arg(long, value_name = "PATTERN")]
    exclude: Vec<String>,
}

impl CycleArgs {
    fn settings(&self) -> SyncSettings {
        let mut settings = SyncSettings::new(&self.state_dir);
        settings.node_id = self.node_id.clone();
        settings.options.settle = Duration::from_secs(self.settle);
        settings.options.max_delete_count = self.max_delete_count;
        settings.options.max_delete_percent = self.max_delete_percent;
        settings.options.accept_deletes = self.accept_deletes;
        settings.options.snapshot_batches = self.snapshot_batches;
        settings
    }
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run one cycle: apply the other nodes' changes, then publish this
    /// webroot's. Safe to stop at any moment (even kill -9): the next run
    /// completes the work. ADT ran its sync from cron four times a minute;
    /// `* * * * * root adt-sync run ...` in /etc/cron.d does the same
    /// (`watch` is faster).
    Run {
        #[command(flatten)]
        cycle: CycleArgs,
        /// Also write the cycle's metrics here, in Prometheus's text
        /// format, on success and on failure (for the node exporter's
        /// textfile collector; docs/operations.md, "Metrics").
        #[arg(long, value_name = "PATH")]
        metrics_file: Option<PathBuf>,
    },
    /// Keep running: apply the other nodes' changes every --poll seconds,
    /// and publish this webroot's as soon as inotify sees them settle (and
    /// at least every --full-every seconds). Stops cleanly on SIGINT or
    /// SIGTERM. `adt-sync units` writes the systemd unit that runs it.
    Watch {
        #[command(flatten)]
        cycle: CycleArgs,
        /// Seconds between looks at the other nodes' journals.
        #[arg(long, value_name = "SECONDS", default_value_t = 2)]
        poll: u64,
        /// The most seconds between two scans of the webroot.
        #[arg(long, value_name = "SECONDS", default_value_t = 60)]
        full_every: u64,
    },
    /// Print (or write into --output-dir) the systemd unit that runs
    /// `adt-sync watch` for this webroot, after the site's mount units.
    Units {
        /// This webserver's state directory.
        #[arg(long, value_name = "DIR", default_value = "/var/lib/adt-sync")]
        state_dir: PathBuf,
        /// Write adt-sync.service here instead of printing it.
        #[arg(long, value_name = "DIR")]
        output_dir: Option<PathBuf>,
    },
    /// Show every node: its last batch, how far behind the others it is,
    /// whether it is paused, and the conflicts kept.
    Status {
        /// This webserver's state directory (only read, to name this node).
        #[arg(long, value_name = "DIR", default_value = "/var/lib/adt-sync")]
        state_dir: PathBuf,
    },
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
    let path = match &args.command {
        Command::Run { metrics_file, .. } => metrics_file.as_deref(),
        _ => None,
    };
    let result = Recorder::start("sync", &[], path).and_then(|mut recorder| {
        let result = run(&args, recorder.metrics());
        recorder.finish("adt-sync", result)
    });
    adt_cli::setup::conclude("adt-sync", args.format() == Format::Json, result)
}

/// What one cycle did, as counts.
fn record(metrics: &mut Metrics, r: &adt_assets::adt_webroot_sync::CycleReport) {
    let families = [
        (
            "adt_sync_published_paths",
            "Paths the last cycle published.",
            r.published_count,
        ),
        (
            "adt_sync_applied_paths",
            "Paths the last cycle changed from other nodes' batches.",
            r.applied_count,
        ),
        (
            "adt_sync_batches_written",
            "Journal batches the last cycle wrote.",
            r.batches,
        ),
        (
            "adt_sync_conflicts",
            "Concurrent versions that lost in the last cycle (kept in the datastore).",
            r.conflicts.len() as u64,
        ),
        (
            "adt_sync_unsettled_files",
            "Files changed too recently to publish yet.",
            r.unsettled,
        ),
        (
            "adt_sync_refused_changes",
            "Other nodes' changes the last cycle could not apply.",
            r.refused.len() as u64,
        ),
        (
            "adt_sync_retrying_changes",
            "Refused changes that will be tried again.",
            r.retrying,
        ),
        (
            "adt_sync_skipped_entries",
            "Links, FIFOs and devices in the webroot (never synced).",
            r.skipped,
        ),
        (
            "adt_sync_paused",
            "1 when publishing is paused (a mass deletion held back), else 0.",
            u64::from(r.paused.is_some()),
        ),
    ];
    for (name, help, value) in families {
        metrics.gauge(name, help).sample(&[], value as f64);
    }
}

fn run(args: &Args, metrics: &mut Metrics) -> Result<u8, Failure> {
    args.log.start()?;
    let template = args
        .template
        .as_deref()
        .ok_or_else(|| Failure::new(exit::USAGE, "--template PATH is required"))?;
    let webroot = resolve_dir("--webroot", &args.webroot, true)?;
    let site = open_site(template, &webroot, args.endpoint.as_deref())?;
    let json = args.format() == Format::Json;
    match &args.command {
        Command::Run { cycle, .. } => {
            let job = site.sync(cycle.settings(), &cycle.exclude)?;
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
            record(metrics, &report);
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
        Command::Watch {
            cycle,
            poll,
            full_every,
        } => {
            let job = site.sync(cycle.settings(), &cycle.exclude)?;
            let runtime = runtime()?;
            let interrupt = Interrupt::install(&runtime);
            let mut pace = adt_assets::WatchPace::default();
            pace.poll = Duration::from_secs((*poll).max(1));
            pace.full_every = Duration::from_secs((*full_every).max(1));
            let mut on_cycle = |result: Result<&adt_assets::adt_webroot_sync::CycleReport, &adt_assets::Error>| {
                match result {
                    // Quiet cycles print nothing.
                    Ok(r)
                        if r.applied.is_empty()
                            && r.published.is_empty()
                            && r.conflicts.is_empty()
                            && r.refused.is_empty()
                            && r.paused.is_none() => {}
                    Ok(r) if json => {
                        let _ = print_json(r);
                    }
                    Ok(r) => {
                        print!("{}", adt_cli::human::sync_cycle(r));
                        if let Some(why) = &r.paused {
                            eprintln!("adt-sync: paused: {why}");
                        }
                    }
                    Err(e) => eprintln!("adt-sync: cycle failed (tried again): {}", Failure::from_ref(e).message),
                }
            };
            runtime.block_on(job.watch(&pace, interrupt.flag(), &mut on_cycle))?;
            eprintln!("adt-sync: stopped by {}", interrupt.signal_name());
            return Ok(exit::SUCCESS);
        }
        Command::Units { state_dir, output_dir } => {
            let job = site.sync(SyncSettings::new(state_dir), &[])?;
            let program = std::env::current_exe()
                .ok()
                .and_then(|p| p.canonicalize().ok())
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "/usr/local/bin/adt-sync".into());
            let template = template.canonicalize().unwrap_or_else(|_| template.to_path_buf());
            let unit = job.unit(&program, &template);
            match output_dir {
                Some(dir) => {
                    let failed =
                        |e: &dyn std::fmt::Display| Failure::new(exit::FAILURE, format!("{}: {e}", dir.display()));
                    std::fs::create_dir_all(dir).map_err(|e| failed(&e))?;
                    let out = adt_localfs::canonical_dir(dir)
                        .and_then(|d| adt_localfs::Dir::open(&d))
                        .map_err(|e| failed(&e))?;
                    adt_localfs::write_private(&out, std::ffi::OsStr::new(&unit.name), unit.text.as_bytes())
                        .map_err(|e| failed(&e))?;
                    eprintln!(
                        "wrote {} to {}; install with:\n  cp {}/{} /etc/systemd/system/ && systemctl daemon-reload && systemctl enable --now {}",
                        unit.name,
                        dir.display(),
                        dir.display(),
                        unit.name,
                        unit.name
                    );
                }
                None if json => print_json(&serde_json::json!({"name": unit.name, "text": unit.text}))?,
                None => print!("{}", unit.text),
            }
        }
        Command::Status { state_dir } => {
            let (report, me) = runtime()?.block_on(site.sync_status(Some(state_dir)))?;
            if json {
                print_json(&report)?;
            } else {
                print!("{}", adt_cli::human::sync_status(&report, me.as_deref()));
            }
        }
    }
    Ok(exit::SUCCESS)
}
