//! The embedded S3 emulator: Rustack's S3 service on 127.0.0.1, path-style,
//! SigV4 signatures checked against fixed test credentials. It runs on its
//! own thread and runtime, so sync tests, async tests and FUSE tools can all
//! use it; dropping the handle stops it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use rustack_s3_core::{RustackS3, S3Config};
use rustack_s3_http::service::{S3HttpConfig, S3HttpService};
use tokio::sync::oneshot;

use crate::handler::Handler;

/// The emulator's access key (test credentials, not a secret).
pub const ACCESS_KEY: &str = "adt-test-access-key";
/// The emulator's secret key (test credentials, not a secret).
pub const SECRET_KEY: &str = "adt-test-secret-key-0123456789";
/// The region the emulator answers for.
pub const REGION: &str = "us-east-1";

/// A running embedded emulator.
pub struct Emulator {
    addr: SocketAddr,
    s3: RustackS3,
    runtime: tokio::runtime::Handle,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Emulator {
    /// Starts on a free port.
    pub fn start() -> std::io::Result<Emulator> {
        Emulator::start_on(0)
    }

    /// Starts on `port` (0 for a free one).
    pub fn start_on(port: u16) -> std::io::Result<Emulator> {
        let listener = std::net::TcpListener::bind(("127.0.0.1", port))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("adt-emulator")
            .enable_all()
            .build()?;
        let config = S3Config {
            s3_virtual_hosting: false,
            s3_skip_signature_validation: false,
            default_region: REGION.into(),
            ..S3Config::default()
        };
        let s3 = RustackS3::new(config);
        let handle = runtime.handle().clone();
        let served = s3.clone();
        let thread = std::thread::Builder::new()
            .name("adt-emulator".into())
            .spawn(move || runtime.block_on(serve(listener, served, stopped)))?;
        Ok(Emulator {
            addr,
            s3,
            runtime: handle,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:PORT`
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Creates a bucket directly in the emulator (no S3 client needed),
    /// for tests of tools such as s3fs that cannot create buckets.
    pub fn create_bucket(&self, name: &str) -> Result<(), String> {
        let input = rustack_s3_model::input::CreateBucketInput {
            bucket: name.to_string(),
            ..Default::default()
        };
        self.runtime
            .block_on(self.s3.handle_create_bucket(input))
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn serve(listener: std::net::TcpListener, s3: RustackS3, mut stopped: oneshot::Receiver<()>) {
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
        return;
    };
    let credentials = rustack_auth::StaticCredentialProvider::new([(ACCESS_KEY.to_string(), SECRET_KEY.to_string())]);
    let http_config = S3HttpConfig {
        domain: "s3.localhost".into(),
        virtual_hosting: false,
        skip_signature_validation: false,
        region: REGION.into(),
        credential_provider: Some(Arc::new(credentials)),
    };
    let service = S3HttpService::new(Handler::new(s3), http_config);
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut stopped => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let service = service.clone();
                connections.spawn(async move {
                    let _ = Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        }
    }
    connections.abort_all();
}
