//! moto's S3 server (`moto_server`, from moto[server] in a venv under
//! target/), the second, independent emulator. Killed when dropped.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where `moto_server` is: $ADT_MOTO_SERVER, else the venv `cargo xtask`
/// installs at target/moto-venv.
pub fn moto_server_path() -> PathBuf {
    if let Some(path) = std::env::var_os("ADT_MOTO_SERVER") {
        return PathBuf::from(path);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("moto-venv/bin/moto_server")
}

/// A running moto server on 127.0.0.1.
pub struct Moto {
    child: Child,
    port: u16,
}

impl Moto {
    /// Starts moto on a free port and waits until it answers.
    pub fn start() -> Result<Moto, String> {
        let path = moto_server_path();
        if !path.exists() {
            return Err(format!(
                "moto_server not found at {}; run `cargo xtask doctor` (it installs moto[server] into target/moto-venv)",
                path.display()
            ));
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port for moto: {e}"))?
            .port();
        let child = Command::new(&path)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", path.display()))?;
        let mut moto = Moto { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = moto.child.try_wait() {
                return Err(format!("moto_server exited at start ({status})"));
            }
            if Instant::now() > deadline {
                return Err("moto_server did not answer within 30 s".into());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(moto)
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
