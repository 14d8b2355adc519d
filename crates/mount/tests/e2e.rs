//! adt-mount with real FUSE tools (s3fs, rclone, mergerfs) against the S3
//! that ADT_TEST_S3 picks (the embedded emulator, or moto), in a temporary
//! webroot. Needs root and /dev/fuse; under CI=true a missing tool fails.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use adt_datastore::Secret;
use adt_datastore::{Connection, Endpoint, PutOptions, Store};
use adt_mounts::{Keys, MountOptions, Plan, Target, Tool};
use adt_template::{AssetConfig, Layout, MountEntry};
use adt_testkit::{TestEndpoint, is_mounted, require_tools, unique_bucket};
use bytes::Bytes;

struct Site {
    t: TestEndpoint,
    dir: tempfile::TempDir,
    layout: Layout,
    store: Store,
    tool: Tool,
}

impl Site {
    fn new(tool: Tool, dirs: &[&str]) -> Site {
        Site::on(TestEndpoint::from_env(), tool, dirs)
    }

    fn on(t: TestEndpoint, tool: Tool, dirs: &[&str]) -> Site {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("www/html")).unwrap();
        let config = AssetConfig::persisting(
            &format!("{}.example.com", unique_bucket("m")),
            dirs.iter().map(|d| MountEntry::parse(d).unwrap()).collect(),
        );
        let layout = Layout::new(&config, &dir.path().join("www/html")).unwrap();
        let endpoint = Endpoint::parse(&t.endpoint, Some(&t.region)).unwrap();
        let store = Store::connect(&Connection::new(
            endpoint,
            Secret::new(&t.access_key),
            Secret::new(&t.secret_key),
        ))
        .unwrap();
        Site {
            t,
            dir,
            layout,
            store,
            tool,
        }
    }

    fn webroot(&self) -> PathBuf {
        self.dir.path().join("www/html")
    }

    fn plan_on(&self, endpoint: &str, timeout: u64) -> Plan {
        let options = MountOptions {
            tool: self.tool,
            uid: 0,
            gid: 0,
            state_dir: self.dir.path().join("state"),
            timeout: Duration::from_secs(timeout),
        };
        let target = Target {
            endpoint: endpoint.to_string(),
            region: self.t.region.clone(),
            ca_bundle: None,
        };
        Plan::new(&self.layout, &target, &options)
    }

    fn plan(&self) -> Plan {
        self.plan_on(&self.t.endpoint, 30)
    }

    async fn mount(&self, plan: &Plan) -> Result<adt_mounts::Report, adt_mounts::MountError> {
        let (access, secret) = (Secret::new(&self.t.access_key), Secret::new(&self.t.secret_key));
        let keys = Keys {
            access: &access,
            secret: &secret,
        };
        adt_mounts::mount(plan, &self.store, &keys, &std::sync::atomic::AtomicBool::new(false)).await
    }

    async fn buckets(&self) {
        for (_, m) in self.layout.mounts() {
            self.store.ensure_bucket(&m.bucket).await.unwrap();
        }
    }

    fn bucket(&self, i: usize) -> &str {
        &self.layout.entries[0].mounts[i].bucket
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        let _ = adt_mounts::unmount(&self.plan(), Duration::from_secs(5));
    }
}

fn tools_present() -> bool {
    require_tools(&["s3fs", "rclone", "mergerfs", "fusermount3"], true)
}

async fn wait_for<F: Fn() -> bool>(what: &str, f: F) {
    let started = Instant::now();
    while !f() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn bucket_files_appear_and_writes_land(tool: Tool) {
    let site = Site::new(tool, &["images"]);
    site.buckets().await;
    let opts = PutOptions {
        content_type: Some("image/png".into()),
        metadata: [("mode".to_string(), "33188".to_string())].into(),
    };
    site.store
        .put(site.bucket(0), "banners/a.png", Bytes::from_static(b"PNG a"), &opts)
        .await
        .unwrap();
    let plan = site.plan();
    site.mount(&plan).await.unwrap();
    let images = site.webroot().join("images");
    assert!(is_mounted(&images));
    assert_eq!(fs::read(images.join("banners/a.png")).unwrap(), b"PNG a");
    // The state directory remembers the tool, from the mount table.
    let state = site.dir.path().join("state");
    assert_eq!(adt_mounts::remembered_tool(&state), Some(tool));
    assert_eq!(adt_mounts::recorded_mounts(&state)[0].mountpoint, images);

    fs::write(images.join("new upload.jpg"), b"JPEG new").unwrap();
    // PHP lands an upload under a temporary name, then renames it: rclone
    // 1.60 lost such a file when it uploaded inside the close.
    fs::write(images.join(".tmp-upload"), b"JPEG renamed").unwrap();
    fs::rename(images.join(".tmp-upload"), images.join("renamed.jpg")).unwrap();
    // Unmounting at once still lands both (rclone uploads after a delay).
    let report = adt_mounts::unmount(&plan, Duration::from_secs(30)).unwrap();
    assert!(report.warnings.is_empty(), "{report:?}");
    assert!(!is_mounted(&images));
    let (_, body) = site.store.get_bytes(site.bucket(0), "new upload.jpg").await.unwrap();
    assert_eq!(body, Bytes::from_static(b"JPEG new"));
    let (_, body) = site.store.get_bytes(site.bucket(0), "renamed.jpg").await.unwrap();
    assert_eq!(body, Bytes::from_static(b"JPEG renamed"));
    assert!(site.store.head(site.bucket(0), ".tmp-upload").await.unwrap().is_none());
}

async fn local_files_end_up_in_the_bucket_and_nothing_is_lost(tool: Tool) {
    let site = Site::new(tool, &["images"]);
    site.buckets().await;
    let images = site.webroot().join("images");
    fs::create_dir_all(images.join("2024/01")).unwrap();
    fs::write(images.join("2024/01/local.jpg"), b"local bytes").unwrap();
    fs::create_dir_all(images.join("empty")).unwrap();
    // Directories with files keep their mode, owner and mtime in the
    // bucket, and the mount's root shows the directory's mode.
    use std::os::unix::fs::PermissionsExt;
    let dated = std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    for (d, mode) in [("2024", 0o750), ("2024/01", 0o710)] {
        fs::set_permissions(images.join(d), fs::Permissions::from_mode(mode)).unwrap();
        fs::File::open(images.join(d)).unwrap().set_modified(dated).unwrap();
    }
    fs::set_permissions(&images, fs::Permissions::from_mode(0o750)).unwrap();
    site.store
        .put(
            site.bucket(0),
            "remote.jpg",
            Bytes::from_static(b"remote"),
            &PutOptions::default(),
        )
        .await
        .unwrap();

    let plan = site.plan();
    site.mount(&plan).await.unwrap();
    assert_eq!(fs::read(images.join("2024/01/local.jpg")).unwrap(), b"local bytes");
    assert_eq!(fs::read(images.join("remote.jpg")).unwrap(), b"remote");
    assert!(
        site.store
            .head(site.bucket(0), "2024/01/local.jpg")
            .await
            .unwrap()
            .is_some()
    );
    assert!(site.store.head(site.bucket(0), "empty/").await.unwrap().is_some());
    for (key, mode) in [("2024/", "16872"), ("2024/01/", "16840")] {
        let marker = site.store.head(site.bucket(0), key).await.unwrap();
        let meta = marker.unwrap_or_else(|| panic!("{key}: no directory object")).metadata;
        assert_eq!(
            (meta["mode"].as_str(), meta["mtime"].as_str()),
            (mode, "1700000000"),
            "{key}"
        );
    }
    let root = fs::metadata(&images).unwrap().permissions().mode() & 0o777;
    assert_eq!(root, 0o750, "{tool}: the mount root keeps the directory's mode");
    if tool == Tool::S3fs {
        let shown = fs::metadata(images.join("2024")).unwrap();
        assert_eq!(shown.modified().unwrap(), dated, "s3fs shows the directory's mtime");
    }
    let retired = adt_mounts::retired(&site.dir.path().join("state"));
    assert_eq!(retired.len(), 1);
    assert_eq!(
        fs::read(retired[0].retired.join("2024/01/local.jpg")).unwrap(),
        b"local bytes",
        "the local copy is kept"
    );

    // Mounting twice changes nothing.
    let again = site.mount(&plan).await.unwrap();
    assert!(
        again.actions.iter().all(|a| a.ends_with("already mounted")),
        "{again:?}"
    );
    assert_eq!(adt_mounts::retired(&site.dir.path().join("state")).len(), 1);

    // Purging checks the bucket first, then removes the retired directory.
    let purged = adt_mounts::purge_retired(&plan, &site.store).await.unwrap();
    assert!(purged.warnings.is_empty(), "{purged:?}");
    assert!(!retired[0].retired.exists());

    // Retired directories that a restored backup brings back are found by
    // their name and shown, but never purged until adopted (the web
    // server's user can make such a name); once adopted they are purged
    // like any other, and one with a file not in the bucket stays on record.
    let state = site.dir.path().join("state");
    let restored = site.webroot().join(".images.adt-retired-1600000000");
    fs::create_dir_all(restored.join("2024/01")).unwrap();
    fs::write(restored.join("2024/01/local.jpg"), b"local bytes").unwrap();
    let unknown = site.webroot().join(".images.adt-retired-1600000001-2");
    fs::create_dir_all(&unknown).unwrap();
    fs::write(unknown.join("only-here.jpg"), b"not in the bucket").unwrap();
    std::os::unix::fs::symlink(&restored, site.webroot().join(".images.adt-retired-1600000002")).unwrap();
    let found = |plan: &Plan| -> Vec<PathBuf> {
        adt_mounts::find_unrecorded_retired(plan)
            .into_iter()
            .map(|r| r.retired)
            .collect()
    };
    assert_eq!(
        found(&plan),
        [restored.clone(), unknown.clone()],
        "a link is never a retired directory"
    );
    adt_mounts::purge_retired(&plan, &site.store).await.unwrap();
    assert!(restored.exists(), "not purged before it is adopted");
    let adopted = adt_mounts::adopt_retired(&plan).unwrap();
    assert_eq!(adopted.actions.len(), 2, "{adopted:?}");
    assert!(found(&plan).is_empty());
    let purged = adt_mounts::purge_retired(&plan, &site.store).await.unwrap();
    assert!(!restored.exists(), "{purged:?}");
    assert_eq!(fs::read(unknown.join("only-here.jpg")).unwrap(), b"not in the bucket");
    let recorded: Vec<PathBuf> = adt_mounts::retired(&state).into_iter().map(|r| r.retired).collect();
    assert_eq!(recorded, [unknown]);
}

/// Runs a unit's `KEY=` command line (the first) through /bin/sh, as
/// systemd would run it (`$$` and `%%` are systemd's escapes for `$` and
/// `%`): its exit code.
fn run_unit_line(unit: &str, key: &str) -> i32 {
    let line = unit
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .unwrap_or_else(|| panic!("no {key} in\n{unit}"))
        .replace("$$", "$")
        .replace("%%", "%");
    std::process::Command::new("/bin/sh")
        .args(["-c", &line])
        .status()
        .unwrap()
        .code()
        .unwrap_or(-1)
}

/// Installing units over a mount made by hand leaves it mounted (the
/// unit's condition skips it: the old units detached it lazily), a unit
/// is ready only once the mount answers, and a stale mount is started
/// over.
async fn units_leave_a_healthy_mount_alone_and_wait_for_theirs(tool: Tool) {
    let site = Site::new(tool, &["images"]);
    site.buckets().await;
    let plan = site.plan();
    let images = site.webroot().join("images");
    let resolve = |p: &str| {
        adt_mounts::find_program(p)
            .unwrap_or_else(|| Path::new("/usr/bin").join(p))
            .display()
            .to_string()
    };
    let units = adt_mounts::units(&plan, &resolve, &adt_mounts::UnitOptions::default());
    let unit = &units[0].text;
    // A link planted at the mount point: the unit refuses to start.
    let aside = site.webroot().join("elsewhere");
    fs::create_dir_all(&aside).unwrap();
    if images.exists() {
        fs::rename(&images, site.webroot().join("images.real")).unwrap();
    }
    std::os::unix::fs::symlink(&aside, &images).unwrap();
    assert_eq!(
        run_unit_line(unit, "ExecStartPre="),
        1,
        "a link at the mount point: refused"
    );
    fs::remove_file(&images).unwrap();
    if site.webroot().join("images.real").exists() {
        fs::rename(site.webroot().join("images.real"), &images).unwrap();
    }
    assert_eq!(run_unit_line(unit, "ExecStartPre="), 0, "a directory");
    assert_eq!(run_unit_line(unit, "ExecCondition="), 0, "not mounted: the unit starts");
    site.mount(&plan).await.unwrap();
    assert_eq!(
        run_unit_line(unit, "ExecCondition="),
        1,
        "a healthy mount: the unit is skipped, never detaching it"
    );
    assert!(is_mounted(&images));
    assert_eq!(run_unit_line(unit, "ExecStartPost="), 0, "ready: the mount answers");
    let pattern = format!("{} .*{}", tool.name(), site.bucket(0));
    let killed = std::process::Command::new("pkill")
        .args(["-9", "-f", &pattern])
        .status()
        .unwrap();
    assert!(killed.success());
    wait_for("the mount to go stale", || {
        adt_mounts::status(&plan).unwrap()[0].state == adt_mounts::Mounted::Stale
    })
    .await;
    assert_eq!(
        run_unit_line(unit, "ExecCondition="),
        0,
        "a stale mount: the unit starts over it"
    );
    adt_mounts::unmount(&plan, Duration::from_secs(5)).unwrap();
}

async fn a_killed_fuse_process_is_stale_and_mount_repairs_it(tool: Tool) {
    let site = Site::new(tool, &["images"]);
    site.buckets().await;
    let plan = site.plan();
    site.mount(&plan).await.unwrap();
    let images = site.webroot().join("images");
    let pattern = format!("{} .*{}", tool.name(), site.bucket(0));
    let killed = std::process::Command::new("pkill")
        .args(["-9", "-f", &pattern])
        .status()
        .unwrap();
    assert!(killed.success(), "no {tool} process for {}", site.bucket(0));
    wait_for("the mount to go stale", || {
        adt_mounts::status(&plan).unwrap()[0].state == adt_mounts::Mounted::Stale
    })
    .await;
    let report = site.mount(&plan).await.unwrap();
    assert!(report.actions.iter().any(|a| a.contains("stale mount")), "{report:?}");
    assert_eq!(
        adt_mounts::status(&plan).unwrap()[0].state,
        adt_mounts::Mounted::Mounted
    );
    fs::write(images.join("after-repair.txt"), b"ok").unwrap();
}

async fn an_unreachable_endpoint_fails_in_time_and_leaves_local_files(tool: Tool) {
    let site = Site::new(tool, &["images"]);
    let images = site.webroot().join("images");
    fs::create_dir_all(&images).unwrap();
    fs::write(images.join("keep.jpg"), b"precious").unwrap();
    site.buckets().await;
    // The upload of local files reaches the datastore; the mount tool is
    // pointed at a port nobody listens on.
    let plan = site.plan_on(&adt_testkit::closed_endpoint(), 8);
    let started = Instant::now();
    let err = site.mount(&plan).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(30), "{:?}", started.elapsed());
    assert!(err.to_string().contains("images"), "{err}");
    assert!(!is_mounted(&images));
    assert_eq!(
        fs::read(images.join("keep.jpg")).unwrap(),
        b"precious",
        "the local directory is back"
    );
    assert!(adt_mounts::retired(&site.dir.path().join("state")).is_empty());
}

async fn merges_show_the_union_and_new_files_land_in_a_branch(tool: Tool) {
    let site = Site::new(tool, &["merge=media2"]);
    site.buckets().await;
    let none = PutOptions::default();
    site.store
        .put(site.bucket(0), "one.jpg", Bytes::from_static(b"1"), &none)
        .await
        .unwrap();
    site.store
        .put(site.bucket(1), "two.jpg", Bytes::from_static(b"2"), &none)
        .await
        .unwrap();
    let plan = site.plan();
    site.mount(&plan).await.unwrap();
    let media = site.webroot().join("media");
    let mut names: Vec<String> = fs::read_dir(&media)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["one.jpg", "two.jpg"]);
    fs::write(media.join("three.jpg"), b"3").unwrap();
    adt_mounts::unmount(&plan, Duration::from_secs(30)).unwrap();
    let mut found = 0;
    for i in 0..2 {
        if site.store.head(site.bucket(i), "three.jpg").await.unwrap().is_some() {
            found += 1;
        }
    }
    assert_eq!(found, 1, "the new file is in exactly one branch");
}

/// Mounted for the web server's user (33), a mount and a merge admit root
/// and that user, and no one else: the tool's permission options, checked
/// as `nobody` through each mount (issue 12, case 6).
async fn only_root_and_the_web_server_user_use_the_mounts(tool: Tool) {
    use std::os::unix::fs::PermissionsExt;
    let site = Site::new(tool, &["images", "merge=media2"]);
    fs::set_permissions(site.dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    site.buckets().await;
    let none = PutOptions::default();
    for i in 0..site.layout.entries[0].mounts.len() {
        site.store
            .put(site.bucket(i), "seen.jpg", Bytes::from_static(b"jpeg"), &none)
            .await
            .unwrap();
    }
    let options = MountOptions {
        tool,
        uid: 33,
        gid: 33,
        state_dir: site.dir.path().join("state"),
        timeout: Duration::from_secs(30),
    };
    let target = Target {
        endpoint: site.t.endpoint.clone(),
        region: site.t.region.clone(),
        ca_bundle: None,
    };
    let plan = Plan::new(&site.layout, &target, &options);
    site.mount(&plan).await.unwrap();
    let www = site.dir.path().join("www");
    assert!(
        adt_testkit::run_as(65534, &format!("test -d {}", site.webroot().display())),
        "nobody reaches the webroot"
    );
    for dir in [
        site.webroot().join("images"),
        site.webroot().join("media"),
        www.join("media1"),
    ] {
        let d = dir.display();
        let mode = fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & 0o007, 0, "{d}: mode {mode:o}");
        assert!(
            adt_testkit::run_as(
                33,
                &format!("ls {d} >/dev/null && echo hi > {d}/by-www.txt && cat {d}/by-www.txt >/dev/null")
            ),
            "{d}: www-data"
        );
        if dir.join("seen.jpg").exists() {
            assert!(
                !adt_testkit::run_as(65534, &format!("cat {d}/seen.jpg")),
                "{d}: nobody read"
            );
        }
        for attempt in [
            format!("ls {d}"),
            format!("echo x > {d}/evil.txt"),
            format!("rm -f {d}/by-www.txt"),
            format!("mkdir {d}/evil"),
        ] {
            assert!(!adt_testkit::run_as(65534, &attempt), "{d}: nobody could: {attempt}");
        }
        fs::write(dir.join("by-root.txt"), b"root").unwrap();
    }
    adt_mounts::unmount(&plan, Duration::from_secs(30)).unwrap();
}

macro_rules! for_tools {
    ($($name:ident),* $(,)?) => {
        mod s3fs {
            $(#[tokio::test(flavor = "multi_thread")]
            async fn $name() {
                if super::tools_present() {
                    super::$name(adt_mounts::Tool::S3fs).await;
                }
            })*
        }
        mod rclone {
            $(#[tokio::test(flavor = "multi_thread")]
            async fn $name() {
                if super::tools_present() {
                    super::$name(adt_mounts::Tool::Rclone).await;
                }
            })*
        }
    };
}

for_tools!(
    bucket_files_appear_and_writes_land,
    local_files_end_up_in_the_bucket_and_nothing_is_lost,
    a_killed_fuse_process_is_stale_and_mount_repairs_it,
    units_leave_a_healthy_mount_alone_and_wait_for_theirs,
    an_unreachable_endpoint_fails_in_time_and_leaves_local_files,
    merges_show_the_union_and_new_files_land_in_a_branch,
    only_root_and_the_web_server_user_use_the_mounts,
);

#[test]
fn credential_files_are_private_and_never_on_a_command_line() {
    let site = Site::on(
        TestEndpoint::start(adt_testkit::S3Target::Embedded),
        Tool::Rclone,
        &["images"],
    );
    let plan = site.plan();
    for e in &plan.entries {
        for m in &e.mounts {
            let line = m.command.display();
            assert!(
                !line.contains(&site.t.secret_key) && !line.contains(&site.t.access_key),
                "{line}"
            );
            assert!(m.command.env_remove.contains(&"AWS_CA_BUNDLE".to_string()));
        }
    }
    let _ = Path::new("unused");
}
