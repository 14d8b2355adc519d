//! systemd units: one service per FUSE mount, so mounts come back after a
//! reboot or a crash. Bucket mounts start after the network and before the
//! web servers; a merge starts after, and requires, its branches.
//!
//! A unit is active only once its mount answers (`ExecStartPost` waits
//! until `stat -f` of the mount point, a request the kernel passes to the
//! tool, names a FUSE filesystem), so
//! a web server ordered after it never serves an empty directory. A unit
//! started over a mount that already answers (one made by hand with
//! `adt-mount mount`) leaves it alone (`ExecCondition`): installing units
//! never detaches a healthy mount; only a stale one (listed in the mount
//! table, but its tool gone: ENOTCONN) is cleared.

use std::path::Path;
use std::time::Duration;

use crate::plan::Plan;
use crate::tool::CommandLine;

/// A unit file: its name and text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unit {
    /// The file name, `adt-mount-<escaped path>.service` (see [`unit_name`]).
    pub name: String,
    /// The whole unit file.
    pub text: String,
}

/// How the units are ordered and how long a mount may take.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct UnitOptions {
    /// Units that start only after the mounts are ready (`Before=`):
    /// [`UnitOptions::default_before`] unless set.
    pub before: Vec<String>,
    /// How long a mount may take to answer before the unit fails.
    pub timeout: Duration,
}

impl Default for UnitOptions {
    fn default() -> Self {
        UnitOptions {
            before: UnitOptions::default_before(),
            timeout: Duration::from_secs(30),
        }
    }
}

impl UnitOptions {
    /// The web servers and PHP-FPM services of Debian, Ubuntu and RHEL:
    /// nginx, apache2, httpd, lighttpd, php-fpm (RHEL) and Debian's
    /// versioned `phpX.Y-fpm` from 5.6 to 8.5 (systemd has no wildcard
    /// here; naming a unit that is not installed is harmless).
    pub fn default_before() -> Vec<String> {
        let mut units: Vec<String> = ["nginx", "apache2", "httpd", "lighttpd", "php-fpm"]
            .iter()
            .map(|u| format!("{u}.service"))
            .collect();
        let versions = [
            "5.6", "7.0", "7.1", "7.2", "7.3", "7.4", "8.0", "8.1", "8.2", "8.3", "8.4", "8.5",
        ];
        units.extend(versions.iter().map(|v| format!("php{v}-fpm.service")));
        units
    }
}

/// The units for `plan` (whose commands keep their tool in the
/// foreground). `resolve` turns a program name into the absolute path
/// systemd runs.
pub fn units(plan: &Plan, resolve: &dyn Fn(&str) -> String, options: &UnitOptions) -> Vec<Unit> {
    let mut units = Vec::new();
    for e in &plan.entries {
        let mut branch_units = Vec::new();
        for m in &e.mounts {
            let name = unit_name(&m.mountpoint);
            let text = service(
                &format!("bucket {} on {} ({})", m.bucket, m.mountpoint.display(), m.tool),
                &m.mountpoint,
                &m.command,
                resolve,
                "Wants=network-online.target\nAfter=network-online.target\n",
                options,
            );
            branch_units.push(name.clone());
            units.push(Unit { name, text });
        }
        if let Some(merge) = &e.merge {
            let deps = branch_units.join(" ");
            let text = service(
                &format!(
                    "merge of {} branches on {}",
                    merge.branches.len(),
                    merge.target.display()
                ),
                &merge.target,
                &merge.command,
                resolve,
                &format!("Requires={deps}\nAfter={deps}\n"),
                options,
            );
            units.push(Unit {
                name: unit_name(&merge.target),
                text,
            });
        }
    }
    units
}

fn service(
    what: &str,
    mountpoint: &Path,
    command: &CommandLine,
    resolve: &dyn Fn(&str) -> String,
    deps: &str,
    options: &UnitOptions,
) -> String {
    let mp = systemd_quote(&mountpoint.display().to_string());
    // Description= takes the rest of its line: no control character (a
    // newline would start a directive of its own), `%` doubled.
    let what: String = what
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect::<String>()
        .replace('%', "%%");
    let mut exec = systemd_quote(&resolve(&command.program));
    for arg in &command.args {
        exec.push(' ');
        exec.push_str(&systemd_quote(arg));
    }
    let mut env = String::new();
    for (k, v) in &command.env {
        // Environment= expands specifiers but not variables: `%` doubled,
        // `$` as it is.
        env.push_str(&format!(
            "Environment={}\n",
            systemd_quote(&format!("{k}={v}")).replace("$$", "$")
        ));
    }
    for k in &command.env_remove {
        env.push_str(&format!("UnsetEnvironment={k}\n"));
    }
    let before = options
        .before
        .iter()
        .map(|u| systemd_quote(u))
        .collect::<Vec<_>>()
        .join(" ");
    let sh = systemd_quote(&resolve("sh"));
    // A FUSE filesystem answering at the mount point: `stat -f` asks the
    // tool itself (the kernel never answers it from a cache), fails on a
    // stale mount, and names another filesystem (the directory
    // underneath, or some other mount) otherwise.
    let answers = "test \"$$(stat -f -c %%T \"$$1\" 2>/dev/null)\" = fuseblk";
    let timeout = options.timeout.as_secs().max(1);
    format!(
        "# Generated by adt-mount. Reinstall with `adt-mount units` rather than editing.\n\
         [Unit]\n\
         Description=adt-mount: {what}\n\
         {deps}\
         Before={before}\n\
         \n\
         [Service]\n\
         Type=simple\n\
         # A mount that already answers (made by hand) is left alone: the\n\
         # unit is skipped, never detaching it.\n\
         ExecCondition={sh} -c '! {answers}' sh {mp}\n\
         # Never a mount through a link planted at the mount point (the\n\
         # web server's user may own the directory above it).\n\
         ExecStartPre={sh} -c 'test ! -L \"$$1\" || {{ echo \"$$1 is a symbolic link; not mounting over it\" >&2; exit 1; }}' sh {mp}\n\
         # A stale one (its tool gone) is cleared first.\n\
         ExecStartPre=-{fusermount} -uz {mp}\n\
         ExecStartPre=/bin/mkdir -p {mp}\n\
         ExecStart={exec}\n\
         # Ready only once the mount answers: what is ordered after it\n\
         # never sees the empty directory underneath.\n\
         ExecStartPost={sh} -c 'until {answers}; do sleep 0.2; done' sh {mp}\n\
         ExecStop={fusermount} -u {mp}\n\
         {env}\
         Restart=on-failure\n\
         RestartSec=5\n\
         TimeoutStartSec={timeout}\n\
         TimeoutStopSec=60\n\
         \n\
         [Install]\n\
         WantedBy=multi-user.target\n",
        fusermount = resolve("fusermount3"),
    )
}

/// `adt-mount-` + the path escaped as `systemd-escape --path` does.
pub fn unit_name(path: &Path) -> String {
    // Also names the mount's log file in the state directory.
    let text = path.display().to_string();
    let trimmed = text.trim_matches('/');
    let mut escaped = String::new();
    for (i, b) in trimmed.bytes().enumerate() {
        match b {
            b'/' => escaped.push('-'),
            b'.' if i == 0 => escaped.push_str("\\x2e"),
            b if b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b':' => escaped.push(b as char),
            b => escaped.push_str(&format!("\\x{b:02x}")),
        }
    }
    format!("adt-mount-{escaped}.service")
}

/// One argument as systemd's command-line parser reads it: `%` and `$`
/// doubled, double quotes around anything with blanks, quotes or control
/// characters, which are written as `\xNN` escapes (a newline can never
/// end the line early).
pub fn systemd_quote(arg: &str) -> String {
    let escaped = arg.replace('%', "%%").replace('$', "$$");
    if escaped.is_empty()
        || escaped.contains(|c: char| c.is_whitespace() || c.is_control() || c == '"' || c == '\'' || c == '\\')
    {
        let mut quoted = String::from("\"");
        for c in escaped.chars() {
            match c {
                '"' => quoted.push_str("\\\""),
                '\\' => quoted.push_str("\\\\"),
                c if c.is_control() => {
                    let mut buf = [0u8; 4];
                    for b in c.encode_utf8(&mut buf).bytes() {
                        quoted.push_str(&format!("\\x{b:02x}"));
                    }
                }
                c => quoted.push(c),
            }
        }
        quoted.push('"');
        quoted
    } else {
        escaped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_names_follow_systemd_escape() {
        assert_eq!(
            unit_name(Path::new("/var/www/html/images")),
            "adt-mount-var-www-html-images.service"
        );
        assert_eq!(
            unit_name(Path::new("/var/www/html/wp-content/uploads")),
            "adt-mount-var-www-html-wp\\x2dcontent-uploads.service"
        );
        assert_eq!(
            unit_name(Path::new("/srv/my site")),
            "adt-mount-srv-my\\x20site.service"
        );
    }

    #[test]
    fn arguments_are_quoted_for_systemd() {
        assert_eq!(systemd_quote("/var/www/html"), "/var/www/html");
        assert_eq!(systemd_quote("/srv/my site"), "\"/srv/my site\"");
        assert_eq!(systemd_quote("50%"), "50%%");
        assert_eq!(systemd_quote("a\nExecStartPre=/bin/x"), "\"a\\x0aExecStartPre=/bin/x\"");
        assert_eq!(systemd_quote("say \"hi\""), "\"say \\\"hi\\\"\"");
    }
}
