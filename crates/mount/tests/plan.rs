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
        let units = adt_mounts::units(&plan(fixture, tool), &|p| format!("/usr/bin/{p}"));
        let text: String = units
            .iter()
            .map(|u| format!("# ==> {} <==\n{}\n", u.name, u.text))
            .collect();
        no_secrets(&text);
        insta::assert_snapshot!(format!("units_{}_{tool}", fixture.replace('.', "_")), text);
    }
}
