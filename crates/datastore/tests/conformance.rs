//! The datastore operations, as one suite run against every backend: any
//! S3 (the embedded emulator by default, moto with ADT_TEST_S3=moto, a
//! real endpoint with ADT_TEST_S3=external; see adt_testkit::TestEndpoint),
//! the in-memory store and a local directory. `cargo xtask test` runs it
//! against both emulators. Every test makes its own buckets and
//! removes them.

use std::collections::BTreeMap;

use adt_datastore::{BucketState, DatastoreError, MIN_PART_SIZE, PutOptions, PutOutcome, Store};
use adt_testkit::{TestEndpoint, unique_bucket};
use bytes::Bytes;

/// Every backend the suite runs on: the S3 that ADT_TEST_S3 names, an
/// in-memory store, a local directory, and object_store's own S3 client on
/// a bucket of that same S3 (`s3://BUCKET`), and the pairs copies are
/// tested across.
struct Backends {
    _s3: TestEndpoint,
    _dir: tempfile::TempDir,
    stores: Vec<Store>,
}

async fn backends() -> Backends {
    let s3 = TestEndpoint::from_env();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("file://{}", dir.path().join("root").display());
    let native = s3.store();
    let root = unique_bucket("adt-conf-os");
    native.ensure_bucket(&root).await.unwrap();
    let settings: Vec<(String, String)> = [
        ("aws_endpoint", s3.endpoint.as_str()),
        ("aws_allow_http", "true"),
        ("aws_region", s3.region.as_str()),
        ("aws_access_key_id", s3.access_key.as_str()),
        ("aws_secret_access_key", s3.secret_key.as_str()),
        ("aws_virtual_hosted_style_request", "false"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let over_s3 = Store::open_url_with(&format!("s3://{root}/conformance"), &settings).unwrap();
    let stores = vec![native, Store::in_memory(), Store::open_url(&url).unwrap(), over_s3];
    Backends {
        _s3: s3,
        _dir: dir,
        stores,
    }
}

impl Backends {
    /// S3 to S3, S3 to a directory, a directory to memory, memory to S3,
    /// S3 to object_store's S3.
    fn pairs(&self) -> Vec<(&Store, &Store)> {
        let [s3, memory, file, over_s3] = [&self.stores[0], &self.stores[1], &self.stores[2], &self.stores[3]];
        vec![(s3, s3), (s3, file), (file, memory), (memory, s3), (s3, over_s3)]
    }
}

fn meta(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[tokio::test]
async fn buckets_are_created_once() {
    let b = backends().await;
    for s in &b.stores {
        let bucket = unique_bucket("adt-conf-bucket");
        assert!(!s.bucket_exists(&bucket).await.unwrap());
        assert_eq!(s.ensure_bucket(&bucket).await.unwrap(), BucketState::Created);
        assert_eq!(s.ensure_bucket(&bucket).await.unwrap(), BucketState::Existed);
        assert!(s.bucket_exists(&bucket).await.unwrap());
        assert!(s.list_buckets().await.unwrap().contains(&bucket));
        s.remove_bucket(&bucket).await.unwrap();
        assert!(!s.bucket_exists(&bucket).await.unwrap());
    }
}

#[tokio::test]
async fn objects_keep_metadata_and_content_type() {
    let b = backends().await;
    for s in &b.stores {
        let bucket = unique_bucket("adt-conf-objects");
        s.ensure_bucket(&bucket).await.unwrap();
        let opts = PutOptions {
            content_type: Some("image/png".into()),
            metadata: meta(&[("mode", "33188"), ("uid", "33"), ("gid", "33"), ("mtime", "1700000000")]),
        };
        let keys = ["logo.png", "banners/été 2024/bannière.png", "a+b=c&d.png"];
        for key in keys {
            s.put(&bucket, key, Bytes::from(format!("png bytes of {key}")), &opts)
                .await
                .unwrap();
        }
        let dir = PutOptions {
            content_type: Some("application/x-directory".into()),
            metadata: meta(&[("mode", "16877")]),
        };
        s.put(&bucket, "empty/", Bytes::new(), &dir).await.unwrap();

        let head = s.head(&bucket, keys[1]).await.unwrap().expect("object is there");
        assert_eq!(head.content_type.as_deref(), Some("image/png"));
        assert_eq!(head.metadata, opts.metadata);
        assert_eq!(head.size, format!("png bytes of {}", keys[1]).len() as u64);
        assert!(s.head(&bucket, "missing.png").await.unwrap().is_none());

        let listed = s.list(&bucket, None).await.unwrap();
        let mut names: Vec<&str> = listed.iter().map(|o| o.key.as_str()).collect();
        names.sort();
        let mut expected = vec![keys[0], keys[1], keys[2], "empty/"];
        expected.sort();
        assert_eq!(names, expected);
        let logo = listed.iter().find(|o| o.key == "logo.png").unwrap();
        assert_eq!(logo.etag, s.head(&bucket, "logo.png").await.unwrap().unwrap().etag);
        assert_eq!(s.list(&bucket, Some("banners/")).await.unwrap().len(), 1);

        let with_meta = s.list_with_metadata(&bucket, None, 4).await.unwrap();
        let marker = with_meta.iter().find(|(o, _)| o.key == "empty/").unwrap();
        assert_eq!(
            (marker.0.size, marker.1.metadata.get("mode").map(String::as_str)),
            (0, Some("16877"))
        );

        let (m, bytes) = s.get_bytes(&bucket, keys[2]).await.unwrap();
        assert_eq!(bytes, Bytes::from(format!("png bytes of {}", keys[2])));
        assert_eq!(m.metadata.get("uid").map(String::as_str), Some("33"));
        let err = s.get_bytes(&bucket, "nope.png").await.unwrap_err();
        assert!(matches!(err, DatastoreError::NoSuchKey { .. }), "{err}");
        let text = err.to_string();
        assert!(
            text.contains(&bucket) && text.contains("nope.png") && text.contains(s.endpoint().url()),
            "{text}"
        );

        s.delete(&bucket, "logo.png").await.unwrap();
        assert!(s.head(&bucket, "logo.png").await.unwrap().is_none());
        s.remove_bucket(&bucket).await.unwrap();
    }
}

#[tokio::test]
async fn conditional_create_never_overwrites() {
    let b = backends().await;
    for s in &b.stores {
        let bucket = unique_bucket("adt-conf-cond");
        s.ensure_bucket(&bucket).await.unwrap();
        let opts = PutOptions::default();
        let first = s
            .put_if_absent(&bucket, "a.jpg", Bytes::from_static(b"first"), &opts)
            .await
            .unwrap();
        assert!(matches!(first, PutOutcome::Created { .. }));
        let second = s
            .put_if_absent(&bucket, "a.jpg", Bytes::from_static(b"second"), &opts)
            .await
            .unwrap();
        assert_eq!(second, PutOutcome::Exists);
        assert_eq!(
            s.get_bytes(&bucket, "a.jpg").await.unwrap().1,
            Bytes::from_static(b"first")
        );

        // The same for a multipart upload: completing over an object keeps it.
        let mut upload = s.start_multipart(&bucket, "a.jpg", &opts).await.unwrap();
        upload.upload_part(Bytes::from_static(b"third")).await.unwrap();
        assert_eq!(upload.complete_if_absent().await.unwrap(), PutOutcome::Exists);
        assert_eq!(
            s.get_bytes(&bucket, "a.jpg").await.unwrap().1,
            Bytes::from_static(b"first")
        );
        let mut upload = s.start_multipart(&bucket, "b.jpg", &opts).await.unwrap();
        upload.upload_part(Bytes::from_static(b"fourth")).await.unwrap();
        assert!(matches!(
            upload.complete_if_absent().await.unwrap(),
            PutOutcome::Created { .. }
        ));
        assert_eq!(
            s.get_bytes(&bucket, "b.jpg").await.unwrap().1,
            Bytes::from_static(b"fourth")
        );
        s.remove_bucket(&bucket).await.unwrap();
    }
}

#[tokio::test]
async fn multipart_uploads_assemble_and_abort() {
    let b = backends().await;
    for s in &b.stores {
        let bucket = unique_bucket("adt-conf-multi");
        s.ensure_bucket(&bucket).await.unwrap();
        let opts = PutOptions {
            content_type: Some("video/mp4".into()),
            metadata: meta(&[("mode", "33188")]),
        };
        let part1 = Bytes::from(vec![1u8; MIN_PART_SIZE]);
        let part2 = Bytes::from(vec![2u8; 1024 * 1024 + 7]);
        let mut upload = s.start_multipart(&bucket, "video.mp4", &opts).await.unwrap();
        upload.upload_part(part1.clone()).await.unwrap();
        upload.upload_part(part2.clone()).await.unwrap();
        assert_eq!(upload.bytes(), (part1.len() + part2.len()) as u64);
        upload.complete().await.unwrap();
        let (m, bytes) = s.get_bytes(&bucket, "video.mp4").await.unwrap();
        assert_eq!(m.size, (part1.len() + part2.len()) as u64);
        assert_eq!(m.content_type.as_deref(), Some("video/mp4"));
        assert_eq!(m.metadata.get("mode").map(String::as_str), Some("33188"));
        assert_eq!(&bytes[..part1.len()], &part1[..]);
        assert_eq!(&bytes[part1.len()..], &part2[..]);

        // An aborted upload leaves nothing under its key.
        let mut upload = s.start_multipart(&bucket, "aborted.mp4", &opts).await.unwrap();
        upload.upload_part(part1.clone()).await.unwrap();
        upload.abort().await.unwrap();
        assert!(s.head(&bucket, "aborted.mp4").await.unwrap().is_none());
        s.remove_bucket(&bucket).await.unwrap();
    }
}

#[tokio::test]
async fn copies_between_datastores_keep_metadata() {
    let b = backends().await;
    for (src, dst) in b.pairs() {
        let (from, to) = (unique_bucket("adt-conf-src"), unique_bucket("adt-conf-dst"));
        src.ensure_bucket(&from).await.unwrap();
        dst.ensure_bucket(&to).await.unwrap();
        let opts = PutOptions {
            content_type: Some("image/jpeg".into()),
            metadata: meta(&[("mode", "33261"), ("mtime", "1699999999")]),
        };
        src.put(&from, "small.jpg", Bytes::from_static(b"jpeg"), &opts)
            .await
            .unwrap();
        let big = Bytes::from((0..9 * 1024 * 1024).map(|i| (i % 251) as u8).collect::<Vec<u8>>());
        src.put(&from, "big/raw.jpg", big.clone(), &opts).await.unwrap();

        assert_eq!(
            adt_datastore::copy_object(src, &from, "small.jpg", dst, &to)
                .await
                .unwrap(),
            4
        );
        assert_eq!(
            adt_datastore::copy_object(src, &from, "big/raw.jpg", dst, &to)
                .await
                .unwrap(),
            big.len() as u64
        );
        let (m, bytes) = dst.get_bytes(&to, "big/raw.jpg").await.unwrap();
        assert_eq!(bytes, big);
        assert_eq!(m.metadata, opts.metadata);
        assert_eq!(m.content_type.as_deref(), Some("image/jpeg"));
        let err = adt_datastore::copy_object(src, &from, "absent.jpg", dst, &to)
            .await
            .unwrap_err();
        assert!(matches!(err, DatastoreError::NoSuchKey { .. }), "{err}");
        src.remove_bucket(&from).await.unwrap();
        dst.remove_bucket(&to).await.unwrap();
    }
}

#[tokio::test]
async fn overlapping_multipart_uploads_all_complete() {
    // Rustack 0.12 deadlocked here until the testkit serialized its
    // multipart operations; any S3 must get through it.
    let b = backends().await;
    for s in &b.stores {
        let bucket = unique_bucket("adt-conf-overlap");
        s.ensure_bucket(&bucket).await.unwrap();
        let work = (0..6).map(|i| {
            let (s, bucket) = (s.clone(), bucket.clone());
            tokio::spawn(async move {
                let key = format!("video{i}.mp4");
                let mut upload = s.start_multipart(&bucket, &key, &PutOptions::default()).await.unwrap();
                upload
                    .upload_part(Bytes::from(vec![i as u8; MIN_PART_SIZE]))
                    .await
                    .unwrap();
                upload.upload_part(Bytes::from(vec![i as u8; 1024])).await.unwrap();
                upload.complete().await.unwrap();
            })
        });
        let all = futures::future::join_all(work);
        let results = tokio::time::timeout(std::time::Duration::from_secs(120), all)
            .await
            .expect("overlapping multipart uploads hung");
        for r in results {
            r.unwrap();
        }
        assert_eq!(s.list(&bucket, None).await.unwrap().len(), 6);
        s.remove_bucket(&bucket).await.unwrap();
    }
}

#[tokio::test]
async fn server_side_copies_replace_their_target_with_metadata() {
    let b = backends().await;
    for s in &b.stores {
        let bucket = unique_bucket("adt-conf-copy");
        s.ensure_bucket(&bucket).await.unwrap();
        let opts = PutOptions {
            content_type: Some("application/gzip".into()),
            metadata: meta(&[("mode", "33188")]),
        };
        s.put(&bucket, "new backup é.tar.gz", Bytes::from_static(b"new"), &opts)
            .await
            .unwrap();
        s.put(
            &bucket,
            "current.tar.gz",
            Bytes::from_static(b"old"),
            &PutOptions::default(),
        )
        .await
        .unwrap();
        s.copy_within(&bucket, "new backup é.tar.gz", "current.tar.gz")
            .await
            .unwrap();
        let (m, body) = s.get_bytes(&bucket, "current.tar.gz").await.unwrap();
        assert_eq!(body, Bytes::from_static(b"new"));
        assert_eq!(m.metadata.get("mode").map(String::as_str), Some("33188"));
        let err = s.copy_within(&bucket, "missing", "x").await.unwrap_err();
        assert!(err.to_string().contains(&bucket), "{err}");
        s.remove_bucket(&bucket).await.unwrap();
    }
}

/// Server-side copies in parts (UploadPartCopy), as backups over 5 GiB
/// rotate: the copy is byte for byte the source (issue 13, case 10).
#[tokio::test]
async fn server_side_copies_in_parts_are_whole() {
    let b = backends().await;
    for s in &b.stores {
        let bucket = unique_bucket("adt-conf-partcopy");
        s.ensure_bucket(&bucket).await.unwrap();
        let body: Vec<u8> = (0..(2 * MIN_PART_SIZE + 12345)).map(|i| (i % 251) as u8).collect();
        s.put(&bucket, "big", Bytes::from(body.clone()), &PutOptions::default())
            .await
            .unwrap();
        s.copy_within_parts(&bucket, "big", "copy", body.len() as u64, MIN_PART_SIZE as u64)
            .await
            .unwrap();
        let (meta, copied) = s.get_bytes(&bucket, "copy").await.unwrap();
        assert_eq!(meta.size, body.len() as u64);
        assert!(copied == body, "the copy differs from its source");
        s.remove_bucket(&bucket).await.unwrap();
    }
}

/// A conditional delete removes the object only while it is the version
/// that was read: a lock rewritten in between survives.
#[tokio::test]
async fn conditional_deletes_spare_a_changed_object() {
    let b = backends().await;
    for s in &b.stores {
        let bucket = unique_bucket("adt-conf-delif");
        s.ensure_bucket(&bucket).await.unwrap();
        let old = s
            .put(&bucket, "lock", Bytes::from_static(b"old"), &PutOptions::default())
            .await
            .unwrap();
        s.put(
            &bucket,
            "lock",
            Bytes::from_static(b"new owner"),
            &PutOptions::default(),
        )
        .await
        .unwrap();
        assert!(!s.delete_if_match(&bucket, "lock", &old).await.unwrap());
        assert!(
            s.head(&bucket, "lock").await.unwrap().is_some(),
            "the new lock survives"
        );
        let current = s.head(&bucket, "lock").await.unwrap().unwrap().etag;
        assert!(s.delete_if_match(&bucket, "lock", &current).await.unwrap());
        assert!(s.head(&bucket, "lock").await.unwrap().is_none());
        assert!(!s.delete_if_match(&bucket, "lock", &current).await.unwrap(), "gone");
        s.remove_bucket(&bucket).await.unwrap();
    }
}

/// Listing a page at a time gives what a whole listing gives, in order,
/// on every backend (over 1000 objects: more than one page on S3).
#[tokio::test]
async fn a_listing_by_pages_is_the_whole_listing() {
    let b = backends().await;
    for s in &b.stores {
        let bucket = unique_bucket("adt-conf-pages");
        s.ensure_bucket(&bucket).await.unwrap();
        let keys: Vec<String> = (0..1003).map(|i| format!("p/{i:05}")).collect();
        use futures::{StreamExt, TryStreamExt};
        let none = PutOptions::default();
        futures::stream::iter(keys.iter())
            .map(|k| s.put(&bucket, k, Bytes::from_static(b"x"), &none))
            .buffer_unordered(32)
            .try_collect::<Vec<_>>()
            .await
            .unwrap();
        s.put(&bucket, "q/other", Bytes::from_static(b"x"), &PutOptions::default())
            .await
            .unwrap();
        let mut paged = Vec::new();
        let mut token = None;
        loop {
            let (page, next) = s.list_page(&bucket, Some("p/"), token).await.unwrap();
            paged.extend(page.into_iter().map(|o| o.key));
            match next {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        assert_eq!(paged, keys);
    }
}
