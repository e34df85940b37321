//! Forwards every call that is not the gateway's own to its backend, unchanged: same path,
//! metadata, messages, streaming, status and status details. On the way it sets the request
//! id, this hop's trace context, and the remaining deadline.
//!
//! A call the backend never received (the connection was refused, or the backend was
//! draining and refused the stream) is sent again, to another serving endpoint when there is
//! one: the pipeline has read the request whole, and a call that was never received cannot
//! have changed anything, so this is safe for every method. That is what lets a backend
//! restart under load without a failed call. Every other failure ends the call with a
//! status: DEADLINE_EXCEEDED when the call's own deadline ran out, UNAVAILABLE otherwise.

use std::convert::Infallible;
use std::error::Error as StdError;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{HeaderValue, Request, Response};
use tower::Service;

use edu_kit::error::{ErrorKind, Reason};
use edu_kit::framing::BufferedBody;
use edu_kit::pipeline::{format_grpc_timeout, split_path};
use edu_kit::{ApiError, CallContext};

use crate::backends::{Backend, Backends};
use crate::upstream::{NotSent, Outgoing, UpstreamBody};

/// Headers that describe one hop's connection and must not be forwarded.
const HOP_BY_HOP: [&str; 6] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
    "host",
];

/// How many times a call is sent, at most, when the backend never received it.
const ATTEMPTS: usize = 3;

/// The gateway's own refusals.
pub mod reason {
    use super::Reason;

    /// No backend of the gateway serves the service the path names.
    pub const SERVICE_NOT_ROUTED: Reason =
        Reason::new("SERVICE_NOT_ROUTED", "Шлюз не обслуживает такую службу.");
    /// No endpoint of the backend is serving, or none could be reached.
    pub const BACKEND_UNAVAILABLE: Reason = Reason::new(
        "BACKEND_UNAVAILABLE",
        "Служба временно недоступна; повторите запрос с тем же request_id.",
    );
}

/// The forwarding service, used as the fallback of the gateway's router.
#[derive(Debug, Clone)]
pub struct Proxy {
    backends: Arc<Backends>,
}

impl Proxy {
    /// A proxy over `backends`.
    pub fn new(backends: Arc<Backends>) -> Self {
        Proxy { backends }
    }

    /// Forwards one call and returns the backend's answer, or a status saying why not.
    pub async fn forward(&self, request: Request<axum::body::Body>) -> Response<axum::body::Body> {
        match self.try_forward(request).await {
            Ok(response) => response.map(axum::body::Body::new),
            Err(error) => tonic::Status::from(error).into_http::<axum::body::Body>(),
        }
    }

    async fn try_forward(
        &self,
        request: Request<axum::body::Body>,
    ) -> Result<Response<UpstreamBody>, ApiError> {
        let (service, _) = split_path(request.uri().path());
        let backend = self.backends.for_service(service).ok_or_else(|| {
            ApiError::new(
                ErrorKind::Unimplemented,
                reason::SERVICE_NOT_ROUTED,
                format!("no backend serves {}", edu_kit::error::quote(service)),
            )
        })?;

        let (mut parts, body) = request.into_parts();
        for name in HOP_BY_HOP {
            parts.headers.remove(name);
        }
        // Continue the trace from this hop, not from the caller's.
        edu_kit::telemetry::inject_trace(&tracing::Span::current(), &mut parts.headers);
        let deadline = parts
            .extensions
            .get::<CallContext>()
            .and_then(CallContext::deadline);
        let whole = parts
            .extensions
            .remove::<BufferedBody>()
            .map(|BufferedBody(bytes)| bytes);
        let mut body = Some(body);
        let mut unreachable: Vec<SocketAddr> = Vec::new();
        let mut last_failure = None;
        for _ in 0..ATTEMPTS {
            let outgoing = match (&whole, body.take()) {
                (Some(bytes), _) => Outgoing::Whole(bytes.clone()),
                (None, Some(body)) => Outgoing::Streamed(body),
                // A streamed request body can be sent once only.
                (None, None) => break,
            };
            let mut forwarded = Request::new(());
            *forwarded.method_mut() = parts.method.clone();
            *forwarded.uri_mut() = parts.uri.clone();
            *forwarded.headers_mut() = parts.headers.clone();
            if let Some(deadline) = deadline {
                let remaining = deadline.saturating_duration_since(Instant::now());
                if remaining.is_zero() {
                    return Err(deadline_exceeded());
                }
                if let Ok(value) = HeaderValue::from_str(&format_grpc_timeout(remaining)) {
                    forwarded.headers_mut().insert("grpc-timeout", value);
                }
            }
            let (addr, lane) = backend
                .pick_lane_avoiding(&unreachable)
                .ok_or_else(|| unavailable(backend, "no endpoint is serving"))?;
            match lane.call(forwarded, outgoing).await {
                Ok(response) => return Ok(response),
                Err(error) if whole.is_some() && never_received(error.as_ref()) => {
                    tracing::debug!(backend = %backend.name(), %addr, error = %error, "not received; sending again");
                    unreachable.push(addr);
                    last_failure = Some(error);
                }
                Err(error) => return Err(failed(backend, deadline, error.as_ref())),
            }
        }
        Err(match last_failure {
            Some(error) => failed(backend, deadline, error.as_ref()),
            None => unavailable(backend, "the call could not be sent again"),
        })
    }
}

/// Whether the backend certainly never received the call: the connection could not be made
/// or had closed before the request was written, or the backend refused the stream
/// (REFUSED_STREAM, or a GOAWAY that excludes it).
fn never_received(error: &(dyn StdError + 'static)) -> bool {
    let mut cause: Option<&(dyn StdError + 'static)> = Some(error);
    while let Some(e) = cause {
        if e.is::<NotSent>() {
            return true;
        }
        if let Some(h2) = e.downcast_ref::<h2::Error>() {
            return (h2.is_go_away() && h2.is_remote())
                || (h2.is_reset()
                    && h2.is_remote()
                    && h2.reason() == Some(h2::Reason::REFUSED_STREAM));
        }
        cause = e.source();
    }
    false
}

/// The status of a call that failed on its way: its own deadline, or the backend's fault.
fn failed(
    backend: &Backend,
    deadline: Option<Instant>,
    error: &(dyn StdError + 'static),
) -> ApiError {
    // The forwarded `grpc-timeout` is the call's own deadline: when it has passed by the
    // time the failure arrives, the call ran out of time; nothing was unavailable.
    if deadline.is_some_and(|d| Instant::now() + Duration::from_millis(1) >= d) {
        return deadline_exceeded();
    }
    unavailable(backend, &error.to_string())
}

fn deadline_exceeded() -> ApiError {
    ApiError::new(
        ErrorKind::DeadlineExceeded,
        edu_kit::error::reason::DEADLINE_EXCEEDED,
        "the call's deadline passed before the backend answered",
    )
}

fn unavailable(backend: &Backend, why: &str) -> ApiError {
    ApiError::new(
        ErrorKind::Unavailable,
        reason::BACKEND_UNAVAILABLE,
        format!("{} is unavailable: {why}; retry", backend.name()),
    )
    .with_metadata("backend", backend.name())
    .with_retry_after(Duration::from_millis(500))
}

impl Service<Request<axum::body::Body>> for Proxy {
    type Response = Response<axum::body::Body>;
    type Error = Infallible;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Self::Response, Infallible>> + Send>,
    >;

    fn poll_ready(
        &mut self,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<axum::body::Body>) -> Self::Future {
        let proxy = self.clone();
        Box::pin(async move { Ok(proxy.forward(request).await) })
    }
}
