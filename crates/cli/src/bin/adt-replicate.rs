//! adt-replicate: copy the asset buckets from datastore 1 to the others.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use adt_assets::ReplicaTo;
use adt_cli::exit;
use adt_cli::interrupt::{Interrupt, stop_and_abort};
use adt_cli::metrics::{Metrics, Recorder};
use adt_cli::output::OutputFormat;
use adt_cli::output::print_json;
use adt_cli::progress::Bar;
use adt_cli::setup::{Failure, open_site, runtime};
use adt_datastore::{Endpoint, Secret, Store};
use adt_replication::{MaxChange, ReplicateOptions};
use clap::Parser;

/// Copy the asset buckets to a second region or provider.
///
/// The template chains datastores with `|` in S3_ACCESS_KEY, S3_SECRET_KEY,
/// S3_HOST_BASE and S3_LOCATION; datastore 1 is the primary. For every
/// bucket of DIRECTORIES_TO_MOUNT, brings datastores 2..n up to date with
/// it: creates the bucket where it is missing and copies the objects that
/// are missing or differ, with their metadata and content type, streamed
/// (nothing is written to local disk).
///
/// Never deletes unless --delete is given. What a run replaces with other
/// content or deletes on a destination is kept there first, under
/// `.adt-replaced/RUN-TIME/KEY` (for --keep-replaced days), and the whole
/// run is refused, before changing anything, when a bucket would have more
/// than --max-change of its objects replaced or deleted (unless --force):
/// a primary overwritten by mistake or by ransomware is not copied over the
/// replica. Safe to interrupt and run again: every object is written whole,
/// and a rerun copies only what is still missing.
///
/// For a template with one datastore, --to-endpoint names the destination
/// (its keys come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), or
/// --to a directory (file:///srv/asset-copies).
///
/// Exit status: 0 every destination is up to date, 1 a destination (or
/// bucket) failed, or the run was refused, 2 bad usage or unreadable input.
#[derive(Parser, Debug)]
#[command(name = "adt-replicate", version)]
struct Args {
    #[command(flatten)]
    log: adt_cli::setup::LogArgs,

    /// The deployment template (.tmpl, KEY:value descriptor, or YAML).
    #[arg(long, value_name = "PATH")]
    template: PathBuf,

    /// List what would be copied and deleted; change nothing.
    #[arg(long)]
    dry_run: bool,

    /// Also delete objects from the destinations that the primary does not have.
    #[arg(long)]
    delete: bool,

    /// The most objects of one destination bucket a run may replace with
    /// other content or (with --delete) delete, as a number (25) or a share
    /// of its objects (10%). --max-delete is the older name.
    #[arg(long, value_name = "N|P%", default_value = "10%", alias = "max-delete")]
    max_change: MaxChange,

    /// Replace and delete even beyond --max-change.
    #[arg(long)]
    force: bool,

    /// Days to keep the versions a run replaced or deleted (under
    /// `.adt-replaced/` in the destination bucket); 0 keeps them forever.
    #[arg(long, value_name = "DAYS", default_value_t = 30)]
    keep_replaced: u32,

    /// Objects copied at once (memory stays under about 64 MiB of object
    /// data whatever the number: large objects wait their turn).
    #[arg(long, value_name = "N", default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..=256))]
    jobs: u16,

    /// Replicate to this S3 endpoint instead of the template's datastores
    /// 2..n (keys from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY).
    #[arg(long, value_name = "URL")]
    to_endpoint: Option<String>,

    /// Replicate to this store instead: `file:///DIR` (a local or mounted
    /// directory, say another disk or an NFS share: one subdirectory per
    /// bucket, object metadata in `.adt-meta/`), or a bucket of another
    /// cloud, `s3://BUCKET/PREFIX`, `gs://BUCKET`, `az://CONTAINER` (our
    /// buckets become prefixes in it; credentials from AWS_*, GOOGLE_*,
    /// AZURE_* in the environment).
    #[arg(long, value_name = "URL", conflicts_with = "to_endpoint")]
    to: Option<String>,

    /// The region of --to-endpoint [default: $AWS_REGION, else us-east-1].
    #[arg(long, value_name = "REGION", requires = "to_endpoint")]
    to_region: Option<String>,

    /// Use this S3 endpoint for the primary instead of the template's first
    /// S3_HOST_BASE (keys and region still come from the template).
    #[arg(long, value_name = "URL")]
    endpoint: Option<String>,

    /// The webroot (it places merge branches; bucket names do not depend on it).
    #[arg(long, value_name = "DIR", default_value = adt_template::DEFAULT_WEBROOT)]
    webroot: PathBuf,

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
    let result = Recorder::start("replicate", &[], args.metrics_file.as_deref()).and_then(|mut recorder| {
        let result = run(&args, recorder.metrics());
        recorder.finish("adt-replicate", result)
    });
    adt_cli::setup::conclude("adt-replicate", args.output.get() == OutputFormat::Json, result)
}

fn run(args: &Args, metrics: &mut Metrics) -> Result<u8, Failure> {
    args.log.start()?;
    let site = open_site(&args.template, &args.webroot, args.endpoint.as_deref())?;
    let job = site.replicate(destination(args)?)?;
    let mut options = ReplicateOptions::default();
    options.jobs = usize::from(args.jobs);
    options.dry_run = args.dry_run;
    options.delete = args.delete;
    options.max_change = args.max_change;
    options.force = args.force;
    options.keep_replaced =
        (args.keep_replaced > 0).then(|| std::time::Duration::from_secs(u64::from(args.keep_replaced) * 24 * 3600));
    let runtime = runtime()?;
    let bar = Arc::new(Bar::new(args.output.get() == OutputFormat::Human));
    let interrupt = Interrupt::install(&runtime);
    let result = runtime.block_on(interrupt.run(job.run(&options, bar.clone())));
    bar.finish();
    let Some(result) = result else {
        let stores: Vec<&Store> = job.destinations().iter().map(|d| &d.store).collect();
        let line = stop_and_abort(
            runtime,
            &stores,
            "objects already copied are whole; rerun adt-replicate to finish",
        );
        eprintln!("adt-replicate: stopped by {}: {line}", interrupt.signal_name());
        return Ok(interrupt.exit_code());
    };
    let report = result?;
    record(metrics, &report, job.destinations());
    match args.output.get() {
        OutputFormat::Json => print_json(&report)?,
        OutputFormat::Human => {
            adt_cli::human::replicate(&report, job.primary().endpoint().url(), job.destinations())
                .print("adt-replicate");
            for f in &report.failed_destinations {
                let what = f
                    .bucket
                    .as_deref()
                    .map(|b| format!(" bucket `{b}`"))
                    .unwrap_or_default();
                eprintln!(
                    "adt-replicate: datastore {} ({}){what} failed: {}",
                    f.destination, f.endpoint, f.error
                );
            }
        }
    }
    Ok(if report.ok() { exit::SUCCESS } else { exit::FAILURE })
}

/// Per destination: success; per bucket and destination: what was
/// copied, deleted and failed, and how far behind it was.
fn record(metrics: &mut Metrics, report: &adt_replication::Report, destinations: &[adt_replication::Destination]) {
    for d in destinations {
        let number = d.number.to_string();
        let ok = !report.failed_destinations.iter().any(|f| f.destination == d.number);
        metrics
            .gauge(
                "adt_replicate_destination_success",
                "1 when every bucket of this datastore was brought up to date by the last run, else 0.",
            )
            .sample(&[("destination", &number)], if ok { 1.0 } else { 0.0 });
    }
    let families = [
        (
            "adt_replicate_lag_objects",
            "Objects missing or different on the destination when the last run began (copied or failed).",
        ),
        (
            "adt_replicate_copied_objects",
            "Objects the last run copied (in a dry run: would copy).",
        ),
        (
            "adt_replicate_copied_bytes",
            "Bytes the last run copied (in a dry run: would copy).",
        ),
        (
            "adt_replicate_deleted_objects",
            "Objects the last run deleted (with --delete).",
        ),
        (
            "adt_replicate_failed_objects",
            "Objects the last run could not copy or delete.",
        ),
    ];
    for b in &report.buckets {
        let number = b.destination.to_string();
        let labels = [("bucket", b.bucket.as_str()), ("destination", number.as_str())];
        let values = [b.copied + b.failed, b.copied, b.bytes, b.deleted, b.failed];
        for ((name, help), value) in families.iter().zip(values) {
            metrics.gauge(name, help).sample(&labels, value as f64);
        }
    }
}

/// The template's datastores 2..n, or the endpoint --to-endpoint names
/// (keys from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY).
fn destination(args: &Args) -> Result<ReplicaTo, Failure> {
    if let Some(url) = &args.to {
        return Ok(ReplicaTo::Store(adt_cli::setup::store_at(url)?));
    }
    let Some(url) = &args.to_endpoint else {
        return Ok(ReplicaTo::Chain);
    };
    let key = |name: &str| {
        std::env::var(name)
            .ok()
            .filter(|v| !v.is_empty())
            .map(|v| Secret::new(&v))
            .ok_or_else(|| Failure::new(exit::USAGE, format!("--to-endpoint needs {name} in the environment")))
    };
    let region = args.to_region.clone().or_else(|| std::env::var("AWS_REGION").ok());
    let endpoint = Endpoint::parse(url, region.as_deref().filter(|r| !r.is_empty()))
        .map_err(|e| Failure::new(exit::USAGE, format!("--to-endpoint: {e}")))?;
    Ok(ReplicaTo::Endpoint {
        endpoint,
        access_key: key("AWS_ACCESS_KEY_ID")?,
        secret_key: key("AWS_SECRET_ACCESS_KEY")?,
    })
}
