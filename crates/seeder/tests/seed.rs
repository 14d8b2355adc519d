//! adt-seeder against a real S3 (the embedded emulator, or moto with
//! ADT_TEST_S3=moto): what lands in the buckets, idempotence, conflicts,
//! merge spread, archive safety, and seeding from the datastore.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use adt_datastore::{PutOptions, Store};
use adt_seeder::{ArchiveSource, NoProgress, SeedError, SeedOptions, Summary};
use adt_template::{AssetConfig, Layout, MountEntry};
use adt_testkit::{ArchiveBuilder, TestEndpoint, pattern, unique_bucket};
use bytes::Bytes;

const MIB: usize = 1024 * 1024;

/// A layout for a unique site name, so tests never share buckets.
fn layout(dirs: &[&str]) -> Layout {
    let site = unique_bucket("s");
    let config = AssetConfig::persisting(
        &format!("{site}.example.com"),
        dirs.iter().map(|d| MountEntry::parse(d).unwrap()).collect(),
    );
    Layout::new(&config, Path::new("/var/www/html")).unwrap()
}

fn options(cache: Option<&Path>) -> SeedOptions {
    let mut o = SeedOptions::default();
    o.jobs = 4;
    o.part_size = 5 * MIB;
    o.memory_budget = 16 * MIB;
    o.cache_dir = cache.map(Path::to_path_buf);
    o
}

/// A Joomla-like webroot: images with a nested empty directory, a large
/// video, a symlink, a fifo, a hard link; code outside the asset dirs.
fn joomla_archive(dir: &Path) -> PathBuf {
    let path = dir.join("applicationsourcecode.tar.gz");
    let mut a = ArchiveBuilder::create(&path);
    a.dir("./")
        .file("./index.php", 0o644, b"<?php")
        .file("./XXXXXX-DO_NOT_REMOVE", 0o644, b"")
        .dir("./images/")
        .file("./images/logo.png", 0o644, b"PNG logo")
        .file("./images/banners/été bannière.jpg", 0o640, b"JPEG banner")
        .dir("./images/empty/")
        .dir("./images/banners/")
        .file("./images/video.mp4", 0o644, &pattern(12 * MIB + 3, 1))
        .link(tar::EntryType::Symlink, "./images/alias.png", "logo.png")
        .special(tar::EntryType::Fifo, "./images/pipe")
        .link(tar::EntryType::Link, "./images/logo-copy.png", "./images/logo.png")
        .file("./administrator/index.php", 0o644, b"<?php admin");
    a.finish();
    path
}

async fn seed(s: &Store, layout: &Layout, archive: &Path, opts: &SeedOptions) -> Result<Summary, SeedError> {
    adt_seeder::seed(
        s,
        layout,
        &ArchiveSource::File(archive.to_path_buf()),
        opts,
        Arc::new(NoProgress),
    )
    .await
}

async fn cleanup(s: &Store, layout: &Layout) {
    for (_, m) in layout.mounts() {
        if s.bucket_exists(&m.bucket).await.unwrap_or(false) {
            s.remove_bucket(&m.bucket).await.unwrap();
        }
    }
}

#[tokio::test]
async fn seeds_files_with_metadata_markers_and_links() {
    let t = TestEndpoint::from_env();
    let s = t.store();
    let dir = tempfile::tempdir().unwrap();
    let archive = joomla_archive(dir.path());
    let layout = layout(&["images"]);
    let bucket = layout.entries[0].mounts[0].bucket.clone();

    let summary = seed(&s, &layout, &archive, &options(None)).await.unwrap();
    let b = &summary.buckets[0];
    assert_eq!(
        (b.objects, b.uploaded, b.skipped, b.conflicts),
        (6, 6, 0, 0),
        "{summary:?}"
    );
    assert_eq!(b.bytes, (8 + 11 + 12 * MIB + 3 + 8) as u64);
    let warning = summary.warnings.join("\n");
    assert!(
        warning.contains("images/alias.png (symbolic link)") && warning.contains("images/pipe (fifo)"),
        "{warning}"
    );

    let objects: BTreeMap<String, u64> = s
        .list(&bucket, None)
        .await
        .unwrap()
        .into_iter()
        .map(|o| (o.key, o.size))
        .collect();
    let keys: Vec<&str> = objects.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "banners/",
            "banners/été bannière.jpg",
            "empty/",
            "logo-copy.png",
            "logo.png",
            "video.mp4"
        ]
    );

    let banner = s.head(&bucket, "banners/été bannière.jpg").await.unwrap().unwrap();
    assert_eq!(banner.content_type.as_deref(), Some("image/jpeg"));
    let expected: BTreeMap<String, String> = [("mode", "33184"), ("uid", "33"), ("gid", "33"), ("mtime", "1650000000")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(banner.metadata, expected);
    let marker = s.head(&bucket, "empty/").await.unwrap().unwrap();
    assert_eq!(
        (marker.size, marker.content_type.as_deref()),
        (0, Some("application/x-directory"))
    );
    assert_eq!(marker.metadata["mode"], "16877");
    // A directory with files gets its object too, so s3fs shows its mode.
    let banners = s.head(&bucket, "banners/").await.unwrap().unwrap();
    assert_eq!(banners.metadata["mode"], "16877");
    assert_eq!(
        s.get_bytes(&bucket, "logo-copy.png").await.unwrap().1,
        Bytes::from_static(b"PNG logo")
    );
    let (video, bytes) = s.get_bytes(&bucket, "video.mp4").await.unwrap();
    assert_eq!(bytes, Bytes::from(pattern(12 * MIB + 3, 1)));
    assert_eq!(video.content_type.as_deref(), Some("video/mp4"));
    cleanup(&s, &layout).await;
}

#[tokio::test]
async fn a_second_run_uploads_nothing_with_or_without_the_record() {
    let t = TestEndpoint::from_env();
    let s = t.store();
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let archive = joomla_archive(dir.path());
    let layout = layout(&["images"]);

    let first = seed(&s, &layout, &archive, &options(Some(&cache))).await.unwrap();
    assert_eq!(first.uploaded(), 6);
    let recorded = seed(&s, &layout, &archive, &options(Some(&cache))).await.unwrap();
    assert!(recorded.already_seeded);
    assert_eq!((recorded.uploaded(), recorded.buckets[0].skipped), (0, 6));
    let reread = seed(&s, &layout, &archive, &options(None)).await.unwrap();
    assert!(!reread.already_seeded);
    assert_eq!(
        (reread.uploaded(), reread.buckets[0].skipped, reread.conflicts()),
        (0, 6, 0)
    );

    // A recorded object deleted from the bucket sends the next run back to
    // the archive, which puts it back.
    let bucket = &layout.entries[0].mounts[0].bucket;
    s.delete(bucket, "logo.png").await.unwrap();
    let repaired = seed(&s, &layout, &archive, &options(Some(&cache))).await.unwrap();
    assert!(!repaired.already_seeded);
    assert_eq!((repaired.uploaded(), repaired.buckets[0].skipped), (1, 5));
    cleanup(&s, &layout).await;
}

#[tokio::test]
async fn objects_that_differ_are_conflicts_and_kept_unless_overwrite() {
    let t = TestEndpoint::from_env();
    let s = t.store();
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let archive = joomla_archive(dir.path());
    let layout = layout(&["images"]);
    let bucket = layout.entries[0].mounts[0].bucket.clone();
    seed(&s, &layout, &archive, &options(Some(&cache))).await.unwrap();

    // The site changed the logo and the video after the backup.
    s.put(
        &bucket,
        "logo.png",
        Bytes::from_static(b"NEW logo"),
        &PutOptions::default(),
    )
    .await
    .unwrap();
    s.put(
        &bucket,
        "video.mp4",
        Bytes::from(pattern(12 * MIB + 3, 9)),
        &PutOptions::default(),
    )
    .await
    .unwrap();
    for cache in [Some(cache.as_path()), None] {
        let again = seed(&s, &layout, &archive, &options(cache)).await.unwrap();
        assert_eq!(again.buckets[0].conflict_keys, ["logo.png", "video.mp4"], "{again:?}");
        assert_eq!((again.uploaded(), again.buckets[0].skipped), (0, 4));
        assert_eq!(
            s.get_bytes(&bucket, "logo.png").await.unwrap().1,
            Bytes::from_static(b"NEW logo")
        );
    }

    let mut overwrite = options(Some(&cache));
    overwrite.overwrite = true;
    let replaced = seed(&s, &layout, &archive, &overwrite).await.unwrap();
    assert_eq!(replaced.uploaded(), 6);
    assert_eq!(
        s.get_bytes(&bucket, "logo.png").await.unwrap().1,
        Bytes::from_static(b"PNG logo")
    );
    assert_eq!(
        s.get_bytes(&bucket, "video.mp4").await.unwrap().1,
        Bytes::from(pattern(12 * MIB + 3, 1))
    );
    let after = seed(&s, &layout, &archive, &options(None)).await.unwrap();
    assert_eq!((after.uploaded(), after.conflicts()), (0, 0));
    cleanup(&s, &layout).await;
}

#[tokio::test]
async fn merge_entries_spread_each_file_over_exactly_one_branch() {
    let t = TestEndpoint::from_env();
    let s = t.store();
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("a.tar.gz");
    let mut a = ArchiveBuilder::create(&archive);
    for i in 0..60 {
        a.file(
            &format!("./media/photos/{i:03}.jpg"),
            0o644,
            format!("photo {i}").as_bytes(),
        );
    }
    a.finish();
    let layout = layout(&["merge=media3"]);
    let summary = seed(&s, &layout, &archive, &options(None)).await.unwrap();
    assert_eq!(summary.uploaded(), 60);
    let mut all = Vec::new();
    for (_, m) in layout.mounts() {
        let keys: Vec<String> = s
            .list(&m.bucket, None)
            .await
            .unwrap()
            .into_iter()
            .map(|o| o.key)
            .collect();
        assert!(!keys.is_empty(), "{} got no file", m.bucket);
        all.extend(keys);
    }
    all.sort();
    let expected: Vec<String> = (0..60).map(|i| format!("photos/{i:03}.jpg")).collect();
    assert_eq!(all, expected, "each file once, in one branch");
    cleanup(&s, &layout).await;
}

/// ADT seeds a merge set by copying the whole backup into branch 1
/// (SetupAssetsStore.sh); mergerfs then creates new files on a random
/// branch. Seeding such a set again must find every file where it is, not
/// upload a second copy into the branch our hash picks.
#[tokio::test]
async fn a_merge_set_adt_seeded_into_branch_1_gets_no_second_copies() {
    let t = TestEndpoint::from_env();
    let s = t.store();
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("a.tar.gz");
    let mut a = ArchiveBuilder::create(&archive);
    for i in 0..30 {
        a.file(&format!("./images/{i:02}.jpg"), 0o644, format!("photo {i}").as_bytes());
    }
    a.dir("./images/empty/");
    a.finish();
    let layout = layout(&["merge=images3"]);
    let branches: Vec<String> = layout.mounts().map(|(_, m)| m.bucket.clone()).collect();
    // As ADT leaves it: everything in branch 1, one file (changed since)
    // on branch 3, where mergerfs happened to create it.
    for b in &branches {
        s.ensure_bucket(b).await.unwrap();
    }
    for i in 0..30 {
        let (bucket, body) = match i {
            7 => (&branches[2], "photo 7, edited".to_string()),
            _ => (&branches[0], format!("photo {i}")),
        };
        s.put(
            bucket,
            &format!("{i:02}.jpg"),
            Bytes::from(body),
            &PutOptions::default(),
        )
        .await
        .unwrap();
    }
    s.put(&branches[0], "empty/", Bytes::new(), &PutOptions::default())
        .await
        .unwrap();

    let summary = seed(&s, &layout, &archive, &options(None)).await.unwrap();
    assert_eq!(summary.uploaded(), 0, "{summary:?}");
    assert_eq!(summary.conflicts(), 1, "the edited file is a conflict, kept");
    let count = |b: &String| {
        let s = s.clone();
        let b = b.clone();
        async move { s.list(&b, None).await.unwrap().len() }
    };
    assert_eq!(count(&branches[0]).await, 30, "29 files and the empty directory");
    assert_eq!(count(&branches[1]).await, 0, "no second copies");
    assert_eq!(count(&branches[2]).await, 1);

    // --overwrite replaces the edited file where it is: still one copy.
    let mut overwrite = options(None);
    overwrite.overwrite = true;
    seed(&s, &layout, &archive, &overwrite).await.unwrap();
    assert_eq!(count(&branches[1]).await, 0);
    let (_, got) = s.get_bytes(&branches[2], "07.jpg").await.unwrap();
    assert_eq!(&got[..], b"photo 7");
    cleanup(&s, &layout).await;
}

#[tokio::test]
async fn unsafe_and_damaged_archives_are_refused_before_any_upload() {
    let t = TestEndpoint::from_env();
    let s = t.store();
    let dir = tempfile::tempdir().unwrap();
    let layout = layout(&["images"]);
    let bucket = layout.entries[0].mounts[0].bucket.clone();

    // Names that escape the root, written raw (tar::Builder refuses them).
    for (name, evil) in [
        ("dotdot", "./images/../../etc/cron.d/evil"),
        ("absolute", "/etc/passwd"),
    ] {
        let path = dir.path().join(format!("{name}.tar.gz"));
        let mut a = ArchiveBuilder::create(&path);
        a.file("./images/first.png", 0o644, b"fine").raw_file(evil, b"evil");
        a.finish();
        let err = seed(&s, &layout, &path, &options(None)).await.unwrap_err();
        assert!(matches!(err, SeedError::Unsafe { .. }), "{err}");
        assert!(err.to_string().contains(evil), "names the entry: {err}");
        assert!(
            !s.bucket_exists(&bucket).await.unwrap(),
            "nothing uploaded, no bucket made"
        );
    }

    let good = joomla_archive(dir.path());
    let bytes = std::fs::read(&good).unwrap();
    let truncated = dir.path().join("truncated.tar.gz");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let err = seed(&s, &layout, &truncated, &options(None)).await.unwrap_err();
    assert!(matches!(err, SeedError::Corrupt { .. }), "{err}");
    let mut flipped = bytes.clone();
    let at = flipped.len() - 6;
    flipped[at] ^= 0xff; // the gzip trailer's CRC
    let corrupt = dir.path().join("corrupt.tar.gz");
    std::fs::write(&corrupt, &flipped).unwrap();
    let err = seed(&s, &layout, &corrupt, &options(None)).await.unwrap_err();
    assert!(matches!(err, SeedError::Corrupt { .. }), "{err}");
    assert!(!s.bucket_exists(&bucket).await.unwrap());
    let missing = seed(&s, &layout, &dir.path().join("nope.tar.gz"), &options(None))
        .await
        .unwrap_err();
    assert!(matches!(missing, SeedError::Read { .. }), "{missing}");
}

/// Issue 13, cases 2 and 3: a name S3 listings cannot carry (a control
/// character), one too long for a key, or one not UTF-8 refuses the
/// archive in the check pass: no bucket, no object, every name said.
#[tokio::test]
async fn names_that_cannot_be_keys_refuse_the_archive_before_any_bucket() {
    let t = TestEndpoint::from_env();
    let s = t.store();
    let dir = tempfile::tempdir().unwrap();
    let layout = layout(&["images"]);
    let bucket = layout.entries[0].mounts[0].bucket.clone();
    let long = format!("./images/{}.jpg", "n".repeat(1100));
    for (case, name, shown) in [
        ("control", b"./images/up\x01load.jpg".to_vec(), "up\\x01load.jpg"),
        ("long", long.clone().into_bytes(), "longer than 1024 bytes"),
        ("not-utf8", b"./images/caf\xe9.jpg".to_vec(), "caf\\xe9.jpg"),
    ] {
        let path = dir.path().join(format!("{case}.tar.gz"));
        let mut a = ArchiveBuilder::create(&path);
        a.file("./images/first.png", 0o644, b"fine")
            .entry(tar::EntryType::Regular, &name, b"body")
            .file("./images/last.png", 0o644, b"fine");
        a.finish();
        let err = seed(&s, &layout, &path, &options(None)).await.unwrap_err();
        assert!(matches!(err, SeedError::BadKeys { count: 1, .. }), "{case}: {err}");
        assert!(err.to_string().contains(shown), "{case}: names it: {err}");
        assert!(!s.bucket_exists(&bucket).await.unwrap(), "{case}: no bucket made");
    }
}

/// Issue 13, case 4: a contiguous file (tar type '7') is a regular file:
/// seeded like one, not counted and dropped.
#[tokio::test]
async fn contiguous_files_are_seeded() {
    let t = TestEndpoint::from_env();
    let s = t.store();
    let dir = tempfile::tempdir().unwrap();
    let layout = layout(&["images"]);
    let bucket = layout.entries[0].mounts[0].bucket.clone();
    let path = dir.path().join("contiguous.tar.gz");
    let mut a = ArchiveBuilder::create(&path);
    a.entry(tar::EntryType::Continuous, b"./images/seven.jpg", b"type 7 body");
    a.finish();
    let summary = seed(&s, &layout, &path, &options(None)).await.unwrap();
    assert_eq!(summary.uploaded(), 1);
    let (_, body) = s.get_bytes(&bucket, "seven.jpg").await.unwrap();
    assert_eq!(&body[..], b"type 7 body");
    cleanup(&s, &layout).await;
}

/// A backup made after the assets were persisted has no images/: seeding
/// from it says so instead of seeding nothing in silence.
#[tokio::test]
async fn an_archive_without_the_asset_directory_is_named_in_a_warning() {
    let t = TestEndpoint::from_env();
    let s = t.store();
    let dir = tempfile::tempdir().unwrap();
    let layout = layout(&["images", "media"]);
    let path = dir.path().join("after-persistence.tar.gz");
    let mut a = ArchiveBuilder::create(&path);
    a.dir("./")
        .file("./index.php", 0o644, b"<?php")
        .file("./media/a.mp3", 0o644, b"mp3");
    a.finish();
    let summary = seed(&s, &layout, &path, &options(None)).await.unwrap();
    assert_eq!(summary.uploaded(), 1);
    let warning = summary.warnings.join("\n");
    assert!(
        warning.contains("the archive holds nothing under images/ (entry `images`)"),
        "{warning}"
    );
    assert!(!warning.contains("under media/"), "{warning}");
    cleanup(&s, &layout).await;
}

#[tokio::test]
async fn a_dry_run_writes_nothing() {
    let t = TestEndpoint::from_env();
    let s = t.store();
    let dir = tempfile::tempdir().unwrap();
    let archive = joomla_archive(dir.path());
    let layout = layout(&["images"]);
    let mut dry = options(Some(&dir.path().join("cache")));
    dry.dry_run = true;
    let summary = seed(&s, &layout, &archive, &dry).await.unwrap();
    assert!(summary.dry_run);
    assert_eq!(summary.uploaded(), 6);
    assert_eq!(summary.planned.len(), 6);
    assert!(!s.bucket_exists(&layout.entries[0].mounts[0].bucket).await.unwrap());
    assert!(!dir.path().join("cache").exists(), "a dry run records nothing");
}

#[tokio::test]
async fn seeds_from_the_backup_bucket_in_the_datastore() {
    let t = TestEndpoint::from_env();
    let s = t.store();
    let dir = tempfile::tempdir().unwrap();
    let archive = joomla_archive(dir.path());
    let layout = layout(&["images"]);
    let backups = unique_bucket("adt-backups");
    s.ensure_bucket(&backups).await.unwrap();
    let body = Bytes::from(std::fs::read(&archive).unwrap());
    s.put(&backups, "applicationsourcecode.tar.gz", body, &PutOptions::default())
        .await
        .unwrap();
    let source = ArchiveSource::Datastore {
        store: s.clone(),
        bucket: backups.clone(),
        key: "applicationsourcecode.tar.gz".into(),
    };
    let summary = adt_seeder::seed(&s, &layout, &source, &options(None), Arc::new(NoProgress))
        .await
        .unwrap();
    assert_eq!(summary.uploaded(), 6);
    let bucket = &layout.entries[0].mounts[0].bucket;
    assert_eq!(
        s.get_bytes(bucket, "video.mp4").await.unwrap().1,
        Bytes::from(pattern(12 * MIB + 3, 1))
    );

    let absent = ArchiveSource::Datastore {
        store: s.clone(),
        bucket: backups.clone(),
        key: "missing.tar.gz".into(),
    };
    let err = adt_seeder::seed(&s, &layout, &absent, &options(None), Arc::new(NoProgress))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("missing.tar.gz"), "{err}");
    s.remove_bucket(&backups).await.unwrap();
    cleanup(&s, &layout).await;
}

/// A part size of 0 used to hang the ETag computation forever; options
/// that cannot work are refused before anything is read or written.
#[tokio::test]
async fn options_that_cannot_work_are_refused() {
    let s = Store::in_memory();
    let dir = tempfile::tempdir().unwrap();
    let archive = joomla_archive(dir.path());
    let layout = layout(&["images"]);
    for change in [
        (|o: &mut SeedOptions| o.part_size = 0) as fn(&mut SeedOptions),
        |o: &mut SeedOptions| o.jobs = 0,
    ] {
        let mut o = options(None);
        change(&mut o);
        let err = tokio::time::timeout(std::time::Duration::from_secs(10), seed(&s, &layout, &archive, &o))
            .await
            .expect("refused at once, not hung")
            .unwrap_err();
        assert!(matches!(err, SeedError::Options(_)), "{err}");
    }
    assert!(s.list_buckets().await.unwrap().is_empty(), "nothing written");
}
