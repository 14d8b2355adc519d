//! adt-seed: copy the asset directories of a temporal backup into their buckets.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use adt_assets::SeedFrom;
use adt_cli::exit;
use adt_cli::interrupt::{Interrupt, stop_and_abort};
use adt_cli::metrics::{Metrics, Recorder};
use adt_cli::output::OutputFormat;
use adt_cli::output::print_json;
use adt_cli::progress::Bar;
use adt_cli::setup::{Failure, open_site, runtime};
use adt_seeder::SeedOptions;
use clap::Parser;

/// Seed the asset buckets from a temporal backup of the webroot.
///
/// For each DIRECTORIES_TO_MOUNT entry of the template, creates its bucket
/// (ADT's name) and copies the files under that directory of the backup
/// into it, with their mode, owner and mtime as object metadata, the way
/// s3fs and rclone read them. The archive is streamed, never written to
/// disk, and checked whole before anything is uploaded: an entry that
/// escapes the webroot, or a corrupt archive, stops the seed.
///
/// Safe to run again, and to kill: objects already in a bucket are never
/// overwritten (those that differ from the backup are reported as
/// conflicts; --overwrite replaces them), and every object is written whole.
///
/// Refuses (exit 1) when PERSIST_ASSETS_TO_DATASTORE is not 1, or for a
/// virgin or baseline build. Exit status: 0 seeded, 1 refused or failed,
/// 2 bad usage or unreadable input.
#[derive(Parser, Debug)]
#[command(name = "adt-seed", version)]
#[command(group(clap::ArgGroup::new("source").args(["archive", "from_period"])))]
struct Args {
    #[command(flatten)]
    log: adt_cli::setup::LogArgs,

    /// The deployment template (.tmpl, KEY:value descriptor, or YAML).
    #[arg(long, value_name = "PATH")]
    template: PathBuf,

    /// A local backup archive: applicationsourcecode.tar.gz, a gzip tar
    /// whose root is the webroot (--backup is an old name for it).
    #[arg(long, value_name = "FILE", alias = "backup")]
    archive: Option<PathBuf>,

    /// Read the backup from the datastore instead: object
    /// applicationsourcecode.tar.gz in bucket ${WEBSITE_URL}-PERIOD (any
    /// case). Without --archive or --from-period, the period is the
    /// template's BUILD_ARCHIVE_CHOICE, as in ADT's deploy.
    #[arg(long, value_name = "PERIOD", ignore_case = true, value_parser = adt_cli::args::period(), alias = "period")]
    from_period: Option<adt_template::Period>,

    /// Uploads in flight at once.
    #[arg(long, value_name = "N", default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=256))]
    jobs: u16,

    /// List what would be uploaded and the conflicts; write nothing.
    #[arg(long)]
    dry_run: bool,

    /// Replace objects that differ from the backup (by default they are kept).
    #[arg(long)]
    overwrite: bool,

    /// The webroot the backup's root stands for; merge branches live in its parent.
    #[arg(long, value_name = "DIR", default_value = adt_template::DEFAULT_WEBROOT)]
    webroot: PathBuf,

    /// Use this S3 endpoint instead of the template's first S3_HOST_BASE
    /// (keys and region still come from the template).
    #[arg(long, value_name = "URL")]
    endpoint: Option<String>,

    /// Keep records of completed seeds here, so rerunning the same archive
    /// only lists the buckets [default: $XDG_CACHE_HOME/adt-seed or ~/.cache/adt-seed].
    #[arg(long, value_name = "DIR", conflicts_with = "no_cache")]
    cache_dir: Option<PathBuf>,

    /// Do not use or write seed records: always read the archive.
    #[arg(long)]
    no_cache: bool,

    #[command(flatten)]
    output: adt_cli::output::FormatArgs,

    /// Also write the run's metrics here, in Prometheus's text format, on
    /// success and on failure (for the node exporter's textfile collector;
    /// docs/operations.md, "Metrics").
    #[arg(long, value_name = "PATH")]
    metrics_file: Option<PathBuf>,
}

fn main() -> ExitCode {
    if let Some(code) = adt_cli::dist::generate::<Args>() {
        return code;
    }
    let args = Args::parse();
    let result = Recorder::start("seed", &[], args.metrics_file.as_deref()).and_then(|mut recorder| {
        let result = run(&args, recorder.metrics());
        recorder.finish("adt-seed", result)
    });
    adt_cli::setup::conclude("adt-seed", args.output.get() == OutputFormat::Json, result)
}

fn run(args: &Args, metrics: &mut Metrics) -> Result<u8, Failure> {
    args.log.start()?;
    let site = open_site(&args.template, &args.webroot, args.endpoint.as_deref())?;
    let from = match (&args.archive, args.from_period) {
        (Some(file), _) => {
            adt_cli::setup::input_file("--archive", file)?;
            SeedFrom::File(file.clone())
        }
        (None, Some(period)) => SeedFrom::Period(period),
        (None, None) => SeedFrom::BuildArchiveChoice,
    };
    let job = site.seed(from)?;
    let mut options = SeedOptions::default();
    options.jobs = usize::from(args.jobs);
    options.dry_run = args.dry_run;
    options.overwrite = args.overwrite;
    options.cache_dir = if args.no_cache {
        None
    } else {
        args.cache_dir.clone().or_else(adt_assets::seed_cache_dir)
    };
    let runtime = runtime()?;
    let bar = Arc::new(Bar::new(args.output.get() == OutputFormat::Human));
    let interrupt = Interrupt::install(&runtime);
    let result = runtime.block_on(interrupt.run(job.run(&options, bar.clone())));
    bar.finish();
    let Some(result) = result else {
        let line = stop_and_abort(
            runtime,
            &[job.store()],
            "objects already uploaded are whole; rerun adt-seed to finish",
        );
        eprintln!("adt-seed: stopped by {}: {line}", interrupt.signal_name());
        return Ok(interrupt.exit_code());
    };
    let summary = result?;
    record(metrics, &summary);
    match args.output.get() {
        OutputFormat::Json => print_json(&summary)?,
        OutputFormat::Human => adt_cli::human::seed(&summary, &job.source_name()).print("adt-seed"),
    }
    if std::env::var_os("ADT_REPORT_PEAK_RSS").is_some() {
        report_peak_rss();
    }
    Ok(exit::SUCCESS)
}

/// Per bucket: objects uploaded, skipped and kept in conflict, bytes uploaded.
fn record(metrics: &mut Metrics, summary: &adt_seeder::Summary) {
    let families = [
        (
            "adt_seed_uploaded_objects",
            "Objects the last run wrote (in a dry run: would write).",
        ),
        (
            "adt_seed_skipped_objects",
            "Objects already in the bucket with the same content.",
        ),
        (
            "adt_seed_conflict_objects",
            "Objects in the bucket with other content, kept.",
        ),
        (
            "adt_seed_uploaded_bytes",
            "Bytes the last run wrote (in a dry run: would write).",
        ),
    ];
    for b in &summary.buckets {
        let labels = [("bucket", b.bucket.as_str()), ("entry", b.entry.as_str())];
        let values = [b.uploaded, b.skipped, b.conflicts, b.bytes];
        for ((name, help), value) in families.iter().zip(values) {
            metrics.gauge(name, help).sample(&labels, value as f64);
        }
    }
}

/// Peak resident memory, for `cargo xtask bench seed`.
fn report_peak_rss() {
    if let Ok(status) = std::fs::read_to_string("/proc/self/status")
        && let Some(line) = status.lines().find(|l| l.starts_with("VmHWM:"))
    {
        eprintln!("adt-seed: peak RSS {}", line.trim_start_matches("VmHWM:").trim());
    }
}
