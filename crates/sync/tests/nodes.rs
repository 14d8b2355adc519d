//! Three webservers as three webroots on one machine, syncing through a
//! real S3 (the embedded emulator, or moto with ADT_TEST_S3=moto).

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use adt_backups::Exclusions;
use adt_datastore::Store;
use adt_localfs::{Dir, MountTable};
use adt_testkit::{TestEndpoint, unique_bucket};
use adt_webroot_sync::{CycleReport, Node, StateDir, SyncOptions, run_cycle};

struct TestNode {
    id: String,
    _dir: tempfile::TempDir,
    webroot: PathBuf,
    state: PathBuf,
}

impl TestNode {
    fn new(id: &str) -> TestNode {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().canonicalize().unwrap();
        let webroot = base.join("html");
        std::fs::create_dir(&webroot).unwrap();
        TestNode {
            id: id.into(),
            webroot,
            state: base.join("state"),
            _dir: dir,
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.webroot.join(rel)
    }

    fn write(&self, rel: &str, body: &str) {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    }
}

struct Cluster {
    store: Store,
    bucket: String,
    options: SyncOptions,
    patterns: Vec<String>,
}

impl Cluster {
    fn new(t: &TestEndpoint) -> Cluster {
        let mut options = SyncOptions::default();
        options.settle = std::time::Duration::ZERO;
        Cluster {
            store: t.store(),
            bucket: unique_bucket("sync"),
            options,
            patterns: vec!["/cache".into()],
        }
    }

    async fn cycle(&self, n: &TestNode) -> CycleReport {
        self.try_cycle(n, &self.options).await.unwrap()
    }

    async fn try_cycle(&self, n: &TestNode, options: &SyncOptions) -> Result<CycleReport, adt_webroot_sync::SyncError> {
        let table = MountTable::read().unwrap();
        let exclusions = Exclusions::new(&n.webroot, None, &table, &self.patterns).unwrap();
        let root = Dir::open(&n.webroot).unwrap();
        let state = StateDir::open(&n.state).unwrap();
        let id = state.node_id(Some(&n.id)).unwrap();
        let node = Node {
            store: &self.store,
            bucket: &self.bucket,
            root: &root,
            exclusions: &exclusions,
            table: &table,
            state_dir: &state,
            id: &id,
        };
        run_cycle(&node, options).await
    }

    /// Cycles every node until a whole round changes nothing; the
    /// conflicts reported on the way.
    async fn settle(&self, nodes: &[&TestNode]) -> Vec<adt_webroot_sync::journal::Conflict> {
        let mut conflicts = Vec::new();
        for _ in 0..6 {
            let mut quiet = true;
            for n in nodes {
                let r = self.cycle(n).await;
                quiet &= r.published.is_empty() && r.applied.is_empty();
                conflicts.extend(r.conflicts);
            }
            if quiet {
                return conflicts;
            }
        }
        panic!("the nodes did not settle");
    }
}

/// Every file and directory under `root` (not `cache/`), with content and mode.
fn tree(root: &Path) -> BTreeMap<Vec<u8>, (String, u32)> {
    let mut out = BTreeMap::new();
    fn visit(root: &Path, dir: &Path, out: &mut BTreeMap<Vec<u8>, (String, u32)>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            let rel = p.strip_prefix(root).unwrap().as_os_str().as_bytes().to_vec();
            if rel.starts_with(b"cache") {
                continue;
            }
            let meta = std::fs::symlink_metadata(&p).unwrap();
            let mode = meta.permissions().mode() & 0o7777;
            if meta.is_dir() {
                out.insert(rel, ("<dir>".to_string(), mode));
                visit(root, &p, out);
            } else if meta.is_file() {
                out.insert(
                    rel,
                    (String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned(), mode),
                );
            }
        }
    }
    visit(root, root, &mut out);
    out
}

fn assert_same(nodes: &[&TestNode]) {
    let first = tree(&nodes[0].webroot);
    for n in &nodes[1..] {
        assert_eq!(tree(&n.webroot), first, "{} differs from {}", n.id, nodes[0].id);
    }
}

#[tokio::test]
async fn changes_propagate_to_every_node() {
    let t = TestEndpoint::from_env();
    let c = Cluster::new(&t);
    let (a, b, n3) = (TestNode::new("web-a"), TestNode::new("web-b"), TestNode::new("web-c"));
    a.write("index.php", "<?php echo 1;");
    a.write("with space/file name.txt", "spaces");
    a.write("cache/page.html", "never synced");
    std::fs::create_dir_all(a.path("empty/dir")).unwrap();
    let odd = a.webroot.join(OsStr::from_bytes(b"caf\xe9.txt"));
    std::fs::write(&odd, "latin-1 name").unwrap();
    a.write("config.php", "secret");
    std::fs::set_permissions(a.path("config.php"), std::fs::Permissions::from_mode(0o440)).unwrap();
    let r = c.cycle(&a).await;
    assert!(r.published.len() >= 6, "{r:?}");
    c.settle(&[&a, &b, &n3]).await;
    assert_same(&[&a, &b, &n3]);
    assert!(
        b.webroot.join(OsStr::from_bytes(b"caf\xe9.txt")).is_file(),
        "non-UTF-8 name"
    );
    assert!(b.path("empty/dir").is_dir(), "empty directories");
    assert_eq!(
        std::fs::metadata(n3.path("config.php")).unwrap().permissions().mode() & 0o777,
        0o440
    );
    assert!(!b.path("cache/page.html").exists(), "excluded paths are never synced");

    // Edit on b, delete and rename on c.
    b.write("index.php", "<?php echo 2;");
    std::fs::remove_file(n3.path("with space/file name.txt")).unwrap();
    std::fs::rename(n3.path("config.php"), n3.path("config.old.php")).unwrap();
    c.settle(&[&a, &b, &n3]).await;
    assert_same(&[&a, &b, &n3]);
    assert_eq!(std::fs::read_to_string(a.path("index.php")).unwrap(), "<?php echo 2;");
    assert!(!a.path("with space/file name.txt").exists());
    assert!(a.path("config.old.php").exists() && !a.path("config.php").exists());

    // A cycle with nothing to do writes no state (a watch runs one every
    // few seconds; the state of a large webroot is megabytes).
    let written = std::fs::metadata(b.state.join("state.json"))
        .unwrap()
        .modified()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    assert!(c.cycle(&b).await.applied.is_empty());
    assert_eq!(
        std::fs::metadata(b.state.join("state.json"))
            .unwrap()
            .modified()
            .unwrap(),
        written
    );

    // A touch publishes nothing.
    let now = std::time::SystemTime::now();
    std::fs::File::options()
        .write(true)
        .open(a.path("index.php"))
        .unwrap()
        .set_modified(now)
        .unwrap();
    assert!(c.cycle(&a).await.published.is_empty(), "a touch is not a change");

    // A node away for many cycles, and a brand-new one, catch up.
    for i in 0..5 {
        a.write(&format!("news/{i}.html"), &format!("item {i}"));
        c.cycle(&a).await;
        c.cycle(&b).await;
    }
    let d = TestNode::new("web-d");
    c.settle(&[&a, &b, &n3, &d]).await;
    assert_same(&[&a, &b, &n3, &d]);
}

#[tokio::test]
async fn concurrent_edits_converge_and_the_loser_is_kept() {
    let t = TestEndpoint::from_env();
    let c = Cluster::new(&t);
    let (a, b, n3) = (TestNode::new("n-a"), TestNode::new("n-b"), TestNode::new("n-c"));
    a.write("page.php", "v1");
    c.settle(&[&a, &b, &n3]).await;
    // Both edit before either syncs.
    a.write("page.php", "edit on a");
    b.write("page.php", "edit on b");
    a.write("other.php", "o1");
    let conflicts = c.settle(&[&a, &b, &n3]).await;
    assert_same(&[&a, &b, &n3]);
    // An edit on one, a delete on the other.
    std::fs::remove_file(a.path("other.php")).unwrap();
    b.write("other.php", "o2, edited while a deleted it");
    c.settle(&[&a, &b, &n3]).await;
    assert_same(&[&a, &b, &n3]);
    let winner = std::fs::read_to_string(n3.path("page.php")).unwrap();
    assert!(winner == "edit on a" || winner == "edit on b", "{winner}");
    assert_eq!(
        std::fs::read_to_string(a.path("other.php")).unwrap(),
        "o2, edited while a deleted it",
        "the edit made after what the delete saw survives it"
    );
    let lost: Vec<_> = conflicts.iter().filter(|c| c.path == "page.php").collect();
    assert!(!lost.is_empty(), "the loser is reported: {conflicts:?}");
    // The losing content is still in the datastore.
    let adt_webroot_sync::journal::What::File { sha256, .. } = &lost[0].lost else {
        panic!("a file lost")
    };
    let (_, body) = c
        .store
        .get_bytes(&c.bucket, &adt_webroot_sync::journal::blob_key(sha256))
        .await
        .unwrap();
    let loser = if winner == "edit on a" {
        "edit on b"
    } else {
        "edit on a"
    };
    assert_eq!(&body[..], loser.as_bytes());
}

#[tokio::test]
async fn a_webroot_that_loses_most_files_pauses_instead_of_publishing() {
    let t = TestEndpoint::from_env();
    let c = Cluster::new(&t);
    let (a, b) = (TestNode::new("g-a"), TestNode::new("g-b"));
    for i in 0..40 {
        a.write(&format!("f{i}.php"), "x");
    }
    c.settle(&[&a, &b]).await;
    for i in 0..35 {
        std::fs::remove_file(a.path(&format!("f{i}.php"))).unwrap();
    }
    let r = c.cycle(&a).await;
    assert!(r.paused.is_some(), "{r:?}");
    assert!(r.published.is_empty());
    c.cycle(&b).await;
    assert_eq!(tree(&b.webroot).len(), 40, "the other node keeps its files");
    let mut accept = c.options.clone();
    accept.accept_deletes = true;
    let r = c.try_cycle(&a, &accept).await.unwrap();
    assert_eq!(r.published.len(), 35);
    assert!(r.paused.is_none());
    c.cycle(&b).await;
    assert_eq!(tree(&b.webroot).len(), 5);
}

/// The windows a kill -9 leaves: a batch committed but the state not saved,
/// and files applied but the state not saved. The next cycle finishes the
/// work without publishing anything twice.
#[tokio::test]
async fn a_cycle_killed_before_saving_its_state_is_completed_by_the_next() {
    let t = TestEndpoint::from_env();
    let c = Cluster::new(&t);
    let (a, b) = (TestNode::new("k-a"), TestNode::new("k-b"));
    a.write("one.php", "1");
    c.settle(&[&a, &b]).await;
    let saved_a = std::fs::read(a.state.join("state.json")).unwrap();
    let saved_b = std::fs::read(b.state.join("state.json")).unwrap();
    a.write("two.php", "2");
    let r = c.cycle(&a).await;
    assert_eq!(r.published, ["two.php"]);
    // Killed after the commit: the state is the one from before.
    std::fs::write(a.state.join("state.json"), &saved_a).unwrap();
    let r = c.cycle(&a).await;
    assert!(r.published.is_empty(), "not published twice: {r:?}");
    assert_eq!(r.batches, 0);
    // b applies it, then "dies" before saving.
    let r = c.cycle(&b).await;
    assert_eq!(r.applied, ["two.php"]);
    std::fs::write(b.state.join("state.json"), &saved_b).unwrap();
    let r = c.cycle(&b).await;
    assert!(r.published.is_empty() && r.conflicts.is_empty(), "{r:?}");
    c.settle(&[&a, &b]).await;
    assert_same(&[&a, &b]);
}

/// A tmpfs and an s3fs mount inside a webroot are never read (not one
/// request reaches the s3fs bucket) nor written, while another node, where
/// the same paths are plain directories, publishes files into them.
#[tokio::test]
async fn mounts_inside_the_webroot_are_never_read_or_written() {
    if !adt_testkit::require_tools(&["s3fs", "fusermount3"], true) {
        return;
    }
    let t = TestEndpoint::from_env();
    let c = Cluster::new(&t);
    let (a, b) = (TestNode::new("m-a"), TestNode::new("m-b"));
    // On a: tmpfs at scratch/, s3fs (through a recording proxy) at media/.
    let scratch = a.path("scratch");
    std::fs::create_dir_all(&scratch).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "tmpfs"])
        .arg(&scratch)
        .status()
        .unwrap();
    assert!(mounted.success(), "mount tmpfs");
    let _tmpfs = adt_testkit::Unmount(scratch.clone());
    std::fs::write(scratch.join("local.txt"), "tmpfs on a").unwrap();
    let media_bucket = unique_bucket("media");
    c.store.ensure_bucket(&media_bucket).await.unwrap();
    let proxy = adt_testkit::FaultProxy::start(&t.endpoint).unwrap();
    let media = a.path("media");
    std::fs::create_dir_all(&media).unwrap();
    let passwd = a._dir.path().join("passwd");
    let fuse = adt_testkit::S3fsMount::mount(
        &proxy.endpoint(),
        &media_bucket,
        &t.access_key,
        &t.secret_key,
        &passwd,
        &media,
    );
    std::fs::write(media.join("remote.jpg"), "in the bucket").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    a.write("index.php", "a");
    // On b the same paths are plain directories with files.
    b.write("scratch/from-b.txt", "b");
    b.write("media/from-b.jpg", "b");

    let before = proxy.requests().len();
    c.settle(&[&a, &b]).await;
    assert_eq!(
        proxy.requests().len(),
        before,
        "nothing under the s3fs mount was read or written: {:?}",
        &proxy.requests()[before..]
    );
    assert!(
        !b.path("scratch/local.txt").exists() && !b.path("media/remote.jpg").exists(),
        "nothing published from the mounts"
    );
    assert!(!scratch.join("from-b.txt").exists(), "nothing written into the tmpfs");
    assert_eq!(
        std::fs::read_to_string(scratch.join("local.txt")).unwrap(),
        "tmpfs on a"
    );
    assert_eq!(
        std::fs::read_to_string(b.path("index.php")).unwrap(),
        "a",
        "the rest is synced"
    );
    drop(fuse);
    let listed: Vec<String> = c
        .store
        .list(&c.bucket, Some("adt-sync/journal/"))
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.key)
        .collect();
    assert!(!listed.is_empty());
}

/// A node holding an unpublished (still changing) edit when a peer's edit
/// of the same file arrives keeps its own; even if its edit is undone
/// before it settles, all nodes end the same.
#[tokio::test]
async fn a_pending_local_edit_undone_before_it_settles_still_converges() {
    let t = TestEndpoint::from_env();
    let c = Cluster::new(&t);
    let (a, b) = (TestNode::new("u-a"), TestNode::new("u-b"));
    a.write("page.php", "v1");
    c.settle(&[&a, &b]).await;
    b.write("page.php", "v2 from b");
    c.cycle(&b).await;
    a.write("page.php", "being edited on a");
    let mut slow = c.options.clone();
    slow.settle = std::time::Duration::from_secs(3600);
    let r = c.try_cycle(&a, &slow).await.unwrap();
    assert_eq!(r.unsettled, 1, "{r:?}");
    assert_eq!(
        std::fs::read_to_string(a.path("page.php")).unwrap(),
        "being edited on a",
        "kept"
    );
    a.write("page.php", "v1");
    c.settle(&[&a, &b]).await;
    assert_same(&[&a, &b]);
}

/// Snapshots and collection: old batches are deleted once a snapshot and
/// every live node cover them; a new node, and one away while the batches
/// it missed were collected, restore the snapshot and catch up.
#[tokio::test]
async fn snapshots_let_new_and_returning_nodes_catch_up_after_collection() {
    let t = TestEndpoint::from_env();
    let mut c = Cluster::new(&t);
    c.options.snapshot_batches = 3;
    // A node silent for any time no longer holds collection back.
    c.options.keep_dead_nodes = std::time::Duration::ZERO;
    let (a, b) = (TestNode::new("s-a"), TestNode::new("s-b"));
    a.write("keep.php", "kept");
    a.write("gone.php", "deleted later");
    c.settle(&[&a, &b]).await;
    // b goes away; a keeps changing.
    for i in 0..8 {
        a.write(&format!("post/{i}.html"), &format!("post {i}"));
        if i == 4 {
            std::fs::remove_file(a.path("gone.php")).unwrap();
        }
        c.cycle(&a).await;
    }
    let batches = c.store.list(&c.bucket, Some("adt-sync/journal/s-a/")).await.unwrap();
    let snapshots = c.store.list(&c.bucket, Some("adt-sync/snapshots/")).await.unwrap();
    assert_eq!(snapshots.len(), 1, "only the newest snapshot is kept: {snapshots:?}");
    assert!(batches.len() < 10, "collected: {} batches left", batches.len());
    // b returns: its next batch was collected, so it restores the snapshot.
    let r = c.cycle(&b).await;
    assert!(r.restored, "{r:?}");
    // A brand-new node too.
    let d = TestNode::new("s-d");
    let r = c.cycle(&d).await;
    assert!(r.restored, "{r:?}");
    c.settle(&[&a, &b, &d]).await;
    assert_same(&[&a, &b, &d]);
    assert!(!d.path("gone.php").exists() && d.path("post/7.html").exists());

    // A node that lost its state directory never reuses a sequence number.
    std::fs::remove_dir_all(&a.state).unwrap();
    a.write("after-loss.php", "new");
    c.settle(&[&a, &b, &d]).await;
    assert_same(&[&a, &b, &d]);
    assert!(d.path("after-loss.php").exists());
}

/// A directory replaced by a file, and a file by a directory, propagate.
#[tokio::test]
async fn a_path_changing_kind_propagates() {
    let t = TestEndpoint::from_env();
    let c = Cluster::new(&t);
    let (a, b) = (TestNode::new("t-a"), TestNode::new("t-b"));
    a.write("x/inner.php", "in a directory");
    a.write("x/deeper/more.php", "deeper");
    c.settle(&[&a, &b]).await;
    std::fs::remove_dir_all(a.path("x")).unwrap();
    a.write("x", "now a file");
    c.settle(&[&a, &b]).await;
    assert_same(&[&a, &b]);
    assert_eq!(std::fs::read_to_string(b.path("x")).unwrap(), "now a file");
    std::fs::remove_file(a.path("x")).unwrap();
    a.write("x/y/z.php", "a directory again");
    c.settle(&[&a, &b]).await;
    assert_same(&[&a, &b]);
    assert!(b.path("x/y/z.php").is_file());
}

/// A node far behind reads the others' batches a window at a time: each
/// cycle says whether more are waiting, and the next ones finish the work.
#[tokio::test]
async fn a_long_backlog_is_applied_a_window_at_a_time() {
    let t = TestEndpoint::from_env();
    let mut c = Cluster::new(&t);
    c.options.batch_ops = 2;
    let (a, b) = (TestNode::new("w-a"), TestNode::new("w-b"));
    for i in 0..10 {
        a.write(&format!("f{i}.php"), "x");
    }
    let r = c.cycle(&a).await;
    assert_eq!(r.batches, 5);
    let mut small = c.options.clone();
    small.apply_window = 3;
    let mut cycles = 0;
    loop {
        let r = c.try_cycle(&b, &small).await.unwrap();
        cycles += 1;
        if !r.more {
            break;
        }
        assert!(r.applied_count <= 4, "two batches of two at most: {r:?}");
    }
    assert!(cycles >= 3, "{cycles}");
    assert_same(&[&a, &b]);
}

/// Hostile or damaged objects in the bucket refuse only themselves: a
/// batch that is not one, a blob that does not match its name, a path in
/// a second spelling. The cycle goes on, and so does the sync.
#[tokio::test]
async fn a_bad_batch_or_blob_is_refused_and_passed_not_a_poison() {
    let t = TestEndpoint::from_env();
    let c = Cluster::new(&t);
    let (a, b) = (TestNode::new("p-a"), TestNode::new("p-b"));
    a.write("good.php", "good");
    c.settle(&[&a, &b]).await;
    let put = |key: String, body: Vec<u8>| {
        let store = c.store.clone();
        let bucket = c.bucket.clone();
        async move {
            store
                .put(
                    &bucket,
                    &key,
                    bytes::Bytes::from(body),
                    &adt_datastore::PutOptions::default(),
                )
                .await
                .unwrap()
        }
    };
    // A node "evil" with a batch that is not JSON, then one whose blob lies,
    // then one with a path in a second spelling.
    put(
        "adt-sync/nodes/evil".into(),
        br#"{"node":"evil","seq":3,"cursors":{},"paused":null,"updated_ms":0}"#.to_vec(),
    )
    .await;
    put(adt_webroot_sync::journal::batch_key("evil", 1), b"not a batch".to_vec()).await;
    let lie = adt_webroot_sync::content::Digest::of(b"what the name says");
    put(adt_webroot_sync::journal::blob_key(&lie), b"something else".to_vec()).await;
    let batch = |seq: u64, path: &str, ms: u64| {
        serde_json::json!({"node": "evil", "seq": seq, "ops": [{
            "path": path, "version": {"ms": ms, "n": 0, "node": "evil"}, "base": null,
            "what": {"kind": "file", "sha256": lie.to_string(), "size": 18, "mode": 420, "uid": 0, "gid": 0, "mtime": 0}
        }]})
        .to_string()
        .into_bytes()
    };
    put(adt_webroot_sync::journal::batch_key("evil", 2), batch(2, "lie.php", 1)).await;
    put(
        adt_webroot_sync::journal::batch_key("evil", 3),
        batch(3, "%6Cie.php", 2),
    )
    .await;
    let r = c.cycle(&b).await;
    assert_eq!(r.refused.len(), 3, "{r:?}");
    assert!(!b.path("lie.php").exists());
    // The sync goes on both ways.
    a.write("after.php", "after");
    b.write("from-b.php", "b");
    c.settle(&[&a, &b]).await;
    assert!(b.path("after.php").exists() && a.path("from-b.php").exists());
}

/// A link planted where another node has a directory is never followed
/// when applying, a FIFO never blocks or syncs, and a link is never
/// published: what is outside the webroot stays untouched.
#[tokio::test]
async fn planted_links_and_fifos_fail_safe() {
    let t = TestEndpoint::from_env();
    let c = Cluster::new(&t);
    let (a, b) = (TestNode::new("l-a"), TestNode::new("l-b"));
    let outside = tempfile::tempdir().unwrap();
    // On b, `x` is a link to a directory outside the webroot.
    std::os::unix::fs::symlink(outside.path(), b.path("x")).unwrap();
    // On a, `x` is a directory with a file in it, and a FIFO and a link sit beside it.
    a.write("x/evil.php", "must not land outside");
    let fifo = a.path("pipe");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    std::os::unix::fs::symlink("/etc/passwd", a.path("passwd-link")).unwrap();
    let r = c.cycle(&a).await;
    assert_eq!(r.skipped, 2, "the FIFO and the link: {r:?}");
    assert!(!r.published.iter().any(|p| p == "pipe" || p == "passwd-link"));
    let r = c.cycle(&b).await;
    assert!(!r.refused.is_empty(), "the change through the link is refused: {r:?}");
    assert_eq!(
        std::fs::read_dir(outside.path()).unwrap().count(),
        0,
        "nothing written outside"
    );
    assert!(
        std::fs::symlink_metadata(b.path("x")).unwrap().file_type().is_symlink(),
        "the link is left as it is"
    );
}

/// Puts `body` at `key` in the cluster's bucket.
async fn put(c: &Cluster, key: &str, body: Vec<u8>) {
    c.store
        .put(
            &c.bucket,
            key,
            bytes::Bytes::from(body),
            &adt_datastore::PutOptions::default(),
        )
        .await
        .unwrap();
}

/// A batch of node `evil` making `path` the file `content`, stamped `ms`.
fn evil_batch(seq: u64, path: &str, content: &[u8], ms: u64) -> Vec<u8> {
    let sha = adt_webroot_sync::content::Digest::of(content);
    serde_json::json!({"node": "evil", "seq": seq, "ops": [{
        "path": path, "version": {"ms": ms, "n": 0, "node": "evil"}, "base": null,
        "what": {"kind": "file", "sha256": sha.to_string(), "size": content.len(), "mode": 420, "uid": 0, "gid": 0, "mtime": 0}
    }]})
    .to_string()
    .into_bytes()
}

async fn evil_node(c: &Cluster) {
    put(
        c,
        "adt-sync/nodes/evil",
        br#"{"node":"evil","seq":3,"cursors":{},"paused":null,"updated_ms":0}"#.to_vec(),
    )
    .await;
}

/// The time the server last wrote `key`.
async fn written_at(c: &Cluster, key: &str) -> i64 {
    let found = c.store.list(&c.bucket, Some(key)).await.unwrap();
    found
        .iter()
        .find(|o| o.key == key)
        .and_then(|o| o.last_modified)
        .unwrap_or_else(|| panic!("{key} not there: {found:?}"))
}

/// A large file whose content is already in the bucket (a copy, a file
/// put back) is not uploaded again, but its blob is written again on the
/// server: collection, which spares only young unreferenced blobs, can
/// then never delete it between our check and our batch.
#[tokio::test]
async fn a_reused_large_blob_is_made_young_before_a_batch_refers_to_it() {
    let t = TestEndpoint::from_env();
    let c = Cluster::new(&t);
    let a = TestNode::new("r-a");
    let big: Vec<u8> = (0..(2u32 << 20))
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(a.path("big.bin"), &big).unwrap();
    c.cycle(&a).await;
    let blob = adt_webroot_sync::journal::blob_key(&adt_webroot_sync::content::Digest::of(&big));
    let first = written_at(&c, &blob).await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    std::fs::write(a.path("copy.bin"), &big).unwrap();
    let r = c.cycle(&a).await;
    assert_eq!(r.published, vec!["copy.bin".to_string()]);
    let second = written_at(&c, &blob).await;
    assert!(second > first, "the reused blob kept its old date {first}: {second}");
    let left = c.store.list(&c.bucket, Some("adt-sync/staging/")).await.unwrap();
    assert!(left.is_empty(), "{left:?}");
}

/// A node's batch missing from the middle of its journal stops that node's
/// later batches (reported) instead of being skipped; once it is there,
/// both apply in order.
#[tokio::test]
async fn a_missing_batch_stops_its_node_until_it_appears() {
    let t = TestEndpoint::from_env();
    let c = Cluster::new(&t);
    let b = TestNode::new("g-b");
    c.cycle(&b).await;
    evil_node(&c).await;
    for body in [b"one".as_slice(), b"two", b"three"] {
        let sha = adt_webroot_sync::content::Digest::of(body);
        put(&c, &adt_webroot_sync::journal::blob_key(&sha), body.to_vec()).await;
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    put(
        &c,
        &adt_webroot_sync::journal::batch_key("evil", 1),
        evil_batch(1, "one.php", b"one", now),
    )
    .await;
    put(
        &c,
        &adt_webroot_sync::journal::batch_key("evil", 3),
        evil_batch(3, "three.php", b"three", now + 2),
    )
    .await;
    let r = c.cycle(&b).await;
    assert!(b.path("one.php").exists(), "{r:?}");
    assert!(!b.path("three.php").exists(), "batch 3 applied over a missing 2: {r:?}");
    assert!(r.refused.iter().any(|why| why.contains("batch 2 is missing")), "{r:?}");
    put(
        &c,
        &adt_webroot_sync::journal::batch_key("evil", 2),
        evil_batch(2, "two.php", b"two", now + 1),
    )
    .await;
    let r = c.cycle(&b).await;
    assert!(r.refused.is_empty(), "{r:?}");
    assert_eq!(std::fs::read(b.path("two.php")).unwrap(), b"two");
    assert_eq!(std::fs::read(b.path("three.php")).unwrap(), b"three");
}

/// A local edit that happens to equal an incoming version that loses to
/// what the node holds is not taken as that version (the node would then
/// hold a loser, publish nothing, and differ from the others forever): it
/// stays a local change, is published, and every node converges on it.
#[tokio::test]
async fn a_local_edit_equal_to_a_losing_incoming_version_is_still_published() {
    let t = TestEndpoint::from_env();
    let c = Cluster::new(&t);
    let (a, b) = (TestNode::new("q-a"), TestNode::new("q-b"));
    a.write("f.php", "base");
    c.settle(&[&a, &b]).await;
    a.write("f.php", "from a");
    c.cycle(&a).await;
    c.cycle(&b).await;
    assert_eq!(std::fs::read_to_string(b.path("f.php")).unwrap(), "from a");
    // b's user writes X; a node with a skewed clock publishes X too, with a
    // stamp older than a's version.
    b.write("f.php", "X");
    evil_node(&c).await;
    put(
        &c,
        &adt_webroot_sync::journal::batch_key("evil", 1),
        evil_batch(1, "f.php", b"X", 1),
    )
    .await;
    c.settle(&[&a, &b]).await;
    assert_same(&[&a, &b]);
    assert_eq!(std::fs::read_to_string(a.path("f.php")).unwrap(), "X");
}

/// A snapshot that is not one (damaged, or hostile) is reported, never a
/// panic or a stopped node: the new node still publishes its own files.
#[tokio::test]
async fn a_damaged_snapshot_is_reported_and_the_node_goes_on() {
    let t = TestEndpoint::from_env();
    let c = Cluster::new(&t);
    let n = TestNode::new("d-n");
    c.store.ensure_bucket(&c.bucket).await.unwrap();
    evil_node(&c).await;
    put(
        &c,
        "adt-sync/snapshots/00000000000000000009-evil",
        b"\x1f\x8b not gzip".to_vec(),
    )
    .await;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, br#"{"node":"evil","cursors":{"evil":3},"entries":[{"path":"x"#).unwrap();
    put(&c, "adt-sync/snapshots/00000000000000000010-evil", gz.finish().unwrap()).await;
    n.write("mine.php", "mine");
    let r = c.cycle(&n).await;
    assert!(
        r.refused
            .iter()
            .any(|why| why.contains("snapshot adt-sync/snapshots/00000000000000000010-evil")),
        "{r:?}"
    );
    assert_eq!(r.published, vec!["mine.php".to_string()], "{r:?}");
}

/// A change stamped days ahead (a node whose clock is far off, or a
/// hostile batch) is refused: it is not applied and does not drag this
/// node's clock, so what the node publishes next is stamped near now.
#[tokio::test]
async fn a_change_stamped_days_ahead_is_refused_and_moves_no_clock() {
    let t = TestEndpoint::from_env();
    let c = Cluster::new(&t);
    let b = TestNode::new("f-b");
    c.cycle(&b).await;
    evil_node(&c).await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let ten_days = 10 * 24 * 3600 * 1000;
    put(
        &c,
        &adt_webroot_sync::journal::blob_key(&adt_webroot_sync::content::Digest::of(b"f")),
        b"f".to_vec(),
    )
    .await;
    put(
        &c,
        &adt_webroot_sync::journal::batch_key("evil", 1),
        evil_batch(1, "future.php", b"f", now + ten_days),
    )
    .await;
    b.write("mine.php", "mine");
    let r = c.cycle(&b).await;
    assert!(!b.path("future.php").exists(), "{r:?}");
    assert!(r.refused.iter().any(|why| why.contains("ahead of this clock")), "{r:?}");
    assert_eq!(r.retrying, 1, "kept: this clock may be the wrong one: {r:?}");
    let batch = c
        .store
        .get_bytes(&c.bucket, &adt_webroot_sync::journal::batch_key("f-b", 1))
        .await
        .unwrap()
        .1;
    let batch: adt_webroot_sync::journal::Batch = serde_json::from_slice(&batch).unwrap();
    assert!(batch.ops[0].version.ms < now + 60_000, "{:?}", batch.ops[0].version);
}

/// Deletions are forgotten once old (30 days by default): the state and
/// the snapshots stop growing with every file ever deleted. A node away
/// that long keeps what was deleted meanwhile (nothing is
/// deleted unverified: the snapshot cannot tell it from a path left out on
/// its writer) and says so.
#[tokio::test]
async fn old_deletions_are_forgotten_and_a_returning_node_deletes_nothing_unverified() {
    let t = TestEndpoint::from_env();
    let mut c = Cluster::new(&t);
    c.options.snapshot_batches = 3;
    c.options.keep_dead_nodes = std::time::Duration::ZERO;
    c.options.forget_deletions_after = std::time::Duration::ZERO;
    let (a, b) = (TestNode::new("o-a"), TestNode::new("o-b"));
    a.write("old.php", "deleted while b is away");
    a.write("stays.php", "kept");
    c.settle(&[&a, &b]).await;
    std::fs::remove_file(a.path("old.php")).unwrap();
    for i in 0..4 {
        a.write(&format!("new/{i}.php"), "new");
        c.cycle(&a).await;
    }
    let snapshots = c.store.list(&c.bucket, Some("adt-sync/snapshots/")).await.unwrap();
    let newest = snapshots.last().unwrap();
    let body = c.store.get_bytes(&c.bucket, &newest.key).await.unwrap().1;
    let mut json = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&body[..]), &mut json).unwrap();
    assert!(
        !json.contains("old.php"),
        "a forgotten deletion is still in the snapshot: {json}"
    );
    assert!(json.contains("stays.php"));
    let state = std::fs::read_to_string(a.state.join("state.json")).unwrap();
    assert!(!state.contains("old.php"), "{state}");
    let r = c.cycle(&b).await;
    assert!(r.restored, "{r:?}");
    assert!(b.path("old.php").exists(), "deleted unverified: {r:?}");
    assert!(
        r.refused
            .iter()
            .any(|why| why.contains("1 path(s) held here are not in snapshot")),
        "{r:?}"
    );
    c.settle(&[&a, &b]).await;
    assert!(b.path("new/3.php").exists() && b.path("stays.php").exists());
}

/// A change refused for a reason that passes (here its content is not in
/// the bucket yet) is tried again by the next cycles, quietly, and applied
/// once it can be: it is not lost because the cursor moved past its batch.
#[tokio::test]
async fn a_refused_change_is_tried_again_until_it_applies() {
    let t = TestEndpoint::from_env();
    let mut c = Cluster::new(&t);
    // A snapshot every cycle, but none while a refused change waits: the
    // node holds an older version than its cursors claim.
    c.options.snapshot_batches = 1;
    let b = TestNode::new("y-b");
    c.cycle(&b).await;
    evil_node(&c).await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    put(
        &c,
        &adt_webroot_sync::journal::batch_key("evil", 1),
        evil_batch(1, "late.php", b"late", now),
    )
    .await;
    let r = c.cycle(&b).await;
    assert!(!b.path("late.php").exists());
    assert!(r.refused.iter().any(|why| why.contains("late.php")), "{r:?}");
    assert_eq!(r.retrying, 1, "{r:?}");
    assert!(!r.snapshot, "{r:?}");
    let r = c.cycle(&b).await;
    assert!(r.refused.is_empty(), "a retry is not reported again: {r:?}");
    assert_eq!(r.retrying, 1);
    put(
        &c,
        &adt_webroot_sync::journal::blob_key(&adt_webroot_sync::content::Digest::of(b"late")),
        b"late".to_vec(),
    )
    .await;
    let r = c.cycle(&b).await;
    assert_eq!(std::fs::read(b.path("late.php")).unwrap(), b"late", "{r:?}");
    assert_eq!(r.retrying, 0);
    assert_eq!(r.applied, vec!["late.php".to_string()]);
    assert!(r.snapshot, "{r:?}");
}

/// Names that take six bytes each in JSON (control characters), deep and
/// many: a batch is split so that every batch stays well under what a
/// reader accepts, and the peer applies them all.
#[tokio::test]
async fn batches_of_long_names_are_split_by_size() {
    let t = TestEndpoint::from_env();
    let c = Cluster::new(&t);
    let (a, b) = (TestNode::new("l-a"), TestNode::new("l-b"));
    let one = OsStr::from_bytes(&[1u8; 255]).to_os_string();
    let two = OsStr::from_bytes(&[2u8; 255]).to_os_string();
    let deep = a.webroot.join(&one).join(&two);
    std::fs::create_dir_all(&deep).unwrap();
    for i in 0..1000 {
        let mut name = vec![3u8; 251];
        name.extend_from_slice(format!("{i:04}").as_bytes());
        std::fs::write(deep.join(OsStr::from_bytes(&name)), "x").unwrap();
    }
    let r = c.cycle(&a).await;
    assert_eq!(r.published_count, 1002);
    let batches = c.store.list(&c.bucket, Some("adt-sync/journal/l-a/")).await.unwrap();
    assert!(
        batches.len() >= 3,
        "1002 changes of long names in {} batches",
        batches.len()
    );
    for o in &batches {
        assert!(o.size <= 4 * 1024 * 1024, "{} is {} bytes", o.key, o.size);
    }
    let r = c.cycle(&b).await;
    assert_eq!(r.applied_count, 1002, "{:?}", r.refused);
    assert_same(&[&a, &b]);
}

/// Publishing holds a window of changes per walk of the webroot: a cycle
/// with more changes than that walks again, publishes them all, and
/// deletes nothing it merely had not taken yet.
#[tokio::test]
async fn more_changes_than_a_window_are_published_in_one_cycle() {
    let t = TestEndpoint::from_env();
    let mut c = Cluster::new(&t);
    c.options.publish_window = 3;
    let (a, b) = (TestNode::new("v-a"), TestNode::new("v-b"));
    for i in 0..10 {
        a.write(&format!("d{}/f{i}.php", i % 2), "x");
    }
    let r = c.cycle(&a).await;
    assert_eq!(r.published_count, 12, "{r:?}");
    let r = c.cycle(&a).await;
    assert_eq!(r.published_count, 0, "{r:?}");
    c.cycle(&b).await;
    assert_same(&[&a, &b]);
}
