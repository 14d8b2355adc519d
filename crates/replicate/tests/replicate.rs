//! adt-replicate between two real S3 servers: the primary is an embedded
//! emulator; the destination is a second embedded instance, or moto with
//! ADT_TEST_S3=moto (`cargo xtask e2e --emulator moto`). New, changed and
//! deleted objects, metadata and content type, the deletion guard, a run
//! interrupted and resumed, and one destination down while another is up.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use adt_datastore::Secret;
use adt_datastore::{Connection, Endpoint, PutOptions, RetryPolicy, Store};
use adt_replication::{
    Destination, MaxChange, NoProgress, REPLACED_PREFIX, ReplicateError, ReplicateOptions, Report, SOURCE_ETAG_KEY,
};
use adt_testkit::{Fault, FaultProxy, S3Target, TestEndpoint, pattern, unique_bucket};
use bytes::Bytes;

const MIB: usize = 1024 * 1024;

fn store_at(endpoint: &str, t: &TestEndpoint) -> Store {
    let mut c = Connection::new(
        Endpoint::parse(endpoint, Some(&t.region)).unwrap(),
        Secret::new(&t.access_key),
        Secret::new(&t.secret_key),
    );
    c.retry = RetryPolicy {
        max_attempts: 3,
        ..RetryPolicy::default()
    };
    Store::connect(&c).unwrap()
}

fn store(t: &TestEndpoint) -> Store {
    store_at(&t.endpoint, t)
}

struct Pair {
    primary: Store,
    destination: Store,
    _p: TestEndpoint,
    _d: TestEndpoint,
}

fn pair() -> Pair {
    let p = TestEndpoint::start(S3Target::Embedded);
    let d = TestEndpoint::from_env();
    Pair {
        primary: store(&p),
        destination: store(&d),
        _p: p,
        _d: d,
    }
}

fn opts() -> ReplicateOptions {
    with(ReplicateOptions::default(), |o| o.jobs = 4)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().unwrap()
}

async fn run(p: &Pair, buckets: &[String], o: &ReplicateOptions) -> Result<Report, ReplicateError> {
    let dests = [Destination {
        number: 2,
        store: p.destination.clone(),
    }];
    adt_replication::replicate(&p.primary, &dests, buckets, o, Arc::new(NoProgress)).await
}

fn with_meta(content_type: &str, mode: &str) -> PutOptions {
    let mut metadata = BTreeMap::new();
    metadata.insert("mode".to_string(), mode.to_string());
    metadata.insert("mtime".to_string(), "1650000000".to_string());
    PutOptions {
        content_type: Some(content_type.into()),
        metadata,
    }
}

/// Puts `body` as a multipart upload in 5 MiB parts (an ETag ending in -N).
async fn put_multipart(s: &Store, bucket: &str, key: &str, body: &[u8], o: &PutOptions) {
    let mut upload = s.start_multipart(bucket, key, o).await.unwrap();
    for part in body.chunks(5 * MIB) {
        upload.upload_part(Bytes::copy_from_slice(part)).await.unwrap();
    }
    upload.complete().await.unwrap();
}

/// Every object of `bucket` on the destination equals the primary's: bytes,
/// content type and user metadata (besides the recorded source ETag).
async fn assert_same(p: &Pair, bucket: &str) {
    let ours = p.primary.list(bucket, None).await.unwrap();
    let mut theirs = p.destination.list(bucket, None).await.unwrap();
    theirs.retain(|o| !o.key.starts_with(REPLACED_PREFIX));
    let keys = |l: &[adt_datastore::ObjectInfo]| l.iter().map(|o| o.key.clone()).collect::<Vec<_>>();
    assert_eq!(keys(&ours), keys(&theirs), "same keys in {bucket}");
    for o in &ours {
        let (m1, b1) = p.primary.get_bytes(bucket, &o.key).await.unwrap();
        let (mut m2, b2) = p.destination.get_bytes(bucket, &o.key).await.unwrap();
        assert_eq!(b1, b2, "{} bytes", o.key);
        assert_eq!(m1.content_type, m2.content_type, "{} content type", o.key);
        assert_eq!(m2.metadata.remove(SOURCE_ETAG_KEY).as_deref(), Some(m1.etag.as_str()));
        assert_eq!(m1.metadata, m2.metadata, "{} metadata", o.key);
    }
}

#[test]
fn new_changed_and_deleted_objects() {
    let p = pair();
    let rt = runtime();
    let images = unique_bucket("images");
    let media = unique_bucket("media");
    rt.block_on(async {
        for b in [&images, &media] {
            p.primary.ensure_bucket(b).await.unwrap();
        }
        let s = &p.primary;
        s.put(
            &images,
            "logo.png",
            Bytes::from_static(b"PNG"),
            &with_meta("image/png", "33188"),
        )
        .await
        .unwrap();
        s.put(
            &images,
            "banners/",
            Bytes::new(),
            &with_meta("application/x-directory", "16877"),
        )
        .await
        .unwrap();
        s.put(
            &images,
            "banners/été.jpg",
            Bytes::from(pattern(70_000, 3)),
            &with_meta("image/jpeg", "33184"),
        )
        .await
        .unwrap();
        put_multipart(
            s,
            &images,
            "video.mp4",
            &pattern(11 * MIB + 5, 9),
            &with_meta("video/mp4", "33188"),
        )
        .await;
        s.put(
            &media,
            "a.pdf",
            Bytes::from_static(b"%PDF"),
            &with_meta("application/pdf", "33188"),
        )
        .await
        .unwrap();

        let buckets = vec![images.clone(), media.clone()];
        let first = run(&p, &buckets, &opts()).await.unwrap();
        assert!(first.ok(), "{first:?}");
        assert_eq!(first.copied(), 5);
        assert!(first.buckets.iter().all(|b| b.created && b.destination == 2));
        let video = &first.buckets.iter().find(|b| b.bucket == images).unwrap();
        assert_eq!(video.bytes, 3 + 70_000 + (11 * MIB + 5) as u64);
        assert_same(&p, &images).await;
        assert_same(&p, &media).await;

        // Nothing changed: nothing copied, though the multipart video's
        // copy has another ETag than the primary's.
        let second = run(&p, &buckets, &opts()).await.unwrap();
        assert_eq!(second.copied(), 0, "{second:?}");
        assert_eq!(second.buckets.iter().map(|b| b.skipped).sum::<u64>(), 5);
        assert!(second.buckets.iter().all(|b| !b.created));

        // A new object, one with new content of another size, one with new
        // content of the same size, one with only new metadata, one deleted.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        s.put(
            &images,
            "new.gif",
            Bytes::from_static(b"GIF89a"),
            &with_meta("image/gif", "33188"),
        )
        .await
        .unwrap();
        s.put(
            &images,
            "logo.png",
            Bytes::from_static(b"PNG2"),
            &with_meta("image/png", "33188"),
        )
        .await
        .unwrap();
        s.put(
            &images,
            "banners/été.jpg",
            Bytes::from(pattern(70_000, 4)),
            &with_meta("image/jpeg", "33184"),
        )
        .await
        .unwrap();
        s.put(
            &media,
            "a.pdf",
            Bytes::from_static(b"%PDF"),
            &with_meta("application/pdf", "33152"),
        )
        .await
        .unwrap();
        s.delete(&images, "banners/").await.unwrap();

        // Issue 13, case 11: replacing content counts against the guard
        // like deleting: 2 of 4 objects is over 10%, refused, nothing written.
        let err = run(&p, &buckets, &opts()).await.unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, ReplicateError::TooManyChanges { .. }), "{text}");
        assert!(text.contains("2 of 4 objects would be replaced"), "{text}");
        assert!(
            p.destination.head(&images, "new.gif").await.unwrap().is_none(),
            "nothing copied"
        );
        let (_, before) = p.destination.get_bytes(&images, "logo.png").await.unwrap();

        let third = run(&p, &buckets, &with(opts(), |o| o.force = true)).await.unwrap();
        assert!(third.ok(), "{third:?}");
        let row = |r: &Report, b: &str| r.buckets.iter().find(|x| x.bucket == b).unwrap().clone();
        assert_eq!((row(&third, &images).copied, row(&third, &images).deleted), (3, 0));
        // What it replaced is kept: the old logo, under .adt-replaced/RUN/.
        assert_eq!(row(&third, &images).preserved, 2);
        let kept = p.destination.list(&images, Some(REPLACED_PREFIX)).await.unwrap();
        let old_logo = kept
            .iter()
            .find(|o| o.key.ends_with("/logo.png"))
            .expect("the old logo is kept");
        let (_, body) = p.destination.get_bytes(&images, &old_logo.key).await.unwrap();
        assert_eq!(body, before);
        assert_eq!(row(&third, &media).copied, 1, "a metadata-only change is copied");
        assert!(
            p.destination.head(&images, "banners/").await.unwrap().is_some(),
            "never deletes without --delete"
        );

        // --delete: 1 of 5 objects is over 10%, so it is refused, and
        // nothing is written either.
        s.put(
            &images,
            "later.png",
            Bytes::from_static(b"later"),
            &PutOptions::default(),
        )
        .await
        .unwrap();
        let delete = with(opts(), |o| o.delete = true);
        let err = run(&p, &buckets, &delete).await.unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, ReplicateError::TooManyChanges { .. }), "{text}");
        assert!(
            text.contains(&images)
                && text.contains("of 5 objects")
                && text.contains("1 deleted")
                && text.contains("force the run"),
            "{text}"
        );
        assert!(p.destination.head(&images, "banners/").await.unwrap().is_some());
        assert!(
            p.destination.head(&images, "later.png").await.unwrap().is_none(),
            "nothing copied"
        );

        // A dry run with a limit that allows it lists and changes nothing.
        let allowed = with(delete.clone(), |o| {
            o.max_change = MaxChange::Count(1);
            o.dry_run = true;
        });
        let dry = run(&p, &buckets, &allowed).await.unwrap();
        assert!(dry.dry_run);
        assert_eq!(row(&dry, &images).copy_keys, vec!["later.png".to_string()]);
        assert_eq!(row(&dry, &images).delete_keys, vec!["banners/".to_string()]);
        assert!(p.destination.head(&images, "later.png").await.unwrap().is_none());

        // --force deletes it; the buckets are then the same.
        let forced = with(delete, |o| o.force = true);
        let done = run(&p, &buckets, &forced).await.unwrap();
        assert_eq!((row(&done, &images).copied, row(&done, &images).deleted), (1, 1));
        assert_eq!(row(&done, &images).preserved, 1, "the deleted object is kept");
        assert_same(&p, &images).await;
        assert_same(&p, &media).await;

        // Kept versions go once older than the retention; the next run
        // neither copies nor deletes them.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let expiring = with(opts(), |o| o.keep_replaced = Some(Duration::ZERO));
        let cleaned = run(&p, &buckets, &expiring).await.unwrap();
        assert_eq!(row(&cleaned, &images).expired, 3, "{cleaned:?}");
        assert_eq!(cleaned.copied(), 0);
        assert!(
            p.destination
                .list(&images, Some(REPLACED_PREFIX))
                .await
                .unwrap()
                .is_empty()
        );
    });
}

#[test]
fn an_interrupted_run_is_resumed_by_the_next() {
    let p = TestEndpoint::start(S3Target::Embedded);
    let d = TestEndpoint::from_env();
    let proxy = FaultProxy::start(&d.endpoint).unwrap();
    proxy.add(Fault::Latency(Duration::from_millis(40)));
    let slow = Pair {
        primary: store(&p),
        destination: store_at(&proxy.endpoint(), &d),
        _p: p,
        _d: d,
    };
    let rt = runtime();
    let bucket = unique_bucket("uploads");
    rt.block_on(async {
        slow.primary.ensure_bucket(&bucket).await.unwrap();
        for i in 0..120u32 {
            slow.primary
                .put(
                    &bucket,
                    &format!("{:02}/{i}.jpg", i % 5),
                    Bytes::from(pattern(3_000 + i as usize, i as u8)),
                    &with_meta("image/jpeg", "33188"),
                )
                .await
                .unwrap();
        }
        put_multipart(
            &slow.primary,
            &bucket,
            "big.mov",
            &pattern(10 * MIB, 7),
            &PutOptions::default(),
        )
        .await;
        let buckets = vec![bucket.clone()];
        let interrupted = tokio::time::timeout(Duration::from_millis(1500), run(&slow, &buckets, &opts())).await;
        assert!(interrupted.is_err(), "the run should still have been copying");
        let part = slow.destination.list(&bucket, None).await.unwrap();
        assert!(
            !part.is_empty() && part.len() < 121,
            "interrupted mid-way: {} of 121",
            part.len()
        );

        proxy.clear();
        let resumed = run(&slow, &buckets, &opts()).await.unwrap();
        assert!(resumed.ok(), "{resumed:?}");
        let b = &resumed.buckets[0];
        assert_eq!(
            b.skipped,
            part.len() as u64,
            "what the first run copied is not copied again"
        );
        assert_eq!(b.copied + b.skipped, 121);
        assert_same(&slow, &bucket).await;
    });
}

#[test]
fn one_destination_down_does_not_stop_another() {
    let p = TestEndpoint::start(S3Target::Embedded);
    let d = TestEndpoint::from_env();
    let primary = store(&p);
    let up = store(&d);
    // A port nothing listens on.
    let down_endpoint = adt_testkit::closed_endpoint();
    let port = down_endpoint.rsplit(':').next().unwrap().to_string();
    let down = store_at(&down_endpoint, &d);
    let rt = runtime();
    let bucket = unique_bucket("images");
    rt.block_on(async {
        primary.ensure_bucket(&bucket).await.unwrap();
        primary
            .put(&bucket, "a.png", Bytes::from_static(b"a"), &PutOptions::default())
            .await
            .unwrap();
        let dests = [
            Destination {
                number: 2,
                store: down.clone(),
            },
            Destination {
                number: 3,
                store: up.clone(),
            },
        ];
        let report = adt_replication::replicate(
            &primary,
            &dests,
            std::slice::from_ref(&bucket),
            &opts(),
            Arc::new(NoProgress),
        )
        .await
        .unwrap();
        assert!(!report.ok());
        assert_eq!(report.failed_destinations.len(), 1, "{report:?}");
        let failed = &report.failed_destinations[0];
        assert_eq!((failed.destination, failed.bucket.as_deref()), (2, None));
        assert!(
            failed.endpoint.contains(&port) && failed.error.contains("cannot reach"),
            "{failed:?}"
        );
        assert_eq!(report.buckets.len(), 1);
        assert_eq!((report.buckets[0].destination, report.buckets[0].copied), (3, 1));
        assert_eq!(
            up.get_bytes(&bucket, "a.png").await.unwrap().1,
            Bytes::from_static(b"a")
        );

        // The primary itself as a destination, or a bucket the primary lacks, stop the run.
        let same = [Destination {
            number: 2,
            store: primary.clone(),
        }];
        let err = adt_replication::replicate(
            &primary,
            &same,
            std::slice::from_ref(&bucket),
            &opts(),
            Arc::new(NoProgress),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(err, ReplicateError::SameEndpoint { destination: 2, .. }),
            "{err}"
        );
        let missing = unique_bucket("absent");
        let err = adt_replication::replicate(
            &primary,
            &dests[1..],
            std::slice::from_ref(&missing),
            &opts(),
            Arc::new(NoProgress),
        )
        .await
        .unwrap_err();
        assert!(
            err.to_string().contains(&missing) && err.to_string().contains("seed it first"),
            "{err}"
        );
        assert!(!up.bucket_exists(&missing).await.unwrap(), "nothing created");
    });
}

/// The one key policy (issue 13): a primary key the tools refuse (a blank
/// part, say, which some clients cannot show) is named in a warning and
/// not spread to the replicas.
#[test]
fn keys_outside_the_policy_are_named_not_replicated() {
    let p = pair();
    let rt = runtime();
    let bucket = unique_bucket("keys");
    rt.block_on(async {
        p.primary.ensure_bucket(&bucket).await.unwrap();
        for key in ["fine.jpg", "a/ /blank.jpg"] {
            p.primary
                .put(&bucket, key, Bytes::from_static(b"x"), &PutOptions::default())
                .await
                .unwrap();
        }
        let report = run(&p, std::slice::from_ref(&bucket), &opts()).await.unwrap();
        assert_eq!(report.copied(), 1, "{report:?}");
        assert!(
            report
                .warnings
                .iter()
                .any(|w| w.contains("a/ /blank.jpg") && w.contains("not replicated")),
            "{:?}",
            report.warnings
        );
        assert!(p.destination.head(&bucket, "a/ /blank.jpg").await.unwrap().is_none());
    });
}

/// `base` changed by `change` (options are `#[non_exhaustive]`: no
/// struct literals outside their crate).
fn with<T>(mut base: T, change: impl FnOnce(&mut T)) -> T {
    change(&mut base);
    base
}
