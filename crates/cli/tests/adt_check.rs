//! adt-check run as a user would, on every fixture: snapshots of its human
//! and JSON output, exit codes, and that no secret ever reaches the output.

use std::fs::File;
use std::path::{Path, PathBuf};

use assert_cmd::Command;

mod common;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn adt_check() -> Command {
    let mut cmd = Command::cargo_bin("adt-check").unwrap();
    cmd.current_dir(workspace()).env("NO_COLOR", "1");
    cmd
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(args: &[&str]) -> Run {
    let out = adt_check().args(args).output().unwrap();
    Run {
        code: out.status.code().unwrap(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

fn fixtures(dir: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(workspace().join("fixtures/templates").join(dir))
        .unwrap()
        .map(|e| format!("fixtures/templates/{dir}/{}", e.unwrap().file_name().to_string_lossy()))
        .collect();
    names.sort();
    names
}

/// The joomla fixture webroot as a backup archive, built the way ADT
/// names entries (`./images/...`).
fn joomla_backup(dir: &Path) -> PathBuf {
    let path = dir.join("applicationsourcecode.tar.gz");
    let gz = flate2::write::GzEncoder::new(File::create(&path).unwrap(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    tar.append_dir_all(".", workspace().join("fixtures/webroots/joomla"))
        .unwrap();
    tar.into_inner().unwrap().finish().unwrap();
    path
}

fn stem(path: &str) -> String {
    Path::new(path).file_name().unwrap().to_string_lossy().replace('.', "_")
}

/// Every fake credential in the fixtures has one of these in it.
const SECRET_MARKERS: &[&str] = &[
    "fakeSecretKey",
    "FAKEACCESSKEY",
    "ghp_fake",
    "fake-smtp",
    "fake-dns",
    "abcdef0123",
];

fn assert_no_secret(text: &str) {
    for marker in SECRET_MARKERS {
        assert!(!text.contains(marker), "output shows a secret ({marker}):\n{text}");
    }
}

#[test]
fn every_rule_fixture_reports_its_rule() {
    let backup_dir = tempfile::tempdir().unwrap();
    let backup = joomla_backup(backup_dir.path());
    // The online rules need a datastore or this machine: the online_* tests.
    let offline = adt_template::Rule::ALL.iter().filter(|r| !r.is_online());
    for rule in offline {
        let fixture = format!("fixtures/templates/rules/{}.tmpl", rule.id());
        let out = run(&["--format", "json", "--backup", backup.to_str().unwrap(), &fixture]);
        let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        let rules: Vec<&str> = report["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["rule"].as_str().unwrap())
            .collect();
        assert!(
            rules.contains(&rule.id()),
            "{fixture} does not report {}: {rules:?}",
            rule.id()
        );
        let errors = report["errors"].as_u64().unwrap();
        assert_eq!(out.code, if errors > 0 { 1 } else { 0 }, "{fixture}");
    }
}

#[test]
fn rule_fixtures_snapshots() {
    for fixture in fixtures("rules") {
        let human = run(&[&fixture]);
        let json = run(&["--format", "json", &fixture]);
        assert_no_secret(&human.stdout);
        assert_no_secret(&json.stdout);
        assert!(
            human.stderr.is_empty() && json.stderr.is_empty(),
            "{fixture}: {}",
            human.stderr
        );
        let name = stem(&fixture);
        insta::assert_snapshot!(
            format!("{name}_human"),
            format!("exit: {}\n{}", human.code, human.stdout)
        );
        insta::assert_snapshot!(format!("{name}_json"), json.stdout);
    }
}

#[test]
fn mount_dir_missing_in_backup_needs_the_archive() {
    let fixture = "fixtures/templates/rules/mount-dir-missing-in-backup.tmpl";
    let without = run(&[fixture]);
    assert_eq!(without.code, 0, "{}", without.stdout);
    let dir = tempfile::tempdir().unwrap();
    let backup = joomla_backup(dir.path());
    let with = run(&["--backup", backup.to_str().unwrap(), fixture]);
    assert_eq!(with.code, 1);
    insta::assert_snapshot!("mount_dir_missing_in_backup_with_archive", with.stdout);
    // The clean joomla template's `images` is in that backup.
    let clean = run(&[
        "--backup",
        backup.to_str().unwrap(),
        "fixtures/templates/clean/joomla.tmpl",
    ]);
    assert_eq!(clean.code, 0, "{}", clean.stdout);
}

#[test]
fn clean_templates_have_no_findings() {
    let all = fixtures("clean");
    assert!(all.len() >= 7);
    for fixture in &all {
        let out = run(&["--format", "json", fixture]);
        assert_eq!(out.code, 0, "{fixture}: {}", out.stdout);
        let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(
            report["diagnostics"].as_array().unwrap().len(),
            0,
            "{fixture}: {}",
            out.stdout
        );
        assert_no_secret(&out.stdout);
    }
    let mut args = vec!["--format", "json"];
    args.extend(all.iter().map(String::as_str));
    let together = run(&args);
    assert_eq!(together.code, 0);
    assert_eq!(together.stdout.lines().count(), all.len(), "one JSON line per template");
    let human = run(&[
        "fixtures/templates/clean/joomla.tmpl",
        "fixtures/templates/clean/moodle.yaml",
    ]);
    insta::assert_snapshot!("clean_human", human.stdout);
}

#[test]
fn several_templates_exit_with_the_worst_outcome() {
    let out = run(&[
        "fixtures/templates/clean/joomla.tmpl",
        "fixtures/templates/rules/syntax.tmpl",
    ]);
    assert_eq!(out.code, 1);
    let out = run(&[
        "fixtures/templates/rules/syntax.tmpl",
        "fixtures/templates/missing.tmpl",
    ]);
    assert_eq!(out.code, 2);
    assert!(out.stdout.contains("syntax.tmpl"), "the readable one is still checked");
    assert!(out.stderr.contains("fixtures/templates/missing.tmpl"), "{}", out.stderr);
}

#[test]
fn unreadable_input_and_bad_usage_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = dir.path().join("broken.yaml");
    std::fs::write(&yaml, "WEBSITE_URL: [unclosed\n").unwrap();
    let out = run(&[yaml.to_str().unwrap()]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("not valid YAML"), "{}", out.stderr);

    let binary = dir.path().join("binary.tmpl");
    std::fs::write(&binary, b"export A=\"\xff\xfe\"\n").unwrap();
    let out = run(&[binary.to_str().unwrap()]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("not UTF-8"), "{}", out.stderr);

    let bad_archive = dir.path().join("bad.tar.gz");
    std::fs::write(&bad_archive, b"\x1f\x8b\x08\x00truncated").unwrap();
    let out = run(&[
        "--backup",
        bad_archive.to_str().unwrap(),
        "fixtures/templates/clean/joomla.tmpl",
    ]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("bad.tar.gz"), "{}", out.stderr);

    assert_eq!(run(&[]).code, 2);
    assert_eq!(
        run(&["--format", "xml", "fixtures/templates/clean/joomla.tmpl"]).code,
        2
    );
    assert_eq!(
        run(&["--webroot", "relative", "fixtures/templates/clean/joomla.tmpl"]).code,
        2
    );
    let help = run(&["--help"]);
    assert_eq!(help.code, 0);
    assert!(help.stdout.contains("Exit status"));
}

#[test]
fn descriptor_and_yaml_findings_point_at_their_lines() {
    let dir = tempfile::tempdir().unwrap();
    let descriptor = dir.path().join("webserver.dat");
    std::fs::write(
        &descriptor,
        "WEBSITEURL:www.example.com\nPERSISTASSETSTODATASTORE:yes\nDIRECTORIESTOMOUNT:images\nS3SECRETKEY:fakeSecretKeyX\nS3ACCESSKEY:FAKEACCESSKEYX\nS3HOSTBASE:a.example.com\nPERISTASSETS:1\n",
    )
    .unwrap();
    let out = run(&["--format", "json", descriptor.to_str().unwrap()]);
    assert_no_secret(&out.stdout);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let found: Vec<(String, u64, u64)> = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["rule"].as_str().unwrap().to_string(),
                d["line"].as_u64().unwrap(),
                d["column"].as_u64().unwrap(),
            )
        })
        .collect();
    assert!(found.contains(&("invalid-boolean".into(), 2, 26)), "{found:?}");
    assert!(found.contains(&("unknown-variable".into(), 7, 1)), "{found:?}");
}

/// ADT's own files (fixtures/adt, from adt-build-machine-scripts; its
/// README says which commit and how the descriptor was rendered): every
/// stock template, and the webserver descriptor as ADT's build machine
/// renders it, are read as ADT reads them: no unknown or duplicate
/// variable (ADT's descriptor writes DATABASEINSTALLATIONTYPE and
/// SSLLIVECERT twice, with the same value), no error, no secret shown.
#[test]
fn adts_own_templates_and_descriptors_check_clean() {
    let mut files: Vec<String> = std::fs::read_dir(workspace().join("fixtures/adt/templates"))
        .unwrap()
        .map(|e| format!("fixtures/adt/templates/{}", e.unwrap().file_name().to_string_lossy()))
        .collect();
    files.sort();
    assert_eq!(files.len(), 12, "three templates for each of ADT's four clouds");
    files.push("fixtures/adt/webserver_configuration_settings.dat".into());
    files.push("fixtures/adt/webserver_configuration_settings.merge.dat".into());
    let fake = [
        "AKIAFAKEFIXTURE",
        "fixturesecret",
        "fixturepassword",
        "fixturedbpass",
        "fixturednskey",
        "fixturetoken",
        "fixturemailpass",
        "fixturerepotoken",
    ];
    let mut human_all = String::new();
    let mut json_all = String::new();
    for file in &files {
        let human = run(&[file]);
        let json = run(&["--format", "json", file]);
        assert_eq!(
            (human.code, json.code),
            (0, 0),
            "{file}: {}{}",
            human.stdout,
            human.stderr
        );
        let report: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
        for d in report["diagnostics"].as_array().unwrap() {
            let rule = d["rule"].as_str().unwrap();
            assert!(
                !matches!(rule, "unknown-variable" | "duplicate-variable" | "syntax"),
                "{file}: {d}"
            );
        }
        for text in [&human.stdout, &human.stderr, &json.stdout] {
            for secret in fake {
                assert!(!text.contains(secret), "{file} shows a secret ({secret}):\n{text}");
            }
        }
        human_all.push_str(&human.stdout);
        json_all.push_str(&json.stdout);
    }
    insta::assert_snapshot!("adt_files_human", human_all);
    insta::assert_snapshot!("adt_files_json", json_all);
}

/// The rendered descriptors are what ADT's own loop makes of ADT's
/// descriptor (fixtures/adt/render-descriptor.sh runs it with /bin/sh).
#[test]
fn the_descriptor_fixtures_are_adts_rendering() {
    let adt = workspace().join("fixtures/adt");
    for (environment, rendered) in [
        ("build_environment", "webserver_configuration_settings.dat"),
        ("build_environment.merge", "webserver_configuration_settings.merge.dat"),
    ] {
        let out = std::process::Command::new("/bin/sh")
            .arg(adt.join("render-descriptor.sh"))
            .arg(adt.join("webserver_descriptor.dat"))
            .arg(adt.join(environment))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            std::fs::read_to_string(adt.join(rendered)).unwrap(),
            "{rendered}"
        );
    }
}

/// ADT's CheckForAssetsOverwrite: a baseline (or virgin) build whose asset
/// buckets already hold objects is warned about (`--online` reaches
/// datastore 1); nothing is deleted. A temporal build is expected to find
/// its assets there.
#[test]
fn online_warns_when_a_fresh_build_finds_assets_already_stored() {
    let emulator = adt_testkit::Emulator::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("{}.example.com", adt_testkit::unique_bucket("ovw"));
    let write = |choice: &str, host: &str| {
        let path = dir.path().join(format!("{choice}.tmpl"));
        std::fs::write(
            &path,
            format!(
                "export WEBSITE_URL=\"{url}\"\nexport APPLICATION=\"joomla\"\nexport BUILD_ARCHIVE_CHOICE=\"{choice}\"\n\
                 export PERSIST_ASSETS_TO_DATASTORE=\"0\"\nexport DIRECTORIES_TO_MOUNT=\"images:media\"\n\
                 export S3_ACCESS_KEY=\"{}\"\nexport S3_SECRET_KEY=\"{}\"\nexport S3_HOST_BASE=\"{host}\"\n",
                adt_testkit::ACCESS_KEY,
                adt_testkit::SECRET_KEY,
            ),
        )
        .unwrap();
        path.display().to_string()
    };
    let images = adt_template::derive_bucket_name(&url, "images");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let store = {
        let c = adt_datastore::Connection::new(
            adt_datastore::Endpoint::parse(&emulator.endpoint(), None).unwrap(),
            adt_datastore::Secret::new(adt_testkit::ACCESS_KEY),
            adt_datastore::Secret::new(adt_testkit::SECRET_KEY),
        );
        adt_datastore::Store::connect(&c).unwrap()
    };
    rt.block_on(store.ensure_bucket(&images)).unwrap();
    for i in 0..3 {
        rt.block_on(store.put(
            &images,
            &format!("old/{i}.jpg"),
            bytes::Bytes::from_static(b"x"),
            &Default::default(),
        ))
        .unwrap();
    }
    let baseline = write("baseline", &emulator.endpoint());

    let offline = run(&["--format", "json", &baseline]);
    assert!(
        !offline.stdout.contains("assets-already-stored"),
        "offline looks at nothing"
    );

    let online = run(&["--online", "--format", "json", &baseline]);
    assert_eq!(online.code, 0, "a warning: {}{}", online.stdout, online.stderr);
    let report: serde_json::Value = serde_json::from_str(&online.stdout).unwrap();
    let found: Vec<&serde_json::Value> = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["rule"] == "assets-already-stored")
        .collect();
    assert_eq!(found.len(), 1, "images only: {report}");
    assert_eq!(found[0]["severity"], "warning");
    let message = found[0]["message"].as_str().unwrap();
    assert!(
        message.contains(&images) && message.contains("3 objects") && message.contains("baseline build"),
        "{message}"
    );
    let listed = rt.block_on(store.list(&images, None)).unwrap();
    assert_eq!(listed.len(), 3, "nothing deleted");
    let human = run(&["--online", &baseline]);
    assert!(
        human.stdout.contains("warning[assets-already-stored]"),
        "{}",
        human.stdout
    );

    let hourly = write("hourly", &emulator.endpoint());
    // The backup an hourly build restores from (else backup-bucket-missing).
    rt.block_on(store.ensure_bucket(&adt_template::backup_bucket_name(&url, adt_template::Period::Hourly)))
        .unwrap();
    let temporal = run(&["--online", "--format", "json", &hourly]);
    assert_eq!(temporal.code, 0, "{}{}", temporal.stdout, temporal.stderr);
    assert!(
        !temporal.stdout.contains("assets-already-stored"),
        "{}",
        temporal.stdout
    );

    let dead = write("virgin", "http://127.0.0.1:1");
    let unreachable = run(&["--online", &dead]);
    assert_eq!(unreachable.code, 1, "{}{}", unreachable.stdout, unreachable.stderr);
    assert!(
        unreachable.stdout.contains("error[datastore-unreachable]")
            && unreachable.stdout.contains("datastore 1 (http://127.0.0.1:1)"),
        "{}",
        unreachable.stdout
    );
}

/// A template for site `url` on `datastores` (endpoint, access key, secret
/// key), `images` and `media` persisted, built from the hourly backup.
fn online_template(dir: &Path, name: &str, url: &str, datastores: &[(&str, &str, &str)]) -> String {
    let join = |i: usize| {
        datastores
            .iter()
            .map(|d| [d.0, d.1, d.2][i])
            .collect::<Vec<_>>()
            .join("|")
    };
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!(
            "export WEBSITE_URL=\"{url}\"\nexport APPLICATION=\"joomla\"\nexport BUILD_ARCHIVE_CHOICE=\"hourly\"\n\
             export PERSIST_ASSETS_TO_DATASTORE=\"1\"\nexport DIRECTORIES_TO_MOUNT=\"images:media\"\n\
             export S3_HOST_BASE=\"{}\"\nexport S3_ACCESS_KEY=\"{}\"\nexport S3_SECRET_KEY=\"{}\"\n",
            join(0),
            join(1),
            join(2),
        ),
    )
    .unwrap();
    path.display().to_string()
}

/// The findings of one JSON report: (rule, severity, message).
fn findings(out: &Run) -> Vec<(String, String, String)> {
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.stdout));
    report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["rule"].as_str().unwrap().to_string(),
                d["severity"].as_str().unwrap().to_string(),
                d["message"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The rules about this machine: they depend on it, not on the datastore.
const MACHINE_RULES: &[&str] = &[
    "mount-tool-missing",
    "mount-tool-version",
    "fuse-device-missing",
    "fuse-allow-other",
    "web-user-missing",
];

/// `--online` on a live datastore with good keys: no error from any
/// datastore rule; a missing asset bucket, and a missing backup bucket a
/// temporal build restores from, are named; nothing is created.
#[test]
fn online_checks_every_datastore_and_names_missing_buckets() {
    let emulator = adt_testkit::Emulator::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("{}.example.com", adt_testkit::unique_bucket("onl"));
    let good = (
        emulator.endpoint(),
        adt_testkit::ACCESS_KEY.to_string(),
        adt_testkit::SECRET_KEY.to_string(),
    );
    let good = (good.0.as_str(), good.1.as_str(), good.2.as_str());
    // Two datastores, both the emulator.
    let template = online_template(dir.path(), "site.tmpl", &url, &[good, good]);
    let images = adt_template::derive_bucket_name(&url, "images");
    let media = adt_template::derive_bucket_name(&url, "media");
    let hourly = adt_template::backup_bucket_name(&url, adt_template::Period::Hourly);
    emulator.create_bucket(&images).unwrap();

    let out = run(&["--online", "--format", "json", &template]);
    let found = findings(&out);
    let datastore_errors: Vec<_> = found
        .iter()
        .filter(|(rule, severity, _)| severity == "error" && !MACHINE_RULES.contains(&rule.as_str()))
        .collect();
    assert_eq!(datastore_errors.len(), 1, "only the backup bucket: {found:?}");
    let (rule, _, message) = datastore_errors[0];
    assert_eq!(rule, "backup-bucket-missing");
    assert!(
        message.contains(&format!("`{hourly}`")) && message.contains("datastore 1"),
        "{message}"
    );
    assert_eq!(out.code, 1, "{}", out.stdout);

    emulator.create_bucket(&hourly).unwrap();
    let out = run(&["--online", "--format", "json", &template]);
    let found = findings(&out);
    assert!(
        !found
            .iter()
            .any(|(rule, severity, _)| severity == "error" && !MACHINE_RULES.contains(&rule.as_str())),
        "{found:?}"
    );
    let missing: Vec<&str> = found
        .iter()
        .filter(|(rule, _, _)| rule == "bucket-missing")
        .map(|(_, severity, message)| {
            assert_eq!(severity, "warning");
            message.as_str()
        })
        .collect();
    assert_eq!(missing.len(), 1, "media only, on datastore 1: {found:?}");
    assert!(
        missing[0].contains(&format!("`{media}`")) && missing[0].contains("datastore 1"),
        "{}",
        missing[0]
    );
    assert!(
        !found.iter().any(|(_, _, m)| m.contains(&format!("`{images}`"))),
        "{found:?}"
    );
    let machine_errors = found
        .iter()
        .any(|(rule, severity, _)| severity == "error" && MACHINE_RULES.contains(&rule.as_str()));
    assert_eq!(out.code, if machine_errors { 1 } else { 0 }, "{}", out.stdout);
    assert_no_secret(&out.stdout);
    assert!(!out.stdout.contains(adt_testkit::SECRET_KEY) && !out.stdout.contains(adt_testkit::ACCESS_KEY));

    let human = run(&["--online", &template]);
    assert!(human.stdout.contains("warning[bucket-missing]"), "{}", human.stdout);
    assert!(!human.stdout.contains(adt_testkit::ACCESS_KEY), "{}", human.stdout);
    // adt-check changed nothing.
    let store = common::store(&emulator.endpoint());
    assert!(!common::runtime().block_on(store.bucket_exists(&media)).unwrap());
}

/// A closed port: one clear line naming the datastore and endpoint, exit 1.
#[test]
fn online_names_a_dead_endpoint_in_one_line() {
    let endpoint = adt_testkit::closed_endpoint();
    let dir = tempfile::tempdir().unwrap();
    let template = online_template(
        dir.path(),
        "dead.tmpl",
        "www.example.com",
        &[(&endpoint, "FAKEACCESSKEYDEAD", "fakeSecretKeyDead")],
    );
    let out = run(&["--online", &template]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    // This machine's own findings (a missing tool) are not about the datastore.
    let heads: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("error[") && !MACHINE_RULES.iter().any(|r| l.starts_with(&format!("error[{r}]"))))
        .collect();
    assert_eq!(heads.len(), 1, "{}", out.stdout);
    assert!(
        heads[0].starts_with("error[datastore-unreachable]: datastore 1 (")
            && heads[0].contains(&endpoint)
            && heads[0].contains("connection refused"),
        "{}",
        heads[0]
    );
    assert!(
        !out.stdout.contains("bucket-missing"),
        "no bucket look-ups: {}",
        out.stdout
    );
    assert_no_secret(&out.stdout);
    assert_no_secret(&out.stderr);
}

/// Wrong keys: rejected, naming the datastore and the key variable.
#[test]
fn online_says_which_key_a_datastore_rejects() {
    let emulator = adt_testkit::Emulator::start().unwrap();
    let endpoint = emulator.endpoint();
    let dir = tempfile::tempdir().unwrap();
    let good = (endpoint.as_str(), adt_testkit::ACCESS_KEY, adt_testkit::SECRET_KEY);
    let cases = [
        ("FAKEACCESSKEYWRONG", adt_testkit::SECRET_KEY, "S3_ACCESS_KEY"),
        (adt_testkit::ACCESS_KEY, "fakeSecretKeyWrong0123456789", "S3_SECRET_KEY"),
    ];
    for (access, secret, variable) in cases {
        // Datastore 1 is fine; datastore 2 has the wrong key.
        let template = online_template(
            dir.path(),
            "keys.tmpl",
            "www.example.com",
            &[good, (&endpoint, access, secret)],
        );
        let out = run(&["--online", "--format", "json", &template]);
        assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
        let rejected: Vec<_> = findings(&out)
            .into_iter()
            .filter(|(rule, _, _)| rule == "keys-rejected")
            .collect();
        assert_eq!(rejected.len(), 1, "{}", out.stdout);
        let (_, severity, message) = &rejected[0];
        assert_eq!(severity, "error");
        assert!(
            message.starts_with("keys rejected by datastore 2 (") && message.contains(variable),
            "{message}"
        );
        assert_no_secret(&out.stdout);
        assert!(!out.stdout.contains(adt_testkit::SECRET_KEY), "{}", out.stdout);
        let human = run(&["--online", &template]);
        assert!(human.stdout.contains("error[keys-rejected]"), "{}", human.stdout);
        assert_no_secret(&human.stdout);
    }
}

#[test]
fn list_rules_and_explain() {
    let list = run(&["--list-rules"]);
    assert_eq!(list.code, 0, "{}", list.stderr);
    assert_eq!(list.stdout.lines().count(), adt_template::Rule::ALL.len());
    insta::assert_snapshot!("list_rules", list.stdout);
    let json = run(&["--list-rules", "--format", "json"]);
    let rules: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(rules.as_array().unwrap().len(), adt_template::Rule::ALL.len());

    let explained = run(&["--explain", "keys-rejected"]);
    assert_eq!(explained.code, 0, "{}", explained.stderr);
    insta::assert_snapshot!("explain_keys_rejected", explained.stdout);

    let unknown = run(&["--explain", "keys-rejceted"]);
    assert_eq!(unknown.code, 2);
    assert!(unknown.stdout.is_empty());
    assert!(
        unknown.stderr.contains("no rule `keys-rejceted`") && unknown.stderr.contains("did you mean `keys-rejected`?"),
        "{}",
        unknown.stderr
    );
    assert_eq!(
        run(&["--explain", "syntax", "fixtures/templates/clean/joomla.tmpl"]).code,
        2
    );
}

/// One naming of flags (docs/cli.md): `--json` is `--format json`, and the
/// archive flag is `--archive`, its old name `--backup` still accepted.
#[test]
fn json_is_an_alias_and_archive_has_one_name() {
    let template = "fixtures/templates/clean/wordpress.tmpl";
    let long = run(&["--format", "json", template]);
    let short = run(&["--json", template]);
    assert_eq!((long.code, &long.stdout), (short.code, &short.stdout));
    assert!(short.stdout.starts_with('{'), "{}", short.stdout);
    assert_eq!(run(&["--json", "--format", "human", template]).code, 2, "contradictory");
    let missing = "/nonexistent/applicationsourcecode.tar.gz";
    for flag in ["--archive", "--backup"] {
        let r = run(&[flag, missing, template]);
        assert_eq!(r.code, 2, "{flag}: {}", r.stderr);
        assert!(r.stderr.contains(missing), "{flag}: {}", r.stderr);
    }
}
