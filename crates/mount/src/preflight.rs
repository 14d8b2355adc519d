//! What this machine needs before anything is mounted, looked at without
//! changing it: the mount tools and their versions, the FUSE device,
//! `user_allow_other` in fuse.conf (the mounts use `allow_other`, see
//! [`crate::mount_command`]) and the web server's user. For
//! `adt-check --online`; the caller turns the typed [`Preflight`] into
//! words.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Where the machine checks look. [`Machine::system`] is this machine;
/// tests point the paths elsewhere.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Machine {
    /// The FUSE device (`/dev/fuse`).
    pub dev_fuse: PathBuf,
    /// FUSE's configuration (`/etc/fuse.conf`).
    pub fuse_conf: PathBuf,
    /// The user database (`/etc/passwd`).
    pub passwd: PathBuf,
    /// The directories to find the tools in, as in PATH; also the only
    /// variable of the tools' environment when they are run.
    pub search_path: OsString,
    /// Whether the mounts will be made by root, for whom FUSE allows
    /// `allow_other` without `user_allow_other`.
    pub as_root: bool,
}

impl Machine {
    /// This machine: /dev/fuse, /etc/fuse.conf, /etc/passwd, this
    /// process's PATH (read here) and whether it runs as root.
    pub fn system() -> Machine {
        Machine {
            dev_fuse: PathBuf::from("/dev/fuse"),
            fuse_conf: PathBuf::from("/etc/fuse.conf"),
            passwd: PathBuf::from("/etc/passwd"),
            search_path: std::env::var_os("PATH").unwrap_or_else(|| "/usr/sbin:/usr/bin:/sbin:/bin".into()),
            as_root: rustix::process::geteuid().is_root(),
        }
    }
}

/// What to look for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Needs {
    /// The template has `merge=` entries: mergerfs is needed.
    pub merge: bool,
    /// The web server's user the mounted files belong to (`www-data`).
    pub web_user: String,
}

/// What was found.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Preflight {
    /// s3fs and rclone, then mergerfs when needed, each as found.
    pub tools: Vec<ToolCheck>,
    /// The FUSE device.
    pub fuse_device: FuseDevice,
    /// Whether fuse.conf enables `user_allow_other` (None: the file cannot
    /// be read, which is the same as not enabled).
    pub allow_other: Option<bool>,
    /// Whether the mounts are made by root (then `allow_other` needs no
    /// `user_allow_other`).
    pub as_root: bool,
    /// The web server's user, and whether it exists.
    pub web_user: (String, bool),
}

/// One mount tool.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToolCheck {
    /// The program (`s3fs`, `rclone`, `mergerfs`).
    pub program: &'static str,
    /// How to install it on Debian.
    pub install: &'static str,
    /// What was found.
    pub state: ToolState,
}

/// Whether a tool is there and runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ToolState {
    /// Not in any directory of the search path.
    Missing,
    /// There, but asking its version failed.
    Broken {
        /// Where.
        path: PathBuf,
        /// How it failed.
        detail: String,
    },
    /// There, and it says its version.
    Found {
        /// Where.
        path: PathBuf,
        /// The version (`V1.93`, `v1.60.1-DEV`, `2.33.5`), or its first
        /// line of output when no version is recognised.
        version: String,
    },
}

/// The FUSE device as found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FuseDevice {
    /// A character device: FUSE can work.
    Present,
    /// No such file.
    Missing,
    /// There, but not a character device.
    NotCharDevice,
}

/// Looks at `machine` for what `needs` asks. Runs `TOOL --version`
/// (`rclone version`) for each tool found, with nothing in its environment
/// but PATH; changes nothing.
pub fn preflight(machine: &Machine, needs: &Needs) -> Preflight {
    let mut programs = vec![
        ("s3fs", vec!["--version"], "apt-get install -y s3fs"),
        ("rclone", vec!["version"], "apt-get install -y rclone"),
    ];
    if needs.merge {
        programs.push(("mergerfs", vec!["--version"], "apt-get install -y mergerfs"));
    }
    let tools = programs
        .into_iter()
        .map(|(program, args, install)| ToolCheck {
            program,
            install,
            state: tool_state(machine, program, &args),
        })
        .collect();
    let fuse_device = match std::fs::metadata(&machine.dev_fuse) {
        Err(_) => FuseDevice::Missing,
        Ok(m) if std::os::unix::fs::FileTypeExt::is_char_device(&m.file_type()) => FuseDevice::Present,
        Ok(_) => FuseDevice::NotCharDevice,
    };
    let allow_other = std::fs::read_to_string(&machine.fuse_conf)
        .ok()
        .map(|text| allows_other(&text));
    let passwd = std::fs::read_to_string(&machine.passwd).unwrap_or_default();
    let user_exists = passwd
        .lines()
        .any(|l| l.split(':').next() == Some(needs.web_user.as_str()) && l.split(':').count() >= 4);
    Preflight {
        tools,
        fuse_device,
        allow_other,
        as_root: machine.as_root,
        web_user: (needs.web_user.clone(), user_exists),
    }
}

/// True when fuse.conf text enables `user_allow_other`: the word alone on
/// its line, blanks around it allowed, not commented out.
pub fn allows_other(conf: &str) -> bool {
    conf.lines()
        .map(|line| line.split('#').next().unwrap_or("").trim())
        .any(|line| line == "user_allow_other")
}

fn find_in(search_path: &OsString, program: &str) -> Option<PathBuf> {
    std::env::split_paths(search_path)
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// How long a tool may take to say its version.
const VERSION_DEADLINE: Duration = Duration::from_secs(5);

fn tool_state(machine: &Machine, program: &str, args: &[&str]) -> ToolState {
    let Some(path) = find_in(&machine.search_path, program) else {
        return ToolState::Missing;
    };
    let broken = |detail: String| ToolState::Broken {
        path: path.clone(),
        detail,
    };
    let child = Command::new(&path)
        .args(args)
        .env_clear()
        .env("PATH", &machine.search_path)
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => return broken(format!("cannot run it: {e}")),
    };
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if started.elapsed() < VERSION_DEADLINE => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return broken(format!(
                    "`{program} {}` did not finish within {} s",
                    args.join(" "),
                    VERSION_DEADLINE.as_secs()
                ));
            }
            Err(e) => return broken(e.to_string()),
        }
    }
    let out = match child.wait_with_output() {
        Ok(out) => out,
        Err(e) => return broken(e.to_string()),
    };
    let text = String::from_utf8_lossy(if out.stdout.is_empty() {
        &out.stderr
    } else {
        &out.stdout
    })
    .into_owned();
    if !out.status.success() {
        let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("").trim();
        return broken(format!(
            "`{program} {}` failed ({}): {first}",
            args.join(" "),
            out.status
        ));
    }
    ToolState::Found {
        path: path.clone(),
        version: version_in(&text),
    }
}

/// The version in a tool's `--version` output: the first word that is a
/// dotted number (with an optional `v`), else the first line.
pub fn version_in(output: &str) -> String {
    let first = output.lines().find(|l| !l.trim().is_empty()).unwrap_or("").trim();
    let looks_like_version = |word: &&str| {
        let bare = word.trim_start_matches(['v', 'V']);
        bare.starts_with(|c: char| c.is_ascii_digit()) && bare.contains('.')
    };
    first
        .split_whitespace()
        .find(looks_like_version)
        .unwrap_or_else(|| {
            if first.len() > 80 {
                &first[..first.floor_char_boundary(80)]
            } else {
                first
            }
        })
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn user_allow_other_counts_only_alone_and_uncommented() {
        assert!(allows_other("user_allow_other\n"));
        assert!(allows_other("# comment\n   user_allow_other   \n"));
        assert!(allows_other("\tuser_allow_other\t# needed for adt\n"));
        assert!(allows_other("mount_max = 1000\r\nuser_allow_other\r\n"));
        assert!(!allows_other("#user_allow_other\n"));
        assert!(!allows_other(
            "# user_allow_other - Using the allow_other mount option\n"
        ));
        assert!(!allows_other("user_allow_other_not\n"));
        assert!(!allows_other("user_allow_other = 1\n"));
        assert!(!allows_other(""));
    }

    #[test]
    fn versions_are_read_from_each_tools_wording() {
        assert_eq!(
            version_in(
                "Amazon Simple Storage Service File System V1.90 (commit:unknown) with GnuTLS(gcrypt)\nCopyright"
            ),
            "V1.90"
        );
        assert_eq!(
            version_in("rclone v1.60.1-DEV\n- os/version: debian 12.11\n"),
            "v1.60.1-DEV"
        );
        assert_eq!(version_in("mergerfs version: 2.33.5\n"), "2.33.5");
        assert_eq!(version_in("\nmergerfs v2.40.2\n"), "v2.40.2");
        assert_eq!(version_in("some tool\n"), "some tool");
    }

    fn script(dir: &Path, name: &str, body: &str) {
        let path = dir.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    fn machine(dir: &Path) -> Machine {
        Machine {
            dev_fuse: dir.join("fuse"),
            fuse_conf: dir.join("fuse.conf"),
            passwd: dir.join("passwd"),
            search_path: dir.join("bin").into_os_string(),
            as_root: false,
        }
    }

    #[test]
    fn a_bare_machine_lacks_everything() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("bin")).unwrap();
        // Not a character device.
        std::fs::write(dir.path().join("fuse"), "").unwrap();
        std::fs::write(dir.path().join("passwd"), "root:x:0:0:root:/root:/bin/sh\nwww-data:x\n").unwrap();
        // Not executable: not a tool.
        std::fs::write(dir.path().join("bin/s3fs"), "").unwrap();
        script(&dir.path().join("bin"), "rclone", "echo broken >&2; exit 3");
        let needs = Needs {
            merge: true,
            web_user: "www-data".into(),
        };
        let found = preflight(&machine(dir.path()), &needs);
        let states: Vec<(&str, &ToolState)> = found.tools.iter().map(|t| (t.program, &t.state)).collect();
        assert_eq!(states[0], ("s3fs", &ToolState::Missing));
        assert!(
            matches!(states[1], ("rclone", ToolState::Broken { detail, .. }) if detail.contains("broken")),
            "{states:?}"
        );
        assert_eq!(states[2], ("mergerfs", &ToolState::Missing));
        assert_eq!(found.fuse_device, FuseDevice::NotCharDevice);
        assert_eq!(found.allow_other, None, "no fuse.conf");
        assert_eq!(
            found.web_user,
            ("www-data".to_string(), false),
            "a malformed line is no user"
        );

        std::fs::remove_file(dir.path().join("fuse")).unwrap();
        assert_eq!(preflight(&machine(dir.path()), &needs).fuse_device, FuseDevice::Missing);
    }

    #[test]
    fn a_ready_machine_has_everything_and_tools_get_no_environment() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        // s3fs keeps the environment it was given.
        let seen_env = dir.path().join("env");
        script(
            &bin,
            "s3fs",
            &format!(
                "export -p > '{}'; echo 'Amazon Simple Storage Service File System V1.93 (commit:x)'",
                seen_env.display()
            ),
        );
        script(&bin, "rclone", "[ \"$1\" = version ] && echo 'rclone v1.66.0'");
        script(&bin, "mergerfs", "echo 'mergerfs v2.40.2'");
        std::fs::write(dir.path().join("fuse.conf"), "# fuse\n user_allow_other \n").unwrap();
        std::fs::write(
            dir.path().join("passwd"),
            "www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n",
        )
        .unwrap();
        let mut m = machine(dir.path());
        // A character device that exists everywhere.
        m.dev_fuse = PathBuf::from("/dev/null");
        let needs = Needs {
            merge: false,
            web_user: "www-data".into(),
        };
        let found = preflight(&m, &needs);
        assert_eq!(found.tools.len(), 2, "no mergerfs without merge entries");
        let version = |i: usize| match &found.tools[i].state {
            ToolState::Found { version, .. } => version.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!((version(0), version(1)), ("V1.93".into(), "v1.66.0".into()));
        assert_eq!(found.fuse_device, FuseDevice::Present);
        assert_eq!(found.allow_other, Some(true));
        assert_eq!(found.web_user, ("www-data".to_string(), true));
        // What the tool saw: PATH and LC_ALL (and what sh itself adds), none
        // of this process's environment.
        let env = std::fs::read_to_string(&seen_env).unwrap();
        // `export -p` (a builtin: PATH holds only the fake tools) writes
        // `export NAME='value'` lines.
        let names: Vec<&str> = env
            .lines()
            .filter_map(|l| l.strip_prefix("export ")?.split('=').next())
            .collect();
        assert!(names.contains(&"PATH"), "{env}");
        assert!(
            names
                .iter()
                .all(|n| ["PATH", "LC_ALL", "PWD", "SHLVL", "_", "OLDPWD"].contains(n)),
            "{env}"
        );
    }
}
