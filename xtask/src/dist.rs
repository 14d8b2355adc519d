//! `cargo xtask dist`: what a release ships, in target/dist/: the release
//! binaries, their man pages and shell completions (each binary writes
//! its own from its clap definition), and a Debian package built with
//! dpkg-deb from the `[package.metadata.deb]` table of crates/cli's
//! Cargo.toml (the table cargo-deb reads).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const BINARIES: &[&str] = &[
    "adt-check",
    "adt-seed",
    "adt-mount",
    "adt-backup",
    "adt-replicate",
    "adt-sync",
];

pub(crate) fn run() -> Result<(), String> {
    crate::cargo(
        "dist: release build",
        &["build", "--release", "--locked", "-p", "adt-cli"],
        &[],
    )?;
    let (target, package) = metadata()?;
    let dist = target.join("dist");
    if dist.exists() {
        std::fs::remove_dir_all(&dist).map_err(|e| format!("{}: {e}", dist.display()))?;
    }
    let bin = dist.join("bin");
    std::fs::create_dir_all(&bin).map_err(|e| format!("{}: {e}", bin.display()))?;
    for name in BINARIES {
        let built = target.join("release").join(name);
        std::fs::copy(&built, bin.join(name)).map_err(|e| format!("{}: {e}", built.display()))?;
        let status = Command::new(&built)
            .arg("--generate-dist-files")
            .arg(&dist)
            .status()
            .map_err(|e| format!("{name}: {e}"))?;
        if !status.success() {
            return Err(format!(
                "{name} could not write its man page and completions ({status})"
            ));
        }
    }
    let deb = package_deb(&package, &target, &dist)?;
    eprintln!(
        "xtask: dist: {} (binaries in {}, man pages in {}, completions in {})",
        deb.display(),
        bin.display(),
        dist.join("man").display(),
        dist.join("completions").display()
    );
    Ok(())
}

/// The target directory and adt-cli's package entry, from `cargo metadata`.
fn metadata() -> Result<(PathBuf, Value), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--no-deps", "--locked"])
        .current_dir(crate::workspace_root())
        .output()
        .map_err(|e| format!("cargo metadata: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let meta: Value = serde_json::from_slice(&out.stdout).map_err(|e| format!("cargo metadata: {e}"))?;
    let target = PathBuf::from(
        meta["target_directory"]
            .as_str()
            .ok_or("cargo metadata: no target_directory")?,
    );
    let package = meta["packages"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["name"] == "adt-cli"))
        .cloned()
        .ok_or("cargo metadata: no adt-cli package")?;
    Ok((target, package))
}

/// Stages the package's files and control file, then `dpkg-deb --build`.
fn package_deb(package: &Value, target: &Path, dist: &Path) -> Result<PathBuf, String> {
    let deb = &package["metadata"]["deb"];
    let field = |name: &str| {
        deb[name]
            .as_str()
            .ok_or(format!("[package.metadata.deb] has no {name}"))
    };
    let name = field("name")?;
    let version = package["version"].as_str().ok_or("adt-cli has no version")?;
    let arch = output("dpkg", &["--print-architecture"])?;
    let stage = dist.join("deb-root");
    let root = crate::workspace_root();
    let mut installed_bytes = 0u64;
    for asset in deb["assets"].as_array().ok_or("[package.metadata.deb] has no assets")? {
        let [source, dest, mode] = [0, 1, 2].map(|i| asset[i].as_str().unwrap_or_default());
        let mode = u32::from_str_radix(mode, 8).map_err(|_| format!("asset {source}: mode {mode:?}"))?;
        // `target/` is wherever cargo builds (CARGO_TARGET_DIR).
        let source = match source.strip_prefix("target/") {
            Some(rest) => target.join(rest),
            None => root.join(source),
        };
        let files = expand(&source)?;
        if files.is_empty() {
            return Err(format!("asset {} matches no file", source.display()));
        }
        let dest_dir = stage.join(dest.trim_start_matches('/'));
        std::fs::create_dir_all(&dest_dir).map_err(|e| format!("{}: {e}", dest_dir.display()))?;
        for file in files {
            let mut name = file.file_name().unwrap_or_default().to_string_lossy().into_owned();
            // Debian's layout: man pages gzipped, bash completions named
            // after the command.
            if dest.contains("/man/") {
                name.push_str(".gz");
            } else if dest.contains("bash-completion") {
                name = name.trim_end_matches(".bash").to_string();
            }
            let to = dest_dir.join(&name);
            let bytes = std::fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            let bytes = if name.ends_with(".gz") { gzip(&bytes)? } else { bytes };
            installed_bytes += bytes.len() as u64;
            std::fs::write(&to, bytes).map_err(|e| format!("{}: {e}", to.display()))?;
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&to, std::fs::Permissions::from_mode(mode))
                .map_err(|e| format!("{}: {e}", to.display()))?;
        }
    }
    let mut control = format!(
        "Package: {name}\nVersion: {version}\nArchitecture: {arch}\nMaintainer: {}\nSection: {}\nPriority: {}\nInstalled-Size: {}\nDepends: {}\n",
        field("maintainer")?,
        field("section")?,
        field("priority")?,
        installed_bytes.div_ceil(1024),
        field("depends")?,
    );
    if let Ok(recommends) = field("recommends") {
        control.push_str(&format!("Recommends: {recommends}\n"));
    }
    let description = package["description"].as_str().unwrap_or(name);
    control.push_str(&format!("Description: {description}\n"));
    for line in field("extended-description")?.lines() {
        control.push_str(&format!(
            " {}\n",
            if line.trim().is_empty() { "." } else { line.trim() }
        ));
    }
    // Directories 0755 whatever the umask (dpkg-deb refuses others for
    // DEBIAN, and the package must not create writable ones).
    chmod_dirs(&stage)?;
    let debian = stage.join("DEBIAN");
    std::fs::create_dir_all(&debian).map_err(|e| format!("{}: {e}", debian.display()))?;
    set_mode(&debian, 0o755)?;
    std::fs::write(debian.join("control"), control).map_err(|e| format!("control: {e}"))?;
    let deb_path = dist.join(format!("{name}_{version}_{arch}.deb"));
    let status = Command::new("dpkg-deb")
        .args(["--root-owner-group", "--build"])
        .arg(&stage)
        .arg(&deb_path)
        .status()
        .map_err(|e| format!("dpkg-deb: {e}"))?;
    if !status.success() {
        return Err(format!("dpkg-deb failed ({status})"));
    }
    std::fs::remove_dir_all(&stage).map_err(|e| format!("{}: {e}", stage.display()))?;
    Ok(deb_path)
}

/// The files `pattern` names: a path, or one with `*` in its last part.
fn expand(pattern: &Path) -> Result<Vec<PathBuf>, String> {
    let name = pattern.file_name().unwrap_or_default().to_string_lossy().into_owned();
    let Some((prefix, suffix)) = name.split_once('*') else {
        return Ok(if pattern.is_file() {
            vec![pattern.to_path_buf()]
        } else {
            Vec::new()
        });
    };
    let dir = pattern.parent().unwrap_or(Path::new("."));
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            let n = p.file_name().unwrap_or_default().to_string_lossy();
            p.is_file() && n.len() >= prefix.len() + suffix.len() && n.starts_with(prefix) && n.ends_with(suffix)
        })
        .collect();
    found.sort();
    Ok(found)
}

fn gzip(bytes: &[u8]) -> Result<Vec<u8>, String> {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(bytes).map_err(|e| e.to_string())?;
    gz.finish().map_err(|e| e.to_string())
}

fn output(program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("{program}: {e}"))?;
    if !out.status.success() {
        return Err(format!("{program} {} failed ({})", args.join(" "), out.status));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn set_mode(path: &Path, mode: u32) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// Every directory under `root` (and it) 0755.
fn chmod_dirs(root: &Path) -> Result<(), String> {
    set_mode(root, 0o755)?;
    for entry in std::fs::read_dir(root).map_err(|e| format!("{}: {e}", root.display()))? {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.is_dir() && !path.is_symlink() {
            chmod_dirs(&path)?;
        }
    }
    Ok(())
}
