//! Plans and systemd units for the fixture templates, as insta snapshots;
//! no key or secret in any of them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use adt_mounts::{MountOptions, Plan, Target, Tool};

fn plan(fixture: &str, tool: Tool) -> Plan {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/templates/clean")
        .join(fixture);
    let webroot = Path::new(adt_template::DEFAULT_WEBROOT);
    let config = adt_template::load(&path, webroot).unwrap();
    let layout = adt_template::Layout::new(&config, webroot).unwrap();
    let options = MountOptions {
        tool,
        uid: 33,
        gid: 33,
        state_dir: PathBuf::from("/var/lib/adt-mount"),
        timeout: Duration::from_secs(30),
    };
    let target = Target {
        endpoint: "https://ams3.digitaloceanspaces.com".into(),
        region: "ams3".into(),
        ca_bundle: Some(PathBuf::from("/etc/ssl/certs/ca-certificates.crt")),
    };
    Plan::new(&layout, &target, &options)
}

fn no_secrets(text: &str) {
    assert!(
        !text.contains("FAKEACCESSKEY") && !text.contains("fakeSecretKey"),
        "{text}"
    );
}

#[test]
fn plans() {
    for (fixture, tool) in [
        ("merge.tmpl", Tool::S3fs),
        ("merge.tmpl", Tool::Rclone),
        ("opensocial.tmpl", Tool::Goofys),
        ("opensocial.tmpl", Tool::Geesefs),
        ("wordpress.tmpl", Tool::MountS3),
    ] {
        let p = plan(fixture, tool);
        let human = p.render();
        let json = serde_json::to_string_pretty(&p).unwrap();
        no_secrets(&human);
        no_secrets(&json);
        let name = format!("{}_{}", fixture.replace('.', "_"), tool);
        insta::assert_snapshot!(format!("plan_{name}"), human);
        insta::assert_snapshot!(format!("plan_{name}_json"), json);
    }
}

#[test]
fn units() {
    for (fixture, tool) in [("merge.tmpl", Tool::S3fs), ("opensocial.tmpl", Tool::Rclone)] {
        let units = adt_mounts::units(
            &plan(fixture, tool),
            &|p| format!("/usr/bin/{p}"),
            &adt_mounts::UnitOptions::default(),
        );
        let text: String = units
            .iter()
            .map(|u| format!("# ==> {} <==\n{}\n", u.name, u.text))
            .collect();
        no_secrets(&text);
        insta::assert_snapshot!(format!("units_{}_{tool}", fixture.replace('.', "_")), text);
    }
}

/// The units as installed (programs found on this machine) pass
/// `systemd-analyze verify`, where systemd is installed (required under
/// CI=true: .ci/run installs it).
#[test]
fn units_pass_systemd_analyze_verify() {
    if !adt_testkit::require_tools(&["systemd-analyze", "s3fs", "mergerfs", "fusermount3"], false) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let resolve = |p: &str| {
        adt_mounts::find_program(p)
            .unwrap_or_else(|| std::path::Path::new("/usr/bin").join(p))
            .display()
            .to_string()
    };
    let mut options = adt_mounts::UnitOptions::default();
    options.before.push("my-app.service".into());
    let units = adt_mounts::units(&plan("merge.tmpl", Tool::S3fs), &resolve, &options);
    let mut paths = Vec::new();
    for u in &units {
        assert!(
            u.text.contains("php8.2-fpm.service")
                && u.text.contains("httpd.service")
                && u.text.contains("my-app.service")
        );
        let path = dir.path().join(&u.name);
        std::fs::write(&path, &u.text).unwrap();
        paths.push(path);
    }
    let out = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .arg("--man=no")
        .args(&paths)
        .env("SYSTEMD_LOG_LEVEL", "warning")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    // Units named in Before= but not installed here are not errors; any
    // line about these files is.
    let about_ours: Vec<&str> = err.lines().filter(|l| l.contains("adt-mount-")).collect();
    assert!(out.status.success() && about_ours.is_empty(), "{err}");
}
