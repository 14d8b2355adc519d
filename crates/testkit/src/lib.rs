//! Test support for the asset tools (a dev-dependency only; never shipped).
//!
//! What it does: runs the embedded S3 emulator (Rustack's S3 service) in
//! process on 127.0.0.1 with SigV4 checked; starts moto's server from the
//! venv under target/; chooses between them (or a real endpoint) for the
//! conformance suites; puts a fault-injecting HTTP proxy in front of any
//! endpoint; and builds backup archives the way ADT names their entries.
//!
//! What it does not do: mock S3. Every test talks S3 over HTTP to a real
//! server.

mod archive;
mod backend;
mod emulator;
mod handler;
mod moto;
mod mount;
mod prereq;
mod proxy;
mod race;

pub use archive::{ArchiveBuilder, MTIME, OWNER, pattern};
pub use backend::{S3Target, TestEndpoint};
pub use emulator::{ACCESS_KEY, Emulator, REGION, SECRET_KEY};
pub use moto::{Moto, moto_server_path};
pub use mount::{S3fsMount, Unmount, is_mounted};
pub use prereq::{require_tools, which};
pub use proxy::{Fault, FaultProxy};
pub use race::{Swapper, run_as};

/// An endpoint where nothing listens: `http://127.0.0.1:PORT` of a port
/// just bound and released (connections to it are refused).
pub fn closed_endpoint() -> String {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a local port");
    format!("http://127.0.0.1:{}", closed.local_addr().expect("its address").port())
}

/// A bucket name no other test run will use: `prefix-<pid>-<counter>-<random>`.
pub fn unique_bucket(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}-{}-{n}-{nanos:x}", std::process::id())
}
