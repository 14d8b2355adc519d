//! adt-backup run as a user would: the exclusion set in its three formats,
//! a backup created, and bad input.

mod common;

use std::path::Path;
use std::process::Command;

fn adt_backup(args: &[&str]) -> (i32, String, String) {
    common::output(Command::new(env!("CARGO_BIN_EXE_adt-backup")).args(args))
}

fn site(dir: &Path) -> (String, String) {
    let webroot = dir.join("html");
    std::fs::create_dir_all(webroot.join("wp-content/uploads/2024")).unwrap();
    std::fs::write(webroot.join("wp-content/uploads/2024/a.jpg"), b"jpeg").unwrap();
    std::fs::write(webroot.join("index.php"), b"<?php").unwrap();
    std::fs::create_dir_all(webroot.join("wp-content/cache")).unwrap();
    let template = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/templates/clean/wordpress.tmpl");
    (webroot.display().to_string(), template.display().to_string())
}

#[test]
fn prints_the_exclusion_set_in_each_format() {
    let dir = tempfile::tempdir().unwrap();
    let (webroot, template) = site(dir.path());
    let base = [
        "--template",
        template.as_str(),
        "--webroot",
        webroot.as_str(),
        "--exclude",
        "/wp-content/cache",
        "--exclude",
        "*.log",
    ];
    let mut args = vec!["exclusions", "--format", "rsync"];
    args.extend(base);
    let (code, out, err) = adt_backup(&args);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "# adt-backup exclusions, anchored at the webroot\n- /wp-content/uploads\n- /wp-content/cache\n- *.log\n\
         - /logs\n- /tmp\n- /cache\n- /wp-config.php\n",
        "the --exclude patterns, then WordPress's EXCLUDE_FROM_BACKUP (ADT's descriptor)"
    );
    let mut args = vec!["exclusions", "--format", "rsync", "--no-default-excludes"];
    args.extend(base);
    assert_eq!(
        adt_backup(&args).1,
        "# adt-backup exclusions, anchored at the webroot\n- /wp-content/uploads\n- /wp-content/cache\n- *.log\n"
    );
    let mut args = vec!["exclusions", "--format", "json"];
    args.extend(base);
    let (code, out, _) = adt_backup(&args);
    assert_eq!(code, 0);
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["directories"][0]["path"], "wp-content/uploads");
    assert_eq!(json["directories"][0]["reason"], "layout");
    assert_eq!(
        json["patterns"],
        serde_json::json!([
            "/wp-content/cache",
            "*.log",
            "/logs",
            "/tmp",
            "/cache",
            "/wp-config.php"
        ])
    );
    // One --format, the same before or after the subcommand; rsync is
    // for the exclusion set only.
    let mut args = vec!["--format", "json", "exclusions"];
    args.extend(base);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&adt_backup(&args).1).unwrap(),
        json
    );
    let output = dir.path().join("b.tar.gz");
    let mut args = vec!["create", "--format", "rsync", "--output", output.to_str().unwrap()];
    args.extend(base);
    let (code, _, err) = adt_backup(&args);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--format rsync") && !output.exists(), "{err}");
}

#[test]
fn creates_a_backup_without_the_mounted_directories() {
    let dir = tempfile::tempdir().unwrap();
    let (webroot, template) = site(dir.path());
    let out = dir.path().join("applicationsourcecode.tar.gz");
    let (code, stdout, err) = adt_backup(&[
        "create",
        "--template",
        &template,
        "--webroot",
        &webroot,
        "--output",
        out.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["files"], 1);
    assert_eq!(report["excluded"][0], "wp-content/uploads");
    let listed = Command::new("tar").arg("-tzf").arg(&out).output().unwrap();
    let listed = String::from_utf8(listed.stdout).unwrap();
    assert!(
        listed.contains("./index.php") && !listed.contains("uploads"),
        "{listed}"
    );
}

/// Issue 15: the configuration file holding the database credentials
/// (and logs, tmp, cache) stays out of every backup, as ADT's application
/// descriptors ask; the template's own EXCLUDE_FROM_BACKUP replaces the
/// defaults; --no-default-excludes keeps everything.
#[test]
fn leaves_out_what_adt_leaves_out_of_backups() {
    let dir = tempfile::tempdir().unwrap();
    let (webroot, template) = site(dir.path());
    std::fs::write(format!("{webroot}/wp-config.php"), b"<?php define('DB_PASSWORD', 'x');").unwrap();
    std::fs::create_dir_all(format!("{webroot}/logs")).unwrap();
    std::fs::write(format!("{webroot}/logs/error.log"), b"log").unwrap();
    std::fs::write(format!("{webroot}/keep.txt"), b"keep").unwrap();
    let list = |template: &str, extra: &[&str]| {
        let out = dir.path().join(format!("b{}.tar.gz", extra.len()));
        let _ = std::fs::remove_file(&out);
        let mut args = vec![
            "create",
            "--template",
            template,
            "--webroot",
            &webroot,
            "--output",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let (code, _, err) = adt_backup(&args);
        assert_eq!(code, 0, "{err}");
        let listed = Command::new("tar").arg("-tzf").arg(&out).output().unwrap();
        String::from_utf8(listed.stdout).unwrap()
    };
    let listed = list(&template, &[]);
    assert!(
        !listed.contains("wp-config.php") && !listed.contains("./logs"),
        "{listed}"
    );
    assert!(listed.contains("./keep.txt"), "{listed}");
    let listed = list(&template, &["--no-default-excludes"]);
    assert!(
        listed.contains("./wp-config.php") && listed.contains("./logs/error.log"),
        "{listed}"
    );
    let own = dir.path().join("own.tmpl");
    let text = std::fs::read_to_string(&template).unwrap();
    std::fs::write(&own, format!("{text}\nexport EXCLUDE_FROM_BACKUP=\"keep.txt\"\n")).unwrap();
    let listed = list(own.to_str().unwrap(), &[]);
    assert!(
        !listed.contains("./keep.txt") && listed.contains("./wp-config.php"),
        "{listed}"
    );
}

#[test]
fn bad_input_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (webroot, _) = site(dir.path());
    let (code, _, err) = adt_backup(&["exclusions", "--webroot", &webroot, "--exclude", "../etc"]);
    assert_eq!(code, 2);
    assert!(err.contains("../etc"), "{err}");
    let (code, _, err) = adt_backup(&[
        "create",
        "--webroot",
        &webroot,
        "--output",
        &format!("{webroot}/b.tar.gz"),
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("inside the webroot"), "{err}");
    assert_eq!(
        adt_backup(&["create", "--webroot", &webroot]).0,
        2,
        "--output is required"
    );
    assert_eq!(adt_backup(&["exclusions", "--webroot", "relative"]).0, 2);

    // A missing archive is named at once, before the (unreachable) datastore.
    let template = dir.path().join("down.tmpl");
    std::fs::write(&template, "WEBSITE_URL=\"www.example.com\"\nS3_ACCESS_KEY=\"AK\"\nS3_SECRET_KEY=\"SK\"\nS3_HOST_BASE=\"http://127.0.0.1:1\"\n").unwrap();
    let missing = dir.path().join("missing.tar.gz");
    let (code, _, err) = adt_backup(&[
        "upload",
        "--template",
        template.to_str().unwrap(),
        "--webroot",
        &webroot,
        "--period",
        "hourly",
        "--archive",
        missing.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "input that cannot be read, as in adt-check and adt-seed");
    assert!(err.contains("missing.tar.gz") && !err.contains("cannot reach"), "{err}");
}

#[test]
fn uploads_verifies_and_rotates_through_the_binary() {
    let emulator = adt_testkit::Emulator::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (webroot, _) = site(dir.path());
    let url = format!("{}.example.com", adt_testkit::unique_bucket("bk"));
    let template = dir.path().join("site.tmpl");
    std::fs::write(
        &template,
        format!(
            "WEBSITE_URL=\"{url}\"\nS3_ACCESS_KEY=\"{}\"\nS3_SECRET_KEY=\"{}\"\nS3_HOST_BASE=\"{}\"\n\
             DIRECTORIES_TO_MOUNT=\"wp-content/uploads\"\nPERSIST_ASSETS_TO_DATASTORE=\"1\"\nBUILD_ARCHIVE_CHOICE=\"hourly\"\n",
            adt_testkit::ACCESS_KEY,
            adt_testkit::SECRET_KEY,
            emulator.endpoint()
        ),
    )
    .unwrap();
    let t = template.to_str().unwrap();
    let (code, _, err) = adt_backup(&["verify", "--template", t, "--webroot", &webroot, "--period", "daily"]);
    assert_eq!(code, 1, "nothing stored yet");
    assert!(err.contains("no such"), "{err}");
    let (code, out, err) = adt_backup(&["upload", "--template", t, "--webroot", &webroot, "--period", "daily"]);
    assert_eq!(code, 0, "{err}");
    let bucket = adt_template::backup_bucket_name(&url, adt_template::Period::Daily);
    assert!(
        out.contains(&format!("stored s3://{bucket}/applicationsourcecode.tar.gz")),
        "{out}"
    );
    let (code, out, err) = adt_backup(&[
        "upload",
        "--template",
        t,
        "--webroot",
        &webroot,
        "--period",
        "daily",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["stored"][0]["previous_kept"], true, "{report}");
    assert_eq!(report["failed"], serde_json::json!([]));
    for previous in [false, true] {
        let mut args = vec!["verify", "--template", t, "--webroot", &webroot, "--period", "daily"];
        if previous {
            args.push("--previous");
        }
        let (code, out, err) = adt_backup(&args);
        assert_eq!(code, 0, "{err}");
        assert!(
            out.contains("is a complete backup") && out.contains("marker present"),
            "{out}"
        );
    }
    assert_eq!(adt_backup(&["verify", "--template", t, "--period", "yearly"]).0, 2);
    assert!(!out_contains_secret(&out));
}

fn out_contains_secret(text: &str) -> bool {
    text.contains(adt_testkit::SECRET_KEY)
}

/// `--to file:///DIR` stores, rotates and verifies backups in a local
/// directory (the template's datastore is never contacted: it is down).
#[test]
fn uploads_and_verifies_in_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let (webroot, _) = site(dir.path());
    let template = dir.path().join("down.tmpl");
    std::fs::write(
        &template,
        "WEBSITE_URL=\"www.example.com\"\nS3_ACCESS_KEY=\"AK\"\nS3_SECRET_KEY=\"SK\"\nS3_HOST_BASE=\"http://127.0.0.1:1\"\n",
    )
    .unwrap();
    let t = template.to_str().unwrap();
    let to = format!("file://{}", dir.path().join("backups").display());
    let upload = [
        "upload",
        "--template",
        t,
        "--webroot",
        &webroot,
        "--period",
        "weekly",
        "--to",
        &to,
    ];
    for _ in 0..2 {
        let (code, out, err) = adt_backup(&upload);
        assert_eq!(code, 0, "{out}{err}");
        assert!(
            out.contains(&format!(
                "stored {to}/www-example-com-weekly/applicationsourcecode.tar.gz"
            )),
            "{out}"
        );
    }
    let stored = dir.path().join("backups/www-example-com-weekly");
    assert!(stored.join("applicationsourcecode.tar.gz").is_file());
    assert!(stored.join("applicationsourcecode.tar.gz.BACKUP").is_file(), "rotated");
    let (code, out, err) = adt_backup(&[
        "verify",
        "--template",
        t,
        "--period",
        "weekly",
        "--to",
        &to,
        "--previous",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("is a complete backup") && out.contains("marker present"),
        "{out}"
    );
    let (code, _, err) = adt_backup(&[
        "verify",
        "--template",
        t,
        "--period",
        "weekly",
        "--to",
        &to,
        "--endpoint",
        "http://x",
    ]);
    assert_eq!(code, 2, "--to and --endpoint conflict: {err}");
}

/// Issue 15: backups go to every chained datastore, as ADT stores them, so
/// a lost primary provider leaves a restorable site; a datastore that is
/// down is reported (exit 1) without stopping the others.
#[test]
fn uploads_to_every_chained_datastore_and_reports_the_one_that_is_down() {
    let (one, two) = (
        adt_testkit::Emulator::start().unwrap(),
        adt_testkit::Emulator::start().unwrap(),
    );
    let dir = tempfile::tempdir().unwrap();
    let (webroot, _) = site(dir.path());
    let url = format!("{}.example.com", adt_testkit::unique_bucket("ch"));
    let template = |hosts: &str| {
        let path = dir.path().join("chain.tmpl");
        std::fs::write(
            &path,
            format!(
                "WEBSITE_URL=\"{url}\"\nS3_ACCESS_KEY=\"{k}|{k}\"\nS3_SECRET_KEY=\"{s}\"\nS3_HOST_BASE=\"{hosts}\"\n\
                 APPLICATION=\"wordpress\"\n",
                k = adt_testkit::ACCESS_KEY,
                s = adt_testkit::SECRET_KEY,
            ),
        )
        .unwrap();
        path.display().to_string()
    };
    let both = template(&format!("{}|{}", one.endpoint(), two.endpoint()));
    let args = [
        "upload",
        "--template",
        &both,
        "--webroot",
        &webroot,
        "--period",
        "HOURLY",
        "--format",
        "json",
    ];
    let (code, out, err) = adt_backup(&args);
    assert_eq!(code, 0, "{out}{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let numbers: Vec<u64> = report["stored"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["datastore"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, [1, 2], "{report}");
    let bucket = adt_template::backup_bucket_name(&url, adt_template::Period::Hourly);
    let rt = common::runtime();
    for endpoint in [one.endpoint(), two.endpoint()] {
        let stored = rt.block_on(common::store(&endpoint).head(&bucket, "applicationsourcecode.tar.gz"));
        assert!(stored.unwrap().is_some(), "the backup is on {endpoint}");
    }

    let down = template(&format!("{}|http://127.0.0.1:1", one.endpoint()));
    let args = [
        "upload",
        "--template",
        &down,
        "--webroot",
        &webroot,
        "--period",
        "hourly",
        "--format",
        "json",
    ];
    let (code, out, err) = adt_backup(&args);
    assert_eq!(code, 1, "{out}{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["stored"][0]["datastore"], 1, "{report}");
    assert_eq!(report["stored"][0]["previous_kept"], true, "{report}");
    assert_eq!(report["failed"][0]["datastore"], 2, "{report}");
    assert!(
        err.contains("datastore 2 failed") && err.contains("127.0.0.1:1"),
        "{err}"
    );
}

/// During a migration ADT's webservers and ours back up the same site. On
/// a webserver, whose descriptor names SERVERUSER, an upload waits while
/// ADT's BACKUP_RUNNING is in ADT's config bucket, and holds it itself
/// (so ADT's cron skips) until it is done.
#[test]
fn an_upload_honours_adts_backup_running_lock() {
    let emulator = adt_testkit::Emulator::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (webroot, _) = site(dir.path());
    let url = format!("{}.example.com", adt_testkit::unique_bucket("adtlk"));
    let descriptor = dir.path().join("webserver_configuration_settings.dat");
    std::fs::write(
        &descriptor,
        format!(
            "WEBSITEURL:{url}\nSERVERUSER:Xk29fixtureuser\nS3ACCESSKEY:{}\nS3SECRETKEY:{}\nS3LOCATION:US\nS3HOSTBASE:{}\n\
             PERSISTASSETSTODATASTORE:0\nBUILDARCHIVECHOICE:hourly\n",
            adt_testkit::ACCESS_KEY,
            adt_testkit::SECRET_KEY,
            emulator.endpoint()
        ),
    )
    .unwrap();
    let config = adt_template::adt_config_bucket_name(&url, "Xk29fixtureuser").unwrap();
    assert!(config.ends_with("-config-xk29"), "{config}");
    let rt = common::runtime();
    let store = common::store(&emulator.endpoint());
    rt.block_on(store.ensure_bucket(&config)).unwrap();
    rt.block_on(store.put(&config, "BACKUP_RUNNING", bytes::Bytes::new(), &Default::default()))
        .unwrap();

    let d = descriptor.to_str().unwrap();
    let args = [
        "upload",
        "--template",
        d,
        "--webroot",
        &webroot,
        "--period",
        "HOURLY",
        "--lock-wait",
        "3",
    ];
    let (code, out, err) = adt_backup(&args);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("BACKUP_RUNNING") && err.contains("ADT webserver"), "{err}");
    let bucket = adt_template::backup_bucket_name(&url, adt_template::Period::Hourly);
    let stored = rt.block_on(store.bucket_exists(&bucket)).unwrap()
        && rt
            .block_on(store.head(&bucket, "applicationsourcecode.tar.gz"))
            .unwrap()
            .is_some();
    assert!(!stored, "nothing uploaded while ADT backs up");

    rt.block_on(store.delete(&config, "BACKUP_RUNNING")).unwrap();
    let (code, out, err) = adt_backup(&args);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        rt.block_on(store.head(&bucket, "applicationsourcecode.tar.gz"))
            .unwrap()
            .is_some()
    );
    assert!(
        rt.block_on(store.head(&config, "BACKUP_RUNNING")).unwrap().is_none(),
        "released when done"
    );

    // Datastore 1 (where ADT's lock lives) down: the lock is not taken,
    // with a warning, and datastore 2 still gets the backup.
    std::fs::write(
        &descriptor,
        format!(
            "WEBSITEURL:{url}\nSERVERUSER:Xk29fixtureuser\nS3ACCESSKEY:{k}|{k}\nS3SECRETKEY:{s}|{s}\nS3LOCATION:US\n\
             S3HOSTBASE:http://127.0.0.1:1|{}\nPERSISTASSETSTODATASTORE:0\nBUILDARCHIVECHOICE:hourly\n",
            emulator.endpoint(),
            k = adt_testkit::ACCESS_KEY,
            s = adt_testkit::SECRET_KEY,
        ),
    )
    .unwrap();
    rt.block_on(store.delete(&bucket, "applicationsourcecode.tar.gz"))
        .unwrap();
    let (code, out, err) = adt_backup(&args);
    assert_eq!(code, 1, "datastore 1 failed: {out}{err}");
    assert!(err.contains("ADT's backup lock not taken"), "{err}");
    assert!(
        rt.block_on(store.head(&bucket, "applicationsourcecode.tar.gz"))
            .unwrap()
            .is_some(),
        "datastore 2 got it: {err}"
    );
}

#[test]
fn keys_come_from_the_environment_or_a_private_file_when_the_template_has_none() {
    use std::os::unix::fs::PermissionsExt;
    let emulator = adt_testkit::Emulator::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("{}.example.com", adt_testkit::unique_bucket("keys"));
    let body = format!(
        "WEBSITE_URL=\"{url}\"\nS3_HOST_BASE=\"{}\"\nDIRECTORIES_TO_MOUNT=\"images\"\nPERSIST_ASSETS_TO_DATASTORE=\"1\"\nBUILD_ARCHIVE_CHOICE=\"hourly\"\n",
        emulator.endpoint()
    );
    let bare = dir.path().join("bare.tmpl");
    std::fs::write(&bare, &body).unwrap();
    let list = |template: &Path, env: &[(&str, &str)]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_adt-backup"));
        cmd.args(["list", "--template", template.to_str().unwrap()]);
        for k in adt_assets::adt_mounts::KEY_VARIABLES
            .iter()
            .chain(&["AWS_SHARED_CREDENTIALS_FILE"])
        {
            cmd.env_remove(k);
        }
        cmd.env("HOME", dir.path());
        cmd.envs(env.iter().copied());
        common::output(&mut cmd)
    };
    let (code, out, err) = list(&bare, &[]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("no keys for datastore 1"), "{err}");
    for env in [
        [
            ("S3_ACCESS_KEY", adt_testkit::ACCESS_KEY),
            ("S3_SECRET_KEY", adt_testkit::SECRET_KEY),
        ],
        [
            ("AWS_ACCESS_KEY_ID", adt_testkit::ACCESS_KEY),
            ("AWS_SECRET_ACCESS_KEY", adt_testkit::SECRET_KEY),
        ],
    ] {
        let (code, out, err) = list(&bare, &env);
        assert_eq!(code, 0, "{env:?}: {out}{err}");
        assert!(out.contains("-hourly: no bucket"), "{out}");
        assert!(!out.contains(adt_testkit::SECRET_KEY) && !err.contains(adt_testkit::SECRET_KEY));
    }

    // A credentials file the template names, private to root.
    let file = dir.path().join("s3.credentials");
    std::fs::write(
        &file,
        format!(
            "[datastore1]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            adt_testkit::ACCESS_KEY,
            adt_testkit::SECRET_KEY
        ),
    )
    .unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let named = dir.path().join("named.tmpl");
    std::fs::write(&named, format!("{body}S3_CREDENTIALS_FILE=\"{}\"\n", file.display())).unwrap();
    let (code, out, err) = list(&named, &[]);
    assert_eq!(code, 0, "{out}{err}");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, out, err) = list(&named, &[]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("chmod 600"), "{err}");
    assert!(!err.contains(adt_testkit::SECRET_KEY));
}
