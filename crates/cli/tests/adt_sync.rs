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
    let url = format!("{}.io", adt_testkit::unique_bucket("sy"));
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

    // status only reads: a state directory that is not there stays absent.
    let fresh = base.join("state-never-made");
    let (code, out, err) = adt_sync(&[
        "status",
        "--template",
        &t,
        "--webroot",
        two.to_str().unwrap(),
        "--state-dir",
        fresh.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("(this node)"), "{out}");
    assert!(!fresh.exists(), "status created {}", fresh.display());

    // A node id that cannot be one is bad input (exit 2), named.
    let (code, _, err) = adt_sync(&[
        "run",
        "--template",
        &t,
        "--webroot",
        two.to_str().unwrap(),
        "--state-dir",
        base.join("state-bad").to_str().unwrap(),
        "--node-id",
        "Web/1",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("node id `Web/1`"), "{err}");

    let off = template(&base, &url, &emulator.endpoint(), "0");
    let (code, _, err) = adt_sync(&["run", "--template", &off, "--webroot", one.to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(err.contains("SYNC_WEBROOTS is not 1"), "{err}");
}

/// `adt-sync watch` on one webserver: a change published by the other
/// arrives within seconds, a file written here is published once settled
/// (noticed by inotify), and SIGTERM stops it cleanly.
#[test]
fn watch_applies_and_publishes_within_seconds() {
    let emulator = adt_testkit::Emulator::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().canonicalize().unwrap();
    let url = format!("{}.io", adt_testkit::unique_bucket("sw"));
    let t = template(&base, &url, &emulator.endpoint(), "1");
    let (one, two) = (base.join("one/html"), base.join("two/html"));
    for w in [&one, &two] {
        std::fs::create_dir_all(w).unwrap();
    }
    let state_two = base.join("state-two");
    let mut watch = Command::new(env!("CARGO_BIN_EXE_adt-sync"))
        .args(["watch", "--template", &t, "--webroot"])
        .arg(&two)
        .arg("--state-dir")
        .arg(&state_two)
        .args(["--settle", "1", "--poll", "1", "--full-every", "600"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let run_one = || {
        let state = base.join("state-one");
        let (code, out, err) = adt_sync(&[
            "run",
            "--template",
            &t,
            "--webroot",
            one.to_str().unwrap(),
            "--state-dir",
            state.to_str().unwrap(),
            "--settle",
            "0",
        ]);
        assert_eq!(code, 0, "{out}{err}");
    };
    let wait_for = |path: &Path, what: &str| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while !path.exists() {
            assert!(std::time::Instant::now() < deadline, "{what} did not arrive");
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    };
    std::thread::sleep(std::time::Duration::from_secs(1));
    std::fs::write(one.join("from-one.php"), "1").unwrap();
    run_one();
    let started = std::time::Instant::now();
    wait_for(&two.join("from-one.php"), "a change from the other node");
    let applied_in = started.elapsed();
    std::fs::write(two.join("from-two.php"), "2").unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !one.join("from-two.php").exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the watched change was not published"
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
        run_one();
    }
    assert!(applied_in < std::time::Duration::from_secs(10), "{applied_in:?}");
    rustix::process::kill_process(rustix::process::Pid::from_child(&watch), rustix::process::Signal::TERM).unwrap();
    let status = watch.wait().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(watch.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(status.success(), "{status}: {err}");

    let (code, out, err) = adt_sync(&[
        "units",
        "--template",
        &t,
        "--webroot",
        two.to_str().unwrap(),
        "--state-dir",
        state_two.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(" watch --template ") && out.contains("Restart=always"),
        "{out}"
    );
}

/// ADT names the sync bucket `${WEBSITE_URL}-webroot-sync-tunnel-var-www-html`:
/// a URL over 30 characters gives a name S3 refuses. adt-check says so,
/// and adt-sync refuses the template before any request.
#[test]
fn a_website_url_too_long_for_the_sync_bucket_is_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let t = template(
        dir.path(),
        "www.a-long-company-name.example.com",
        "http://127.0.0.1:1",
        "1",
    );
    let webroot = dir.path().join("html");
    std::fs::create_dir_all(&webroot).unwrap();
    let (code, _, err) = adt_sync(&["run", "--template", &t, "--webroot", webroot.to_str().unwrap()]);
    assert_eq!(code, 1, "a template with errors, as every tool refuses one: {err}");
    assert!(
        err.contains("bucket-name-invalid") && err.contains("webroot-sync-tunnel"),
        "{err}"
    );
    let check = common::output(Command::new(env!("CARGO_BIN_EXE_adt-check")).arg(&t));
    assert_eq!(check.0, 1);
    assert!(check.1.contains("the webroot sync's bucket name"), "{}", check.1);
}

/// kill -9 at random moments while publishing and while applying: every
/// later run completes the work, nothing is published twice, and a node
/// that only applied publishes nothing back.
#[test]
fn kill_9_mid_publish_and_mid_apply_recover() {
    let emulator = adt_testkit::Emulator::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().canonicalize().unwrap();
    let url = format!("{}.io", adt_testkit::unique_bucket("sk"));
    let t = template(&base, &url, &emulator.endpoint(), "1");
    let (one, two) = (base.join("one/html"), base.join("two/html"));
    for w in [&one, &two] {
        std::fs::create_dir_all(w).unwrap();
    }
    for i in 0..1200 {
        let d = one.join(format!("dir{}", i % 30));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join(format!("f{i}.php")), format!("<?php // {i}")).unwrap();
    }
    let command = |webroot: &Path, state: &str| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_adt-sync"));
        c.args(["run", "--template", &t, "--webroot"])
            .arg(webroot)
            .arg("--state-dir")
            .arg(base.join(state))
            .args(["--settle", "0", "--format", "json"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        c
    };
    // Kill runs at growing delays until one finishes.
    let runs = |webroot: &Path, state: &str| -> Vec<serde_json::Value> {
        let mut killed = 0;
        let mut delay_ms = 20.0f64;
        loop {
            delay_ms *= 1.3;
            let delay_ms = delay_ms as u64;
            let child = command(webroot, state).spawn().unwrap();
            std::thread::sleep(std::time::Duration::from_millis(delay_ms));
            let pid = rustix::process::Pid::from_child(&child);
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            let out = child.wait_with_output().unwrap();
            if out.status.success() {
                let last = serde_json::from_slice(&out.stdout).unwrap();
                assert!(killed > 0, "no run was killed");
                return vec![last];
            }
            killed += 1;
            assert!(killed < 60, "never finished");
        }
    };
    runs(&one, "state-one");
    // One more, uninterrupted: nothing left to publish.
    let out = command(&one, "state-one").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let again: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(again["published"], serde_json::json!([]), "{again}");
    // Every path published exactly once, over all the runs.
    let rt = common::runtime();
    let store = common::store(&emulator.endpoint());
    let bucket = adt_template::sync_bucket_name(&url);
    let batches = rt.block_on(store.list(&bucket, Some("adt-sync/journal/"))).unwrap();
    let mut paths = std::collections::BTreeMap::<String, u32>::new();
    for b in &batches {
        let (_, body) = rt.block_on(store.get_bytes(&bucket, &b.key)).unwrap();
        let batch: serde_json::Value = serde_json::from_slice(&body).unwrap();
        for op in batch["ops"].as_array().unwrap() {
            *paths.entry(op["path"].as_str().unwrap().to_string()).or_default() += 1;
        }
    }
    assert_eq!(paths.len(), 1230, "1200 files and 30 directories");
    assert!(
        paths.values().all(|n| *n == 1),
        "published twice: {:?}",
        paths.iter().filter(|(_, n)| **n > 1).take(5).collect::<Vec<_>>()
    );

    runs(&two, "state-two");
    let out = command(&two, "state-two").output().unwrap();
    let again: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        again["published"],
        serde_json::json!([]),
        "nothing published back: {again}"
    );
    let diff = Command::new("diff").arg("-r").arg(&one).arg(&two).output().unwrap();
    assert!(diff.status.success(), "{}", String::from_utf8_lossy(&diff.stdout));
    let batches_after = rt.block_on(store.list(&bucket, Some("adt-sync/journal/"))).unwrap();
    assert_eq!(batches_after.len(), batches.len(), "the applying node wrote no batch");
}
