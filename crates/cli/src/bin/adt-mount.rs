//! adt-mount: mount the asset buckets in place of the local directories.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use adt_assets::MountSettings;
use adt_cli::args::ToolArg;
use adt_cli::exit;
use adt_cli::interrupt::Interrupt;
use adt_cli::metrics::{Metrics, Recorder};
use adt_cli::output::OutputFormat;
use adt_cli::output::print_json;
use adt_cli::setup::{Failure, open_site, resolve_dir, runtime};
use clap::{Parser, Subcommand};

/// Mount each DIRECTORIES_TO_MOUNT bucket in place of its local directory.
///
/// The application then sees an ordinary directory backed by the datastore.
/// Before a bucket is mounted over a directory that holds files, each file
/// is made sure to be in the bucket (uploaded when missing, never
/// overwriting) and the directory is moved aside (`.NAME.adt-retired-TIME`
/// beside it), never deleted; a failed mount puts it back. Credentials go to
/// 0600 files in --state-dir, never on a command line.
///
/// Exit status: 0 done, 1 failed (nothing half done), 2 bad usage or input.
#[derive(Parser, Debug)]
#[command(name = "adt-mount", version)]
struct Args {
    #[command(flatten)]
    log: adt_cli::setup::LogArgs,

    #[command(subcommand)]
    command: Command,

    /// The deployment template (.tmpl, KEY:value descriptor, or YAML).
    #[arg(long, value_name = "PATH", global = true)]
    template: Option<PathBuf>,

    /// The FUSE tool that mounts each bucket (mergerfs merges branches)
    /// [default: the one --state-dir last mounted with, else s3fs]. s3fs
    /// is the default because with several webservers on one bucket it
    /// keeps every version whole; rclone (ADT's default) can upload a cut
    /// file when two webservers write one name at once (docs/mounting.md,
    /// "Several webservers, one bucket").
    #[arg(long, value_enum, global = true)]
    tool: Option<ToolArg>,

    /// Where relative entries are mounted; merge branches live in its parent.
    #[arg(long, value_name = "DIR", default_value = adt_template::DEFAULT_WEBROOT, global = true)]
    webroot: PathBuf,

    /// Use this S3 endpoint instead of the template's first S3_HOST_BASE.
    #[arg(long, value_name = "URL", global = true)]
    endpoint: Option<String>,

    /// Owner the files appear to have [default: www-data when that user exists, else the current user].
    #[arg(long, value_name = "UID", global = true)]
    uid: Option<u32>,

    /// Group the files appear to have [default: www-data's group, else the current group].
    #[arg(long, value_name = "GID", global = true)]
    gid: Option<u32>,

    /// Private directory for credential files, caches and the record of
    /// moved-aside directories.
    #[arg(long, value_name = "DIR", default_value = "/var/lib/adt-mount", global = true)]
    state_dir: PathBuf,

    /// Seconds to wait for a mount to answer.
    #[arg(long, value_name = "SECONDS", default_value_t = 30, global = true)]
    timeout: u64,

    #[command(flatten)]
    output: adt_cli::output::FormatArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Show each bucket, mount point, tool and command line; change nothing.
    ///
    /// No key appears in a command line: the tools read them from 0600
    /// files in --state-dir. Exit 0, or 2 for a template that cannot be used.
    Plan,
    /// Mount every entry (branches before their merge); repair stale mounts.
    ///
    /// A mount point that already answers is left alone; a stale one is
    /// detached and mounted again. Local files at a mount point are first
    /// made sure to be in the bucket (uploaded when missing, never
    /// overwriting; a file that differs is named and kept), then the
    /// directory is moved aside to .NAME.adt-retired-SECONDS beside it,
    /// never deleted. If anything fails, everything this run did is undone.
    /// The webroot must exist. One run at a time per --state-dir.
    ///
    /// Exit 0 mounted; 1 failed (undone; the error names the entry); 2 bad
    /// usage or template; 130/143 stopped by a signal, undone.
    Mount {
        /// Also delete moved-aside local directories whose every file is in the bucket.
        #[arg(long)]
        purge_retired: bool,
        /// First put on record the directories `status` lists as named like
        /// moved-aside ones but not on record (brought back by a restored
        /// backup), so --purge-retired treats them like the others. Review
        /// them first: the web server's user can make such a name.
        #[arg(long)]
        adopt_retired: bool,
    },
    /// Unmount every entry (merges before branches), letting writes flush.
    ///
    /// rclone's pending uploads are waited for (up to --grace); a mount
    /// still busy after --grace is detached lazily. Refused (exit 2) when
    /// --state-dir mounted other mount points (a wrong --webroot).
    ///
    /// Exit 0 done (warnings say what was detached or left waiting); 1 failed; 2 bad usage.
    Unmount {
        /// Seconds to retry a busy mount before detaching it lazily.
        #[arg(long, value_name = "SECONDS", default_value_t = 30)]
        grace: u64,
    },
    /// Mounted, stale or unmounted, per mount point; and moved-aside directories.
    ///
    /// The tool shown is the mounted filesystem's (from the mount table).
    /// Directories named like moved-aside ones but not on record are listed
    /// as unrecorded. For monitoring: exit 0 only when every mount point
    /// is mounted and answers, else 1.
    Status {
        /// Also write adt_mount_up and adt_mount_stale per mount point
        /// here, in Prometheus's text format, on success and on failure
        /// (for the node exporter's textfile collector; docs/operations.md,
        /// "Metrics").
        #[arg(long, value_name = "PATH")]
        metrics_file: Option<PathBuf>,
    },
    /// systemd units, one service per FUSE mount, so mounts survive reboots and crashes.
    ///
    /// Printed, or written to --output-dir with the commands that install
    /// them. Each runs the same command `mount` would, in the foreground,
    /// and is ready only once its mount answers (within --timeout), so the
    /// web servers and PHP-FPM, ordered after it, never serve the empty
    /// directory underneath. Installing them over mounts made by hand
    /// leaves those mounts alone (the units take over at the next boot);
    /// only a stale mount is cleared.
    Units {
        /// Write the unit files here instead of printing them.
        #[arg(long, value_name = "DIR")]
        output_dir: Option<PathBuf>,
        /// Another unit that must start only after the mounts are ready
        /// (repeatable), besides nginx, apache2, httpd, lighttpd, php-fpm
        /// and php5.6-fpm to php8.5-fpm.
        #[arg(long, value_name = "UNIT")]
        before: Vec<String>,
    },
}

fn main() -> ExitCode {
    if let Some(code) = adt_cli::dist::generate::<Args>() {
        return code;
    }
    let args = Args::parse();
    let path = match &args.command {
        Command::Status { metrics_file } => metrics_file.as_deref(),
        _ => None,
    };
    let result = Recorder::start("mount_status", &[], path).and_then(|mut recorder| {
        let result = run(&args, recorder.metrics());
        recorder.finish("adt-mount", result)
    });
    adt_cli::setup::conclude("adt-mount", args.output.get() == OutputFormat::Json, result)
}

fn run(args: &Args, metrics: &mut Metrics) -> Result<u8, Failure> {
    args.log.start()?;
    let template = args
        .template
        .as_deref()
        .ok_or_else(|| Failure::new(exit::USAGE, "--template PATH is required"))?;
    // Once, here: the mount table and the Layout name real paths.
    // A webroot that does not exist is a typo, not a site to mount or
    // unmount (it used to be created, mounted and reported "mounted").
    let acts = matches!(args.command, Command::Mount { .. } | Command::Unmount { .. });
    let webroot = &resolve_dir("--webroot", &args.webroot, acts)?;
    let site = open_site(template, webroot, args.endpoint.as_deref())?;
    if matches!(
        args.command,
        Command::Plan | Command::Mount { .. } | Command::Units { .. }
    ) {
        site.require_persistence("to mount")?;
    }
    let mut settings = MountSettings::new(&args.state_dir);
    settings.tool = args.tool.map(ToolArg::tool);
    settings.uid = args.uid;
    settings.gid = args.gid;
    settings.timeout = Duration::from_secs(args.timeout);
    let job = site.mounts(&settings)?;
    let json = args.output.get() == OutputFormat::Json;
    match &args.command {
        Command::Plan => {
            if json {
                print_json(job.plan())?;
            } else {
                print!("{}", job.plan().render());
            }
        }
        Command::Status { .. } => {
            let mounts = job.status()?;
            let retired = job.retired();
            let unrecorded = job.unrecorded_retired();
            record_status(metrics, &mounts, retired.len(), unrecorded.len());
            if json {
                print_json(&serde_json::json!({ "mounts": mounts, "retired": retired, "unrecorded": unrecorded }))?;
            } else {
                print!("{}", adt_cli::human::mount_status(&mounts, &retired, &unrecorded));
            }
            if mounts.iter().any(|m| m.state != adt_mounts::Mounted::Mounted) {
                return Ok(exit::FAILURE);
            }
        }
        Command::Mount {
            purge_retired,
            adopt_retired,
        } => {
            let store = job.store()?;
            let runtime = runtime()?;
            let interrupt = Interrupt::install(&runtime);
            let mounted = runtime.block_on(job.mount(&store, interrupt.flag()));
            if interrupt.is_set() {
                let what = match &mounted {
                    Ok(_) => "after every mount was made; they stay".to_string(),
                    Err(adt_assets::Error::Mount(adt_mounts::MountError::Entry { undone, .. })) => undone.clone(),
                    Err(e) => format!("{e}; nothing had been changed"),
                };
                eprintln!("adt-mount: stopped by {}: {what}", interrupt.signal_name());
                if let Ok(report) = &mounted {
                    print_report(report, json)?;
                }
                return Ok(interrupt.exit_code());
            }
            let mut report = mounted?;
            if *adopt_retired {
                let adopted = job.adopt_retired()?;
                report.actions.extend(adopted.actions);
            }
            if *purge_retired {
                let purged = runtime.block_on(job.purge_retired(&store))?;
                report.actions.extend(purged.actions);
                report.warnings.extend(purged.warnings);
            }
            print_report(&report, json)?;
        }
        Command::Unmount { grace } => {
            let report = job.unmount(Duration::from_secs(*grace))?;
            print_report(&report, json)?;
        }
        Command::Units { output_dir, before } => {
            let mut options = adt_mounts::UnitOptions::default();
            for unit in before {
                if unit.is_empty() || unit.contains(|c: char| c.is_whitespace() || c.is_control() || c == '/') {
                    return Err(Failure::new(
                        exit::USAGE,
                        format!("--before {unit:?}: give a unit name such as php8.2-fpm.service"),
                    ));
                }
                if !options.before.contains(unit) {
                    options.before.push(unit.clone());
                }
            }
            options.timeout = Duration::from_secs(args.timeout);
            let units = job.units(&options);
            if let Some(dir) = output_dir {
                // Written as root into a directory someone else may control:
                // never through a link planted at a unit's name.
                let failed = |e: &dyn std::fmt::Display| Failure::new(exit::FAILURE, format!("{}: {e}", dir.display()));
                std::fs::create_dir_all(dir).map_err(|e| failed(&e))?;
                let out = adt_localfs::canonical_dir(dir)
                    .and_then(|d| adt_localfs::Dir::open(&d))
                    .map_err(|e| failed(&e))?;
                for u in &units {
                    adt_localfs::write_private(&out, std::ffi::OsStr::new(&u.name), u.text.as_bytes())
                        .map_err(|e| failed(&e))?;
                }
                let names: Vec<&str> = units.iter().map(|u| u.name.as_str()).collect();
                eprintln!(
                    "wrote {} unit(s) to {}; install with:\n  cp {}/adt-mount-*.service /etc/systemd/system/ && systemctl daemon-reload && systemctl enable --now {}",
                    units.len(),
                    dir.display(),
                    dir.display(),
                    names.join(" ")
                );
            } else if json {
                let list: Vec<_> = units
                    .iter()
                    .map(|u| serde_json::json!({"name": u.name, "text": u.text}))
                    .collect();
                println!("{}", serde_json::json!({ "units": list }));
            } else {
                for u in &units {
                    println!("# ==> {} <==\n{}", u.name, u.text);
                }
            }
        }
    }
    Ok(exit::SUCCESS)
}

/// Per mount point: up (mounted and answering) and stale; and the
/// moved-aside directories, on record or not.
fn record_status(metrics: &mut Metrics, mounts: &[adt_mounts::MountState], retired: usize, unrecorded: usize) {
    for m in mounts {
        let mount_point = adt_cli::metrics::path_label(&m.mountpoint);
        let labels = [
            ("mount_point", mount_point.as_str()),
            ("bucket", m.bucket.as_deref().unwrap_or("")),
            ("entry", m.entry.as_str()),
        ];
        let is = |state| if m.state == state { 1.0 } else { 0.0 };
        metrics
            .gauge("adt_mount_up", "1 when the mount point is mounted and answers, else 0.")
            .sample(&labels, is(adt_mounts::Mounted::Mounted));
        metrics
            .gauge(
                "adt_mount_stale",
                "1 when the mount point is in the mount table but does not answer (its FUSE process died or hangs).",
            )
            .sample(&labels, is(adt_mounts::Mounted::Stale));
    }
    let help = "Moved-aside local directories (.NAME.adt-retired-*) still on disk; recorded=\"false\" for those not on record.";
    metrics
        .gauge("adt_mount_retired_directories", help)
        .sample(&[("recorded", "true")], retired as f64)
        .sample(&[("recorded", "false")], unrecorded as f64);
}

fn print_report(report: &adt_mounts::Report, json: bool) -> Result<(), Failure> {
    if json {
        return print_json(report);
    }
    adt_cli::human::mount_report(report).print("adt-mount");
    Ok(())
}
