//! mount, unmount, status and purge: the steps that change the system,
//! each mount journaled so a failure undoes exactly what this run did.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use adt_datastore::Store;
use adt_template::Secret;
use serde::Serialize;

use crate::credentials;
use crate::error::{MountError, io};
use crate::health::{Health, answers, probe};
use crate::mounttable::MountTable;
use crate::plan::{Plan, PlannedEntry};
use crate::retire::{self, Destination, Retired};
use crate::tool::CommandLine;

/// What a run did, for people and for the JSON output.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub actions: Vec<String>,
    pub warnings: Vec<String>,
}

/// One mount point's state (design.md's `status` contract).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MountState {
    pub entry: String,
    /// None for a merge target.
    pub bucket: Option<String>,
    pub mountpoint: PathBuf,
    /// mounted, stale or unmounted.
    pub state: &'static str,
    pub tool: String,
}

enum Step {
    Mounted(PathBuf),
    CreatedDir(PathBuf),
    Retired { dir: PathBuf, retired: PathBuf },
}

/// Credentials for the tools, written to their 0600 files before mounting.
pub struct Keys<'a> {
    pub access: &'a Secret,
    pub secret: &'a Secret,
}

/// Mounts every entry of the plan: branches before their merge. Healthy
/// mounts are left alone, stale ones repaired, local files moved into the
/// bucket and aside. On failure, everything this run mounted is unmounted
/// and every local directory it moved is put back.
pub async fn mount(plan: &Plan, store: &Store, keys: &Keys<'_>) -> Result<Report, MountError> {
    for m in plan.entries.iter().flat_map(|e| &e.mounts) {
        require(&m.command.program)?;
    }
    if plan.entries.iter().any(|e| e.merge.is_some()) {
        require("mergerfs")?;
    }
    private_dir(&plan.options.state_dir)?;
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
        if let Err(e) = mount_entry(plan, entry, store, &mut journal, &mut report).await {
            let mut notes = Vec::new();
            rollback(plan, journal, &mut notes);
            report.warnings.extend(notes);
            return Err(MountError::Entry {
                entry: entry.entry.clone(),
                source: Box::new(e),
            });
        }
    }
    Ok(report)
}

async fn mount_entry(
    plan: &Plan,
    entry: &PlannedEntry,
    store: &Store,
    journal: &mut Vec<Step>,
    report: &mut Report,
) -> Result<(), MountError> {
    for (i, m) in entry.mounts.iter().enumerate() {
        let dest = Destination {
            layout: &entry.layout,
            branch: Some(i),
        };
        mount_one(
            plan,
            &entry.entry,
            &m.mountpoint,
            &m.command,
            Some(&dest),
            store,
            journal,
            report,
        )
        .await?;
    }
    if let Some(merge) = &entry.merge {
        let dest = Destination {
            layout: &entry.layout,
            branch: None,
        };
        mount_one(
            plan,
            &entry.entry,
            &merge.target,
            &merge.command,
            Some(&dest),
            store,
            journal,
            report,
        )
        .await?;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn mount_one(
    plan: &Plan,
    entry: &str,
    path: &Path,
    command: &CommandLine,
    dest: Option<&Destination<'_>>,
    store: &Store,
    journal: &mut Vec<Step>,
    report: &mut Report,
) -> Result<(), MountError> {
    let table = MountTable::read().map_err(|e| io(Path::new("/proc/self/mountinfo"), e))?;
    match probe(path, &table, Duration::from_secs(5)) {
        Health::Healthy { .. } => {
            report.actions.push(format!("{}: already mounted", path.display()));
            return Ok(());
        }
        Health::Stale { reason, .. } => {
            detach(path)?;
            report
                .actions
                .push(format!("{}: stale mount ({reason}) detached", path.display()));
        }
        Health::Unmounted => {}
    }
    if path.exists() {
        if !path.is_dir() {
            return Err(MountError::NotADirectory {
                path: path.to_path_buf(),
            });
        }
        if retire::has_entries(path)? {
            if let Some(dest) = dest {
                let up = retire::upload_missing(store, path, dest).await?;
                report.actions.push(format!(
                    "{}: {} local file(s) uploaded, {} already in the bucket",
                    path.display(),
                    up.uploaded,
                    up.present
                ));
                if !up.differ.is_empty() {
                    report.warnings.push(format!(
                        "{}: {} local file(s) differ from the bucket's copy, which is kept; the local ones stay in the retired directory: {}",
                        path.display(),
                        up.differ.len(),
                        up.differ.join(", ")
                    ));
                }
                if !up.skipped.is_empty() {
                    report.warnings.push(format!(
                        "{}: not uploaded (not regular files), kept in the retired directory: {}",
                        path.display(),
                        up.skipped.join(", ")
                    ));
                }
            }
            let retired = retire::move_aside(path)?;
            journal.push(Step::Retired {
                dir: path.to_path_buf(),
                retired: retired.clone(),
            });
            let mut record = retire::load(&plan.options.state_dir);
            record.push(Retired {
                entry: entry.to_string(),
                mountpoint: path.to_path_buf(),
                retired: retired.clone(),
                buckets: dest
                    .map(|d| d.layout.mounts.iter().map(|m| m.bucket.clone()).collect())
                    .unwrap_or_default(),
            });
            retire::save(&plan.options.state_dir, &record)?;
            report.actions.push(format!(
                "{}: local directory moved aside to {}",
                path.display(),
                retired.display()
            ));
        }
    } else {
        std::fs::create_dir_all(path).map_err(|e| io(path, e))?;
        journal.push(Step::CreatedDir(path.to_path_buf()));
    }
    if command.program != "mergerfs" {
        let bucket = dest
            .map(|d| d.layout.mounts[d.branch.unwrap_or(0)].bucket.clone())
            .unwrap_or_default();
        let _ = std::fs::create_dir_all(crate::plan::cache_dir(&plan.options.state_dir, &bucket));
    }
    journal.push(Step::Mounted(path.to_path_buf()));
    start_and_wait(command, path, &plan.options.state_dir, plan.options.timeout)?;
    report
        .actions
        .push(format!("{}: mounted with {}", path.display(), command.program));
    Ok(())
}

/// The state directory, created 0700: it holds the credential files.
fn private_dir(dir: &Path) -> Result<(), MountError> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| io(dir, e))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(|e| io(dir, e))
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

/// Starts the tool and waits until `path` is mounted and answers a
/// listing, the tool fails, or `timeout` passes (then the tool is killed).
/// The tool's output goes to a log file in the state directory: a
/// daemonized tool keeps a pipe open forever.
fn start_and_wait(command: &CommandLine, path: &Path, state_dir: &Path, timeout: Duration) -> Result<(), MountError> {
    let logs = state_dir.join("logs");
    std::fs::create_dir_all(&logs).map_err(|e| io(&logs, e))?;
    let log = logs.join(format!(
        "{}.log",
        crate::units::unit_name(path).trim_end_matches(".service")
    ));
    let file = std::fs::File::create(&log).map_err(|e| io(&log, e))?;
    let mut child = command
        .command()
        .stdin(Stdio::null())
        .stdout(file.try_clone().map_err(|e| io(&log, e))?)
        .stderr(file)
        .spawn()
        .map_err(|e| io(path, format!("cannot run {}: {e}", command.program)))?;
    let started = Instant::now();
    let mut last = String::new();
    loop {
        let table = MountTable::read().map_err(|e| io(path, e))?;
        if table.at(path).is_some() {
            match answers(path, Duration::from_secs(2)) {
                Ok(()) => return Ok(()),
                Err(e) => last = format!(": {e}"),
            }
        }
        if let Ok(Some(status)) = child.try_wait()
            && !status.success()
        {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            return Err(MountError::ToolFailed {
                program: command.program.clone(),
                path: path.to_path_buf(),
                status: status.to_string(),
                stderr: text.trim().chars().take(2000).collect(),
            });
        }
        if started.elapsed() >= timeout {
            let _ = child.kill();
            let _ = child.wait();
            return Err(MountError::Timeout {
                path: path.to_path_buf(),
                seconds: timeout.as_secs(),
                detail: format!("{last} (log: {})", log.display()),
            });
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn rollback(plan: &Plan, journal: Vec<Step>, notes: &mut Vec<String>) {
    for step in journal.into_iter().rev() {
        match step {
            Step::Mounted(path) => {
                if let Err(e) = detach(&path) {
                    notes.push(e.to_string());
                }
            }
            Step::CreatedDir(path) => {
                let _ = std::fs::remove_dir(&path);
            }
            Step::Retired { dir, retired } => match retire::move_back(&dir, &retired) {
                Ok(()) => {
                    let mut record = retire::load(&plan.options.state_dir);
                    record.retain(|r| r.retired != retired);
                    if let Err(e) = retire::save(&plan.options.state_dir, &record) {
                        notes.push(e.to_string());
                    }
                }
                Err(e) => notes.push(format!("{e}; the local files are safe in {}", retired.display())),
            },
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
    let mut report = Report::default();
    for entry in plan.entries.iter().rev() {
        let mut paths: Vec<&Path> = Vec::new();
        if let Some(merge) = &entry.merge {
            paths.push(&merge.target);
        }
        paths.extend(entry.mounts.iter().rev().map(|m| m.mountpoint.as_path()));
        for path in paths {
            let table = MountTable::read().map_err(|e| io(path, e))?;
            if table.at(path).is_none() {
                continue;
            }
            let started = Instant::now();
            let mut unmounted = false;
            while started.elapsed() < grace {
                let status = std::process::Command::new("fusermount3")
                    .arg("-u")
                    .arg(path)
                    .stderr(Stdio::null())
                    .status();
                if status.is_ok_and(|s| s.success()) {
                    unmounted = true;
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
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Every mount point of the plan: mounted, stale or unmounted.
pub fn status(plan: &Plan) -> Result<Vec<MountState>, MountError> {
    let table = MountTable::read().map_err(|e| io(Path::new("/proc/self/mountinfo"), e))?;
    let state = |path: &Path| match probe(path, &table, Duration::from_secs(5)) {
        Health::Healthy { .. } => "mounted",
        Health::Stale { .. } => "stale",
        Health::Unmounted => "unmounted",
    };
    let mut out = Vec::new();
    for e in &plan.entries {
        for m in &e.mounts {
            out.push(MountState {
                entry: e.entry.clone(),
                bucket: Some(m.bucket.clone()),
                mountpoint: m.mountpoint.clone(),
                state: state(&m.mountpoint),
                tool: m.tool.to_string(),
            });
        }
        if let Some(merge) = &e.merge {
            out.push(MountState {
                entry: e.entry.clone(),
                bucket: None,
                mountpoint: merge.target.clone(),
                state: state(&merge.target),
                tool: "mergerfs".into(),
            });
        }
    }
    Ok(out)
}

/// Deletes retired local directories whose every file is in the bucket;
/// keeps (and names) any that still hold a file the bucket lacks.
pub async fn purge_retired(plan: &Plan, store: &Store) -> Result<Report, MountError> {
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
        if !r.retired.exists() {
            report.actions.push(format!("{}: already gone", r.retired.display()));
            continue;
        }
        let branch = entry.mounts.iter().position(|m| m.mountpoint == r.mountpoint);
        let dest = Destination {
            layout: &entry.layout,
            branch,
        };
        let missing = retire::missing_from_bucket(store, &r.retired, &dest).await?;
        if missing.is_empty() {
            std::fs::remove_dir_all(&r.retired).map_err(|e| io(&r.retired, e))?;
            report
                .actions
                .push(format!("{}: every file is in the bucket; removed", r.retired.display()));
        } else {
            report.warnings.push(format!(
                "{}: kept, {} file(s) are not in the bucket: {}",
                r.retired.display(),
                missing.len(),
                missing.join(", ")
            ));
            kept.push(r);
        }
    }
    retire::save(&plan.options.state_dir, &kept)?;
    Ok(report)
}
