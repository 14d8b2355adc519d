//! mount, unmount, status and purge: the steps that change the system,
//! each mount journaled so a failure undoes exactly what this run did.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use adt_datastore::Secret;
use adt_datastore::Store;
use adt_localfs::{Dir, LocalError};
use serde::Serialize;

use crate::credentials;
use crate::error::{MountError, io};
use crate::health::{Health, answers, probe};
use crate::plan::{Plan, PlannedEntry, cache_dir};
use crate::record;
use crate::retire::{self, Destination, Retired};
use crate::tool::{CommandLine, Tool};
use adt_localfs::MountTable;

/// What a run did, for people and for the JSON output.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Report {
    /// What was done, one line each, in order (`PATH: mounted with s3fs`).
    pub actions: Vec<String>,
    /// What needs a person's attention, one line each: local files kept in
    /// a retired directory, a busy mount detached lazily, a process still
    /// flushing. Empty when there is nothing to look at.
    pub warnings: Vec<String>,
}

/// One mount point's state (design.md's `status` contract).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct MountState {
    /// The DIRECTORIES_TO_MOUNT entry.
    pub entry: String,
    /// None for a merge target.
    pub bucket: Option<String>,
    /// Where it is mounted.
    pub mountpoint: PathBuf,
    /// Mounted, stale or unmounted.
    pub state: Mounted,
    /// The tool that mounts it (`s3fs`, `rclone`, `mergerfs`), read from
    /// the mount table's filesystem type; when unmounted, the tool
    /// `mount` would use.
    pub tool: String,
}

/// Whether a mount point serves its bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Mounted {
    /// Mounted and answering.
    Mounted,
    /// In the mount table but not answering (the FUSE process died or hangs).
    Stale,
    /// Not mounted.
    Unmounted,
}

impl Mounted {
    /// `mounted`, `stale` or `unmounted`, as the JSON output says it.
    pub fn as_str(self) -> &'static str {
        match self {
            Mounted::Mounted => "mounted",
            Mounted::Stale => "stale",
            Mounted::Unmounted => "unmounted",
        }
    }
}

impl std::fmt::Display for Mounted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

enum Step {
    Mounted(PathBuf),
    CreatedDir(PathBuf),
    Retired { dir: PathBuf, retired: PathBuf },
}

/// Credentials for the tools, written to their 0600 files before mounting.
pub struct Keys<'a> {
    /// The access key ID.
    pub access: &'a Secret,
    /// The secret access key.
    pub secret: &'a Secret,
}

/// Mounts every entry of the plan: branches before their merge. Healthy
/// mounts are left alone, stale ones repaired, local files moved into the
/// bucket and aside. On failure, or when `stop` is set (a signal), every
/// mount this run made is unmounted and every local directory it moved is
/// put back.
///
/// Nothing is changed when a mount point, or a directory on the way to it,
/// is a symbolic link, or when the state directory exists with another
/// owner or a mode open to others.
pub async fn mount(plan: &Plan, store: &Store, keys: &Keys<'_>, stop: &AtomicBool) -> Result<Report, MountError> {
    for m in plan.entries.iter().flat_map(|e| &e.mounts) {
        require(&m.command.program)?;
    }
    if plan.entries.iter().any(|e| e.merge.is_some()) {
        require("mergerfs")?;
    }
    let table = MountTable::read().map_err(|e| io(Path::new("/proc/self/mountinfo"), e))?;
    for entry in &plan.entries {
        for m in &entry.mounts {
            check_mountpoint(&m.mountpoint, &table)?;
        }
        if let Some(merge) = &entry.merge {
            check_mountpoint(&merge.target, &table)?;
        }
    }
    let state = adt_localfs::ensure_private_dir(&plan.options.state_dir)?;
    let _lock = record::lock(&state)?;
    record::check_same_site(plan)?;
    credentials::write(&plan.credentials, keys.access, keys.secret)?;
    let mut report = Report::default();
    // Every bucket first: wrong keys or an unreachable datastore show up
    // here, before any local file is touched.
    for m in plan.entries.iter().flat_map(|e| &e.mounts) {
        if store.ensure_bucket(&m.bucket).await? == adt_datastore::BucketState::Created {
            report
                .actions
                .push(format!("bucket {} created (it was not seeded)", m.bucket));
        }
    }
    let mut journal = Vec::new();
    for entry in &plan.entries {
        let result = if stop.load(Ordering::SeqCst) {
            Err(MountError::Interrupted)
        } else {
            mount_entry(plan, &state, entry, store, &mut journal, &mut report, stop).await
        };
        if let Err(e) = result {
            let mut notes = Vec::new();
            rollback(&state, journal, &mut notes);
            let undone = if notes.is_empty() {
                "what this run mounted was unmounted and local directories were put back".to_string()
            } else {
                format!("undoing this run left: {}", notes.join("; "))
            };
            return Err(MountError::Entry {
                entry: entry.entry.clone(),
                source: Box::new(e),
                undone,
            });
        }
    }
    record::save(&state, plan)?;
    Ok(report)
}

/// Runs `f`, which waits on a process or a mount (seconds, at worst the
/// mount timeout), without stalling the other tasks of the caller's
/// runtime: on a multi-threaded runtime the worker hands its tasks to the
/// others first (`block_in_place`); on a current-thread runtime there is no
/// other worker, and it simply runs.
fn blocking<R>(f: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

/// Refuses a mount point that is a symbolic link, or that is reached
/// through one: everything from `/` to it (as far as it exists) is opened
/// one component at a time without following links. A path already
/// mounted (healthy or stale) is a mount point, not a link: only the way
/// to it is checked, without touching the mount.
fn check_mountpoint(path: &Path, table: &MountTable) -> Result<(), MountError> {
    let mut existing = path;
    if table.at(path).is_some() {
        existing = path.parent().unwrap_or(path);
    }
    loop {
        match Dir::open(existing) {
            Ok(_) => return Ok(()),
            Err(e) if e.is_missing() => match existing.parent() {
                Some(up) => existing = up,
                None => return Ok(()),
            },
            Err(LocalError::NotADirectory { path }) => return Err(MountError::NotADirectory { path }),
            Err(e) => return Err(e.into()),
        }
    }
}

/// The directory holding `path`, opened from `/` without following links;
/// missing directories on the way are created (0755) and journaled.
fn open_parent(path: &Path, journal: &mut Vec<Step>) -> Result<(Dir, OsString), MountError> {
    let name = path
        .file_name()
        .ok_or_else(|| io(path, "is not a directory below /"))?
        .to_os_string();
    let parent = path.parent().ok_or_else(|| io(path, "is not a directory below /"))?;
    let mut dir = Dir::open(Path::new("/"))?;
    for component in parent.components() {
        let std::path::Component::Normal(part) = component else {
            continue;
        };
        dir = match dir.open_dir(part) {
            Ok(d) => d,
            Err(e) if e.is_missing() => {
                let made = dir.create_dir(part, 0o755)?;
                journal.push(Step::CreatedDir(made.path().to_path_buf()));
                made
            }
            Err(e) => return Err(e.into()),
        };
    }
    Ok((dir, name))
}

async fn mount_entry(
    plan: &Plan,
    state: &Dir,
    entry: &PlannedEntry,
    store: &Store,
    journal: &mut Vec<Step>,
    report: &mut Report,
    stop: &AtomicBool,
) -> Result<(), MountError> {
    let one = |i: Option<usize>| Destination {
        layout: &entry.layout,
        branch: i,
    };
    for (i, m) in entry.mounts.iter().enumerate() {
        let dest = one(Some(i));
        let site = Site {
            plan,
            state,
            entry: &entry.entry,
            dest: &dest,
            store,
            stop,
        };
        mount_one(&site, &m.mountpoint, &m.command, journal, report).await?;
    }
    if let Some(merge) = &entry.merge {
        let dest = one(None);
        let site = Site {
            plan,
            state,
            entry: &entry.entry,
            dest: &dest,
            store,
            stop,
        };
        mount_one(&site, &merge.target, &merge.command, journal, report).await?;
    }
    Ok(())
}

/// What one mount needs besides its path and command.
struct Site<'a> {
    plan: &'a Plan,
    state: &'a Dir,
    entry: &'a str,
    dest: &'a Destination<'a>,
    store: &'a Store,
    stop: &'a AtomicBool,
}

async fn mount_one(
    site: &Site<'_>,
    path: &Path,
    command: &CommandLine,
    journal: &mut Vec<Step>,
    report: &mut Report,
) -> Result<(), MountError> {
    let table = MountTable::read().map_err(|e| io(Path::new("/proc/self/mountinfo"), e))?;
    match blocking(|| probe(path, &table, Duration::from_secs(5))) {
        Health::Healthy { .. } => {
            report.actions.push(format!("{}: already mounted", path.display()));
            return Ok(());
        }
        Health::Stale { reason, .. } => {
            blocking(|| detach(path))?;
            report
                .actions
                .push(format!("{}: stale mount ({reason}) detached", path.display()));
        }
        Health::Unmounted => {}
    }
    let (parent, name) = open_parent(path, journal)?;
    match parent.stat_at(&name)? {
        None => {
            parent.create_dir(&name, 0o755)?;
            journal.push(Step::CreatedDir(path.to_path_buf()));
        }
        Some(seen) if seen.kind == adt_localfs::Kind::Symlink => {
            return Err(LocalError::Symlink {
                path: path.to_path_buf(),
            }
            .into());
        }
        Some(seen) if seen.kind != adt_localfs::Kind::Dir => {
            return Err(MountError::NotADirectory {
                path: path.to_path_buf(),
            });
        }
        Some(seen) => {
            let dir = parent.open_dir_expecting(&name, &seen)?;
            if retire::has_entries(&dir)? {
                retire_local(site, &parent, &name, &dir, &seen, journal, report).await?;
            }
        }
    }
    if command.program != "mergerfs" {
        let bucket = &site.dest.layout.mounts[site.dest.branch.unwrap_or(0)].bucket;
        let cache = crate::plan::cache_dir(&site.plan.options.state_dir, bucket);
        std::fs::create_dir_all(&cache).map_err(|e| io(&cache, e))?;
        // rclone left uploads waiting (stopped before it uploaded them):
        // only rclone uploads them.
        let waiting = crate::writeback::pending_uploads(&cache);
        if command.program != "rclone" && waiting > 0 {
            report.warnings.push(format!(
                "{}: {waiting} file(s) written through rclone still wait for their upload in {}; mount with --tool rclone once to upload them",
                path.display(),
                cache.display()
            ));
        }
    }
    // Still the directory checked above, not a link put there since.
    let mode = match parent.stat_at(&name)? {
        Some(now) if now.kind == adt_localfs::Kind::Dir => now.mode,
        _ => {
            return Err(LocalError::Changed {
                path: path.to_path_buf(),
            }
            .into());
        }
    };
    // The mount's root shows the directory's mode (others' bits cleared).
    let mut command = command.clone();
    crate::tool::with_root_mode(&mut command, mode);
    journal.push(Step::Mounted(path.to_path_buf()));
    tracing::info!(mountpoint = %path.display(), tool = %command.program, "mounting");
    tracing::debug!(command = %command.display(), "mount command (no secret in it)");
    blocking(|| start_and_wait(&command, path, site.state, site.plan.options.timeout, site.stop))?;
    report
        .actions
        .push(format!("{}: mounted with {}", path.display(), command.program));
    Ok(())
}

/// Local files at a mount point: into the bucket, then the directory aside.
async fn retire_local(
    site: &Site<'_>,
    parent: &Dir,
    name: &OsStr,
    dir: &Dir,
    seen: &adt_localfs::Stat,
    journal: &mut Vec<Step>,
    report: &mut Report,
) -> Result<(), MountError> {
    let path = parent.child_path(name);
    let up = retire::upload_missing(site.store, dir, site.dest, site.stop).await?;
    report.actions.push(format!(
        "{}: {} local file(s) uploaded, {} already in the bucket, {} directory object(s) written",
        path.display(),
        up.uploaded,
        up.present,
        up.directories
    ));
    for (list, what) in [
        (
            &up.differ,
            "differ from the bucket's copy, which is kept; the local ones stay in the retired directory",
        ),
        (
            &up.skipped,
            "not uploaded (not regular files), kept in the retired directory",
        ),
        (
            &up.refused,
            "not uploaded (their names cannot be object keys), kept in the retired directory",
        ),
    ] {
        if !list.is_empty() {
            report.warnings.push(format!(
                "{}: {} local file(s) {what}: {}",
                path.display(),
                list.len(),
                list.join(", ")
            ));
        }
    }
    let retired_name = retire::move_aside(parent, name, seen)?;
    let retired = parent.child_path(&retired_name);
    journal.push(Step::Retired {
        dir: path.clone(),
        retired: retired.clone(),
    });
    let mut record = retire::load(&site.plan.options.state_dir);
    record.push(Retired {
        entry: site.entry.to_string(),
        mountpoint: path.clone(),
        retired: retired.clone(),
        buckets: site.dest.layout.mounts.iter().map(|m| m.bucket.clone()).collect(),
        identity: Some((seen.dev, seen.ino)),
    });
    retire::save(site.state, &record)?;
    retire::make_mountpoint(parent, name, seen)?;
    report.actions.push(format!(
        "{}: local directory moved aside to {}",
        path.display(),
        retired.display()
    ));
    Ok(())
}

fn require(program: &str) -> Result<(), MountError> {
    if crate::tool::find_program(program).is_some() {
        return Ok(());
    }
    let hint = crate::Tool::parse(program).map_or("apt-get install -y mergerfs", |t| t.install_hint());
    Err(MountError::ToolMissing {
        tool: program.to_string(),
        hint,
    })
}

/// Starts the tool in the foreground, in a process group of its own,
/// and waits until `path` is mounted and answers a listing, the tool
/// fails, `timeout` passes or `stop` is set. In the last two cases the
/// whole process group is stopped and waited for, and anything it left at
/// `path` is detached, so nothing can mount there later. The tool's output
/// goes to a 0600 log in the state directory. Once mounted, the tool keeps
/// running on its own (a thread reaps it when it ends).
fn start_and_wait(
    command: &CommandLine,
    path: &Path,
    state: &Dir,
    timeout: Duration,
    stop: &AtomicBool,
) -> Result<(), MountError> {
    use std::os::unix::fs::OpenOptionsExt;
    use std::os::unix::process::CommandExt;
    let logs = adt_localfs::ensure_private_dir(&state.path().join("logs"))?;
    let log = logs.child_path(OsStr::new(&format!(
        "{}.log",
        crate::units::unit_name(path).trim_end_matches(".service")
    )));
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(&log)
        .map_err(|e| io(&log, e))?;
    // Mounts that exist now; a new one of this tool anywhere but `path`
    // means the mount point was swapped for a link after it was checked
    // (the tool resolves the path itself): it is undone at once.
    let before: std::collections::HashSet<u64> = MountTable::read()
        .map_err(|e| io(path, e))?
        .mounts
        .iter()
        .map(|m| m.id)
        .collect();
    // The tool names its mount with a tag of this run (the source field of
    // the mount table), so its mount is told from any other.
    let tag = format!(
        "adt-mount-{}-{:x}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    );
    let mut command = command.clone();
    let tagged = tag_mount(&mut command, &tag);
    let mut child = command
        .command()
        .stdin(Stdio::null())
        .stdout(file.try_clone().map_err(|e| io(&log, e))?)
        .stderr(file)
        .process_group(0)
        .spawn()
        .map_err(|e| io(path, format!("cannot run {}: {e}", command.program)))?;
    let started = Instant::now();
    let mut last = String::new();
    loop {
        let table = MountTable::read().map_err(|e| io(path, e))?;
        if let Some(stray) = table
            .mounts
            .iter()
            .find(|m| tagged && !before.contains(&m.id) && m.mountpoint != path && m.source == tag)
        {
            let landed = stray.mountpoint.clone();
            stop_group(&mut child);
            detach(&landed)?;
            return Err(MountError::Redirected {
                path: path.to_path_buf(),
                landed,
            });
        }
        if table.at(path).is_some() {
            match answers(path, Duration::from_secs(2)) {
                Ok(()) => {
                    std::thread::spawn(move || child.wait());
                    return Ok(());
                }
                Err(e) => last = format!(": {e}"),
            }
        }
        if let Ok(Some(status)) = child.try_wait() {
            // Whatever it left running in its group (a forked daemon that
            // would mount later) goes too.
            stop_group(&mut child);
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            detach(path)?;
            return Err(MountError::ToolFailed {
                program: command.program.clone(),
                path: path.to_path_buf(),
                status: status.to_string(),
                stderr: text.trim().chars().take(2000).collect(),
            });
        }
        let interrupted = stop.load(Ordering::SeqCst);
        if interrupted || started.elapsed() >= timeout {
            stop_group(&mut child);
            detach(path)?;
            if interrupted {
                return Err(MountError::Interrupted);
            }
            return Err(MountError::Timeout {
                path: path.to_path_buf(),
                seconds: timeout.as_secs(),
                detail: format!("{last} (log: {})", log.display()),
            });
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Adds `tag` as the mount's source name (FUSE `fsname`, rclone
/// `--devname`) to a tool's command; false for a tool that cannot take one.
fn tag_mount(command: &mut CommandLine, tag: &str) -> bool {
    match command.program.as_str() {
        // libfuse 2 drops its default subtype when fsname is given, which
        // left s3fs's type in the mount table as plain `fuse`: named again,
        // so status can tell the tool (`fuse.s3fs`).
        "s3fs" => {
            command
                .args
                .extend(["-o".to_string(), format!("fsname={tag},subtype=s3fs")]);
            true
        }
        "mergerfs" => {
            command.args.extend(["-o".to_string(), format!("fsname={tag}")]);
            true
        }
        "rclone" => {
            command.args.extend(["--devname".to_string(), tag.to_string()]);
            true
        }
        _ => false,
    }
}

/// Stops a tool's whole process group (SIGTERM, then SIGKILL after 3 s)
/// and waits for the tool itself.
fn stop_group(child: &mut std::process::Child) {
    use rustix::process::{Pid, Signal, kill_process_group};
    let Some(group) = Pid::from_raw(child.id() as i32) else {
        return;
    };
    let _ = kill_process_group(group, Signal::TERM);
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(3) {
        if matches!(child.try_wait(), Ok(Some(_))) {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // Whatever is left of the group (a forked helper) goes too.
    let _ = kill_process_group(group, Signal::KILL);
    let _ = child.wait();
}

fn rollback(state: &Dir, journal: Vec<Step>, notes: &mut Vec<String>) {
    let mut restored = Vec::new();
    for step in journal.into_iter().rev() {
        match step {
            Step::Mounted(path) => {
                if let Err(e) = detach(&path) {
                    notes.push(e.to_string());
                }
            }
            Step::CreatedDir(path) => {
                if let (Some(parent), Some(name)) = (path.parent(), path.file_name())
                    && let Ok(parent) = Dir::open(parent)
                {
                    let _ = parent.remove_empty_dir(name);
                }
            }
            Step::Retired { dir, retired } => {
                let back = match (dir.parent(), dir.file_name(), retired.file_name()) {
                    (Some(parent), Some(name), Some(retired_name)) => Dir::open(parent)
                        .map_err(MountError::from)
                        .and_then(|parent| retire::move_back(&parent, name, retired_name)),
                    _ => Err(io(&dir, "is not a directory below /")),
                };
                match back {
                    Ok(()) => {
                        let mut record = retire::load(state.path());
                        record.retain(|r| r.retired != retired);
                        if let Err(e) = retire::save(state, &record) {
                            notes.push(e.to_string());
                        }
                        restored.push(dir);
                    }
                    Err(e) => notes.push(format!("{e}; the local files are safe in {}", retired.display())),
                }
            }
        }
    }
    // Nothing may cover a directory just put back: its files would be
    // hidden from the site and from backups.
    if let Ok(table) = MountTable::read() {
        for dir in restored {
            if table.at(&dir).is_some() {
                let _ = detach(&dir);
                notes.push(format!(
                    "{}: something was mounted over the restored directory; it was detached",
                    dir.display()
                ));
            }
        }
    }
}

/// Unmounts now, even if busy or dead (lazy): used for stale mounts and
/// to undo a failed run.
fn detach(path: &Path) -> Result<(), MountError> {
    let table = MountTable::read().map_err(|e| io(path, e))?;
    if table.at(path).is_none() {
        return Ok(());
    }
    let ok = std::process::Command::new("fusermount3")
        .arg("-uz")
        .arg(path)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
        || std::process::Command::new("umount")
            .arg("-l")
            .arg(path)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
    if ok {
        Ok(())
    } else {
        Err(MountError::Unmount {
            path: path.to_path_buf(),
            detail: "fusermount3 -uz and umount -l both failed".into(),
        })
    }
}

/// Unmounts every entry: a merge before its branches. A busy mount is
/// retried for `grace`, letting pending writes flush, then detached lazily
/// (it disappears now and finishes flushing when its files close), so no
/// entry is left half unmounted.
pub fn unmount(plan: &Plan, grace: Duration) -> Result<Report, MountError> {
    // Read-only without a state directory: nothing of ours to unmount.
    let _lock = match Dir::open(&plan.options.state_dir) {
        Ok(state) => Some(record::lock(&state)?),
        Err(e) if e.is_missing() => None,
        Err(e) => return Err(e.into()),
    };
    record::check_same_site(plan)?;
    let mut report = Report::default();
    for entry in plan.entries.iter().rev() {
        // Each path, with the cache of its bucket (a merge has none).
        let mut paths: Vec<(&Path, Option<PathBuf>)> = Vec::new();
        if let Some(merge) = &entry.merge {
            paths.push((&merge.target, None));
        }
        paths.extend(entry.mounts.iter().rev().map(|m| {
            (
                m.mountpoint.as_path(),
                Some(cache_dir(&plan.options.state_dir, &m.bucket)),
            )
        }));
        for (path, cache) in paths {
            let table = MountTable::read().map_err(|e| io(path, e))?;
            let Some(info) = table.at(path) else {
                continue;
            };
            let started = Instant::now();
            // rclone uploads a file a moment after its close, and exits on
            // unmount without uploading what still waits: wait for it.
            // Whatever --tool says now, the mount table says what mounted
            // it; a dead rclone uploads nothing, so that is not waited for.
            let rclone = info.fstype == Tool::Rclone.fstype() && !serving(path).is_empty();
            if let Some(cache) = cache.filter(|_| rclone) {
                tracing::info!(mountpoint = %path.display(), "waiting for rclone's pending uploads");
                let left = crate::writeback::wait_uploaded(&cache, grace);
                if left > 0 {
                    report.warnings.push(format!(
                        "{}: {left} file(s) still waited for their upload after {} s; they stay in {} and rclone uploads them when it next mounts the bucket",
                        path.display(),
                        grace.as_secs(),
                        cache.display()
                    ));
                }
            }
            let mut unmounted = false;
            // At least one clean try, whatever the grace (0: try once).
            loop {
                let status = std::process::Command::new("fusermount3")
                    .arg("-u")
                    .arg(path)
                    .stderr(Stdio::null())
                    .status();
                if status.is_ok_and(|s| s.success()) {
                    unmounted = true;
                    break;
                }
                if started.elapsed() >= grace {
                    break;
                }
                std::thread::sleep(Duration::from_millis(500));
            }
            if unmounted {
                // The tool may still be uploading what was written (rclone
                // writes back after close): wait for it to exit.
                let left = wait_exit(
                    path,
                    grace.saturating_sub(started.elapsed()).max(Duration::from_secs(5)),
                );
                if left.is_empty() {
                    report.actions.push(format!("{}: unmounted", path.display()));
                } else {
                    report.warnings.push(format!(
                        "{}: unmounted, but its process (pid {}) is still flushing writes",
                        path.display(),
                        left.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
                    ));
                }
            } else {
                detach(path)?;
                report.warnings.push(format!(
                    "{}: busy for {} s, detached lazily; it finishes when its open files close",
                    path.display(),
                    grace.as_secs()
                ));
            }
        }
    }
    Ok(report)
}

/// Processes whose command line names `path` as an argument: the FUSE
/// tool serving it.
fn serving(path: &Path) -> Vec<u32> {
    let wanted = path.as_os_str().as_encoded_bytes();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != std::process::id())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|cmd| cmd.split(|b| *b == 0).any(|arg| arg == wanted))
                .unwrap_or(false)
        })
        .collect()
}

/// Waits up to `limit` for the processes serving `path` to exit; returns
/// those still running.
fn wait_exit(path: &Path, limit: Duration) -> Vec<u32> {
    let started = Instant::now();
    loop {
        let left = serving(path);
        if left.is_empty() || started.elapsed() >= limit {
            return left;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Every mount point of the plan: mounted, stale or unmounted.
pub fn status(plan: &Plan) -> Result<Vec<MountState>, MountError> {
    let table = MountTable::read().map_err(|e| io(Path::new("/proc/self/mountinfo"), e))?;
    // The tool is the mounted filesystem's (the mount table's type), not
    // the plan's: a bucket mounted with rclone shows rclone whatever
    // --tool says now. Unmounted: the tool `mount` would use.
    let state = |path: &Path, planned: &str| match probe(path, &table, Duration::from_secs(5)) {
        Health::Healthy { fstype } => (Mounted::Mounted, Tool::name_of_fstype(&fstype)),
        Health::Stale { fstype, .. } => (Mounted::Stale, Tool::name_of_fstype(&fstype)),
        Health::Unmounted => (Mounted::Unmounted, planned.to_string()),
    };
    let mut out = Vec::new();
    for e in &plan.entries {
        for m in &e.mounts {
            let (state, tool) = state(&m.mountpoint, &m.tool.to_string());
            tracing::info!(mountpoint = %m.mountpoint.display(), ?state, %tool, "mount point probed");
            out.push(MountState {
                entry: e.entry.clone(),
                bucket: Some(m.bucket.clone()),
                mountpoint: m.mountpoint.clone(),
                state,
                tool,
            });
        }
        if let Some(merge) = &e.merge {
            let (state, tool) = state(&merge.target, "mergerfs");
            out.push(MountState {
                entry: e.entry.clone(),
                bucket: None,
                mountpoint: merge.target.clone(),
                state,
                tool,
            });
        }
    }
    Ok(out)
}

/// Adds to the record of retired directories every directory found by its
/// name and not on record ([`crate::find_unrecorded_retired`]), so that
/// status and purges treat it like one adt-mount moved aside. An
/// operator's decision: the web server's user can make such a name.
pub fn adopt_retired(plan: &Plan) -> Result<Report, MountError> {
    let state = adt_localfs::ensure_private_dir(&plan.options.state_dir)?;
    let _lock = record::lock(&state)?;
    let mut report = Report::default();
    let found = retire::find_unrecorded(plan);
    if found.is_empty() {
        return Ok(report);
    }
    let mut record = retire::load(&plan.options.state_dir);
    for r in found {
        report.actions.push(format!(
            "{}: adopted as a retired directory of entry `{}`",
            r.retired.display(),
            r.entry
        ));
        record.push(r);
    }
    retire::save(&state, &record)?;
    Ok(report)
}

/// Deletes, from retired local directories, every file whose content is
/// verified in its bucket, and the directories left empty; keeps (and
/// names) every file that is not verified, and the record of its directory.
pub async fn purge_retired(plan: &Plan, store: &Store) -> Result<Report, MountError> {
    let state = adt_localfs::ensure_private_dir(&plan.options.state_dir)?;
    let _lock = record::lock(&state)?;
    let mut report = Report::default();
    let mut record = retire::load(&plan.options.state_dir);
    let mut kept = Vec::new();
    for r in record.drain(..) {
        let Some(entry) = plan.entries.iter().find(|e| e.entry == r.entry) else {
            report.warnings.push(format!(
                "{}: entry `{}` is no longer in the template; kept",
                r.retired.display(),
                r.entry
            ));
            kept.push(r);
            continue;
        };
        let (Some(parent), Some(name)) = (r.retired.parent(), r.retired.file_name()) else {
            kept.push(r);
            continue;
        };
        let parent = Dir::open(parent)?;
        if parent.stat_at(name)?.is_none() {
            report.actions.push(format!("{}: already gone", r.retired.display()));
            continue;
        }
        let branch = entry.mounts.iter().position(|m| m.mountpoint == r.mountpoint);
        let dest = Destination {
            layout: &entry.layout,
            branch,
        };
        let left = retire::purge(store, &parent, name, r.identity, &dest).await?;
        if left.is_empty() {
            report.actions.push(format!(
                "{}: every file is in the bucket with the same content; removed",
                r.retired.display()
            ));
        } else {
            report.warnings.push(format!(
                "{}: kept {} file(s) not verified in the bucket (the verified ones were removed): {}",
                r.retired.display(),
                left.len(),
                left.join(", ")
            ));
            kept.push(r);
        }
    }
    retire::save(&state, &kept)?;
    Ok(report)
}
