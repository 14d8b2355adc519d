//! Backups in the datastore (the embedded emulator, or moto with
//! ADT_TEST_S3=moto): upload and rotation, two uploads at once, verify
//! refusing truncated and marker-less archives, and the lock's expiry.

use std::path::{Path, PathBuf};
use std::time::Duration;

use adt_backups::{BackupError, Exclusions, UploadOptions, create, upload, verify};
use adt_datastore::Secret;
use adt_datastore::{Connection, Endpoint, PutOptions, Store};
use adt_localfs::MountTable;
use adt_template::{ADT_LOCK_KEY, ARCHIVE_KEY, LOCK_KEY, PREVIOUS_KEY};
use adt_testkit::{TestEndpoint, unique_bucket};
use bytes::Bytes;

fn options() -> UploadOptions {
    with(UploadOptions::default(), |o| {
        o.settle = Duration::from_millis(300);
        o.lock_wait = Duration::from_secs(60);
    })
}

/// A backup archive of a small webroot whose index.php says `tag`.
fn archive(dir: &Path, tag: &str) -> PathBuf {
    let webroot = dir.join(format!("html-{tag}"));
    std::fs::create_dir_all(webroot.join("sub")).unwrap();
    std::fs::write(webroot.join("index.php"), format!("<?php // {tag}")).unwrap();
    std::fs::write(webroot.join("sub/big.bin"), vec![7u8; 300_000]).unwrap();
    let out = dir.join(format!("{tag}.tar.gz"));
    let ex = Exclusions::new(&webroot, None, &MountTable::default(), &[]).unwrap();
    create(&webroot, &ex, &MountTable::default(), &out, 6).unwrap();
    out
}

async fn body(s: &Store, bucket: &str, key: &str) -> Bytes {
    s.get_bytes(bucket, key).await.unwrap().1
}

#[tokio::test]
async fn uploads_rotate_and_verify() {
    let t = TestEndpoint::from_env();
    let s = t.store();
    let dir = tempfile::tempdir().unwrap();
    let bucket = unique_bucket("adt-bk");
    let (first, second) = (archive(dir.path(), "first"), archive(dir.path(), "second"));

    let r = upload(&s, &bucket, &first, &options()).await.unwrap();
    assert!(!r.previous_kept);
    assert_eq!(r.bytes, std::fs::metadata(&first).unwrap().len());
    let v = verify(&s, &bucket, ARCHIVE_KEY).await.unwrap();
    assert!(v.entries >= 5, "{v:?}");

    let r = upload(&s, &bucket, &second, &options()).await.unwrap();
    assert!(r.previous_kept);
    assert_eq!(
        body(&s, &bucket, ARCHIVE_KEY).await,
        Bytes::from(std::fs::read(&second).unwrap())
    );
    assert_eq!(
        body(&s, &bucket, PREVIOUS_KEY).await,
        Bytes::from(std::fs::read(&first).unwrap())
    );
    verify(&s, &bucket, PREVIOUS_KEY).await.unwrap();
    let keys: Vec<String> = s
        .list(&bucket, None)
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.key)
        .collect();
    assert_eq!(keys, [ARCHIVE_KEY, PREVIOUS_KEY], "no temporary key or lock left");
    s.remove_bucket(&bucket).await.unwrap();
}

#[tokio::test]
async fn two_uploads_at_once_keep_both_backups() {
    let t = TestEndpoint::from_env();
    let s = t.store();
    let dir = tempfile::tempdir().unwrap();
    let bucket = unique_bucket("adt-bk-race");
    let (a, b) = (archive(dir.path(), "web1"), archive(dir.path(), "web2"));
    let opts = options();
    let (ra, rb) = tokio::join!(upload(&s, &bucket, &a, &opts), upload(&s, &bucket, &b, &opts));
    ra.unwrap();
    rb.unwrap();
    let current = body(&s, &bucket, ARCHIVE_KEY).await;
    let previous = body(&s, &bucket, PREVIOUS_KEY).await;
    let (a, b) = (
        Bytes::from(std::fs::read(&a).unwrap()),
        Bytes::from(std::fs::read(&b).unwrap()),
    );
    assert!(
        (current == a && previous == b) || (current == b && previous == a),
        "both backups kept, one as .BACKUP"
    );
    verify(&s, &bucket, ARCHIVE_KEY).await.unwrap();
    verify(&s, &bucket, PREVIOUS_KEY).await.unwrap();
    s.remove_bucket(&bucket).await.unwrap();
}

#[tokio::test]
async fn verify_refuses_truncated_and_markerless_archives() {
    let t = TestEndpoint::from_env();
    let s = t.store();
    let dir = tempfile::tempdir().unwrap();
    let bucket = unique_bucket("adt-bk-bad");
    s.ensure_bucket(&bucket).await.unwrap();
    let good = std::fs::read(archive(dir.path(), "good")).unwrap();
    let none = PutOptions::default();
    s.put(
        &bucket,
        ARCHIVE_KEY,
        Bytes::from(good[..good.len() / 2].to_vec()),
        &none,
    )
    .await
    .unwrap();
    let err = verify(&s, &bucket, ARCHIVE_KEY).await.unwrap_err();
    assert!(matches!(err, BackupError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("truncated"), "{err}");

    let plain = dir.path().join("plain.tar.gz");
    let mut b = tar::Builder::new(flate2::write::GzEncoder::new(
        std::fs::File::create(&plain).unwrap(),
        flate2::Compression::fast(),
    ));
    let mut h = tar::Header::new_gnu();
    h.set_size(3);
    h.set_mode(0o644);
    h.set_cksum();
    b.append_data(&mut h, "index.php", &b"php"[..]).unwrap();
    b.into_inner().unwrap().finish().unwrap();
    s.put(&bucket, ARCHIVE_KEY, Bytes::from(std::fs::read(&plain).unwrap()), &none)
        .await
        .unwrap();
    let err = verify(&s, &bucket, ARCHIVE_KEY).await.unwrap_err();
    assert!(err.to_string().contains("XXXXXX-DO_NOT_REMOVE"), "{err}");
    s.remove_bucket(&bucket).await.unwrap();
}

#[tokio::test]
async fn an_expired_lock_is_taken_over_and_a_live_one_waited_for() {
    let t = TestEndpoint::from_env();
    let s = t.store();
    let dir = tempfile::tempdir().unwrap();
    let bucket = unique_bucket("adt-bk-lock");
    s.ensure_bucket(&bucket).await.unwrap();
    let a = archive(dir.path(), "lock");
    let none = PutOptions::default();
    s.put(&bucket, LOCK_KEY, Bytes::from_static(b"dead-host-1 1000"), &none)
        .await
        .unwrap();
    upload(&s, &bucket, &a, &options()).await.unwrap();
    assert!(s.head(&bucket, LOCK_KEY).await.unwrap().is_none(), "released");

    let far = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    s.put(&bucket, LOCK_KEY, Bytes::from(format!("web2-77 {far}")), &none)
        .await
        .unwrap();
    let short = with(options(), |o| o.lock_wait = Duration::from_secs(2));
    let err = upload(&s, &bucket, &a, &short).await.unwrap_err();
    assert!(matches!(err, BackupError::Busy { .. }), "{err}");
    assert!(err.to_string().contains("web2-77"), "{err}");
    s.remove_bucket(&bucket).await.unwrap();
}

/// Issue 13, case 10: the lock's expiry is pushed forward while a long
/// upload runs, so another webserver never takes it over as dead.
#[tokio::test]
async fn the_lock_is_renewed_while_a_long_upload_runs() {
    let t = TestEndpoint::from_env();
    let proxy = adt_testkit::FaultProxy::start(&t.endpoint).unwrap();
    proxy.add(adt_testkit::Fault::Latency(Duration::from_millis(300)));
    let slow = {
        let endpoint = Endpoint::parse(&proxy.endpoint(), Some(&t.region)).unwrap();
        Store::connect(&Connection::new(
            endpoint,
            Secret::new(&t.access_key),
            Secret::new(&t.secret_key),
        ))
        .unwrap()
    };
    let s = t.store();
    let dir = tempfile::tempdir().unwrap();
    let bucket = unique_bucket("adt-bk-renew");
    // Incompressible, three 8 MiB parts: a dozen slow requests.
    let big = dir.path().join("big.tar.gz");
    let body: Vec<u8> = (0..20 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect();
    std::fs::write(&big, &body).unwrap();
    let opts = with(options(), |o| {
        o.lock_ttl = Duration::from_secs(2);
        o.settle = Duration::from_millis(100);
    });
    let uploading = tokio::spawn({
        let (slow, bucket, big, opts) = (slow.clone(), bucket.clone(), big.clone(), opts.clone());
        async move { upload(&slow, &bucket, &big, &opts).await }
    });
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert!(!uploading.is_finished(), "the upload is still running (slow proxy)");
    let (_, lock) = s.get_bytes(&bucket, LOCK_KEY).await.unwrap();
    let text = String::from_utf8_lossy(&lock).into_owned();
    let expires: u64 = text.split(' ').nth(1).unwrap().trim().parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(expires >= now, "renewed: expires {expires}, now {now} ({text})");
    uploading.await.unwrap().unwrap();
    assert!(s.head(&bucket, LOCK_KEY).await.unwrap().is_none(), "released");
    s.remove_bucket(&bucket).await.unwrap();
}

/// `base` changed by `change` (options are `#[non_exhaustive]`: no
/// struct literals outside their crate).
fn with<T>(mut base: T, change: impl FnOnce(&mut T)) -> T {
    change(&mut base);
    base
}

fn adt_options() -> adt_backups::AdtLockOptions {
    with(adt_backups::AdtLockOptions::default(), |o| {
        o.settle = Duration::from_millis(200);
        o.poll = Duration::from_millis(200);
        o.wait = Duration::from_secs(2);
        o.renew_every = Duration::from_millis(500);
    })
}

/// Where ADT's cron looks: `ls s3://CONFIG/BACKUP_RUNNING`, and its age
/// from Last-Modified.
async fn adt_sees(s: &Store, bucket: &str) -> Option<i64> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    s.list(bucket, Some(ADT_LOCK_KEY))
        .await
        .unwrap()
        .into_iter()
        .find(|o| o.key == ADT_LOCK_KEY)
        .map(|o| now - o.last_modified.unwrap())
}

/// ADT's webservers and ours back up the same site during a migration:
/// each must see the other's lock (ADT's BACKUP_RUNNING in its config
/// bucket on datastore 1).
#[tokio::test]
async fn adts_backup_lock_is_waited_for_held_renewed_and_released() {
    let t = TestEndpoint::from_env();
    let s = t.store();
    let config = unique_bucket("adt-cfg");
    s.ensure_bucket(&config).await.unwrap();
    let lock = adt_backups::AdtLock::new(s.clone(), config.clone(), adt_options());

    // An ADT webserver's lock (an empty object, PerformPutToDatastore.sh),
    // just written: we wait, then give up without touching it.
    s.put(&config, ADT_LOCK_KEY, Bytes::new(), &PutOptions::default())
        .await
        .unwrap();
    let e = lock.acquire().await.unwrap_err();
    assert!(
        matches!(&e, BackupError::Busy { key, .. } if key == ADT_LOCK_KEY),
        "{e}"
    );
    assert!(e.to_string().contains("an ADT webserver's BACKUP_RUNNING"), "{e}");
    assert_eq!(body(&s, &config, ADT_LOCK_KEY).await.len(), 0, "ADT's lock left alone");

    // Older than ADT's 300 s (here 1 s): ADT would delete it; so do we, and take it.
    let stale = adt_backups::AdtLock::new(
        s.clone(),
        config.clone(),
        with(adt_options(), |o| o.stale_after = Duration::from_secs(1)),
    );
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let guard = stale.acquire().await.unwrap();
    assert!(guard.in_use());
    assert!(!body(&s, &config, ADT_LOCK_KEY).await.is_empty(), "ours now");

    // Held across a backup longer than ADT's threshold: ADT always finds it young.
    tokio::time::sleep(Duration::from_millis(2600)).await;
    let age = adt_sees(&s, &config).await.expect("ADT sees the lock");
    assert!(age <= 1, "renewed: {age} s old");
    // A second uploader of ours waits for it too.
    assert!(matches!(lock.acquire().await, Err(BackupError::Busy { .. })));
    guard.release().await.unwrap();
    assert_eq!(adt_sees(&s, &config).await, None, "released");

    // ADT's shutdown backup deletes the lock whoever holds it: we put it back.
    let guard = lock.acquire().await.unwrap();
    s.delete(&config, ADT_LOCK_KEY).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(adt_sees(&s, &config).await.is_some(), "put back while held");
    // Another holder's lock in its place: ours was lost, and release says so.
    s.put(
        &config,
        ADT_LOCK_KEY,
        Bytes::from_static(b"someone-else"),
        &PutOptions::default(),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let e = guard.release().await.unwrap_err();
    assert!(matches!(e, BackupError::LockLost { .. }), "{e}");
    assert_eq!(
        &body(&s, &config, ADT_LOCK_KEY).await[..],
        b"someone-else",
        "theirs left"
    );
    s.delete(&config, ADT_LOCK_KEY).await.unwrap();
    s.remove_bucket(&config).await.unwrap();

    // No config bucket: no ADT webserver uses the lock; nothing is created.
    let absent = adt_backups::AdtLock::new(s.clone(), unique_bucket("adt-none"), adt_options());
    let guard = absent.acquire().await.unwrap();
    assert!(!guard.in_use());
    assert!(!s.bucket_exists(absent.bucket()).await.unwrap());
    guard.release().await.unwrap();
}
