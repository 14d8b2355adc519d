//! Several webservers, one bucket: two webroots on this machine mount the
//! same bucket with `adt_mounts::mount` (each with its own state
//! directory, as two webservers would), with real s3fs and rclone against
//! the S3 that ADT_TEST_S3 picks. Every read on either webserver must be
//! a whole version (never a mix of two, never padding) and the newest
//! must be seen within the tool's stated bound (`Tool::visibility_bound`).
//! Needs root and /dev/fuse; under CI=true a missing tool fails.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use adt_datastore::{Secret, Store};
use adt_mounts::{Keys, MountOptions, Plan, Target, Tool};
use adt_template::{AssetConfig, Layout, MountEntry};
use adt_testkit::{TestEndpoint, require_tools, unique_bucket};

/// One webserver: its webroot and state directory, and its mount plan.
struct Webserver {
    dir: tempfile::TempDir,
    plan: Plan,
}

impl Webserver {
    fn uploads(&self) -> PathBuf {
        self.dir.path().join("www/html/uploads")
    }
}

/// Two webservers sharing the bucket of `uploads`.
struct Shared {
    t: TestEndpoint,
    store: Store,
    bucket: String,
    tool: Tool,
    nodes: Vec<Webserver>,
}

impl Shared {
    async fn new(tool: Tool) -> Shared {
        let t = TestEndpoint::from_env();
        let store = t.store();
        let url = format!("{}.example.com", unique_bucket("w"));
        let config = AssetConfig::persisting(&url, vec![MountEntry::parse("uploads").unwrap()]);
        let mut nodes = Vec::new();
        let mut bucket = String::new();
        for _ in 0..2 {
            let dir = tempfile::tempdir().unwrap();
            fs::create_dir_all(dir.path().join("www/html/uploads")).unwrap();
            let layout = Layout::new(&config, &dir.path().join("www/html")).unwrap();
            let options = MountOptions {
                tool,
                uid: 0,
                gid: 0,
                state_dir: dir.path().join("state"),
                timeout: Duration::from_secs(30),
            };
            let target = Target {
                endpoint: t.endpoint.clone(),
                region: t.region.clone(),
                ca_bundle: None,
            };
            let plan = Plan::new(&layout, &target, &options);
            for (_, m) in layout.mounts() {
                store.ensure_bucket(&m.bucket).await.unwrap();
                bucket = m.bucket.clone();
            }
            nodes.push(Webserver { dir, plan });
        }
        let shared = Shared {
            t,
            store,
            bucket,
            tool,
            nodes,
        };
        for n in &shared.nodes {
            let (access, secret) = (Secret::new(&shared.t.access_key), Secret::new(&shared.t.secret_key));
            let keys = Keys {
                access: &access,
                secret: &secret,
            };
            adt_mounts::mount(
                &n.plan,
                &shared.store,
                &keys,
                &std::sync::atomic::AtomicBool::new(false),
            )
            .await
            .unwrap();
        }
        shared
    }

    fn a(&self) -> PathBuf {
        self.nodes[0].uploads()
    }

    fn b(&self) -> PathBuf {
        self.nodes[1].uploads()
    }

    /// The bound, with room for the test's own polling and a small upload.
    fn bound(&self) -> Duration {
        self.tool.visibility_bound().expect("a bound for the tools tested") + Duration::from_secs(2)
    }

    /// The version the bucket holds under `key` once every webserver's
    /// uploads are done (rclone uploads a moment after the close; s3fs
    /// before the close returns).
    async fn settled(&self, key: &str) -> Option<u32> {
        let started = Instant::now();
        for n in &self.nodes {
            let cache = adt_mounts::cache_dir(&n.plan.options.state_dir, &self.bucket);
            while adt_mounts::pending_uploads(&cache) > 0 {
                assert!(
                    started.elapsed() < Duration::from_secs(30),
                    "{key}: uploads still pending after 30 s"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        match self.store.get_bytes(&self.bucket, key).await {
            Ok((_, bytes)) => match judge(&bytes) {
                Ok(Seen::Whole(v)) => Some(v),
                other => panic!("{key}: the bucket holds {other:?}"),
            },
            Err(e) => {
                eprintln!("{key}: {e:?}");
                None
            }
        }
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        for n in &self.nodes {
            let _ = adt_mounts::unmount(&n.plan, Duration::from_secs(10));
        }
    }
}

/// Version `v`'s body, `len` bytes: a header naming both, then bytes that
/// depend on both, so any mix of two versions or any padding shows.
fn body(v: u32, len: usize) -> Vec<u8> {
    let mut out = format!("V{v:08} L{len:08}\n").into_bytes();
    let mut x = v.wrapping_mul(2_654_435_761) | 1;
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        out.push(b'a' + (x % 26) as u8);
    }
    out.truncate(len);
    out
}

/// What a read saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    /// An empty file: one being written in place, between the open that
    /// truncated or created it and the close (a local disk shows the same).
    Empty,
    /// A whole version.
    Whole(u32),
}

/// The version a read holds, or what is wrong with it.
fn judge(bytes: &[u8]) -> Result<Seen, String> {
    if bytes.is_empty() {
        return Ok(Seen::Empty);
    }
    let head = std::str::from_utf8(
        bytes
            .get(..19)
            .ok_or_else(|| format!("{} bytes: too short", bytes.len()))?,
    )
    .map_err(|_| "no header".to_string())?;
    let v: u32 = head[1..9].parse().map_err(|_| format!("bad header {head:?}"))?;
    let len: usize = head[11..19].parse().map_err(|_| format!("bad header {head:?}"))?;
    if bytes == body(v, len).as_slice() {
        Ok(Seen::Whole(v))
    } else {
        let zeros = bytes.iter().rev().take_while(|b| **b == 0).count();
        Err(format!(
            "version {v} of {len} bytes read as {} bytes ({zeros} zero bytes at the end): not whole",
            bytes.len()
        ))
    }
}

/// Reads `path` on a webserver until it is version `want` (None: gone),
/// within the bound; fails at once on a read that is not whole (for a
/// tool that keeps versions whole), or on the file missing when
/// `absent_ok` is false; returns how long it took.
async fn converges(s: &Shared, path: &Path, want: Option<u32>) -> Duration {
    converges_with(s, path, want, true).await
}

async fn converges_with(s: &Shared, path: &Path, want: Option<u32>, absent_ok: bool) -> Duration {
    let within = s.bound();
    let strict = s.tool.keeps_versions_whole();
    let started = Instant::now();
    loop {
        let now = match fs::read(path) {
            Ok(bytes) => match judge(&bytes) {
                Ok(seen) => Some(seen),
                Err(why) if strict => panic!("{}: {why}", path.display()),
                // rclone: documented as not keeping reads whole; only the
                // version it ends on, within the bound, is checked.
                Err(why) => {
                    eprintln!("{}: {why} (tolerated for {})", path.display(), s.tool);
                    Some(Seen::Empty)
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            // rclone: a file deleted on another webserver, opened before
            // this one's directory cache expires, fails to download: an
            // error, never wrong bytes.
            Err(e) if want.is_none() && e.raw_os_error() == Some(5) => {
                eprintln!("{}: {e} while being deleted", path.display());
                Some(Seen::Empty)
            }
            Err(e) => panic!("{}: {e}", path.display()),
        };
        assert!(
            absent_ok || now.is_some(),
            "{}: missing while it should exist",
            path.display()
        );
        if now == want.map(Seen::Whole) {
            eprintln!("{}: {want:?} after {:?}", path.display(), started.elapsed());
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "{}: still {now:?}, not {want:?}, after {:?}",
            path.display(),
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Writes a whole version the way PHP's move_uploaded_file lands a file:
/// a temporary name in the same directory, then a rename.
fn upload(dir: &Path, name: &str, v: u32, len: usize) {
    let tmp = dir.join(format!(".upload-{v}.tmp"));
    fs::write(&tmp, body(v, len)).unwrap();
    fs::rename(&tmp, dir.join(name)).unwrap();
}

fn tools_present() -> bool {
    require_tools(&["s3fs", "rclone", "fusermount3"], true)
}

/// New files, in-place rewrites of one file in the same second, uploads
/// by rename, a new dated directory, and deletion: the other webserver
/// reads each whole and sees the newest within the bound.
async fn writes_on_one_webserver_reach_the_other_whole(tool: Tool) {
    let s = Shared::new(tool).await;
    // A new file.
    fs::write(s.a().join("new.jpg"), body(1, 5000)).unwrap();
    converges(&s, &s.b().join("new.jpg"), Some(1)).await;
    // Rewritten in place twice within the same second, bigger then smaller.
    fs::write(s.a().join("new.jpg"), body(2, 9000)).unwrap();
    fs::write(s.a().join("new.jpg"), body(3, 7000)).unwrap();
    converges(&s, &s.b().join("new.jpg"), Some(3)).await;
    // An upload landed by rename over it.
    upload(&s.a(), "new.jpg", 4, 12_000);
    converges(&s, &s.b().join("new.jpg"), Some(4)).await;
    // WordPress's uploads/YYYY/MM.
    fs::create_dir_all(s.a().join("2026/11")).unwrap();
    upload(&s.a().join("2026/11"), "photo.jpg", 5, 4000);
    converges(&s, &s.b().join("2026/11/photo.jpg"), Some(5)).await;
    // Deleted.
    fs::remove_file(s.a().join("new.jpg")).unwrap();
    converges(&s, &s.b().join("new.jpg"), None).await;
}

/// The webserver that read a file, then wrote it, loses a race with the
/// other one writing it within the same second (a thumbnail regenerated
/// on both): both end with the same whole version, within the bound, in
/// every round. s3fs with a disk cache served the loser's bytes padded
/// with zeros here, for good.
async fn a_same_second_race_across_webservers_converges_whole(tool: Tool) {
    assert!(tool.keeps_versions_whole());
    let s = Shared::new(tool).await;
    let mut v = 0;
    for round in 0..8 {
        v += 2;
        let (loser, winner) = (v - 1, v);
        fs::write(s.b().join("thumb.jpg"), body(loser, 3000 + round * 100)).unwrap();
        assert_eq!(
            judge(&fs::read(s.b().join("thumb.jpg")).unwrap()),
            Ok(Seen::Whole(loser))
        );
        fs::write(s.a().join("thumb.jpg"), body(winner, 8000 + round * 100)).unwrap();
        // s3fs uploads before close returns, so the bucket keeps the later
        // writer's version, and both webservers end on it.
        let kept = s.settled("thumb.jpg").await;
        assert_eq!(kept, Some(winner), "the bucket holds {kept:?}");
        eprintln!("round {round}: the bucket kept {kept:?}");
        // From the second round on the file exists throughout: it must
        // never read as missing (rclone once deleted the other's upload).
        converges_with(&s, &s.a().join("thumb.jpg"), kept, round == 0).await;
        converges_with(&s, &s.b().join("thumb.jpg"), kept, round == 0).await;
    }
}

/// Eight uploads of one name at once on one webserver (`file_exists`
/// checks race): the name ends as one whole upload, on both webservers.
async fn same_name_uploads_at_once_leave_one_whole_file(tool: Tool) {
    assert!(tool.keeps_versions_whole());
    let s = Shared::new(tool).await;
    let dir = s.a();
    for round in 0..3u32 {
        let handles: Vec<_> = (1..=8u32)
            .map(|i| {
                let dir = dir.clone();
                let v = round * 8 + i;
                std::thread::spawn(move || upload(&dir, "same.jpg", v, 20_000 + v as usize * 1000))
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let kept = s.settled("same.jpg").await;
        assert!(
            kept.is_some_and(|v| (round * 8 + 1..=round * 8 + 8).contains(&v)),
            "round {round}: the bucket holds {kept:?}"
        );
        converges(&s, &s.a().join("same.jpg"), kept).await;
        converges(&s, &s.b().join("same.jpg"), kept).await;
    }
    let listed: Vec<_> = fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(listed.len(), 1, "temporary files left: {listed:?}");
}

/// A webserver that holds a file open (a slow download) while the other
/// replaces it. Neither tool keeps the old version for the open handle
/// and gives new opens the new one, as a local disk does: while the
/// handle is open, a new open on that webserver can read the new bytes
/// cut to the old length (docs/mounting.md says so). What holds: the
/// handle reads one whole version, and once it is closed the next open
/// reads the new version whole, within the bound.
async fn a_file_held_open_is_read_whole_once_closed(tool: Tool) {
    use std::io::{Read, Seek};
    let s = Shared::new(tool).await;
    let within = s.bound();
    upload(&s.a(), "held.jpg", 1, 6000);
    converges(&s, &s.b().join("held.jpg"), Some(1)).await;
    let mut held = fs::File::open(s.b().join("held.jpg")).unwrap();
    let mut first = vec![0; 100];
    held.read_exact(&mut first).unwrap();
    upload(&s.a(), "held.jpg", 2, 9000);
    s.settled("held.jpg").await;
    tokio::time::sleep(within).await;
    let mut all = Vec::new();
    held.rewind().unwrap();
    held.read_to_end(&mut all).unwrap();
    let seen = judge(&all).unwrap_or_else(|why| panic!("the open handle: {why}"));
    assert!(matches!(seen, Seen::Whole(1 | 2)), "the open handle read {seen:?}");
    drop(held);
    converges(&s, &s.b().join("held.jpg"), Some(2)).await;
}

/// Tests for every tool, then tests only for the tools that keep versions
/// whole under writes of one name at once (`Tool::keeps_versions_whole`:
/// s3fs; docs/mounting.md says why not rclone).
macro_rules! for_tools {
    (every: [$($name:ident),* $(,)?], whole_only: [$($whole:ident),* $(,)?]) => {
        mod s3fs {
            $(#[tokio::test(flavor = "multi_thread")]
            async fn $name() {
                if super::tools_present() {
                    super::$name(adt_mounts::Tool::S3fs).await;
                }
            })*
            $(#[tokio::test(flavor = "multi_thread")]
            async fn $whole() {
                if super::tools_present() {
                    super::$whole(adt_mounts::Tool::S3fs).await;
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
    every: [
        writes_on_one_webserver_reach_the_other_whole,
        a_file_held_open_is_read_whole_once_closed,
    ],
    whole_only: [
        a_same_second_race_across_webservers_converges_whole,
        same_name_uploads_at_once_leave_one_whole_file,
    ]
);
