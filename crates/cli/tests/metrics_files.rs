//! `--metrics-file` on every binary that has it, run as cron would run it
//! against the embedded emulator, the file read back with a real parser
//! of Prometheus's text format: the samples each writes, a failed run
//! (success 0, failures_total counted, last_success carried over), a link
//! planted at PATH, and a missing directory.

mod common;

use std::path::Path;
use std::process::Command;

use adt_datastore::PutOptions;
use adt_testkit::{ArchiveBuilder, Emulator, unique_bucket};
use openmetrics_parser::{MetricsExposition, PrometheusType, PrometheusValue};

/// A metrics file, parsed.
struct Scrape {
    text: String,
    parsed: MetricsExposition<PrometheusType, PrometheusValue>,
}

impl Scrape {
    fn read(path: &Path) -> Scrape {
        let text = std::fs::read_to_string(path).unwrap();
        let parsed = openmetrics_parser::prometheus::parse_prometheus(&text)
            .unwrap_or_else(|e| panic!("not Prometheus text format: {e:?}\n{text}"));
        Scrape { text, parsed }
    }

    fn has(&self, name: &str) -> bool {
        self.parsed.families.contains_key(name)
    }

    /// The one sample of `name` whose labels include `labels`.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let family = self
            .parsed
            .families
            .get(name)
            .unwrap_or_else(|| panic!("no {name} in\n{}", self.text));
        assert!(!family.help.is_empty(), "{name} has no HELP");
        let found: Vec<f64> = family
            .iter_samples()
            .filter(|s| {
                let set = s.get_labelset().unwrap();
                labels.iter().all(|(k, v)| set.get_label_value(k) == Some(v))
            })
            .map(|s| match &s.value {
                PrometheusValue::Gauge(n) => n.as_f64(),
                PrometheusValue::Counter(c) => c.value.as_f64(),
                other => panic!("{name} is {other:?}"),
            })
            .collect();
        assert_eq!(found.len(), 1, "{name}{labels:?} in\n{}", self.text);
        found[0]
    }

    fn is_counter(&self, name: &str) -> bool {
        self.parsed.families[name].family_type == PrometheusType::Counter
    }
}

fn run(program: &str, args: &[&dyn AsRef<std::ffi::OsStr>]) -> (i32, String, String) {
    let mut cmd = Command::new(program);
    cmd.args(args).env("NO_COLOR", "1");
    let (code, out, err) = common::output(&mut cmd);
    assert!(
        !out.contains(adt_testkit::SECRET_KEY) && !err.contains(adt_testkit::SECRET_KEY),
        "a key in the output"
    );
    (code, out, err)
}

/// The five per-run samples agree with a run that succeeded (`ok`) or
/// not, and `failures` failures so far.
fn assert_run(s: &Scrape, job: &str, labels: &[(&str, &str)], ok: bool, failures: f64) {
    let v = |what: &str| s.value(&format!("adt_{job}_{what}"), labels);
    assert_eq!(v("success"), if ok { 1.0 } else { 0.0 }, "{}", s.text);
    assert_eq!(v("failures_total"), failures, "{}", s.text);
    assert!(s.is_counter(&format!("adt_{job}_failures_total")));
    assert!(v("duration_seconds") >= 0.0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!((now - v("last_run_timestamp_seconds")).abs() < 120.0, "{}", s.text);
    if ok {
        assert_eq!(v("last_success_timestamp_seconds"), v("last_run_timestamp_seconds"));
    }
}

#[test]
fn adt_seed_writes_counts_per_bucket_and_a_failed_run_keeps_the_last_success() {
    let emulator = Emulator::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("{}.example.com", unique_bucket("msd"));
    let template = dir.path().join("site.tmpl");
    common::images_template(&template, &url, &emulator.endpoint());
    let archive = dir.path().join("applicationsourcecode.tar.gz");
    let mut a = ArchiveBuilder::create(&archive);
    a.dir("./")
        .file("./index.php", 0o644, b"<?php")
        .file("./images/logo.png", 0o644, b"PNG!")
        .file("./images/b.png", 0o644, b"0123456789");
    a.finish();
    let metrics = dir.path().join("adt-seed.prom");
    let seed = |extra: &[&str]| {
        let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![
            &"--template",
            &template,
            &"--backup",
            &archive,
            &"--no-cache",
            &"--metrics-file",
            &metrics,
        ];
        args.extend(extra.iter().map(|a| a as &dyn AsRef<std::ffi::OsStr>));
        run(env!("CARGO_BIN_EXE_adt-seed"), &args)
    };
    let bucket = adt_template::derive_bucket_name(&url, "images");
    let labels = [("bucket", bucket.as_str()), ("entry", "images")];

    let (code, out, err) = seed(&[]);
    assert_eq!(code, 0, "{out}{err}");
    let first = Scrape::read(&metrics);
    assert_run(&first, "seed", &[], true, 0.0);
    assert_eq!(first.value("adt_seed_uploaded_bytes", &labels), 14.0);
    assert!(first.value("adt_seed_uploaded_objects", &labels) >= 2.0);
    assert_eq!(first.value("adt_seed_skipped_objects", &labels), 0.0);
    let mode = std::fs::metadata(&metrics).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777,
        0o644
    );

    let down = adt_testkit::closed_endpoint();
    let (code, out, err) = seed(&["--endpoint", &down]);
    assert_eq!(code, 1, "{out}{err}");
    let failed = Scrape::read(&metrics);
    assert_run(&failed, "seed", &[], false, 1.0);
    assert_eq!(
        failed.value("adt_seed_last_success_timestamp_seconds", &[]),
        first.value("adt_seed_last_success_timestamp_seconds", &[])
    );
    assert!(!failed.has("adt_seed_uploaded_objects"), "{}", failed.text);

    let (code, out, err) = seed(&[]);
    assert_eq!(code, 0, "{out}{err}");
    let again = Scrape::read(&metrics);
    assert_run(&again, "seed", &[], true, 1.0);
    assert_eq!(again.value("adt_seed_uploaded_objects", &labels), 0.0);
    assert_eq!(
        again.value("adt_seed_skipped_objects", &labels),
        first.value("adt_seed_uploaded_objects", &labels)
    );
}

#[test]
fn adt_mount_status_writes_up_and_stale_per_mount_point_with_escaped_labels() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().canonicalize().unwrap();
    // A webroot whose path needs escaping in a label.
    let webroot = base.join("we\"b\\ root");
    std::fs::create_dir_all(webroot.join("images")).unwrap();
    let url = format!("{}.example.com", unique_bucket("mst"));
    let template = base.join("site.tmpl");
    common::images_template(&template, &url, "http://127.0.0.1:1");
    let metrics = base.join("adt-mount.prom");
    let status = || {
        run(
            env!("CARGO_BIN_EXE_adt-mount"),
            &[
                &"status",
                &"--template",
                &template,
                &"--webroot",
                &webroot,
                &"--state-dir",
                &base.join("state"),
                &"--metrics-file",
                &metrics,
            ],
        )
    };
    let (code, out, err) = status();
    assert_eq!(code, 1, "not mounted: {out}{err}");
    let (code, out, err) = status();
    assert_eq!(code, 1, "{out}{err}");
    let s = Scrape::read(&metrics);
    assert_run(&s, "mount_status", &[], false, 2.0);
    assert_eq!(s.value("adt_mount_status_last_success_timestamp_seconds", &[]), 0.0);
    let mount_point = webroot.join("images").display().to_string();
    let bucket = adt_template::derive_bucket_name(&url, "images");
    let labels = [("mount_point", mount_point.as_str()), ("bucket", bucket.as_str())];
    assert_eq!(s.value("adt_mount_up", &labels), 0.0);
    assert_eq!(s.value("adt_mount_stale", &labels), 0.0);
    assert_eq!(s.value("adt_mount_retired_directories", &[("recorded", "true")]), 0.0);
    assert!(s.text.contains("we\\\"b\\\\ root/images"), "{}", s.text);
}

#[test]
fn a_link_at_the_metrics_path_is_replaced_not_followed_and_a_missing_directory_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().canonicalize().unwrap();
    let webroot = base.join("html");
    std::fs::create_dir_all(&webroot).unwrap();
    let template = base.join("site.tmpl");
    common::images_template(&template, "www.example.com", "http://127.0.0.1:1");
    let victim = base.join("victim");
    std::fs::write(&victim, "adt_mount_status_failures_total 41\n").unwrap();
    let metrics = base.join("adt-mount.prom");
    std::os::unix::fs::symlink(&victim, &metrics).unwrap();
    let status = |path: &Path| {
        run(
            env!("CARGO_BIN_EXE_adt-mount"),
            &[
                &"status",
                &"--template",
                &template,
                &"--webroot",
                &webroot,
                &"--state-dir",
                &base.join("state"),
                &"--metrics-file",
                &path,
            ],
        )
    };
    let (code, out, err) = status(&metrics);
    assert_eq!(code, 1, "{out}{err}");
    assert_eq!(
        std::fs::read_to_string(&victim).unwrap(),
        "adt_mount_status_failures_total 41\n"
    );
    assert!(std::fs::symlink_metadata(&metrics).unwrap().is_file());
    // Nor was the link's target read for the count.
    assert_run(&Scrape::read(&metrics), "mount_status", &[], false, 1.0);
    let names: Vec<_> = std::fs::read_dir(&base)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(
        names.iter().all(|n| !n.to_string_lossy().ends_with(".tmp")),
        "{names:?}"
    );

    let (code, out, err) = status(&base.join("missing/adt-mount.prom"));
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("--metrics-file") && err.contains("does not exist"),
        "{err}"
    );
}

#[test]
fn adt_backup_upload_and_verify_write_per_period_and_datastore() {
    let emulator = Emulator::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().canonicalize().unwrap();
    let webroot = base.join("html");
    std::fs::create_dir_all(webroot.join("images")).unwrap();
    std::fs::write(webroot.join("index.php"), "<?php echo 1;").unwrap();
    let url = format!("{}.example.com", unique_bucket("mbk"));
    let template = base.join("site.tmpl");
    common::images_template(&template, &url, &emulator.endpoint());
    let metrics = base.join("adt-backup-hourly.prom");
    let upload = |extra: &[&str]| {
        let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![
            &"upload",
            &"--template",
            &template,
            &"--webroot",
            &webroot,
            &"--period",
            &"hourly",
            &"--metrics-file",
            &metrics,
        ];
        args.extend(extra.iter().map(|a| a as &dyn AsRef<std::ffi::OsStr>));
        run(env!("CARGO_BIN_EXE_adt-backup"), &args)
    };
    let period = [("period", "hourly")];
    let (code, out, err) = upload(&[]);
    assert_eq!(code, 0, "{out}{err}");
    let first = Scrape::read(&metrics);
    assert_run(&first, "backup_upload", &period, true, 0.0);
    assert!(first.value("adt_backup_upload_archive_bytes", &period) > 0.0);
    let one = [("period", "hourly"), ("datastore", "1")];
    assert_eq!(first.value("adt_backup_upload_datastore_success", &one), 1.0);

    let down = adt_testkit::closed_endpoint();
    let (code, out, err) = upload(&["--endpoint", &down, "--lock-wait", "1"]);
    assert_eq!(code, 1, "{out}{err}");
    let failed = Scrape::read(&metrics);
    assert_run(&failed, "backup_upload", &period, false, 1.0);
    assert_eq!(failed.value("adt_backup_upload_datastore_success", &one), 0.0);
    assert_eq!(
        failed.value("adt_backup_upload_last_success_timestamp_seconds", &period),
        first.value("adt_backup_upload_last_success_timestamp_seconds", &period)
    );

    let verified = base.join("adt-backup-verify.prom");
    let (code, out, err) = run(
        env!("CARGO_BIN_EXE_adt-backup"),
        &[
            &"verify",
            &"--template",
            &template,
            &"--webroot",
            &webroot,
            &"--period",
            &"hourly",
            &"--metrics-file",
            &verified,
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let s = Scrape::read(&verified);
    let labels = [("period", "hourly"), ("backup", "current")];
    assert_run(&s, "backup_verify", &labels, true, 0.0);
    assert!(s.value("adt_backup_verify_entries", &labels) >= 2.0, "{}", s.text);
    assert_eq!(
        s.value("adt_backup_verify_archive_bytes", &labels),
        first.value("adt_backup_upload_archive_bytes", &period)
    );
}

#[test]
fn adt_replicate_writes_what_it_copied_and_its_lag() {
    let emulator = Emulator::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().canonicalize().unwrap();
    let url = format!("{}.example.com", unique_bucket("mrp"));
    let template = base.join("site.tmpl");
    common::images_template(&template, &url, &emulator.endpoint());
    let bucket = adt_template::derive_bucket_name(&url, "images");
    let rt = common::runtime();
    let primary = common::store(&emulator.endpoint());
    rt.block_on(async {
        primary.ensure_bucket(&bucket).await.unwrap();
        for (key, body) in [("a.jpg", &b"aaaa"[..]), ("b.jpg", b"bbbbbb"), ("c.jpg", b"c")] {
            let body = bytes::Bytes::copy_from_slice(body);
            primary.put(&bucket, key, body, &PutOptions::default()).await.unwrap();
        }
    });
    std::fs::create_dir_all(base.join("copies")).unwrap();
    let to = format!("file://{}", base.join("copies").display());
    let metrics = base.join("adt-replicate.prom");
    let replicate = |extra: &[&str]| {
        let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> =
            vec![&"--template", &template, &"--to", &to, &"--metrics-file", &metrics];
        args.extend(extra.iter().map(|a| a as &dyn AsRef<std::ffi::OsStr>));
        run(env!("CARGO_BIN_EXE_adt-replicate"), &args)
    };
    let labels = [("bucket", bucket.as_str()), ("destination", "2")];

    let (code, out, err) = replicate(&[]);
    assert_eq!(code, 0, "{out}{err}");
    let first = Scrape::read(&metrics);
    assert_run(&first, "replicate", &[], true, 0.0);
    assert_eq!(first.value("adt_replicate_copied_objects", &labels), 3.0);
    assert_eq!(first.value("adt_replicate_copied_bytes", &labels), 11.0);
    assert_eq!(first.value("adt_replicate_lag_objects", &labels), 3.0);
    assert_eq!(first.value("adt_replicate_failed_objects", &labels), 0.0);
    assert_eq!(
        first.value("adt_replicate_destination_success", &[("destination", "2")]),
        1.0
    );

    let (code, out, err) = replicate(&[]);
    assert_eq!(code, 0, "{out}{err}");
    let again = Scrape::read(&metrics);
    assert_eq!(again.value("adt_replicate_lag_objects", &labels), 0.0);

    let down = adt_testkit::closed_endpoint();
    let (code, out, err) = replicate(&["--endpoint", &down]);
    assert_eq!(code, 1, "{out}{err}");
    let failed = Scrape::read(&metrics);
    assert_run(&failed, "replicate", &[], false, 1.0);
    assert_eq!(
        failed.value("adt_replicate_last_success_timestamp_seconds", &[]),
        again.value("adt_replicate_last_success_timestamp_seconds", &[])
    );
}

#[test]
fn adt_sync_run_writes_what_the_cycle_did() {
    let emulator = Emulator::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().canonicalize().unwrap();
    let webroot = base.join("html");
    std::fs::create_dir_all(&webroot).unwrap();
    std::fs::write(webroot.join("index.php"), "<?php").unwrap();
    std::fs::write(webroot.join("about.php"), "<?php").unwrap();
    let template = base.join("site.tmpl");
    std::fs::write(
        &template,
        format!(
            "WEBSITE_URL=\"{}.io\"\nAPPLICATION=\"joomla\"\nSYNC_WEBROOTS=\"1\"\nS3_ACCESS_KEY=\"{}\"\nS3_SECRET_KEY=\"{}\"\nS3_HOST_BASE=\"{}\"\n",
            unique_bucket("msy"),
            adt_testkit::ACCESS_KEY,
            adt_testkit::SECRET_KEY,
            emulator.endpoint()
        ),
    )
    .unwrap();
    let metrics = base.join("adt-sync.prom");
    let (code, out, err) = run(
        env!("CARGO_BIN_EXE_adt-sync"),
        &[
            &"run",
            &"--template",
            &template,
            &"--webroot",
            &webroot,
            &"--state-dir",
            &base.join("state"),
            &"--settle",
            &"0",
            &"--metrics-file",
            &metrics,
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let s = Scrape::read(&metrics);
    assert_run(&s, "sync", &[], true, 0.0);
    assert_eq!(s.value("adt_sync_published_paths", &[]), 2.0, "{}", s.text);
    assert_eq!(s.value("adt_sync_paused", &[]), 0.0);
    assert_eq!(s.value("adt_sync_conflicts", &[]), 0.0);
}
