//! adt-mount run as a user would: usage and refusals, a missing tool,
//! units written to a directory, and a whole mount / status / unmount
//! cycle against the embedded emulator with s3fs.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use adt_testkit::{Emulator, SECRET_KEY, require_tools, unique_bucket};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/templates/clean")
        .join(name)
}

fn adt_mount(args: &[&str]) -> (i32, String, String) {
    common::output(Command::new(env!("CARGO_BIN_EXE_adt-mount")).args(args))
}

#[test]
fn plans_without_secrets_and_refuses_what_it_cannot_do() {
    let state = tempfile::tempdir().unwrap();
    let s = state.path().to_str().unwrap();
    let merge = fixture("merge.tmpl");
    let (code, out, _) = adt_mount(&[
        "plan",
        "--template",
        merge.to_str().unwrap(),
        "--state-dir",
        s,
        "--uid",
        "33",
        "--gid",
        "33",
    ]);
    assert_eq!(code, 0);
    assert!(
        out.contains("mergerfs -f -o category.create=rand") && out.contains("/var/www/images2"),
        "{out}"
    );
    assert!(
        out.contains("s3fs ") && !out.contains("rclone mount"),
        "s3fs is the default (docs/mounting.md, several webservers): {out}"
    );
    assert!(
        !out.contains("FAKEACCESSKEY") && !out.contains("fakeSecretKey"),
        "{out}"
    );
    let (code, out, _) = adt_mount(&[
        "plan",
        "--template",
        merge.to_str().unwrap(),
        "--format",
        "json",
        "--tool",
        "rclone",
    ]);
    assert_eq!(code, 0);
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["entries"][0]["mounts"][1]["tool"], "rclone");
    assert!(
        state.path().read_dir().unwrap().next().is_none(),
        "plan changes nothing"
    );

    assert_eq!(adt_mount(&["plan"]).0, 2, "no template");
    assert_eq!(
        adt_mount(&["mount", "--template", merge.to_str().unwrap(), "--tool", "sshfs"]).0,
        2
    );
    let webroot = tempfile::tempdir().unwrap();
    let (code, _, err) = adt_mount(&[
        "mount",
        "--template",
        fixture("baseline.tmpl").to_str().unwrap(),
        "--webroot",
        webroot.path().to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("PERSIST_ASSETS_TO_DATASTORE is not 1"), "{err}");
    // With --format json a failure is also a JSON object on stdout.
    let (code, out, _) = adt_mount(&[
        "mount",
        "--template",
        fixture("baseline.tmpl").to_str().unwrap(),
        "--webroot",
        webroot.path().to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(code, 1);
    let json: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(json["error"]["program"], "adt-mount");
    assert_eq!(json["error"]["exit_code"], 1);
    assert!(
        json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("PERSIST_ASSETS_TO_DATASTORE is not 1"),
        "{out}"
    );
    let (code, _, err) = adt_mount(&[
        "mount",
        "--template",
        merge.to_str().unwrap(),
        "--tool",
        "goofys",
        "--state-dir",
        s,
        "--webroot",
        webroot.path().to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("goofys is not installed"), "{err}");
}

#[test]
fn the_tool_the_state_directory_last_mounted_with_is_remembered() {
    use std::os::unix::fs::PermissionsExt;
    let state = tempfile::tempdir().unwrap();
    std::fs::set_permissions(state.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let s = state.path().to_str().unwrap();
    let merge = fixture("merge.tmpl");
    let plan = |extra: &[&str]| {
        let mut args = vec![
            "plan",
            "--template",
            merge.to_str().unwrap(),
            "--state-dir",
            s,
            "--uid",
            "33",
            "--gid",
            "33",
        ];
        args.extend_from_slice(extra);
        adt_mount(&args)
    };
    let (code, out, _) = plan(&[]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("s3fs ") && !out.contains("rclone mount"),
        "nothing remembered: s3fs: {out}"
    );
    std::fs::write(
        state.path().join("mounts.json"),
        r#"[{"entry":"merge=images2","mountpoint":"/var/www/images1","bucket":"b1","tool":"rclone"},
            {"entry":"merge=images2","mountpoint":"/var/www/images2","bucket":"b2","tool":"rclone"}]"#,
    )
    .unwrap();
    let (code, out, _) = plan(&[]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("rclone mount2") && !out.contains("s3fs "),
        "remembered: {out}"
    );
    let (code, out, _) = plan(&["--tool", "s3fs"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("s3fs ") && !out.contains("rclone mount"),
        "--tool wins: {out}"
    );
}

#[test]
fn log_lines_follow_v_and_q_and_go_to_stderr_or_the_log_file() {
    use std::os::unix::fs::PermissionsExt;
    let state = tempfile::tempdir().unwrap();
    let merge = fixture("merge.tmpl");
    let webroot = tempfile::tempdir().unwrap();
    let status = |extra: &[&str]| {
        let mut args = vec![
            "status",
            "--template",
            merge.to_str().unwrap(),
            "--webroot",
            webroot.path().to_str().unwrap(),
            "--state-dir",
            state.path().to_str().unwrap(),
            "--format",
            "json",
        ];
        args.extend_from_slice(extra);
        adt_mount(&args)
    };
    let (code, out, err) = status(&["-v"]);
    assert_eq!(code, 1, "nothing mounted: {out}{err}");
    assert!(err.contains("mount point probed"), "-v: {err}");
    assert!(
        !out.contains("mount point probed"),
        "stdout holds the report only: {out}"
    );
    serde_json::from_str::<serde_json::Value>(&out).unwrap();
    let (_, _, err) = status(&[]);
    assert!(!err.contains("mount point probed"), "default: {err}");
    let (_, _, err) = status(&["-q"]);
    assert!(!err.contains("mount point probed"), "-q: {err}");
    let log = state.path().join("adt-mount.log");
    let (_, _, err) = status(&["-v", "--log-file", log.to_str().unwrap()]);
    assert!(!err.contains("mount point probed"), "{err}");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("mount point probed"), "{text}");
    assert_eq!(std::fs::metadata(&log).unwrap().permissions().mode() & 0o777, 0o600);
}

#[test]
fn writes_one_unit_per_fuse_mount() {
    let dir = tempfile::tempdir().unwrap();
    let units = dir.path().join("units");
    let (code, _, err) = adt_mount(&[
        "units",
        "--template",
        fixture("merge.tmpl").to_str().unwrap(),
        "--output-dir",
        units.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let mut names: Vec<String> = std::fs::read_dir(&units)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "adt-mount-var-www-html-images.service",
            "adt-mount-var-www-images1.service",
            "adt-mount-var-www-images2.service"
        ]
    );
    let merge = std::fs::read_to_string(units.join("adt-mount-var-www-html-images.service")).unwrap();
    assert!(merge.contains("Requires=adt-mount-var-www-images1.service adt-mount-var-www-images2.service"));
    assert!(err.contains("systemctl daemon-reload"), "{err}");
}

#[test]
fn mounts_reports_status_and_unmounts() {
    if !require_tools(&["s3fs", "fusermount3"], true) {
        return;
    }
    let emulator = Emulator::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let webroot = dir.path().join("www/html");
    std::fs::create_dir_all(webroot.join("images")).unwrap();
    std::fs::write(webroot.join("images/local.png"), b"local").unwrap();
    let url = format!("{}.example.com", unique_bucket("cli"));
    let template = dir.path().join("site.tmpl");
    common::images_template(&template, &url, &emulator.endpoint());
    let state = dir.path().join("state");
    let common = [
        "--template",
        template.to_str().unwrap(),
        "--webroot",
        webroot.to_str().unwrap(),
        "--state-dir",
        state.to_str().unwrap(),
        "--uid",
        "0",
        "--gid",
        "0",
        "--tool",
        "s3fs",
    ];
    let run = |sub: &str, extra: &[&str]| {
        let mut args = vec![sub];
        args.extend_from_slice(&common);
        args.extend_from_slice(extra);
        adt_mount(&args)
    };
    let (code, out, err) = run("status", &["--format", "json"]);
    assert_eq!(code, 1, "not mounted yet: {out}{err}");
    assert!(out.contains("\"state\":\"unmounted\""), "{out}");
    // A webroot that does not exist (a typo) is refused, and not created.
    let typo = dir.path().join("www/htm");
    let (code, out, err) = adt_mount(&[
        "mount",
        "--template",
        template.to_str().unwrap(),
        "--webroot",
        typo.to_str().unwrap(),
        "--state-dir",
        state.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("does not exist"), "{err}");
    assert!(!typo.exists());
    let (code, out, err) = run("mount", &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("moved aside") && out.contains("mounted with s3fs"),
        "{out}"
    );
    assert!(!out.contains(SECRET_KEY) && !err.contains(SECRET_KEY));
    let (code, out, _) = run("status", &["--format", "json"]);
    assert_eq!(code, 0, "{out}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["mounts"][0]["state"], "mounted");
    assert_eq!(json["mounts"][0]["tool"], "s3fs");
    assert_eq!(json["retired"].as_array().unwrap().len(), 1);
    // The tool shown is the mounted filesystem's, not --tool's.
    let other: Vec<&str> = ["status", "--format", "json"]
        .into_iter()
        .chain(common.iter().map(|a| if *a == "s3fs" { "rclone" } else { *a }))
        .collect();
    let (code, out, _) = adt_mount(&other);
    assert_eq!(code, 0, "{out}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["mounts"][0]["tool"], "s3fs", "{out}");
    assert_eq!(std::fs::read(webroot.join("images/local.png")).unwrap(), b"local");
    // Another (existing) webroot with this state directory: refused, naming
    // what it mounted, and nothing is unmounted.
    let other_root = dir.path().join("other");
    std::fs::create_dir_all(&other_root).unwrap();
    let wrong: Vec<&str> = ["unmount"]
        .into_iter()
        .chain(common.iter().map(|a| {
            if *a == webroot.to_str().unwrap() {
                other_root.to_str().unwrap()
            } else {
                *a
            }
        }))
        .collect();
    let (code, out, err) = adt_mount(&wrong);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains(webroot.join("images").to_str().unwrap()), "{err}");
    assert!(adt_testkit::is_mounted(&webroot.join("images")));
    // One run at a time: another run holding the state directory's lock.
    // (flock -o: the lock stays with flock itself, so ending it frees it.)
    let mut holder = Command::new("flock")
        .arg("-o")
        .arg(state.join("lock"))
        .args(["sleep", "30"])
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let (code, out, err) = run("unmount", &[]);
    let _ = Command::new("pkill")
        .args(["-P", &holder.id().to_string(), "sleep"])
        .status();
    let _ = holder.kill();
    let _ = holder.wait();
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("another adt-mount run holds the state directory"), "{err}");
    assert!(adt_testkit::is_mounted(&webroot.join("images")));
    use std::os::unix::fs::PermissionsExt;
    let passwd = state.join("credentials/s3fs.passwd");
    assert_eq!(std::fs::metadata(&passwd).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(std::fs::metadata(&state).unwrap().permissions().mode() & 0o777, 0o700);
    let (code, out, err) = run("unmount", &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("unmounted"), "{out}");
    let (code, out, _) = run("mount", &["--purge-retired"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("every file is in the bucket with the same content; removed"),
        "{out}"
    );
    // An idle mount unmounts cleanly even with no grace at all (it used
    // to be detached lazily, unasked).
    let (code, out, err) = run("unmount", &["--grace", "0"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("unmounted") && !out.contains("detached lazily"), "{out}");
}
