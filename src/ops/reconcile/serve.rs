//! `--listen ADDR`: `/metrics`, `/healthz` and `/readyz` over HTTP/1 (hyper's server).
//!
//! - `/metrics`: the OpenMetrics text of [`super::metrics::Metrics`];
//! - `/healthz`: 200 while the agent's loop is not stuck (a round running longer than the
//!   limit is 503), for a liveness probe;
//! - `/readyz`: 200 once every zone has a valid desired state and its cluster was read in
//!   the last round; 503 with the reason otherwise, for a readiness probe.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};

use super::metrics::Metrics;

/// What the endpoints report, shared with the loop.
pub struct Status {
    pub metrics: Metrics,
    /// Why the agent is not ready (`None`: ready).
    pub not_ready: Mutex<Option<String>>,
    /// When the round under way began.
    pub busy_since: Mutex<Option<Instant>>,
    /// A round running longer than this is stuck.
    pub stuck_after: Duration,
}

impl Status {
    pub fn new(stuck_after: Duration) -> Self {
        Status {
            metrics: Metrics::default(),
            not_ready: Mutex::new(Some("starting".to_string())),
            busy_since: Mutex::new(None),
            stuck_after,
        }
    }

    pub fn set_ready(&self, not_ready: Option<String>) {
        *self.not_ready.lock().unwrap_or_else(|e| e.into_inner()) = not_ready;
    }

    pub fn set_busy(&self, busy: bool) {
        *self.busy_since.lock().unwrap_or_else(|e| e.into_inner()) = busy.then(Instant::now);
    }

    fn health(&self) -> Result<(), String> {
        let since = *self.busy_since.lock().unwrap_or_else(|e| e.into_inner());
        match since {
            Some(t) if t.elapsed() > self.stuck_after => Err(format!(
                "a round has been running for {}s",
                t.elapsed().as_secs()
            )),
            _ => Ok(()),
        }
    }

    fn readiness(&self) -> Result<(), String> {
        match &*self.not_ready.lock().unwrap_or_else(|e| e.into_inner()) {
            None => Ok(()),
            Some(why) => Err(why.clone()),
        }
    }
}

fn text(status: StatusCode, content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(content_type),
    );
    response
}

const PLAIN: &str = "text/plain; charset=utf-8";
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

fn answer(status: &Status, request: &Request<Incoming>) -> Response<Full<Bytes>> {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return text(
            StatusCode::METHOD_NOT_ALLOWED,
            PLAIN,
            "only GET and HEAD\n".into(),
        );
    }
    let check = |result: Result<(), String>| match result {
        Ok(()) => text(StatusCode::OK, PLAIN, "ok\n".into()),
        Err(why) => text(StatusCode::SERVICE_UNAVAILABLE, PLAIN, format!("{why}\n")),
    };
    match request.uri().path() {
        "/metrics" => text(StatusCode::OK, OPENMETRICS, status.metrics.encode()),
        "/healthz" => check(status.health()),
        "/readyz" => check(status.readiness()),
        _ => text(
            StatusCode::NOT_FOUND,
            PLAIN,
            "not found: /metrics, /healthz, /readyz\n".into(),
        ),
    }
}

/// Serves each connection on a task of its own.
pub async fn serve(listener: tokio::net::TcpListener, status: Arc<Status>) {
    loop {
        let Ok((stream, _peer)) = listener.accept().await else {
            // out of descriptors and the like: try again shortly
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let status = status.clone();
        tokio::spawn(async move {
            let io = hyper_util::rt::TokioIo::new(stream);
            let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                let response = answer(&status, &request);
                async move { Ok::<_, Infallible>(response) }
            });
            let served = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(io, service);
            let _ = served.await;
        });
    }
}
