//! adt-sync run as a user would: two webservers' webroots kept in sync
//! through the emulator, the status of both, and refusals.

mod common;

use std::path::Path;
use std::process::Command;

fn adt_sync(args: &[&str]) -> (i32, String, String) {
    common::output(Command::new(env!("CARGO_BIN_EXE_adt-sync")).args(args))
}

fn template(dir: &Path, url: &str, endpoint: &str, sync: &str) -> String {
    let path = dir.join(format!("site-{sync}.tmpl"));
    std::fs::write(
        &path,
        format!(
            "WEBSITE_URL=\"{url}\"\nAPPLICATION=\"joomla\"\nSYNC_WEBROOTS=\"{sync}\"\nS3_ACCESS_KEY=\"{}\"\nS3_SECRET_KEY=\"{}\"\nS3_HOST_BASE=\"{endpoint}\"\n",
            adt_testkit::ACCESS_KEY,
            adt_testkit::SECRET_KEY,
        ),
    )
    .unwrap();
    path.display().to_string()
}

#[test]
fn two_webservers_stay_in_sync_through_the_binary() {
    let emulator = adt_testkit::Emulator::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().canonicalize().unwrap();
    let url = format!("{}.example.com", adt_testkit::unique_bucket("sy"));
    let t = template(&base, &url, &emulator.endpoint(), "1");
    let (one, two) = (base.join("one/html"), base.join("two/html"));
    for w in [&one, &two] {
        std::fs::create_dir_all(w.join("logs")).unwrap();
    }
    std::fs::write(one.join("index.php"), "<?php echo 'hi';").unwrap();
    std::fs::write(one.join("logs/error.log"), "never synced: joomla's default excludes").unwrap();
    std::fs::write(one.join("configuration.php"), "never synced: credentials").unwrap();
    let run = |webroot: &Path, state: &str| {
        let state = base.join(state);
        adt_sync(&[
            "run",
            "--template",
            &t,
            "--webroot",
            webroot.to_str().unwrap(),
            "--state-dir",
            state.to_str().unwrap(),
            "--settle",
            "0",
            "--format",
            "json",
        ])
    };
    let (code, out, err) = run(&one, "state-one");
    assert_eq!(code, 0, "{out}{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["published"], serde_json::json!(["index.php"]), "{report}");
    let (code, out, err) = run(&two, "state-two");
    assert_eq!(code, 0, "{out}{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["applied"], serde_json::json!(["index.php"]), "{report}");
    assert_eq!(
        std::fs::read_to_string(two.join("index.php")).unwrap(),
        "<?php echo 'hi';"
    );
    assert!(!two.join("logs/error.log").exists() && !two.join("configuration.php").exists());

    let state = base.join("state-two");
    let (code, out, err) = adt_sync(&[
        "status",
        "--template",
        &t,
        "--webroot",
        two.to_str().unwrap(),
        "--state-dir",
        state.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("(this node)") && out.contains("0 batches behind"), "{out}");
    assert!(!out.contains(adt_testkit::SECRET_KEY) && !err.contains(adt_testkit::SECRET_KEY));

    let off = template(&base, &url, &emulator.endpoint(), "0");
    let (code, _, err) = adt_sync(&["run", "--template", &off, "--webroot", one.to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(err.contains("SYNC_WEBROOTS is not 1"), "{err}");
}
