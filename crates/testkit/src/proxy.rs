//! A fault-injecting HTTP proxy to put in front of any http endpoint: fail
//! chosen requests with a status, drop the connection halfway through a
//! response body, or add latency. Requests are forwarded unchanged (Host
//! included), so SigV4 signatures still verify upstream.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame, Incoming};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::sync::oneshot;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type ProxyBody = BoxBody<Bytes, BoxError>;

/// What to do to matching requests.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Answer `status` (503 as SlowDown, 500 as InternalError, ...) instead
    /// of forwarding, for the next `times` matching requests.
    Status {
        method: Option<Method>,
        status: u16,
        times: u32,
    },
    /// Forward, then cut the connection halfway through the response body,
    /// for the next `times` matching requests.
    DropMidBody { method: Option<Method>, times: u32 },
    /// Delay every request by this much before forwarding.
    Latency(Duration),
}

#[derive(Default)]
struct State {
    faults: Vec<Fault>,
    requests: Vec<(Method, String)>,
}

/// A running proxy; stops when dropped.
pub struct FaultProxy {
    addr: std::net::SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FaultProxy {
    /// Proxies to `upstream` (`http://host:port`).
    pub fn start(upstream: &str) -> std::io::Result<FaultProxy> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State::default()));
        let (stop, stopped) = oneshot::channel();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let upstream = upstream.trim_end_matches('/').to_string();
        let shared = Arc::clone(&state);
        let thread = std::thread::spawn(move || runtime.block_on(serve(listener, upstream, shared, stopped)));
        Ok(FaultProxy {
            addr,
            state,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn add(&self, fault: Fault) {
        self.lock().faults.push(fault);
    }

    pub fn clear(&self) {
        self.lock().faults.clear();
    }

    /// Every request seen so far, as (method, path and query).
    pub fn requests(&self) -> Vec<(Method, String)> {
        self.lock().requests.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

enum Action {
    Forward,
    Fail(u16),
    Truncate,
}

/// Records the request and picks what to do, using up one of a fault's `times`.
fn decide(state: &Mutex<State>, method: &Method, path: &str) -> (Action, Duration) {
    let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
    state.requests.push((method.clone(), path.to_string()));
    let mut delay = Duration::ZERO;
    let mut action = Action::Forward;
    for fault in &mut state.faults {
        match fault {
            Fault::Latency(d) => delay += *d,
            Fault::Status {
                method: m,
                status,
                times,
            } if *times > 0 && m.as_ref().is_none_or(|m| m == method) => {
                if matches!(action, Action::Forward) {
                    *times -= 1;
                    action = Action::Fail(*status);
                }
            }
            Fault::DropMidBody { method: m, times } if *times > 0 && m.as_ref().is_none_or(|m| m == method) => {
                if matches!(action, Action::Forward) {
                    *times -= 1;
                    action = Action::Truncate;
                }
            }
            _ => {}
        }
    }
    (action, delay)
}

async fn serve(
    listener: std::net::TcpListener,
    upstream: String,
    state: Arc<Mutex<State>>,
    mut stopped: oneshot::Receiver<()>,
) {
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
        return;
    };
    let client: Client<HttpConnector, Incoming> = Client::builder(TokioExecutor::new()).build_http();
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut stopped => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let (client, upstream, state) = (client.clone(), upstream.clone(), Arc::clone(&state));
                let service = hyper::service::service_fn(move |req| {
                    handle(req, client.clone(), upstream.clone(), Arc::clone(&state))
                });
                tasks.spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        }
    }
    tasks.abort_all();
}

async fn handle(
    req: Request<Incoming>,
    client: Client<HttpConnector, Incoming>,
    upstream: String,
    state: Arc<Mutex<State>>,
) -> Result<Response<ProxyBody>, Infallible> {
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    let (action, delay) = decide(&state, req.method(), &path);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    if let Action::Fail(status) = action {
        let _ = req.into_body().collect().await; // read the upload, as a server would
        return Ok(error_response(status, "injected by FaultProxy"));
    }
    let (mut parts, body) = req.into_parts();
    parts.uri = match format!("{upstream}{path}").parse() {
        Ok(uri) => uri,
        Err(e) => return Ok(error_response(502, &format!("bad upstream uri: {e}"))),
    };
    let response = match client.request(Request::from_parts(parts, body)).await {
        Ok(r) => r,
        Err(e) => return Ok(error_response(502, &format!("upstream failed: {e}"))),
    };
    let (parts, body) = response.into_parts();
    let body = if let Action::Truncate = action {
        let bytes = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
        Truncated {
            half: Some(bytes.slice(..bytes.len() / 2)),
        }
        .boxed()
    } else {
        body.map_err(|e| Box::new(e) as BoxError).boxed()
    };
    Ok(Response::from_parts(parts, body))
}

fn error_response(status: u16, message: &str) -> Response<ProxyBody> {
    let code = match status {
        503 => "SlowDown",
        500 => "InternalError",
        403 => "AccessDenied",
        409 => "BucketAlreadyExists",
        _ => "InjectedFault",
    };
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>{message}</Message><RequestId>fault</RequestId></Error>"
    );
    let mut response = Response::new(Full::new(Bytes::from(xml)).map_err(|e: Infallible| match e {}).boxed());
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/xml"),
    );
    response
}

/// Half a body, then an error: hyper closes the connection mid-body.
struct Truncated {
    half: Option<Bytes>,
}

impl Body for Truncated {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.half.take() {
            Some(half) => Poll::Ready(Some(Ok(Frame::data(half)))),
            None => Poll::Ready(Some(Err("connection dropped by FaultProxy".into()))),
        }
    }
}
