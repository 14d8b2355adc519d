//! `cargo xtask bench mounts`: two webservers (two mounts on this machine,
//! each with its own state directory, as `adt-mount` makes them) share one
//! bucket of the embedded emulator, behind a proxy that adds latency to
//! every request. Per tool: how long after one webserver's upload (a
//! rename, as PHP lands one), overwrite or delete the other reads the new
//! state whole, against the bound the tool states
//! (`Tool::visibility_bound`); then small-file writes per second, and a
//! listing of the directory they are in from the other webserver.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use adt_mounts::{Keys, MountOptions, Plan, Target, Tool};
use adt_template::{AssetConfig, Layout, MountEntry};

#[derive(clap::Args)]
pub(crate) struct Args {
    /// Rounds of upload, overwrite and delete per tool
    #[arg(long, value_name = "N", default_value_t = 20)]
    rounds: usize,
    /// Small files (4 KiB) written for the throughput figure
    #[arg(long, value_name = "N", default_value_t = 200)]
    files: usize,
    /// Latency the proxy adds to every S3 request, in milliseconds
    #[arg(long, value_name = "MS", default_value_t = 20)]
    latency: u64,
    /// Only this tool (s3fs or rclone)
    #[arg(long, value_name = "TOOL")]
    tool: Option<String>,
}

/// What one tool measured.
struct Measured {
    delays: Vec<Delays>,
    /// Small files written per second.
    writes_per_second: f64,
    /// Seconds from the first small write until all were in the bucket.
    all_uploaded: f64,
    /// Seconds the other webserver took to list them.
    listing: f64,
}

/// What one case measured, in seconds.
struct Delays {
    case: &'static str,
    seconds: Vec<f64>,
}

impl Delays {
    fn quantile(&self, q: f64) -> f64 {
        let mut v = self.seconds.clone();
        v.sort_by(f64::total_cmp);
        v[((v.len() - 1) as f64 * q).round() as usize]
    }
}

pub(crate) fn run(args: Args) -> Result<(), String> {
    if !adt_testkit::require_tools(&["s3fs", "rclone", "fusermount3"], true) {
        return Err("the benchmark needs s3fs, rclone and fusermount3, and root: cargo xtask doctor".into());
    }
    let tools: Vec<Tool> = match args.tool.as_deref() {
        None => vec![Tool::S3fs, Tool::Rclone],
        Some("s3fs") => vec![Tool::S3fs],
        Some("rclone") => vec![Tool::Rclone],
        Some(other) => return Err(format!("--tool {other}: s3fs or rclone")),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let work = crate::workspace_root().join("target/bench/mounts-run");
    let _ = fs::remove_dir_all(&work);
    let mut rows = Vec::new();
    for tool in tools {
        rows.push((tool, runtime.block_on(one_tool(tool, &args, &work))?));
    }
    let _ = fs::remove_dir_all(&work);
    println!();
    println!(
        "two webservers, one bucket; embedded emulator behind a proxy adding {} ms per request; {} rounds",
        args.latency, args.rounds
    );
    println!(
        "{:<7} {:<34} {:>9} {:>9} {:>9} {:>7}",
        "tool", "case", "median", "p95", "max", "bound"
    );
    for (tool, m) in &rows {
        let bound = tool.visibility_bound().map(|b| b.as_secs_f64()).unwrap_or(f64::NAN);
        for d in &m.delays {
            let max = d.quantile(1.0);
            println!(
                "{:<7} {:<34} {:>8.3}s {:>8.3}s {:>8.3}s {:>6.1}s{}",
                tool.to_string(),
                d.case,
                d.quantile(0.5),
                d.quantile(0.95),
                max,
                bound,
                if max <= bound { "" } else { "  OVER THE BOUND" }
            );
        }
        println!(
            "{:<7} {:<34} {:>8.1}/s  (all {} in the bucket after {:.2} s)",
            tool.to_string(),
            format!("{} writes of 4 KiB, in place", args.files),
            m.writes_per_second,
            args.files,
            m.all_uploaded
        );
        println!(
            "{:<7} {:<34} {:>8.3}s",
            tool.to_string(),
            format!("other webserver lists the {}", args.files),
            m.listing
        );
    }
    Ok(())
}

/// Two mounts of one bucket with `tool`; returns the delays, small-file
/// writes per second with the time until all were in the bucket, and the
/// listing time.
async fn one_tool(tool: Tool, args: &Args, work: &Path) -> Result<Measured, String> {
    let emulator = adt_testkit::Emulator::start().map_err(|e| e.to_string())?;
    let proxy = adt_testkit::FaultProxy::start(&emulator.endpoint()).map_err(|e| e.to_string())?;
    proxy.add(adt_testkit::Fault::Latency(Duration::from_millis(args.latency)));
    let store = adt_datastore::Store::connect(&adt_datastore::Connection::new(
        adt_datastore::Endpoint::parse(&emulator.endpoint(), Some(adt_testkit::REGION)).map_err(|e| e.to_string())?,
        adt_datastore::Secret::new(adt_testkit::ACCESS_KEY),
        adt_datastore::Secret::new(adt_testkit::SECRET_KEY),
    ))
    .map_err(|e| e.to_string())?;
    let config = AssetConfig::persisting(
        "bench.example.com",
        vec![MountEntry::parse("uploads").map_err(|e| format!("{e:?}"))?],
    );
    let mut plans = Vec::new();
    for node in ["a", "b"] {
        let root = work.join(format!("{tool}-{node}"));
        fs::create_dir_all(root.join("www/html/uploads")).map_err(|e| e.to_string())?;
        let layout = Layout::new(&config, &root.join("www/html")).map_err(|e| e.to_string())?;
        let options = MountOptions {
            tool,
            uid: 0,
            gid: 0,
            state_dir: root.join("state"),
            timeout: Duration::from_secs(30),
        };
        let target = Target {
            endpoint: proxy.endpoint(),
            region: adt_testkit::REGION.into(),
            ca_bundle: None,
        };
        let plan = Plan::new(&layout, &target, &options);
        for (_, m) in layout.mounts() {
            store.ensure_bucket(&m.bucket).await.map_err(|e| e.to_string())?;
        }
        plans.push((plan, root.join("www/html/uploads")));
    }
    let secret = adt_datastore::Secret::new(adt_testkit::SECRET_KEY);
    let access = adt_datastore::Secret::new(adt_testkit::ACCESS_KEY);
    let keys = Keys {
        access: &access,
        secret: &secret,
    };
    let stop = std::sync::atomic::AtomicBool::new(false);
    for (plan, _) in &plans {
        adt_mounts::mount(plan, &store, &keys, &stop)
            .await
            .map_err(|e| e.to_string())?;
    }
    let (a, b) = (plans[0].1.clone(), plans[1].1.clone());
    let result = measure(tool, args, &a, &b, &plans[0].0);
    for (plan, _) in &plans {
        let _ = adt_mounts::unmount(plan, Duration::from_secs(30));
    }
    eprintln!("xtask: {tool} measured");
    result
}

fn measure(tool: Tool, args: &Args, a: &Path, b: &Path, plan_a: &Plan) -> Result<Measured, String> {
    let limit = Duration::from_secs(60);
    let mut cases = [
        Delays {
            case: "new file (tmp + rename)",
            seconds: Vec::new(),
        },
        Delays {
            case: "overwrite (tmp + rename)",
            seconds: Vec::new(),
        },
        Delays {
            case: "delete",
            seconds: Vec::new(),
        },
    ];
    for round in 0..args.rounds {
        let name = format!("r{round}.jpg");
        let (v1, v2) = (body(round, 1, 20_000), body(round, 2, 30_000));
        upload(a, &name, &v1)?;
        cases[0].seconds.push(seen(&b.join(&name), Some(&v1), limit)?);
        upload(a, &name, &v2)?;
        cases[1].seconds.push(seen(&b.join(&name), Some(&v2), limit)?);
        fs::remove_file(a.join(&name)).map_err(|e| e.to_string())?;
        cases[2].seconds.push(seen(&b.join(&name), None, limit)?);
    }
    // Small files written in place, one after the other.
    let dir = a.join("small");
    fs::create_dir(&dir).map_err(|e| e.to_string())?;
    let started = Instant::now();
    for i in 0..args.files {
        fs::write(dir.join(format!("{i}.txt")), vec![b'x'; 4096]).map_err(|e| e.to_string())?;
    }
    let wrote = started.elapsed().as_secs_f64();
    let cache = adt_mounts::cache_dir(&plan_a.options.state_dir, &plan_a.entries[0].mounts[0].bucket);
    while adt_mounts::pending_uploads(&cache) > 0 {
        if started.elapsed() > limit * 5 {
            return Err(format!("{tool}: uploads still pending after {:?}", started.elapsed()));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let uploaded = started.elapsed().as_secs_f64();
    // The other webserver lists them once its caches have expired.
    std::thread::sleep(tool.visibility_bound().unwrap_or(Duration::from_secs(3)));
    let started = Instant::now();
    let mut listed = 0;
    while listed < args.files {
        listed = fs::read_dir(b.join("small")).map(|d| d.count()).unwrap_or(0);
        if started.elapsed() > limit {
            return Err(format!("{tool}: the other webserver lists {listed} of {}", args.files));
        }
    }
    let listing = started.elapsed().as_secs_f64();
    Ok(Measured {
        delays: cases.into_iter().collect(),
        writes_per_second: args.files as f64 / wrote,
        all_uploaded: uploaded,
        listing,
    })
}

/// Version `v` of round `round`, `len` bytes.
fn body(round: usize, v: usize, len: usize) -> Vec<u8> {
    let mut out = format!("round {round} version {v}\n").into_bytes();
    out.resize(len, b'a' + (v % 26) as u8);
    out
}

/// Lands `bytes` as `name` in `dir` the way PHP's move_uploaded_file does
/// on one filesystem: a temporary name, then a rename.
fn upload(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), String> {
    let tmp: PathBuf = dir.join(format!(".{name}.tmp"));
    fs::write(&tmp, bytes).map_err(|e| e.to_string())?;
    fs::rename(&tmp, dir.join(name)).map_err(|e| e.to_string())
}

/// Seconds until `path` reads as `want` (None: gone), polling every 10 ms.
/// Any other whole-looking read is just not there yet; an I/O error while
/// it is being deleted counts as not there yet too.
fn seen(path: &Path, want: Option<&[u8]>, limit: Duration) -> Result<f64, String> {
    let started = Instant::now();
    loop {
        let now = fs::read(path);
        let done = match (&now, want) {
            (Ok(bytes), Some(want)) => bytes.as_slice() == want,
            (Err(e), None) => e.kind() == std::io::ErrorKind::NotFound,
            _ => false,
        };
        if done {
            return Ok(started.elapsed().as_secs_f64());
        }
        if started.elapsed() > limit {
            return Err(format!("{}: not as expected after {limit:?}", path.display()));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
