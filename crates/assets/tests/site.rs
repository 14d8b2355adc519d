//! The front door against a real S3 (the embedded emulator, or moto with
//! ADT_TEST_S3=moto): a template loaded from a file drives a seed, a
//! backup stored and verified in its period's bucket, a seed from that
//! stored backup, and a replication to a second emulator; and each
//! refusal the binaries make comes from here, typed.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use adt_assets::{Error, ReplicaTo, SeedFrom, Site, SiteOptions};
use adt_datastore::NoProgress;
use adt_seeder::SeedOptions;
use adt_template::Period;
use adt_testkit::{ArchiveBuilder, S3Target, TestEndpoint, unique_bucket};

fn template(path: &Path, url: &str, choice: &str, datastores: &[&TestEndpoint]) {
    let join = |f: &dyn Fn(&TestEndpoint) -> String| datastores.iter().map(|t| f(t)).collect::<Vec<_>>().join("|");
    let text = format!(
        "WEBSITE_URL=\"{url}\"\nBUILD_ARCHIVE_CHOICE=\"{choice}\"\nS3_ACCESS_KEY=\"{}\"\nS3_SECRET_KEY=\"{}\"\n\
         S3_HOST_BASE=\"{}\"\nS3_LOCATION=\"{}\"\nDIRECTORIES_TO_MOUNT=\"images\"\nPERSIST_ASSETS_TO_DATASTORE=\"1\"\n",
        join(&|t| t.access_key.clone()),
        join(&|t| t.secret_key.clone()),
        join(&|t| t.endpoint.clone()),
        join(&|t| t.region.clone()),
    );
    std::fs::write(path, text).unwrap();
}

fn options() -> SeedOptions {
    let mut o = SeedOptions::default();
    o.jobs = 4;
    o
}

#[tokio::test(flavor = "multi_thread")]
async fn a_template_drives_seed_backup_and_replication() {
    let one = TestEndpoint::from_env();
    let two = TestEndpoint::start(S3Target::Embedded);
    let dir = tempfile::tempdir().unwrap();
    let webroot = dir.path().join("www");
    std::fs::create_dir_all(webroot.join("images")).unwrap();
    std::fs::write(webroot.join("index.php"), b"<?php").unwrap();
    let url = format!("{}.example.com", unique_bucket("f"));
    let tmpl = dir.path().join("site.tmpl");
    template(&tmpl, &url, "hourly", &[&one, &two]);
    let site = Site::load(&tmpl, SiteOptions::new(&webroot)).unwrap();

    // Seed from a local archive.
    let archive = dir.path().join("backup.tar.gz");
    let mut a = ArchiveBuilder::create(&archive);
    a.dir("./")
        .file("./index.php", 0o644, b"<?php")
        .dir("./images/")
        .file("./images/logo.png", 0o644, b"PNG");
    a.finish();
    let seed = site.seed(SeedFrom::File(archive)).unwrap();
    let summary = seed.run(&options(), Arc::new(NoProgress)).await.unwrap();
    assert_eq!(
        summary.uploaded(),
        1,
        "logo.png (images/ is the bucket itself): {summary:?}"
    );
    let images = &site.buckets().unwrap()[0];
    assert!(seed.store().head(images, "logo.png").await.unwrap().is_some());

    // Back up the webroot into the hourly bucket, verify it, seed from it.
    let plan = site.backup_plan(&[], true).unwrap();
    let made = plan.create_temporary(&AtomicBool::new(false)).unwrap();
    assert_eq!(made.report.files, 1, "index.php; images/ is empty here");
    let backups = site.backup_bucket_store(Period::Hourly).unwrap();
    assert_eq!(backups.bucket(), site.backup_bucket(Period::Hourly).unwrap());
    backups.upload(made.path(), &Default::default()).await.unwrap();
    let verified = backups.verify(false).await.unwrap();
    assert!(verified.entries >= 2, "{verified:?}");
    let again = site.seed(SeedFrom::Period(Period::Hourly)).unwrap();
    let summary = again.run(&options(), Arc::new(NoProgress)).await.unwrap();
    assert_eq!(summary.uploaded(), 0, "nothing new in that backup: {summary:?}");

    // Replicate datastore 1 to datastore 2.
    let job = site.replicate(ReplicaTo::Chain).unwrap();
    assert_eq!(job.destinations().len(), 1);
    let report = job.run(&Default::default(), Arc::new(NoProgress)).await.unwrap();
    assert!(report.ok() && report.copied() >= 1, "{report:?}");
    let copy = job.destinations()[0].store.head(images, "logo.png").await.unwrap();
    assert!(copy.is_some(), "the object reached datastore 2");
}

#[test]
fn refusals_are_typed() {
    let one = TestEndpoint::from_env();
    let dir = tempfile::tempdir().unwrap();
    let tmpl = dir.path().join("one.tmpl");
    template(&tmpl, "www.example.com", "hourly", &[&one]);
    let site = Site::load(&tmpl, SiteOptions::new("/var/www/html")).unwrap();
    let e = site.replicate(ReplicaTo::Chain).unwrap_err();
    assert!(matches!(e, Error::NoReplica { .. }) && e.is_bad_input(), "{e:?}");

    // adt-check rejects a virgin build that persists assets; settings
    // made in code meet the same refusal at the front door.
    let mut config = site.config().clone();
    config.build_archive_choice = adt_template::ArchiveChoice::parse("virgin");
    let site = Site::from_config("in code", config, SiteOptions::default());
    let e = site.seed(SeedFrom::Period(Period::Daily)).unwrap_err();
    assert!(matches!(e, Error::NotTemporal { choice: "virgin", .. }), "{e:?}");

    let off = dir.path().join("off.tmpl");
    std::fs::write(
        &off,
        "WEBSITE_URL=\"www.example.com\"\nPERSIST_ASSETS_TO_DATASTORE=\"0\"\n",
    )
    .unwrap();
    let site = Site::load(&off, SiteOptions::default()).unwrap();
    let e = site.seed(SeedFrom::Period(Period::Daily)).unwrap_err();
    assert!(matches!(e, Error::NotPersisted { action: "to seed", .. }), "{e:?}");

    let e = Site::load(&dir.path().join("missing.tmpl"), SiteOptions::default()).unwrap_err();
    assert!(matches!(e, Error::Template(_)) && e.is_bad_input(), "{e:?}");
    assert!(
        std::error::Error::source(&e).is_some(),
        "the io error is chained: {e:?}"
    );
}

/// A copy in a local directory brings a site back: replicate datastore 1
/// to `file://`, then from there to a fresh S3; every object arrives with
/// its bytes, content type and metadata, and a second run copies nothing.
#[tokio::test(flavor = "multi_thread")]
async fn replication_to_a_directory_and_back_keeps_every_object() {
    let one = TestEndpoint::from_env();
    let fresh = TestEndpoint::start(S3Target::Embedded);
    let dir = tempfile::tempdir().unwrap();
    let url = format!("{}.example.com", unique_bucket("d"));
    let tmpl = dir.path().join("site.tmpl");
    template(&tmpl, &url, "hourly", &[&one]);
    let site = Site::load(&tmpl, SiteOptions::new(dir.path().join("www"))).unwrap();
    let archive = dir.path().join("backup.tar.gz");
    let mut a = ArchiveBuilder::create(&archive);
    a.dir("./")
        .dir("./images/")
        .file("./images/logo.png", 0o640, b"PNG")
        .file("./images/a b/#1 [x]%.jpg", 0o644, b"JPEG")
        .dir("./images/empty/")
        .file(
            "./images/video.mp4",
            0o644,
            &adt_testkit::pattern(9 * 1024 * 1024 + 5, 3),
        );
    a.finish();
    site.seed(SeedFrom::File(archive))
        .unwrap()
        .run(&options(), Arc::new(NoProgress))
        .await
        .unwrap();
    let bucket = site.buckets().unwrap().remove(0);
    let primary = site.store(1).unwrap();
    let original = primary.list_with_metadata(&bucket, None, 4).await.unwrap();
    assert_eq!(original.len(), 4, "three files and the empty directory: {original:?}");

    let copies = adt_datastore::Store::open_url(&format!("file://{}", dir.path().join("copies").display())).unwrap();
    let job = site.replicate(ReplicaTo::Store(copies.clone())).unwrap();
    let report = job.run(&Default::default(), Arc::new(NoProgress)).await.unwrap();
    assert!(report.ok() && report.copied() == 4, "{report:?}");
    assert!(
        dir.path().join("copies").join(&bucket).join("logo.png").is_file(),
        "plain files on disk"
    );
    let again = job.run(&Default::default(), Arc::new(NoProgress)).await.unwrap();
    assert_eq!(again.copied(), 0, "an identical copy is recognised: {again:?}");

    // And back, to an S3 that has never seen the site.
    let back = adt_datastore::Store::connect(&adt_datastore::Connection::new(
        adt_datastore::Endpoint::parse(&fresh.endpoint, Some(&fresh.region)).unwrap(),
        adt_datastore::Secret::new(&fresh.access_key),
        adt_datastore::Secret::new(&fresh.secret_key),
    ))
    .unwrap();
    let to = [adt_replication::Destination {
        number: 2,
        store: back.clone(),
    }];
    let restored = adt_replication::replicate(
        &copies,
        &to,
        std::slice::from_ref(&bucket),
        &Default::default(),
        Arc::new(NoProgress),
    )
    .await
    .unwrap();
    assert!(restored.ok() && restored.copied() == 4, "{restored:?}");
    for (info, meta) in &original {
        let (m, body) = back.get_bytes(&bucket, &info.key).await.unwrap();
        let (_, want) = primary.get_bytes(&bucket, &info.key).await.unwrap();
        assert_eq!(body, want, "{}", info.key);
        assert_eq!(m.metadata.get("mode"), meta.metadata.get("mode"), "{}", info.key);
        assert_eq!(m.content_type, meta.content_type, "{}", info.key);
    }
}

/// The whole job with no S3 at all: datastore 1 is an in-memory store, as
/// an embedder's unit tests would have it; the seed, a backup stored and
/// verified in its period's bucket, and a replication to a second
/// in-memory store all run on it.
#[tokio::test(flavor = "multi_thread")]
async fn the_front_door_runs_on_an_in_memory_store() {
    let dir = tempfile::tempdir().unwrap();
    let webroot = dir.path().join("www");
    std::fs::create_dir_all(webroot.join("images")).unwrap();
    std::fs::write(webroot.join("index.php"), b"<?php").unwrap();
    let tmpl = dir.path().join("site.tmpl");
    std::fs::write(
        &tmpl,
        "WEBSITE_URL=\"www.example.com\"\nBUILD_ARCHIVE_CHOICE=\"daily\"\nPERSIST_ASSETS_TO_DATASTORE=\"1\"\n\
         DIRECTORIES_TO_MOUNT=\"images\"\nS3_ACCESS_KEY=\"AK\"\nS3_SECRET_KEY=\"SK\"\nS3_HOST_BASE=\"s3.example.com\"\n",
    )
    .unwrap();
    let memory = adt_datastore::Store::in_memory();
    let site = Site::load(&tmpl, SiteOptions::new(&webroot).with_primary_store(memory.clone())).unwrap();

    let archive = dir.path().join("backup.tar.gz");
    let mut a = ArchiveBuilder::create(&archive);
    a.dir("./").dir("./images/").file("./images/logo.png", 0o644, b"PNG");
    a.finish();
    let summary = site
        .seed(SeedFrom::File(archive))
        .unwrap()
        .run(&options(), Arc::new(NoProgress))
        .await
        .unwrap();
    assert_eq!(summary.uploaded(), 1, "{summary:?}");
    let images = &site.buckets().unwrap()[0];
    assert!(memory.head(images, "logo.png").await.unwrap().is_some());

    let made = site
        .backup_plan(&[], true)
        .unwrap()
        .create_temporary(&AtomicBool::new(false))
        .unwrap();
    let backups = site.backup_bucket_store(Period::Daily).unwrap();
    backups.upload(made.path(), &Default::default()).await.unwrap();
    assert!(backups.verify(false).await.unwrap().entries >= 2);
    assert!(memory.bucket_exists("www-example-com-daily").await.unwrap());

    let copy = adt_datastore::Store::in_memory();
    let report = site
        .replicate(ReplicaTo::Store(copy.clone()))
        .unwrap()
        .run(&Default::default(), Arc::new(NoProgress))
        .await
        .unwrap();
    assert!(report.ok() && report.copied() == 1, "{report:?}");
    let (meta, body) = copy.get_bytes(images, "logo.png").await.unwrap();
    assert_eq!((&body[..], meta.metadata["mode"].as_str()), (&b"PNG"[..], "33188"));
}

/// A webserver's settings as ADT's build machine writes them
/// (fixtures/adt/webserver_configuration_settings*.dat, rendered from ADT's
/// own webserver_descriptor.dat): what each tool reads from them.
#[test]
fn adts_rendered_webserver_descriptor_reads_as_adt_reads_it() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/adt");
    let site = Site::load(
        &fixtures.join("webserver_configuration_settings.dat"),
        SiteOptions::new("/var/www/html"),
    )
    .unwrap();
    let c = site.config();
    assert_eq!(c.website_url.as_deref(), Some("www.example.com"));
    assert!(c.persist_assets);
    assert_eq!(site.datastore_count(), 2, "counted by S3ACCESSKEY");
    let hosts: Vec<(&str, Option<&str>)> = c
        .datastores
        .iter()
        .map(|d| (d.host_base.as_str(), d.location.as_deref()))
        .collect();
    assert_eq!(
        hosts,
        [
            ("ams3.digitaloceanspaces.com", Some("US")),
            ("fra1.digitaloceanspaces.com", Some("US"))
        ],
        "one S3LOCATION for both, as ADT's cut -f reads it"
    );
    assert_eq!(c.server_user.as_deref(), Some("Xk29fixtureuser"));
    assert_eq!(
        c.backup_excludes(),
        ["/logs", "/tmp", "/cache", "/configuration.php"],
        "joomla's defaults"
    );
    assert_eq!(
        site.buckets().unwrap(),
        ["www-example-com-assets-images", "www-example-com-assets-media"]
    );
    assert_eq!(site.backup_bucket(Period::Hourly).unwrap(), "www-example-com-hourly");
    let lock = site.adt_backup_lock(Default::default()).unwrap().unwrap();
    assert_eq!(lock.bucket(), "www-example-com-config-xk29");

    let merge = Site::load(
        &fixtures.join("webserver_configuration_settings.merge.dat"),
        SiteOptions::new("/var/www/html"),
    )
    .unwrap();
    assert_eq!(
        merge.buckets().unwrap(),
        [
            "www-example-com-assets-images1",
            "www-example-com-assets-images2",
            "www-example-com-assets-images3"
        ],
        "ADT's merge=images3 branches"
    );
}
