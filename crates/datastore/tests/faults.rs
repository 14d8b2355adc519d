//! Retries, timeouts and error reporting, proven through the fault proxy in
//! front of the embedded emulator (and against two emulators at once).

use std::time::{Duration, Instant};

use adt_datastore::Secret;
use adt_datastore::{BucketState, Connection, DatastoreError, Endpoint, PutOptions, RetryPolicy, Store, Timeouts};
use adt_testkit::{ACCESS_KEY, Emulator, Fault, FaultProxy, SECRET_KEY, unique_bucket};
use bytes::Bytes;
use http::Method;

fn connection(endpoint: &str, access: &str, secret: &str) -> Connection {
    let mut c = Connection::new(
        Endpoint::parse(endpoint, None).unwrap(),
        Secret::new(access),
        Secret::new(secret),
    );
    c.retry = RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(200),
    };
    c
}

fn store(endpoint: &str) -> Store {
    Store::connect(&connection(endpoint, ACCESS_KEY, SECRET_KEY)).unwrap()
}

fn count(proxy: &FaultProxy, method: Method) -> usize {
    proxy.requests().iter().filter(|(m, _)| *m == method).count()
}

#[tokio::test]
async fn throttled_requests_are_retried_until_they_succeed() {
    let emulator = Emulator::start().unwrap();
    let proxy = FaultProxy::start(&emulator.endpoint()).unwrap();
    let s = store(&proxy.endpoint());
    let bucket = unique_bucket("adt-faults");
    s.ensure_bucket(&bucket).await.unwrap();

    proxy.add(Fault::Status {
        method: Some(Method::PUT),
        status: 503,
        times: 2,
    });
    let before = count(&proxy, Method::PUT);
    s.put(&bucket, "a.png", Bytes::from_static(b"png"), &PutOptions::default())
        .await
        .unwrap();
    assert_eq!(count(&proxy, Method::PUT) - before, 3, "two 503s, then success");
    assert_eq!(
        s.get_bytes(&bucket, "a.png").await.unwrap().1,
        Bytes::from_static(b"png")
    );

    proxy.add(Fault::Status {
        method: Some(Method::GET),
        status: 500,
        times: 1,
    });
    assert_eq!(s.list(&bucket, None).await.unwrap().len(), 1);
}

#[tokio::test]
async fn forbidden_is_not_retried() {
    let emulator = Emulator::start().unwrap();
    let proxy = FaultProxy::start(&emulator.endpoint()).unwrap();
    let s = store(&proxy.endpoint());
    let bucket = unique_bucket("adt-faults");
    s.ensure_bucket(&bucket).await.unwrap();
    proxy.add(Fault::Status {
        method: Some(Method::PUT),
        status: 403,
        times: 5,
    });
    let before = count(&proxy, Method::PUT);
    let err = s
        .put(&bucket, "a.png", Bytes::from_static(b"png"), &PutOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, DatastoreError::Denied { .. }), "{err}");
    assert_eq!(count(&proxy, Method::PUT) - before, 1, "a 403 is final");
}

#[tokio::test]
async fn persistent_server_errors_give_up_after_the_policy() {
    let emulator = Emulator::start().unwrap();
    let proxy = FaultProxy::start(&emulator.endpoint()).unwrap();
    let s = store(&proxy.endpoint());
    let bucket = unique_bucket("adt-faults");
    s.ensure_bucket(&bucket).await.unwrap();
    proxy.add(Fault::Status {
        method: Some(Method::PUT),
        status: 500,
        times: 100,
    });
    let err = s
        .put(&bucket, "a.png", Bytes::from_static(b"png"), &PutOptions::default())
        .await
        .unwrap_err();
    match &err {
        DatastoreError::Failed {
            status, attempts, code, ..
        } => {
            assert_eq!((*status, *attempts, code.as_str()), (500, 4, "InternalError"));
        }
        other => panic!("expected Failed, got {other}"),
    }
    let text = err.to_string();
    assert!(
        text.contains(&bucket) && text.contains("a.png") && text.contains(&proxy.endpoint()),
        "{text}"
    );
}

#[tokio::test]
async fn a_connection_dropped_mid_body_is_read_again() {
    let emulator = Emulator::start().unwrap();
    let proxy = FaultProxy::start(&emulator.endpoint()).unwrap();
    let s = store(&proxy.endpoint());
    let bucket = unique_bucket("adt-faults");
    s.ensure_bucket(&bucket).await.unwrap();
    let body = Bytes::from(vec![7u8; 256 * 1024]);
    s.put(&bucket, "big.bin", body.clone(), &PutOptions::default())
        .await
        .unwrap();
    proxy.add(Fault::DropMidBody {
        method: Some(Method::GET),
        times: 1,
    });
    let before = count(&proxy, Method::GET);
    assert_eq!(s.get_bytes(&bucket, "big.bin").await.unwrap().1, body);
    assert_eq!(count(&proxy, Method::GET) - before, 2);

    // A copy whose source drops mid-body restarts and completes.
    let other = Emulator::start().unwrap();
    let dst = store(&other.endpoint());
    dst.ensure_bucket(&bucket).await.unwrap();
    proxy.add(Fault::DropMidBody {
        method: Some(Method::GET),
        times: 1,
    });
    adt_datastore::copy_object(&s, &bucket, "big.bin", &dst, &bucket)
        .await
        .unwrap();
    assert_eq!(dst.get_bytes(&bucket, "big.bin").await.unwrap().1, body);
}

#[tokio::test]
async fn latency_is_waited_out_and_a_silent_server_times_out() {
    let emulator = Emulator::start().unwrap();
    let proxy = FaultProxy::start(&emulator.endpoint()).unwrap();
    let s = store(&proxy.endpoint());
    proxy.add(Fault::Latency(Duration::from_millis(300)));
    let started = Instant::now();
    s.list_buckets().await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));

    proxy.clear();
    proxy.add(Fault::Latency(Duration::from_secs(5)));
    let mut c = connection(&proxy.endpoint(), ACCESS_KEY, SECRET_KEY);
    c.timeouts = Timeouts {
        connect: Duration::from_secs(1),
        read: Duration::from_millis(300),
    };
    c.retry.max_attempts = 2;
    let started = Instant::now();
    let err = Store::connect(&c).unwrap().list_buckets().await.unwrap_err();
    assert!(matches!(err, DatastoreError::Unreachable { attempts: 2, .. }), "{err}");
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
}

#[tokio::test]
async fn wrong_credentials_are_reported_clearly_and_quickly() {
    let emulator = Emulator::start().unwrap();
    let s = Store::connect(&connection(&emulator.endpoint(), ACCESS_KEY, "not-the-secret-key")).unwrap();
    let started = Instant::now();
    let err = s.ensure_bucket("adt-wrong-keys").await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(matches!(err, DatastoreError::Denied { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("adt-wrong-keys") && text.contains(&emulator.endpoint()),
        "{text}"
    );
    assert!(text.contains("secret key"), "says what to check: {text}");
    assert!(!text.contains("not-the-secret-key") && !format!("{err:?}").contains("not-the-secret-key"));
    // A HEAD's 403 has no body: one short line with the status and the
    // request id, not the SDK's debug dump (1,300 characters before).
    assert!(
        text.len() < 300 && !text.contains("ErrorMetadata"),
        "{} characters: {text}",
        text.len()
    );
    assert!(text.contains("HTTP 403, request id "), "{text}");

    let s = Store::connect(&connection(&emulator.endpoint(), "unknown-access-key", SECRET_KEY)).unwrap();
    let err = s.list_buckets().await.unwrap_err();
    assert!(matches!(err, DatastoreError::Denied { .. }), "{err}");
    assert!(!err.to_string().contains("unknown-access-key"), "{err}");
}

#[tokio::test]
async fn an_unreachable_endpoint_fails_in_seconds() {
    let endpoint = adt_testkit::closed_endpoint();
    let s = store(&endpoint);
    let started = Instant::now();
    let err = s.ensure_bucket("adt-nowhere").await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    assert!(matches!(err, DatastoreError::Unreachable { attempts: 4, .. }), "{err}");
    assert!(err.to_string().contains(&endpoint), "{err}");
}

#[tokio::test]
async fn a_bucket_name_taken_by_another_account_is_named_as_such() {
    let emulator = Emulator::start().unwrap();
    let proxy = FaultProxy::start(&emulator.endpoint()).unwrap();
    let s = store(&proxy.endpoint());
    proxy.add(Fault::Status {
        method: Some(Method::PUT),
        status: 409,
        times: 1,
    });
    let err = s.ensure_bucket("adt-taken-bucket").await.unwrap_err();
    assert!(matches!(err, DatastoreError::BucketTaken { .. }), "{err}");
    assert!(err.to_string().contains("another account"), "{err}");
    assert_eq!(s.ensure_bucket("adt-taken-bucket").await.unwrap(), BucketState::Created);
}

#[tokio::test]
async fn a_missing_ca_bundle_is_named_for_https_only() {
    let endpoint = Endpoint::parse("https://127.0.0.1:1", None).unwrap();
    let mut c = Connection::new(endpoint, Secret::new("a"), Secret::new("b"));
    c.ca_bundle = Some("/nonexistent/ca.pem".into());
    let err = Store::connect(&c).unwrap_err();
    assert!(matches!(err, DatastoreError::CaBundle { .. }), "{err}");
    assert!(err.to_string().contains("/nonexistent/ca.pem"));
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "this is not a certificate").unwrap();
    c.ca_bundle = Some(garbage);
    let err = Store::connect(&c).unwrap_err();
    assert!(matches!(err, DatastoreError::CaBundle { .. }), "{err}");
    if std::path::Path::new("/etc/ssl/certs/ca-certificates.crt").exists() {
        c.ca_bundle = Some("/etc/ssl/certs/ca-certificates.crt".into());
        assert!(Store::connect(&c).is_ok(), "a real PEM bundle is accepted");
    }
    c.ca_bundle = Some("/nonexistent/ca.pem".into());
    c.endpoint = Endpoint::parse("http://127.0.0.1:1", None).unwrap();
    assert!(Store::connect(&c).is_ok(), "plain http needs no CA bundle");
}

#[tokio::test]
async fn copies_cross_two_emulators() {
    let (a, b) = (Emulator::start().unwrap(), Emulator::start().unwrap());
    let (src, dst) = (store(&a.endpoint()), store(&b.endpoint()));
    let bucket = unique_bucket("adt-two");
    src.ensure_bucket(&bucket).await.unwrap();
    dst.ensure_bucket(&bucket).await.unwrap();
    let opts = PutOptions {
        content_type: Some("text/plain".into()),
        metadata: [("mode".to_string(), "33188".to_string())].into(),
    };
    src.put(&bucket, "x/y.txt", Bytes::from_static(b"hello"), &opts)
        .await
        .unwrap();
    adt_datastore::copy_object(&src, &bucket, "x/y.txt", &dst, &bucket)
        .await
        .unwrap();
    let head = dst.head(&bucket, "x/y.txt").await.unwrap().unwrap();
    assert_eq!(
        (head.size, head.content_type, head.metadata),
        (5, opts.content_type, opts.metadata)
    );
    assert!(
        src.head(&bucket, "x/y.txt").await.unwrap().is_some(),
        "the source is untouched"
    );
}

/// Issue 13, case 9: an untrusted certificate, a name that does not
/// resolve, and TLS spoken to a plain port fail at the first attempt, in
/// one line that says what to fix (they were retried and printed as a
/// kilobyte of debug text).
#[tokio::test]
async fn tls_and_dns_failures_are_permanent_and_said_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let made = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl (Debian's openssl package) makes a test certificate");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = std::process::Command::new("openssl")
        .args([
            "s_server",
            "-quiet",
            "-www",
            "-accept",
            &format!("127.0.0.1:{port}"),
            "-cert",
        ])
        .arg(&cert)
        .arg("-key")
        .arg(&key)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "openssl s_server did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let emulator = Emulator::start().unwrap();
    let plain_port = emulator.endpoint().rsplit(':').next().unwrap().to_string();
    for (endpoint, says) in [
        (format!("https://127.0.0.1:{port}"), "TLS: the endpoint's certificate"),
        ("https://adt-test.invalid".to_string(), "DNS:"),
        (
            format!("https://127.0.0.1:{plain_port}"),
            "TLS: the endpoint does not speak TLS",
        ),
    ] {
        let s = store(&endpoint);
        let err = s.ensure_bucket("adt-tls").await.unwrap_err();
        let text = err.to_string();
        assert!(
            matches!(err, DatastoreError::Request { .. }),
            "{endpoint}: not retried: {text}"
        );
        assert!(text.contains(says), "{endpoint}: {text}");
        assert!(
            !text.contains('\n') && text.len() < 400,
            "{endpoint}: one short line: {text}"
        );
    }
    let _ = server.kill();
    let _ = server.wait();
}
