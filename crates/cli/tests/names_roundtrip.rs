//! Nothing is lost across mount, purge and backup, whatever the local file
//! names (issue 12): a proptest over random byte names in an asset
//! directory, through adt-mount's library with real s3fs against the
//! embedded emulator, then adt-backup's create. Each file ends either in
//! the bucket with its content (and is then purged locally), or kept in
//! the retired directory with its content and in the backup under its raw
//! byte name.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use adt_datastore::Secret;
use adt_datastore::{Connection, Endpoint, Store, object_key};
use adt_mounts::{Keys, MountOptions, Plan, Target, Tool};
use adt_template::{AssetConfig, Layout, MountEntry};
use adt_testkit::{ACCESS_KEY, Emulator, SECRET_KEY, require_tools, unique_bucket};
use proptest::prelude::*;

fn name() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        // Mostly printable, sometimes anything but `/` and NUL.
        proptest::collection::vec(prop_oneof![b'a'..=b'z', Just(b'.'), Just(b' ')], 1..12),
        proptest::collection::vec(1u8..=255, 1..12),
    ]
    .prop_filter("a file name", |n| !n.contains(&b'/') && n != b"." && n != b"..")
}

fn check(emulator: &Emulator, names: Vec<Vec<u8>>) -> Result<(), TestCaseError> {
    let names: Vec<Vec<u8>> = {
        let mut seen = std::collections::BTreeSet::new();
        names.into_iter().filter(|n| seen.insert(n.clone())).collect()
    };
    let dir = tempfile::tempdir().unwrap();
    let webroot = dir.path().join("www/html");
    let images = webroot.join("images");
    std::fs::create_dir_all(&images).unwrap();
    let mut bodies = BTreeMap::new();
    for (i, n) in names.iter().enumerate() {
        let body = format!("file {i} of {}", names.len()).into_bytes();
        std::fs::write(images.join(OsStr::from_bytes(n)), &body).unwrap();
        bodies.insert(n.clone(), body);
    }
    let config = AssetConfig::persisting(
        &format!("{}.example.com", unique_bucket("names")),
        vec![MountEntry::parse("images").unwrap()],
    );
    let layout = Layout::new(&config, &webroot).unwrap();
    let bucket = layout.entries[0].mounts[0].bucket.clone();
    let store = Store::connect(&Connection::new(
        Endpoint::parse(&emulator.endpoint(), None).unwrap(),
        Secret::new(ACCESS_KEY),
        Secret::new(SECRET_KEY),
    ))
    .unwrap();
    let options = MountOptions {
        tool: Tool::S3fs,
        uid: 0,
        gid: 0,
        state_dir: dir.path().join("state"),
        timeout: Duration::from_secs(20),
    };
    let target = Target {
        endpoint: emulator.endpoint(),
        region: adt_testkit::REGION.to_string(),
        ca_bundle: None,
    };
    let plan = Plan::new(&layout, &target, &options);
    let (access, secret) = (Secret::new(ACCESS_KEY), Secret::new(SECRET_KEY));
    let keys = Keys {
        access: &access,
        secret: &secret,
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(adt_mounts::mount(&plan, &store, &keys, &AtomicBool::new(false)))
        .unwrap();
    adt_mounts::unmount(&plan, Duration::from_secs(10)).unwrap();
    rt.block_on(adt_mounts::purge_retired(&plan, &store)).unwrap();

    // The backup of the webroot (the mount point left out by the Layout).
    let table = adt_localfs::MountTable::read().unwrap();
    let exclusions = adt_backups::Exclusions::new(&webroot, Some(&layout), &table, &[]).unwrap();
    let archive = dir.path().join("backup.tar.gz");
    adt_backups::create(&webroot, &exclusions, &table, &archive, 1).unwrap();
    let mut archived = BTreeMap::new();
    let mut tar = tar::Archive::new(flate2::read::MultiGzDecoder::new(
        std::fs::File::open(&archive).unwrap(),
    ));
    for entry in tar.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path_bytes().into_owned();
        let mut body = Vec::new();
        entry.read_to_end(&mut body).unwrap();
        archived.insert(path, body);
    }
    let retired: Vec<_> = std::fs::read_dir(&webroot)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().contains("adt-retired"))
        .collect();

    for (n, body) in &bodies {
        let shown = adt_localfs::display_name(n);
        match object_key(n) {
            Ok(key) => {
                let (_, there) = rt.block_on(store.get_bytes(&bucket, key)).unwrap();
                prop_assert_eq!(&there[..], &body[..], "{} in the bucket", shown);
            }
            Err(_) => {
                prop_assert_eq!(retired.len(), 1, "{} kept in a retired directory", shown);
                let kept = webroot.join(&retired[0]).join(OsStr::from_bytes(n));
                prop_assert_eq!(&std::fs::read(&kept).unwrap(), body, "{} kept whole", shown);
                let mut in_archive = b"./".to_vec();
                in_archive.extend_from_slice(retired[0].as_bytes());
                in_archive.push(b'/');
                in_archive.extend_from_slice(n);
                prop_assert_eq!(archived.get(&in_archive), Some(body), "{} in the backup", shown);
            }
        }
    }
    let listed = rt.block_on(store.list(&bucket, None)).unwrap();
    prop_assert_eq!(
        listed.len(),
        bodies.keys().filter(|n| object_key(n).is_ok()).count(),
        "nothing else in the bucket"
    );
    Ok(())
}

#[test]
fn no_name_loses_a_file_across_mount_purge_and_backup() {
    if !require_tools(&["s3fs", "fusermount3"], true) {
        return;
    }
    let emulator = Emulator::start().unwrap();
    let config = ProptestConfig {
        cases: 24,
        ..ProptestConfig::default()
    };
    proptest!(config, |(names in proptest::collection::vec(name(), 1..8))| {
        check(&emulator, names)?;
    });
}
