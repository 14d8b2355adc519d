//! The FUSE tools that can mount a bucket, and the command line of each
//! (reference §5). Credentials are never in a command line: each tool reads
//! them from a 0600 file in the state directory.

use std::fmt;
use std::path::{Path, PathBuf};

/// A tool that mounts one bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Tool {
    /// `s3fs` (s3fs-fuse); keys from `s3fs.passwd`.
    S3fs,
    /// `rclone mount2`; keys from `rclone.conf` (remote `adt`).
    Rclone,
    /// `goofys`; keys from the AWS credentials file (profile `adt`).
    Goofys,
    /// `geesefs`; keys from the AWS credentials file (profile `adt`).
    Geesefs,
    /// `mount-s3` (Mountpoint for Amazon S3); keys from the AWS
    /// credentials file (profile `adt`).
    MountS3,
}

impl Tool {
    /// Every tool, s3fs first.
    pub const ALL: &'static [Tool] = &[Tool::S3fs, Tool::Rclone, Tool::Goofys, Tool::Geesefs, Tool::MountS3];

    /// The program's name (`s3fs`, `rclone`, `goofys`, `geesefs`,
    /// `mount-s3`): what runs, what [`Tool::parse`] reads and what
    /// `Display` shows.
    pub fn name(self) -> &'static str {
        match self {
            Tool::S3fs => "s3fs",
            Tool::Rclone => "rclone",
            Tool::Goofys => "goofys",
            Tool::Geesefs => "geesefs",
            Tool::MountS3 => "mount-s3",
        }
    }

    /// The tool whose [`Tool::name`] is exactly `text` (lower case); None
    /// for any other text.
    pub fn parse(text: &str) -> Option<Tool> {
        Tool::ALL.iter().copied().find(|t| t.name() == text)
    }

    /// The fstype /proc/self/mountinfo shows for its mounts.
    pub fn fstype(self) -> &'static str {
        match self {
            Tool::S3fs => "fuse.s3fs",
            Tool::Rclone => "fuse.rclone",
            Tool::Goofys => "fuse.goofys",
            Tool::Geesefs => "fuse.geesefs",
            Tool::MountS3 => "fuse.mountpoint-s3",
        }
    }

    /// The tool name for a mount table's filesystem type (`fuse.rclone`
    /// shows `rclone`, `fuse.mergerfs` shows `mergerfs`); another type is
    /// shown as it is.
    pub fn name_of_fstype(fstype: &str) -> String {
        match Tool::ALL.iter().find(|t| t.fstype() == fstype) {
            Some(tool) => tool.to_string(),
            None if fstype == "fuse.mergerfs" => "mergerfs".to_string(),
            None => fstype.to_string(),
        }
    }

    /// How soon another webserver mounting the same bucket with this tool
    /// reads what one webserver wrote, counted from the writer's close of
    /// a small file (a big one adds its upload time): the caches'
    /// lifetimes, as set by [`mount_command`].
    /// Checked by the multi-webserver tests and measured by `cargo xtask
    /// bench mounts`. None for the tools those do not cover.
    pub fn visibility_bound(self) -> Option<std::time::Duration> {
        match self {
            // stat cache 1 s + the kernel's attribute cache 1 s.
            Tool::S3fs => Some(std::time::Duration::from_secs(2)),
            // write-back delay 1 s + directory cache 1 s + the kernel's
            // attribute cache 1 s.
            Tool::Rclone => Some(std::time::Duration::from_secs(3)),
            Tool::Goofys | Tool::Geesefs | Tool::MountS3 => None,
        }
    }

    /// True when what one webserver writes, every other reads whole (the
    /// old or the new version, never cut or mixed), and converges to the
    /// version the bucket keeps within [`Tool::visibility_bound`], writes
    /// of one name at once included. The multi-webserver tests check it
    /// for s3fs. rclone 1.60 does not keep it: another webserver can read
    /// new bytes cut to the old length for up to its bound; with writes of
    /// one name at once, a file waiting for its upload is cut to the other
    /// version's length and uploaded so, and its upload can delete the name
    /// for a moment (docs/mounting.md, "Several webservers, one bucket").
    pub fn keeps_versions_whole(self) -> bool {
        matches!(self, Tool::S3fs)
    }

    /// How to install it on Debian, or where to get it.
    pub fn install_hint(self) -> &'static str {
        match self {
            Tool::S3fs => "apt-get install -y s3fs",
            Tool::Rclone => "apt-get install -y rclone",
            Tool::Goofys => "download goofys from github.com/kahing/goofys/releases",
            Tool::Geesefs => "download geesefs from github.com/yandex-cloud/geesefs/releases",
            Tool::MountS3 => "install mount-s3 from github.com/awslabs/mountpoint-s3/releases",
        }
    }
}

impl fmt::Display for Tool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where `program` is on PATH, if it is.
pub fn find_program(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// A program, its arguments, and environment changes. Never holds a secret.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CommandLine {
    /// The program, by name (looked up on PATH when run).
    pub program: String,
    /// Its arguments, in order, unquoted.
    pub args: Vec<String>,
    /// Variables to set (file paths and profile names, never keys).
    pub env: Vec<(String, String)>,
    /// Variables to remove (rclone refuses to start with AWS_CA_BUNDLE set).
    pub env_remove: Vec<String>,
}

impl CommandLine {
    /// As a shell would show it, env first.
    pub fn display(&self) -> String {
        let mut parts: Vec<String> = self.env_remove.iter().map(|k| format!("-u {k}")).collect();
        parts.extend(self.env.iter().map(|(k, v)| format!("{k}={}", quote(v))));
        let mut out = if parts.is_empty() {
            String::new()
        } else {
            format!("env {} ", parts.join(" "))
        };
        out.push_str(&quote(&self.program));
        for a in &self.args {
            out.push(' ');
            out.push_str(&quote(a));
        }
        out
    }

    /// A [`std::process::Command`] for it: the program, its arguments,
    /// `env_remove` and every variable that may hold a key
    /// ([`KEY_VARIABLES`]) removed, `env` set. Nothing is started.
    pub fn command(&self) -> std::process::Command {
        let mut c = std::process::Command::new(&self.program);
        c.args(&self.args);
        for k in KEY_VARIABLES
            .iter()
            .copied()
            .chain(self.env_remove.iter().map(String::as_str))
        {
            c.env_remove(k);
        }
        c.envs(self.env.iter().map(|(k, v)| (k, v)));
        c
    }
}

/// Environment variables that may hold keys (the binaries read datastore
/// 1's from them): never passed on to a mount tool, which reads its keys
/// from the 0600 files adt-mount writes.
pub const KEY_VARIABLES: &[&str] = &[
    "S3_ACCESS_KEY",
    "S3_SECRET_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
];

fn quote(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// Everything a tool's command line is made from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountSpec {
    /// The bucket to mount.
    pub bucket: String,
    /// The directory to mount it on.
    pub mountpoint: PathBuf,
    /// The datastore, `scheme://host[:port]`.
    pub endpoint: String,
    /// The datastore's region.
    pub region: String,
    /// Owner the files appear to have (the web server's user).
    pub uid: u32,
    /// Group the files appear to have (the web server's group).
    pub gid: u32,
    /// Cache directory for this mount.
    pub cache: PathBuf,
    /// Extra CA certificates for https (from AWS_CA_BUNDLE).
    pub ca_bundle: Option<PathBuf>,
}

/// The credential files in the state directory, each 0600.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CredentialFiles {
    /// `KEY:SECRET` for s3fs.
    pub s3fs: PathBuf,
    /// An rclone config with remote `adt`.
    pub rclone: PathBuf,
    /// An AWS shared credentials file with profile `adt` (goofys, geesefs, mount-s3).
    pub aws: PathBuf,
}

impl CredentialFiles {
    /// The three files in `dir`: `s3fs.passwd`, `rclone.conf` and
    /// `aws-credentials`. Only names them: nothing is read or written.
    pub fn in_dir(dir: &Path) -> CredentialFiles {
        CredentialFiles {
            s3fs: dir.join("s3fs.passwd"),
            rclone: dir.join("rclone.conf"),
            aws: dir.join("aws-credentials"),
        }
    }
}

/// The umask under which a mount shows its mount point's permission bits
/// `mode` (the local directory's), others' bits always cleared.
pub fn root_umask(mode: u32) -> u32 {
    (!mode & 0o777) | 0o007
}

/// Makes `command` (s3fs or rclone; others are left as they are) show the
/// mount point's permission bits `mode` at the mount's root, as the local
/// directory had them, minus others' bits (see [`root_umask`]). s3fs
/// applies its umask to every entry; rclone to its directory and file
/// permissions.
pub fn with_root_mode(command: &mut CommandLine, mode: u32) {
    let umask = root_umask(mode);
    match command.program.as_str() {
        "s3fs" => {
            for arg in command.args.iter_mut().filter(|a| a.contains("umask=")) {
                *arg = arg
                    .split(',')
                    .map(|o| match o.split_once('=') {
                        Some((key @ ("umask" | "mp_umask"), _)) => format!("{key}={umask:04o}"),
                        _ => o.to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join(",");
            }
        }
        "rclone" => {
            if let Some(i) = command.args.iter().position(|a| a == "--umask")
                && let Some(value) = command.args.get_mut(i + 1)
            {
                *value = format!("{umask:03o}");
            }
        }
        _ => {}
    }
}

/// The command that mounts `spec` with `tool`, in the foreground (never
/// daemonizing: adt-mount supervises it while it mounts, systemd after).
/// Permissions: only root and the web server's user (`uid`/`gid`) can
/// read or write through the mount; other local users get nothing
/// (docs/mounting.md gives the reason for each option).
pub fn mount_command(tool: Tool, spec: &MountSpec, creds: &CredentialFiles) -> CommandLine {
    let mp = spec.mountpoint.display().to_string();
    let cache = spec.cache.display().to_string();
    let (uid, gid) = (spec.uid.to_string(), spec.gid.to_string());
    let aws_env = || {
        vec![
            (
                "AWS_SHARED_CREDENTIALS_FILE".to_string(),
                creds.aws.display().to_string(),
            ),
            ("AWS_PROFILE".to_string(), "adt".to_string()),
        ]
    };
    let mut env = Vec::new();
    let mut env_remove = Vec::new();
    let mut args: Vec<String> = Vec::new();
    match tool {
        Tool::S3fs => {
            args.extend([spec.bucket.clone(), mp, "-f".into()]);
            args.push("-o".into());
            args.push(format!(
                "passwd_file={},url={},use_path_request_style,endpoint={},uid={uid},gid={gid},allow_other,umask=0007,mp_umask=0007,default_permissions,tmpdir={cache},max_stat_cache_size=10000,stat_cache_expire=1",
                creds.s3fs.display(),
                spec.endpoint,
                spec.region
            ));
            if let Some(ca) = &spec.ca_bundle {
                env.push(("CURL_CA_BUNDLE".into(), ca.display().to_string()));
            }
        }
        Tool::Rclone => {
            // `mount2` (rclone's go-fuse front end, in the same binary),
            // not `mount` (bazil): bazil gives every name created through
            // the mount a 60 s kernel entry that --attr-timeout does not
            // shorten, so a webserver kept reading its own write for up to
            // a minute after another webserver replaced it.
            args.extend(["mount2".into(), format!("adt:{}", spec.bucket), mp]);
            args.extend(["--config".into(), creds.rclone.display().to_string()]);
            args.extend([
                "--s3-endpoint".into(),
                spec.endpoint.clone(),
                "--s3-region".into(),
                spec.region.clone(),
            ]);
            args.extend(["--allow-other".into(), "--uid".into(), uid, "--gid".into(), gid]);
            // rclone checks no permission itself: the kernel must.
            args.extend([
                "--default-permissions".into(),
                "--umask".into(),
                "007".into(),
                "--dir-perms".into(),
                "0770".into(),
                "--file-perms".into(),
                "0660".into(),
            ]);
            // docs/mounting.md, "Several webservers", gives each reason.
            // A file is uploaded 1 s after its last close: a delay, not 0,
            // because rclone 1.60 loses an upload when the file is renamed
            // while it uploads inside close (PHP's tmp-then-rename), and
            // renames a waiting upload correctly. Unmount waits for the
            // uploads (writeback.rs). Another webserver sees a change once
            // its directory cache (1 s) and the kernel's attribute and
            // entry cache (1 s) expire; S3 sends no change notices, so
            // polling is off.
            args.extend([
                "--vfs-cache-mode".into(),
                "full".into(),
                "--vfs-write-back".into(),
                "1s".into(),
                "--dir-cache-time".into(),
                "1s".into(),
                "--attr-timeout".into(),
                "1s".into(),
                "--poll-interval".into(),
                "0".into(),
                // No HEAD after an upload: another webserver's upload of
                // the same name landing in between made rclone call its
                // own upload corrupt and delete the object (the other's).
                // The PUT's ETag is still checked against the local MD5.
                "--s3-no-head".into(),
                "--cache-dir".into(),
                cache,
            ]);
            if let Some(ca) = &spec.ca_bundle {
                args.extend(["--ca-cert".into(), ca.display().to_string()]);
            }
            env_remove.push("AWS_CA_BUNDLE".into());
        }
        Tool::Goofys | Tool::Geesefs => {
            args.push("-f".into());
            args.extend(["-o".into(), "allow_other,default_permissions".into()]);
            args.push(format!("--endpoint={}", spec.endpoint));
            args.push(format!("--region={}", spec.region));
            args.extend([format!("--uid={uid}"), format!("--gid={gid}")]);
            args.extend(["--file-mode=0660".into(), "--dir-mode=0770".into()]);
            if tool == Tool::Geesefs {
                args.extend([format!("--cache={cache}"), "--memory-limit=1000".into()]);
                args.extend(["--max-flushers=16".into(), "--max-parallel-parts=16".into()]);
            }
            args.extend([spec.bucket.clone(), mp]);
            env = aws_env();
            if let Some(ca) = &spec.ca_bundle {
                // Go programs read extra roots from SSL_CERT_FILE.
                env.push(("SSL_CERT_FILE".into(), ca.display().to_string()));
            }
        }
        Tool::MountS3 => {
            args.extend([spec.bucket.clone(), mp]);
            args.extend([
                "--endpoint-url".into(),
                spec.endpoint.clone(),
                "--region".into(),
                spec.region.clone(),
            ]);
            args.extend(["--force-path-style".into(), "--allow-other".into()]);
            args.extend(["--allow-delete".into(), "--allow-overwrite".into()]);
            args.extend(["--uid".into(), uid, "--gid".into(), gid, "--cache".into(), cache]);
            args.extend(["--file-mode".into(), "0660".into(), "--dir-mode".into(), "0770".into()]);
            args.push("--foreground".into());
            env = aws_env();
        }
    }
    CommandLine {
        program: tool.name().to_string(),
        args,
        env,
        env_remove,
    }
}

/// mergerfs over the branches, new files placed on a random branch, in
/// the foreground; permissions are the branches' (checked by the kernel).
/// `minfreespace=0`: a bucket has no free space to speak of, and rclone
/// 1.60's `mount2` reports none at all, which made mergerfs refuse every
/// new file (ENOSPC).
pub fn merge_command(branches: &[PathBuf], target: &Path) -> CommandLine {
    let joined: Vec<String> = branches.iter().map(|b| b.display().to_string()).collect();
    let mut args = vec!["-f".to_string()];
    args.extend([
        "-o".into(),
        "category.create=rand,minfreespace=0,allow_other,use_ino,default_permissions".into(),
    ]);
    args.extend([joined.join(":"), target.display().to_string()]);
    CommandLine {
        program: "mergerfs".into(),
        args,
        env: Vec::new(),
        env_remove: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mount_tool_never_inherits_a_key_variable() {
        let line = CommandLine {
            program: "s3fs".into(),
            args: vec!["bucket".into()],
            env: vec![("AWS_SHARED_CREDENTIALS_FILE".into(), "/state/c".into())],
            env_remove: vec!["AWS_CA_BUNDLE".into()],
        };
        let cmd = line.command();
        let removed: Vec<String> = cmd
            .get_envs()
            .filter(|(_, v)| v.is_none())
            .map(|(k, _)| k.to_string_lossy().into_owned())
            .collect();
        for k in KEY_VARIABLES.iter().chain(&["AWS_CA_BUNDLE"]) {
            assert!(removed.iter().any(|r| r == k), "{k} not removed: {removed:?}");
        }
        assert!(
            cmd.get_envs()
                .any(|(k, v)| k == "AWS_SHARED_CREDENTIALS_FILE" && v.is_some())
        );
    }

    fn spec() -> MountSpec {
        MountSpec {
            bucket: "b".into(),
            mountpoint: "/var/www/html/images".into(),
            endpoint: "https://s3.example.com".into(),
            region: "r".into(),
            uid: 33,
            gid: 33,
            cache: "/var/lib/adt-mount/cache/b".into(),
            ca_bundle: None,
        }
    }

    #[test]
    fn the_root_keeps_the_directory_mode_minus_others() {
        assert_eq!(root_umask(0o755), 0o027);
        assert_eq!(root_umask(0o770), 0o007);
        assert_eq!(root_umask(0o777), 0o007);
        assert_eq!(root_umask(0o2750), 0o027);
        let creds = CredentialFiles::in_dir(Path::new("/c"));
        let mut s3fs = mount_command(Tool::S3fs, &spec(), &creds);
        with_root_mode(&mut s3fs, 0o755);
        with_root_mode(&mut s3fs, 0o750);
        let options = s3fs.args.iter().find(|a| a.contains("umask")).unwrap();
        assert!(options.contains(",umask=0027,mp_umask=0027,"), "{options}");
        let mut rclone = mount_command(Tool::Rclone, &spec(), &creds);
        with_root_mode(&mut rclone, 0o750);
        let i = rclone.args.iter().position(|a| a == "--umask").unwrap();
        assert_eq!(rclone.args[i + 1], "027");
    }

    #[test]
    fn the_mount_table_names_the_tool() {
        assert_eq!(Tool::name_of_fstype("fuse.rclone"), "rclone");
        assert_eq!(Tool::name_of_fstype("fuse.s3fs"), "s3fs");
        assert_eq!(Tool::name_of_fstype("fuse.mergerfs"), "mergerfs");
        assert_eq!(Tool::name_of_fstype("fuse.mountpoint-s3"), Tool::MountS3.to_string());
        assert_eq!(Tool::name_of_fstype("nfs4"), "nfs4");
    }
}
