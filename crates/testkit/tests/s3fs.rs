//! Why the embedded emulator was chosen: s3fs can mount a bucket it
//! serves, make a directory, rename and chmod a file, and all of it is
//! really stored (a second, fresh mount sees it).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use adt_testkit::{ACCESS_KEY, Emulator, SECRET_KEY, require_tools, unique_bucket};

/// An s3fs mount, unmounted when dropped (also when the test fails).
struct Mounted(PathBuf);

impl Mounted {
    fn new(emulator: &Emulator, bucket: &str, passwd: &Path, at: &Path) -> Mounted {
        let options = format!(
            "passwd_file={},url={},use_path_request_style,endpoint=us-east-1",
            passwd.display(),
            emulator.endpoint()
        );
        let status = Command::new("s3fs")
            .arg(bucket)
            .arg(at)
            .args(["-o", &options])
            .env_remove("AWS_CA_BUNDLE")
            .status()
            .expect("run s3fs");
        assert!(status.success(), "s3fs failed: {status}");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !is_mounted(at) {
            assert!(
                Instant::now() < deadline,
                "s3fs mount did not appear in /proc/self/mountinfo"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Mounted(at.to_path_buf())
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("fusermount3").arg("-u").arg(&self.0).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while is_mounted(&self.0) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        if is_mounted(&self.0) {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
}

fn is_mounted(at: &Path) -> bool {
    let wanted = at.to_string_lossy().to_string();
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .any(|l| l.split(' ').nth(4) == Some(wanted.as_str()))
}

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
    fs::write(&passwd, format!("{ACCESS_KEY}:{SECRET_KEY}\n")).unwrap();
    fs::set_permissions(&passwd, fs::Permissions::from_mode(0o600)).unwrap();
    let mnt = dir.path().join("mnt");
    fs::create_dir(&mnt).unwrap();

    {
        let _mount = Mounted::new(&emulator, &bucket, &passwd, &mnt);
        fs::create_dir(mnt.join("photos")).unwrap();
        fs::write(mnt.join("photos/a.txt"), b"hello from s3fs").unwrap();
        fs::rename(mnt.join("photos/a.txt"), mnt.join("photos/b.txt")).unwrap();
        fs::set_permissions(mnt.join("photos/b.txt"), fs::Permissions::from_mode(0o640)).unwrap();
    }
    assert!(!is_mounted(&mnt), "unmounted");

    let _mount = Mounted::new(&emulator, &bucket, &passwd, &mnt);
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
