//! adt-mount: mount the asset buckets in place of the local directories.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use adt_assets::exit;
use adt_assets::interrupt::Interrupt;
use adt_assets::output::OutputFormat;
use adt_assets::output::print_json;
use adt_assets::setup::{Failure, load_template, primary_connection, resolve_dir, runtime};
use adt_mount::{Keys, MountOptions, Plan, Target, Tool};
use clap::{Parser, Subcommand, ValueEnum};

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
    #[command(subcommand)]
    command: Command,

    /// The deployment template (.tmpl, KEY:value descriptor, or YAML).
    #[arg(long, value_name = "PATH", global = true)]
    template: Option<PathBuf>,

    /// The FUSE tool that mounts each bucket (mergerfs merges branches).
    #[arg(long, value_enum, default_value_t = ToolArg::S3fs, global = true)]
    tool: ToolArg,

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

    /// human or json.
    #[arg(long, value_enum, default_value_t = OutputFormat::Human, global = true)]
    format: OutputFormat,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Show each bucket, mount point, tool and command line; change nothing.
    Plan,
    /// Mount every entry (branches before their merge); repair stale mounts.
    Mount {
        /// Also delete moved-aside local directories whose every file is in the bucket.
        #[arg(long)]
        purge_retired: bool,
    },
    /// Unmount every entry (merges before branches), letting writes flush.
    Unmount {
        /// Seconds to retry a busy mount before detaching it lazily.
        #[arg(long, value_name = "SECONDS", default_value_t = 30)]
        grace: u64,
    },
    /// Mounted, stale or unmounted, per mount point; and moved-aside directories.
    Status,
    /// systemd units, one service per FUSE mount, so mounts survive reboots and crashes.
    Units {
        /// Write the unit files here instead of printing them.
        #[arg(long, value_name = "DIR")]
        output_dir: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ToolArg {
    S3fs,
    Rclone,
    Goofys,
    Geesefs,
    MountS3,
}

impl ToolArg {
    fn tool(self) -> Tool {
        match self {
            ToolArg::S3fs => Tool::S3fs,
            ToolArg::Rclone => Tool::Rclone,
            ToolArg::Goofys => Tool::Goofys,
            ToolArg::Geesefs => Tool::Geesefs,
            ToolArg::MountS3 => Tool::MountS3,
        }
    }
}

fn main() -> ExitCode {
    adt_assets::setup::conclude("adt-mount", run(&Args::parse()))
}

fn run(args: &Args) -> Result<u8, Failure> {
    let template = args
        .template
        .as_deref()
        .ok_or_else(|| Failure::new(exit::USAGE, "--template PATH is required"))?;
    // Once, here: the mount table and the Layout name real paths.
    let webroot = &resolve_dir("--webroot", &args.webroot, false)?;
    if args.state_dir.to_str().is_none() || !args.state_dir.is_absolute() {
        return Err(Failure::new(
            exit::USAGE,
            format!("--state-dir {}: give an absolute UTF-8 path", args.state_dir.display()),
        ));
    }
    // Both reach option strings: s3fs's `-o a,b` and mergerfs's `a:b` branches.
    for (flag, path) in [("--state-dir", &args.state_dir), ("--webroot", webroot)] {
        if path.to_string_lossy().contains([',', ':', '=']) {
            return Err(Failure::new(
                exit::USAGE,
                format!(
                    "{flag} {}: a `,`, `:` or `=` would be read as a separator in the mount tools' options; choose a path without them",
                    path.display()
                ),
            ));
        }
    }
    let config = load_template(template, webroot)?;
    let acting = matches!(
        args.command,
        Command::Plan | Command::Mount { .. } | Command::Units { .. }
    );
    if acting && !config.persist_assets {
        return Err(Failure::new(
            exit::FAILURE,
            format!(
                "PERSIST_ASSETS_TO_DATASTORE is not 1 in {}: nothing is mounted from the datastore",
                template.display()
            ),
        ));
    }
    if matches!(args.command, Command::Mount { .. }) && !webroot.is_dir() {
        return Err(Failure::new(
            exit::FAILURE,
            format!("--webroot {} does not exist; nothing was mounted", webroot.display()),
        ));
    }
    let layout = adt_template::Layout::new(&config, webroot).map_err(|e| Failure::new(exit::FAILURE, e.to_string()))?;
    let connection = primary_connection(&config, args.endpoint.as_deref())?;
    let (uid, gid) = owner(args.uid, args.gid);
    let options = MountOptions {
        tool: args.tool.tool(),
        uid,
        gid,
        state_dir: args.state_dir.clone(),
        timeout: Duration::from_secs(args.timeout.max(1)),
    };
    let target = Target {
        endpoint: connection.endpoint.url().to_string(),
        region: connection.endpoint.region().to_string(),
        ca_bundle: connection.ca_bundle.clone().filter(|_| connection.endpoint.is_https()),
    };
    let plan = Plan::new(&layout, &target, &options);
    let json = args.format == OutputFormat::Json;
    let fail = |e: adt_mount::MountError| Failure::new(exit::FAILURE, e.to_string());
    match &args.command {
        Command::Plan => {
            if json {
                print_json(&plan)?;
            } else {
                print!("{}", plan.render());
            }
        }
        Command::Status => {
            let mounts = adt_mount::status(&plan).map_err(fail)?;
            let retired = adt_mount::retired(&args.state_dir);
            if json {
                print_json(&serde_json::json!({ "mounts": mounts, "retired": retired }))?;
            } else {
                for m in &mounts {
                    println!(
                        "{:9}  {}  ({}, {})",
                        m.state,
                        m.mountpoint.display(),
                        m.tool,
                        m.bucket.as_deref().unwrap_or("merge")
                    );
                }
                for r in &retired {
                    println!("retired    {} (was {})", r.retired.display(), r.mountpoint.display());
                }
            }
            if mounts.iter().any(|m| m.state != "mounted") {
                return Ok(exit::FAILURE);
            }
        }
        Command::Mount { purge_retired } => {
            let store =
                adt_datastore::Store::connect(&connection).map_err(|e| Failure::new(exit::FAILURE, e.to_string()))?;
            let keys = Keys {
                access: &connection.access_key,
                secret: &connection.secret_key,
            };
            let runtime = runtime()?;
            let interrupt = Interrupt::install(&runtime);
            let mounted = runtime.block_on(adt_mount::mount(&plan, &store, &keys, interrupt.flag()));
            if interrupt.is_set() {
                let what = match &mounted {
                    Ok(_) => "after every mount was made; they stay".to_string(),
                    Err(adt_mount::MountError::Entry { undone, .. }) => undone.clone(),
                    Err(e) => format!("{e}; nothing had been changed"),
                };
                eprintln!("adt-mount: stopped by {}: {what}", interrupt.signal_name());
                if let Ok(report) = &mounted {
                    print_report(report, json)?;
                }
                return Ok(interrupt.exit_code());
            }
            let mut report = mounted.map_err(fail)?;
            if *purge_retired {
                let purged = runtime
                    .block_on(adt_mount::purge_retired(&plan, &store))
                    .map_err(fail)?;
                report.actions.extend(purged.actions);
                report.warnings.extend(purged.warnings);
            }
            print_report(&report, json)?;
        }
        Command::Unmount { grace } => {
            let report = adt_mount::unmount(&plan, Duration::from_secs(*grace)).map_err(fail)?;
            print_report(&report, json)?;
        }
        Command::Units { output_dir } => {
            let units = adt_mount::units(&plan, &|program| resolve(program));
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

fn print_report(report: &adt_mount::Report, json: bool) -> Result<(), Failure> {
    if json {
        return print_json(report);
    }
    for a in &report.actions {
        println!("{a}");
    }
    for w in &report.warnings {
        println!("warning: {w}");
    }
    Ok(())
}

/// www-data's uid and gid when that user exists, else this process's.
fn owner(uid: Option<u32>, gid: Option<u32>) -> (u32, u32) {
    let www = std::fs::read_to_string("/etc/passwd").ok().and_then(|passwd| {
        passwd.lines().find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.first() == Some(&"www-data") && f.len() > 3).then(|| (f[2].parse().ok(), f[3].parse().ok()))
        })
    });
    let own = || {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        (field("Uid:"), field("Gid:"))
    };
    let (du, dg) = match www {
        Some((Some(u), Some(g))) => (u, g),
        _ => own(),
    };
    (uid.unwrap_or(du), gid.unwrap_or(dg))
}

/// The absolute path systemd should run.
fn resolve(program: &str) -> String {
    adt_mount::find_program(program)
        .unwrap_or_else(|| Path::new("/usr/bin").join(program))
        .display()
        .to_string()
}
