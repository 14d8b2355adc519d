//! Helpers the binary tests share: running a binary as a user would, and
//! a client for the embedded emulator. Not every test file uses each one.
#![allow(dead_code)]

use std::process::Command;

use adt_datastore::Secret;
use adt_datastore::{Connection, Endpoint, Store};
use adt_testkit::{ACCESS_KEY, SECRET_KEY};

/// Runs `cmd` to the end: (exit code, stdout, stderr).
pub fn output(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A client for an embedded emulator at `endpoint`.
pub fn store(endpoint: &str) -> Store {
    let c = Connection::new(
        Endpoint::parse(endpoint, None).unwrap(),
        Secret::new(ACCESS_KEY),
        Secret::new(SECRET_KEY),
    );
    Store::connect(&c).unwrap()
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().unwrap()
}

/// Writes to `path` a template for site `url` that persists `images` to
/// the emulator at `endpoint` (hourly backups, the emulator's keys).
pub fn images_template(path: &std::path::Path, url: &str, endpoint: &str) {
    std::fs::write(
        path,
        format!(
            "WEBSITE_URL=\"{url}\"\nBUILD_ARCHIVE_CHOICE=\"hourly\"\nS3_ACCESS_KEY=\"{ACCESS_KEY}\"\nS3_SECRET_KEY=\"{SECRET_KEY}\"\n\
             S3_HOST_BASE=\"{endpoint}\"\nDIRECTORIES_TO_MOUNT=\"images\"\nPERSIST_ASSETS_TO_DATASTORE=\"1\"\n"
        ),
    )
    .unwrap();
}
