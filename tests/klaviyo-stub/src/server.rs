//! The hyper 1 plumbing: accept loop on 127.0.0.1, body reading, faults, latency, recording.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming as HyperBody;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use spec_check::Spec;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use crate::jsonapi::{self, Source};
use crate::model::{Fault, Recorded};
use crate::routes::{self, Answer, Incoming};
use crate::state::State;

/// Klaviyo's largest accepted payload (events: 5 MB).
const MAX_BODY: usize = 5 * 1024 * 1024;

pub(crate) struct Shared {
    pub spec: &'static Spec,
    pub state: State,
    pub base_url: String,
    /// Requests being served right now, and the most seen at once (client fan-out tests).
    pub in_flight: AtomicUsize,
    pub max_in_flight: AtomicUsize,
}

/// Counts one request as in flight for as long as it lives.
struct InFlight<'a>(&'a Shared);

impl<'a> InFlight<'a> {
    fn enter(shared: &'a Shared) -> Self {
        let now = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        shared.max_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight(shared)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Returned to hyper to make it close the connection without writing a response.
#[derive(Debug)]
struct DroppedOnPurpose;

impl std::fmt::Display for DroppedOnPurpose {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by an injected fault")
    }
}

impl std::error::Error for DroppedOnPurpose {}

/// Accepts connections until the task is aborted; aborting drops the `JoinSet`, which aborts
/// every open connection too.
pub(crate) async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) -> Infallible {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let shared = Arc::clone(&shared);
                connections.spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let shared = Arc::clone(&shared);
                        async move { serve(req, &shared).await }
                    });
                    // Errors here are clients going away or our own dropped connections.
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn serve(
    req: Request<HyperBody>,
    shared: &Shared,
) -> Result<Response<Full<Bytes>>, DroppedOnPurpose> {
    let _in_flight = InFlight::enter(shared);
    let (parts, body) = req.into_parts();
    let method = parts.method.as_str().to_ascii_uppercase();
    let target = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path().to_owned(), |pq| pq.as_str().to_owned());
    let headers = &parts.headers;
    let mut recorded = Recorded {
        method: method.clone(),
        path: target.clone(),
        operation_id: None,
        api_key: routes::api_key(header_text(headers, "authorization").as_deref()),
        revision: header_text(headers, "revision"),
        content_type: header_text(headers, "content-type"),
        accept: header_text(headers, "accept"),
        user_agent: header_text(headers, "user-agent"),
        klaviyo_user_agent: header_text(headers, "x-klaviyo-user-agent"),
        body: None,
        status: 0,
        violations: Vec::new(),
    };

    let latency = shared.state.lock().latency;
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            // Too large, or the client vanished mid-body.
            let answer = Answer {
                status: 413,
                body: Some(jsonapi::error(
                    413,
                    "request_too_large",
                    "Request entity too large.",
                    "The payload exceeds 5 MB.",
                    Source::None,
                )),
                retry_after: None,
                violations: vec!["body larger than 5 MB".to_owned()],
                operation_id: None,
                parsed_body: None,
            };
            let response = finish(shared, recorded, answer, None).await;
            tokio::time::sleep(latency).await;
            return Ok(response);
        }
    };

    let fault = shared.state.lock().take_fault(&method, &target);
    let mut retry_after = None;
    let answer = match fault {
        Some(Fault::Drop { .. }) => {
            recorded.body = serde_json::from_slice(&body).ok();
            shared.state.lock().record(recorded);
            tokio::time::sleep(latency).await;
            return Err(DroppedOnPurpose);
        }
        Some(Fault::Status {
            status,
            retry_after: after,
            ..
        }) => {
            retry_after = after;
            recorded.body = serde_json::from_slice(&body).ok();
            Answer {
                status,
                body: Some(jsonapi::fault_body(status, after)),
                retry_after: None,
                violations: Vec::new(),
                operation_id: shared
                    .spec
                    .find_operation(&method, &target)
                    .and_then(|op| op.operation_id),
                parsed_body: None,
            }
        }
        Some(Fault::Delay { delay, .. }) => {
            tokio::time::sleep(delay).await;
            routes::handle(
                shared.spec,
                &shared.state,
                &shared.base_url,
                &incoming(&parts, &target, body),
            )
        }
        None => routes::handle(
            shared.spec,
            &shared.state,
            &shared.base_url,
            &incoming(&parts, &target, body),
        ),
    };
    let response = finish(shared, recorded, answer, retry_after).await;
    // Latency is added after recording, so a client that got its answer always finds the record.
    tokio::time::sleep(latency).await;
    Ok(response)
}

fn incoming(parts: &hyper::http::request::Parts, target: &str, body: Bytes) -> Incoming {
    let h = &parts.headers;
    Incoming {
        method: parts.method.as_str().to_ascii_uppercase(),
        target: target.to_owned(),
        authorization: header_text(h, "authorization"),
        revision: header_text(h, "revision"),
        content_type: header_text(h, "content-type"),
        accept: header_text(h, "accept"),
        body,
    }
}

/// Records the exchange and builds the HTTP response.
async fn finish(
    shared: &Shared,
    mut recorded: Recorded,
    answer: Answer,
    retry_after: Option<u64>,
) -> Response<Full<Bytes>> {
    let retry_after = retry_after.or(answer.retry_after);
    recorded.status = answer.status;
    recorded.violations = answer.violations;
    if answer.operation_id.is_some() {
        recorded.operation_id = answer.operation_id;
    }
    if answer.parsed_body.is_some() {
        recorded.body = answer.parsed_body;
    }
    shared.state.lock().record(recorded);

    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut builder = Response::builder().status(status);
    if let Some(seconds) = retry_after {
        builder = builder.header(header::RETRY_AFTER, seconds);
    }
    let body = match answer.body {
        Some(json) => {
            builder = builder.header(header::CONTENT_TYPE, spec_check::JSON_API);
            Full::new(Bytes::from(json.to_string()))
        }
        None => Full::new(Bytes::new()),
    };
    builder.body(body).unwrap_or_else(|_| {
        let mut r = Response::new(Full::new(Bytes::new()));
        *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        r
    })
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .map(HeaderValue::to_str)
        .and_then(Result::ok)
        .map(str::to_owned)
}
