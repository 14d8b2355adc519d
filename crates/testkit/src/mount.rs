//! An s3fs mount for tests: credentials in a 0600 file, unmounted when
//! dropped (also when the test fails).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

pub struct S3fsMount {
    at: PathBuf,
}

impl S3fsMount {
    /// Mounts `bucket` of `endpoint` at `at` (an existing directory);
    /// `passwd` is where the credentials file is written.
    pub fn mount(endpoint: &str, bucket: &str, access: &str, secret: &str, passwd: &Path, at: &Path) -> S3fsMount {
        fs::write(passwd, format!("{access}:{secret}\n")).expect("write the s3fs credentials");
        fs::set_permissions(passwd, fs::Permissions::from_mode(0o600)).expect("chmod 0600");
        let options = format!(
            "passwd_file={},url={endpoint},use_path_request_style,endpoint=us-east-1",
            passwd.display()
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
        S3fsMount { at: at.to_path_buf() }
    }
}

impl Drop for S3fsMount {
    fn drop(&mut self) {
        let _ = Command::new("fusermount3").arg("-u").arg(&self.at).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while is_mounted(&self.at) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        if is_mounted(&self.at) {
            let _ = Command::new("umount").arg("-l").arg(&self.at).status();
        }
    }
}

/// True when `at` is a mount point in /proc/self/mountinfo (read by
/// adt-localfs, the one parser, escapes decoded).
pub fn is_mounted(at: &Path) -> bool {
    adt_localfs::MountTable::read().is_ok_and(|t| t.at(at).is_some())
}

/// Unmounts a mount point when dropped (lazily), also when an assertion
/// failed.
pub struct Unmount(pub PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}
