//! Why the embedded emulator was chosen: s3fs can mount a bucket it
//! serves, make a directory, rename and chmod a file, and all of it is
//! really stored (a second, fresh mount sees it).

use std::fs;
use std::os::unix::fs::PermissionsExt;

use adt_testkit::{ACCESS_KEY, Emulator, S3fsMount, SECRET_KEY, is_mounted, require_tools, unique_bucket};

#[test]
fn s3fs_mounts_a_bucket_served_by_the_embedded_emulator() {
    if !require_tools(&["s3fs", "fusermount3"], true) {
        return;
    }
    let emulator = Emulator::start().unwrap();
    let bucket = unique_bucket("adt-s3fs");
    emulator.create_bucket(&bucket).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let passwd = dir.path().join("passwd");
    let mnt = dir.path().join("mnt");
    fs::create_dir(&mnt).unwrap();
    let mount = || S3fsMount::mount(&emulator.endpoint(), &bucket, ACCESS_KEY, SECRET_KEY, &passwd, &mnt);

    {
        let _mount = mount();
        fs::create_dir(mnt.join("photos")).unwrap();
        fs::write(mnt.join("photos/a.txt"), b"hello from s3fs").unwrap();
        fs::rename(mnt.join("photos/a.txt"), mnt.join("photos/b.txt")).unwrap();
        fs::set_permissions(mnt.join("photos/b.txt"), fs::Permissions::from_mode(0o640)).unwrap();
    }
    assert!(!is_mounted(&mnt), "unmounted");

    let _mount = mount();
    assert!(mnt.join("photos").is_dir());
    let names: Vec<String> = fs::read_dir(mnt.join("photos"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["b.txt"]);
    assert_eq!(fs::read(mnt.join("photos/b.txt")).unwrap(), b"hello from s3fs");
    let mode = fs::metadata(mnt.join("photos/b.txt")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o640);
}
