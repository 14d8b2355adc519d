//! Leaving nothing behind: on success, on failure and on Ctrl-C, the demo
//! stops the child it is running, unmounts what it mounted (through
//! adt-mount, then lazily whatever is still mounted under its directory)
//! and removes its directory, but never while anything is still mounted
//! there (removing files through a mount would delete them from a bucket).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// How to run `adt-mount unmount` for the demo's template.
pub(crate) struct UnmountWith {
    pub args: Vec<String>,
    pub program: PathBuf,
}

struct State {
    child: Option<u32>,
    unmount: Option<UnmountWith>,
    /// Processes to stop once everything is unmounted (the emulators).
    services: Vec<u32>,
    done: bool,
}

pub(crate) struct Cleanup {
    dir: PathBuf,
    keep: bool,
    interrupted: AtomicBool,
    state: Mutex<State>,
}

impl Cleanup {
    pub(crate) fn new(dir: PathBuf, keep: bool) -> Cleanup {
        Cleanup {
            dir,
            keep,
            interrupted: AtomicBool::new(false),
            state: Mutex::new(State {
                child: None,
                unmount: None,
                services: Vec::new(),
                done: false,
            }),
        }
    }

    pub(crate) fn interrupted(&self) -> bool {
        self.interrupted.load(Ordering::SeqCst)
    }

    /// Spawns `cmd`, unless cleaning up has begun; the child is stopped if
    /// the demo is interrupted while it runs.
    pub(crate) fn spawn(&self, cmd: &mut Command) -> Result<Child, String> {
        let mut state = self.state.lock().map_err(|_| "cleanup state poisoned".to_string())?;
        if state.done || self.interrupted() {
            return Err("interrupted".into());
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run {:?}: {e}", cmd.get_program()))?;
        state.child = Some(child.id());
        Ok(child)
    }

    pub(crate) fn child_done(&self) {
        if let Ok(mut state) = self.state.lock() {
            state.child = None;
        }
    }

    /// From now on, cleaning up includes `adt-mount unmount`.
    pub(crate) fn unmount_with(&self, how: UnmountWith) {
        if let Ok(mut state) = self.state.lock() {
            state.unmount = Some(how);
        }
    }

    /// Stop `pid` (SIGINT) once everything is unmounted.
    pub(crate) fn service(&self, pid: u32) {
        if let Ok(mut state) = self.state.lock() {
            state.services.push(pid);
        }
    }

    /// Ctrl-C: stop, clean up, and exit 130.
    pub(crate) fn interrupt(&self) -> ! {
        self.interrupted.store(true, Ordering::SeqCst);
        eprintln!("\nxtask demo: interrupted; cleaning up");
        for line in self.run() {
            eprintln!("  {line}");
        }
        std::process::exit(130);
    }

    /// Cleans up once; returns what it did, for the user.
    pub(crate) fn run(&self) -> Vec<String> {
        let mut said = Vec::new();
        let Ok(mut state) = self.state.lock() else {
            return vec![format!("cleanup state poisoned; check {} by hand", self.dir.display())];
        };
        if state.done {
            return said;
        }
        state.done = true;
        if let Some(pid) = state.child.take() {
            let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status();
            std::thread::sleep(std::time::Duration::from_millis(500));
            said.push(format!("stopped the running tool (pid {pid})"));
        }
        if let Some(how) = state.unmount.take()
            && !mounts_under(&self.dir).is_empty()
        {
            let ok = Command::new(&how.program)
                .args(&how.args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            said.push(format!("adt-mount unmount: {}", if ok { "done" } else { "failed" }));
        }
        let mut left = mounts_under(&self.dir);
        left.sort_by_key(|p| std::cmp::Reverse(p.as_os_str().len()));
        for mount in &left {
            let path = mount.to_string_lossy().to_string();
            let lazy = Command::new("fusermount3")
                .args(["-uz", &path])
                .status()
                .is_ok_and(|s| s.success())
                || Command::new("umount")
                    .args(["-l", &path])
                    .status()
                    .is_ok_and(|s| s.success());
            said.push(format!("detached {path}: {}", if lazy { "done" } else { "FAILED" }));
        }
        for pid in state.services.drain(..) {
            let _ = Command::new("kill").args(["-INT", &pid.to_string()]).status();
            let proc = PathBuf::from(format!("/proc/{pid}"));
            for _ in 0..100 {
                // Gone, or a zombie waiting for its parent to reap it.
                let zombie = std::fs::read_to_string(proc.join("stat")).map_or(true, |s| s.contains(") Z "));
                if zombie {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            said.push(format!("stopped the emulator (pid {pid})"));
        }
        let still = mounts_under(&self.dir);
        if !still.is_empty() {
            said.push(format!(
                "left {} in place: still mounted there: {}",
                self.dir.display(),
                still
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        } else if self.keep {
            said.push(format!("kept {} (--keep)", self.dir.display()));
        } else if self.dir.exists() {
            match std::fs::remove_dir_all(&self.dir) {
                Ok(()) => said.push(format!("removed {}", self.dir.display())),
                Err(e) => said.push(format!("could not remove {}: {e}", self.dir.display())),
            }
        }
        said
    }
}

/// Mount points below `dir` (the demo never mounts `dir` itself).
pub(crate) fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    adt_localfs::MountTable::read()
        .map(|t| t.below(dir).into_iter().map(|m| m.mountpoint.clone()).collect())
        .unwrap_or_default()
}
