//! adt-replicate run as a user would, with two embedded emulators as two
//! providers: chained templates, --to-endpoint, the deletion guard, a
//! destination that is down, a run killed and resumed, and usage errors.

mod common;

use common::{output, runtime, store};

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use adt_datastore::{PutOptions, Store};
use adt_testkit::{ACCESS_KEY, Emulator, Fault, FaultProxy, SECRET_KEY, pattern, unique_bucket};
use bytes::Bytes;

struct Site {
    dir: tempfile::TempDir,
    url: String,
}

impl Site {
    /// A template for a unique site whose datastores are `endpoints`, in order.
    fn new(endpoints: &[&str], persist: &str) -> Site {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("{}.example.com", unique_bucket("site"));
        let chain = |v: &str| vec![v; endpoints.len()].join("|");
        let template = format!(
            "export APPLICATION=\"joomla\"\nexport WEBSITE_URL=\"{url}\"\nexport BUILD_ARCHIVE_CHOICE=\"hourly\"\n\
             export S3_ACCESS_KEY=\"{}\"\nexport S3_SECRET_KEY=\"{}\"\nexport S3_HOST_BASE=\"{}\"\n\
             export S3_LOCATION=\"{}\"\nexport DIRECTORIES_TO_MOUNT=\"images:media\"\n\
             export PERSIST_ASSETS_TO_DATASTORE=\"{persist}\"\nexport SYNC_WEBROOTS=\"0\"\n",
            chain(ACCESS_KEY),
            chain(SECRET_KEY),
            endpoints.join("|"),
            chain("us-east-1"),
        );
        std::fs::write(dir.path().join("site.tmpl"), template).unwrap();
        Site { dir, url }
    }

    fn template(&self) -> PathBuf {
        self.dir.path().join("site.tmpl")
    }

    fn bucket(&self, dir: &str) -> String {
        adt_template::derive_bucket_name(&self.url, dir)
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_adt-replicate"));
        cmd.arg("--template")
            .arg(self.template())
            .args(args)
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env("NO_COLOR", "1");
        cmd
    }

    fn run_with(&self, mut cmd: Command) -> (i32, String, String) {
        let (code, stdout, stderr) = output(&mut cmd);
        assert!(
            !stdout.contains(SECRET_KEY) && !stderr.contains(SECRET_KEY) && !stderr.contains(ACCESS_KEY),
            "a key in the output"
        );
        (code, stdout, stderr)
    }

    fn run(&self, args: &[&str]) -> (i32, String, String) {
        self.run_with(self.command(args))
    }

    fn json(&self, args: &[&str], expect: i32) -> serde_json::Value {
        let mut all = args.to_vec();
        all.extend(["--format", "json"]);
        let (code, out, err) = self.run(&all);
        assert_eq!(code, expect, "{out}{err}");
        serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"))
    }
}

/// Seeds the primary's buckets of `site` with `n` small images and one PDF.
fn fill(rt: &tokio::runtime::Runtime, primary: &Store, site: &Site, n: usize) {
    rt.block_on(async {
        let (images, media) = (site.bucket("images"), site.bucket("media"));
        primary.ensure_bucket(&images).await.unwrap();
        primary.ensure_bucket(&media).await.unwrap();
        let opts = PutOptions {
            content_type: Some("image/jpeg".into()),
            ..PutOptions::default()
        };
        for i in 0..n {
            let body = Bytes::from(pattern(2_000 + i * 13, i as u8));
            primary.put(&images, &format!("{i:03}.jpg"), body, &opts).await.unwrap();
        }
        primary
            .put(&media, "doc.pdf", Bytes::from_static(b"%PDF"), &PutOptions::default())
            .await
            .unwrap();
    });
}

fn row<'a>(json: &'a serde_json::Value, bucket: &str, destination: u64) -> &'a serde_json::Value {
    json["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["bucket"] == bucket && b["destination"] == destination)
        .unwrap_or_else(|| panic!("no row for {bucket} on {destination}: {json}"))
}

#[test]
fn a_chained_template_is_replicated_and_a_rerun_copies_nothing() {
    let (one, two) = (Emulator::start().unwrap(), Emulator::start().unwrap());
    let site = Site::new(&[&one.endpoint(), &two.endpoint()], "1");
    let rt = runtime();
    let (primary, copy) = (store(&one.endpoint()), store(&two.endpoint()));
    fill(&rt, &primary, &site, 12);

    let (code, out, err) = site.run(&[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("replicated: from datastore 1") && out.contains("(bucket created)"),
        "{out}"
    );
    assert!(
        out.contains(&site.bucket("images")) && out.contains(&two.endpoint()),
        "{out}"
    );
    let listed = rt.block_on(copy.list(&site.bucket("images"), None)).unwrap();
    assert_eq!(listed.len(), 12);
    let (meta, body) = rt.block_on(copy.get_bytes(&site.bucket("images"), "007.jpg")).unwrap();
    assert_eq!(
        (meta.content_type.as_deref(), body.len()),
        (Some("image/jpeg"), 2_000 + 7 * 13)
    );

    let json = site.json(&[], 0);
    assert_eq!(json["failed_destinations"], serde_json::json!([]));
    for (bucket, n) in [(site.bucket("images"), 12), (site.bucket("media"), 1)] {
        let r = row(&json, &bucket, 2);
        assert_eq!((r["copied"].as_u64(), r["skipped"].as_u64()), (Some(0), Some(n)), "{r}");
        assert_eq!((r["deleted"].as_u64(), r["bytes"].as_u64()), (Some(0), Some(0)));
    }
}

#[test]
fn deletions_are_guarded_and_dry_runs_change_nothing() {
    let (one, two) = (Emulator::start().unwrap(), Emulator::start().unwrap());
    let site = Site::new(&[&one.endpoint(), &two.endpoint()], "1");
    let rt = runtime();
    let (primary, copy) = (store(&one.endpoint()), store(&two.endpoint()));
    fill(&rt, &primary, &site, 10);
    site.json(&[], 0);
    let images = site.bucket("images");
    rt.block_on(async {
        for k in ["000.jpg", "001.jpg"] {
            primary.delete(&images, k).await.unwrap();
        }
    });

    // 2 of 10 is over the default 10%: refused, exit 1, nothing deleted.
    let (code, out, err) = site.run(&["--delete"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("of 10 objects")
            && err.contains("2 deleted")
            && err.contains("--max-change 10%")
            && err.contains(&images),
        "{err}"
    );
    assert_eq!(rt.block_on(copy.list(&images, None)).unwrap().len(), 10);

    let (code, out, err) = site.run(&["--delete", "--max-delete", "2", "--dry-run"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!("would delete s3://{images}/000.jpg from datastore 2")),
        "{out}"
    );
    assert!(out.contains("dry run, nothing changed"), "{out}");
    assert_eq!(rt.block_on(copy.list(&images, None)).unwrap().len(), 10);

    let json = site.json(&["--delete", "--max-delete", "20%"], 0);
    assert_eq!(row(&json, &images, 2)["deleted"].as_u64(), Some(2));
    assert_eq!(row(&json, &images, 2)["preserved"].as_u64(), Some(2));
    let left = rt.block_on(copy.list(&images, None)).unwrap();
    let kept: Vec<_> = left.iter().filter(|o| o.key.starts_with(".adt-replaced/")).collect();
    assert_eq!(
        (left.len() - kept.len(), kept.len()),
        (8, 2),
        "deleted, and kept under .adt-replaced/"
    );
}

#[test]
fn a_destination_that_is_down_fails_alone() {
    let (one, three) = (Emulator::start().unwrap(), Emulator::start().unwrap());
    let down = adt_testkit::closed_endpoint();
    let site = Site::new(&[&one.endpoint(), &down, &three.endpoint()], "1");
    let rt = runtime();
    fill(&rt, &store(&one.endpoint()), &site, 3);

    let started = Instant::now();
    let json = site.json(&[], 1);
    assert!(started.elapsed() < Duration::from_secs(30), "{:?}", started.elapsed());
    let failed = json["failed_destinations"].as_array().unwrap();
    assert_eq!(failed.len(), 1, "{json}");
    assert_eq!(
        (failed[0]["destination"].as_u64(), failed[0]["endpoint"].as_str()),
        (Some(2), Some(down.as_str()))
    );
    assert_eq!(row(&json, &site.bucket("images"), 3)["copied"].as_u64(), Some(3));
    let (code, _, err) = site.run(&[]);
    assert_eq!(code, 1);
    assert!(err.contains(&format!("datastore 2 ({down}) failed")), "{err}");
}

#[test]
fn to_endpoint_replicates_a_single_datastore_template() {
    let (one, two) = (Emulator::start().unwrap(), Emulator::start().unwrap());
    let site = Site::new(&[&one.endpoint()], "1");
    let rt = runtime();
    fill(&rt, &store(&one.endpoint()), &site, 2);

    let (code, _, err) = site.run(&[]);
    assert_eq!(code, 2);
    assert!(
        err.contains("names one datastore") && err.contains("--to-endpoint"),
        "{err}"
    );
    let (code, _, err) = site.run(&["--to-endpoint", &two.endpoint()]);
    assert_eq!(code, 2);
    assert!(err.contains("AWS_ACCESS_KEY_ID"), "{err}");

    let mut cmd = site.command(&["--to-endpoint", &two.endpoint(), "--format", "json"]);
    cmd.env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY);
    let (code, out, err) = site.run_with(cmd);
    assert_eq!(code, 0, "{out}{err}");
    let json: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(row(&json, &site.bucket("images"), 2)["copied"].as_u64(), Some(2));
    assert_eq!(
        rt.block_on(store(&two.endpoint()).list(&site.bucket("media"), None))
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn a_killed_run_resumes() {
    let (one, two) = (Emulator::start().unwrap(), Emulator::start().unwrap());
    let proxy = FaultProxy::start(&two.endpoint()).unwrap();
    proxy.add(Fault::Latency(Duration::from_millis(30)));
    let site = Site::new(&[&one.endpoint(), &proxy.endpoint()], "1");
    let rt = runtime();
    fill(&rt, &store(&one.endpoint()), &site, 150);
    let copy = store(&two.endpoint());
    let images = site.bucket("images");

    let mut child = site
        .command(&["--jobs", "2"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let copied = loop {
        let present = rt.block_on(copy.list(&images, None)).map(|l| l.len()).unwrap_or(0);
        if present >= 20 {
            break present;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "finished before it could be killed"
        );
        assert!(Instant::now() < deadline, "no progress");
        std::thread::sleep(Duration::from_millis(20));
    };
    child.kill().unwrap();
    child.wait().unwrap();
    let after_kill = rt.block_on(copy.list(&images, None)).unwrap().len();
    assert!(
        (copied..150).contains(&after_kill),
        "killed mid-way: {after_kill} of 150"
    );

    proxy.clear();
    let json = site.json(&[], 0);
    let r = row(&json, &images, 2);
    assert_eq!(r["skipped"].as_u64(), Some(after_kill as u64), "{r}");
    assert_eq!(r["copied"].as_u64(), Some(150 - after_kill as u64), "{r}");
    for o in rt.block_on(copy.list(&images, None)).unwrap() {
        let i: usize = o.key.trim_end_matches(".jpg").parse().unwrap();
        assert_eq!(o.size, (2_000 + i * 13) as u64, "{} whole", o.key);
    }
}

#[test]
fn bad_usage_and_refusals() {
    let one = Emulator::start().unwrap();
    let site = Site::new(&[&one.endpoint(), &one.endpoint()], "1");
    for (args, needle) in [
        (&["--keep-replaced", "soon"][..], "--keep-replaced"),
        (&["--delete", "--max-change", "200%"][..], "at most 100%"),
        (&["--delete", "--max-delete", "many"][..], "a number of objects"),
        (&["--to-region", "eu-west-1"][..], "--to-endpoint"),
        (&["--to-endpoint", "ftp://x"][..], "--to-endpoint"),
    ] {
        let mut cmd = site.command(args);
        cmd.env("AWS_ACCESS_KEY_ID", "a").env("AWS_SECRET_ACCESS_KEY", "b");
        let (code, out, err) = site.run_with(cmd);
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    let (code, _, err) = site.run(&[]);
    assert_eq!(code, 1);
    assert!(err.contains("datastore 2 is the primary's endpoint"), "{err}");
    let off = Site::new(&[&one.endpoint(), &one.endpoint()], "0");
    let (code, _, err) = off.run(&[]);
    assert_eq!(code, 1);
    assert!(err.contains("PERSIST_ASSETS_TO_DATASTORE is not 1"), "{err}");
    let (code, out, _) = site.run(&["--help"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("--max-delete") && out.contains("AWS_SECRET_ACCESS_KEY"),
        "{out}"
    );
}

#[test]
fn to_a_directory_copies_every_bucket_there_and_a_rerun_copies_nothing() {
    let one = Emulator::start().unwrap();
    let site = Site::new(&[&one.endpoint()], "1");
    let rt = runtime();
    fill(&rt, &store(&one.endpoint()), &site, 3);
    let copies = site.dir.path().join("copies");
    let to = format!("file://{}", copies.display());

    let (code, out, err) = site.run(&["--to", &to]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(&format!("to datastore 2 ({to})")), "{out}");
    assert_eq!(
        std::fs::read(copies.join(site.bucket("media")).join("doc.pdf")).unwrap(),
        b"%PDF",
        "plain files on disk"
    );
    let json = site.json(&["--to", &to], 0);
    assert_eq!(row(&json, &site.bucket("images"), 2)["copied"], 0, "{json}");
    assert_eq!(row(&json, &site.bucket("images"), 2)["skipped"], 3, "{json}");

    let (code, _, err) = site.run(&["--to", "ftp://elsewhere/"]);
    assert_eq!(code, 2);
    assert!(err.contains("--to") && err.contains("file:///"), "{err}");
}

/// `--to s3://BUCKET/PREFIX` writes through object_store's own S3 client
/// into one bucket of another provider (here a second emulator), with its
/// settings and keys from the environment, never the command line.
#[test]
fn to_a_cloud_bucket_url_with_settings_from_the_environment() {
    let (one, two) = (Emulator::start().unwrap(), Emulator::start().unwrap());
    let site = Site::new(&[&one.endpoint()], "1");
    let rt = runtime();
    fill(&rt, &store(&one.endpoint()), &site, 2);
    let offsite = unique_bucket("offsite");
    let copy = store(&two.endpoint());
    rt.block_on(copy.ensure_bucket(&offsite)).unwrap();
    let to = format!("s3://{offsite}/copies");
    let mut cmd = site.command(&["--to", &to]);
    cmd.env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("AWS_ENDPOINT", two.endpoint())
        .env("AWS_ALLOW_HTTP", "true")
        .env("AWS_REGION", "us-east-1");
    let (code, out, err) = site.run_with(cmd);
    assert_eq!(code, 0, "{out}{err}");
    let keys: Vec<String> = rt
        .block_on(copy.list(&offsite, None))
        .unwrap()
        .into_iter()
        .map(|o| o.key)
        .collect();
    let images = site.bucket("images");
    assert!(keys.contains(&format!("copies/{images}/000.jpg")), "{keys:?}");
    assert!(
        keys.iter()
            .any(|k| k.starts_with(&format!("copies/.adt-meta/{images}/"))),
        "metadata sidecars: {keys:?}"
    );
}
