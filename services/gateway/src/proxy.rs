//! Forwards every call that is not the gateway's own to its backend, unchanged: same path,
//! metadata, messages, streaming, status and status details. On the way it sets the request
//! id, this hop's trace context, and the remaining deadline.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Instant;

use http::{HeaderValue, Request, Response};
use tonic::Status;
use tower::{Service, ServiceExt};

use edu_kit::CallContext;
use edu_kit::pipeline::{format_grpc_timeout, split_path};

use crate::backends::Backends;

/// Headers that describe one hop's connection and must not be forwarded.
const HOP_BY_HOP: [&str; 6] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
    "host",
];

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
            Err(status) => status.into_http::<axum::body::Body>(),
        }
    }

    async fn try_forward(
        &self,
        request: Request<axum::body::Body>,
    ) -> Result<Response<tonic::body::Body>, Status> {
        let (service, _) = split_path(request.uri().path());
        let backend = self
            .backends
            .for_service(service)
            .ok_or_else(|| Status::unimplemented(format!("no backend serves {service}")))?;
        let channel = backend.pick().ok_or_else(|| {
            Status::unavailable(format!("no {} endpoint is serving; retry", backend.name()))
        })?;

        let (mut parts, body) = request.into_parts();
        for name in HOP_BY_HOP {
            parts.headers.remove(name);
        }
        // Continue the trace from this hop, not from the caller's.
        edu_kit::telemetry::inject_trace(&tracing::Span::current(), &mut parts.headers);
        if let Some(deadline) = parts
            .extensions
            .get::<CallContext>()
            .and_then(CallContext::deadline)
        {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(Status::deadline_exceeded(
                    "the deadline passed before the call was forwarded",
                ));
            }
            if let Ok(value) = HeaderValue::from_str(&format_grpc_timeout(remaining)) {
                parts.headers.insert("grpc-timeout", value);
            }
        }
        let forwarded = Request::from_parts(parts, tonic::body::Body::new(body));

        let mut channel = channel;
        let ready = channel
            .ready()
            .await
            .map_err(|e| Status::unavailable(format!("{} is unreachable: {e}", backend.name())))?;
        ready
            .call(forwarded)
            .await
            .map_err(|e| Status::unavailable(format!("{} did not answer: {e}", backend.name())))
    }
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
