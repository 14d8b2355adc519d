//! What the tests need from outside Cargo, how to tell it is there, and how
//! to install it: Debian packages, and moto in a venv under target/.

use std::path::{Path, PathBuf};
use std::process::Command;

pub(crate) struct Prerequisite {
    pub name: &'static str,
    pub why: &'static str,
    pub present: bool,
    pub install: String,
    apt: Option<&'static str>,
}

pub(crate) fn venv_dir() -> PathBuf {
    crate::workspace_root().join("target/moto-venv")
}

fn on_path(tool: &str) -> bool {
    adt_testkit::which(tool).is_some()
}

/// Everything, present or not.
pub(crate) fn all() -> Vec<Prerequisite> {
    let apt = |name: &'static str, package: &'static str, why: &'static str, present: bool| Prerequisite {
        name,
        why,
        present,
        install: format!("apt-get install -y {package}"),
        apt: Some(package),
    };
    let venv = venv_dir();
    vec![
        Prerequisite {
            name: "/dev/fuse",
            why: "FUSE mounts (s3fs, rclone, mergerfs)",
            present: Path::new("/dev/fuse").exists(),
            install: "modprobe fuse (or run the container with --device /dev/fuse)".into(),
            apt: None,
        },
        apt(
            "fusermount3",
            "fuse3",
            "unmounting FUSE filesystems",
            on_path("fusermount3"),
        ),
        apt(
            "s3fs",
            "s3fs",
            "mounting buckets; proves the embedded emulator",
            on_path("s3fs"),
        ),
        apt(
            "rclone",
            "rclone",
            "mounting buckets (alternative to s3fs)",
            on_path("rclone"),
        ),
        apt("mergerfs", "mergerfs", "merge=NAMEn entries", on_path("mergerfs")),
        apt("rsync", "rsync", "testing the backup's rsync filter", on_path("rsync")),
        apt(
            "python3 (with venv)",
            "python3-venv",
            "the venv moto is installed in",
            Command::new("python3")
                .args(["-m", "venv", "--help"])
                .output()
                .is_ok_and(|o| o.status.success()),
        ),
        Prerequisite {
            name: "moto_server",
            why: "the second S3 emulator",
            present: venv.join("bin/moto_server").exists(),
            install: format!(
                "python3 -m venv {v} && {v}/bin/pip install 'moto[server]'",
                v = venv.display()
            ),
            apt: None,
        },
    ]
}

/// Makes sure everything is there. Under CI=true a missing prerequisite is
/// an error naming it; as root on Debian it is installed (and said so);
/// otherwise the commands are printed.
pub(crate) fn ensure() -> Result<(), String> {
    let missing: Vec<Prerequisite> = all().into_iter().filter(|p| !p.present).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let list = missing.iter().map(|p| p.name).collect::<Vec<_>>().join(", ");
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        return Err(format!(
            "missing prerequisites under CI=true: {list}; .ci/run must install them (see `cargo xtask doctor`)"
        ));
    }
    if !can_install() {
        let commands: Vec<String> = missing.iter().map(|p| format!("  {}", p.install)).collect();
        return Err(format!(
            "missing prerequisites: {list}. Install them with:\n{}",
            commands.join("\n")
        ));
    }
    eprintln!("xtask: installing missing prerequisites: {list}");
    let packages: Vec<&str> = missing.iter().filter_map(|p| p.apt).collect();
    if !packages.is_empty() {
        run("apt-get", &["update"])?;
        let mut args = vec!["install", "-y"];
        args.extend(packages);
        run("apt-get", &args)?;
    }
    if missing.iter().any(|p| p.name == "moto_server") {
        install_moto()?;
    }
    if let Some(p) = missing.iter().find(|p| p.name == "/dev/fuse") {
        return Err(format!(
            "/dev/fuse is missing and cannot be installed from here: {}",
            p.install
        ));
    }
    Ok(())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

/// Whether /etc/fuse.conf lets users other than root use allow_other.
fn user_allow_other() -> bool {
    std::fs::read_to_string("/etc/fuse.conf").is_ok_and(|c| c.lines().any(|l| l.trim() == "user_allow_other"))
}

/// Whether missing packages can be installed here: root on Debian.
fn can_install() -> bool {
    is_root() && Path::new("/etc/debian_version").exists()
}

/// What `cargo xtask demo` mounts with: /dev/fuse, fusermount3, mergerfs,
/// and s3fs (or rclone when asked, or when only it is there). Missing
/// packages are installed as root on Debian; otherwise the error says how.
/// Returns the mount tool to use.
pub(crate) fn ensure_demo_tools(tool: Option<&str>) -> Result<&'static str, String> {
    if !Path::new("/dev/fuse").exists() {
        return Err("/dev/fuse is missing: the demo mounts FUSE filesystems (modprobe fuse, or run the container with --device /dev/fuse)".into());
    }
    if !is_root() && !user_allow_other() {
        return Err(
            "the demo mounts buckets for the web server's user (FUSE allow_other): run it as root, \
             or allow it for users with a `user_allow_other` line in /etc/fuse.conf"
                .into(),
        );
    }
    let tool: &'static str = match tool {
        Some("rclone") => "rclone",
        Some(_) => "s3fs",
        None if !on_path("s3fs") && on_path("rclone") => "rclone",
        None => "s3fs",
    };
    let missing: Vec<&str> = [("fusermount3", "fuse3"), ("mergerfs", "mergerfs"), (tool, tool)]
        .iter()
        .filter(|(program, _)| !on_path(program))
        .map(|(_, package)| *package)
        .collect();
    if missing.is_empty() {
        return Ok(tool);
    }
    let install = format!("apt-get install -y {}", missing.join(" "));
    if !can_install() {
        return Err(format!(
            "the demo needs {}: install them with `{install}` (as root)",
            missing.join(", ")
        ));
    }
    eprintln!("xtask: installing what the demo mounts with: {}", missing.join(" "));
    run("apt-get", &["update"])?;
    let mut args = vec!["install", "-y"];
    args.extend(&missing);
    run("apt-get", &args)?;
    Ok(tool)
}

pub(crate) fn install_moto() -> Result<(), String> {
    let venv = venv_dir();
    let venv_text = venv.to_string_lossy().to_string();
    run("python3", &["-m", "venv", &venv_text])?;
    let pip = venv.join("bin/pip").to_string_lossy().to_string();
    run(&pip, &["install", "--quiet", "moto[server]"])
}

fn run(program: &str, args: &[&str]) -> Result<(), String> {
    eprintln!("xtask: {program} {}", args.join(" "));
    let status = Command::new(program)
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    status
        .success()
        .then_some(())
        .ok_or_else(|| format!("{program} {} failed ({status})", args.join(" ")))
}
