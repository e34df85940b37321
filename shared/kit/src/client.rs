//! Outgoing gRPC: endpoints configured the way the suite's servers expect (no Nagle delay,
//! keep-alives, windows sized for bursts of small calls), and the metadata every outgoing
//! call carries — bearer token, request id, trace context — so one trace and one request id
//! follow a call through every hop.

use std::time::Duration;

use tonic::metadata::{AsciiMetadataKey, AsciiMetadataValue, MetadataValue};
use tonic::transport::Endpoint;

use crate::context::REQUEST_ID_HEADER;

/// An endpoint for `uri` (`http://host:port`) with the suite's transport settings.
pub fn endpoint(uri: impl Into<String>) -> Result<Endpoint, tonic::transport::Error> {
    Ok(Endpoint::from_shared(uri.into())?
        .tcp_nodelay(true)
        .connect_timeout(Duration::from_secs(3))
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_timeout(Duration::from_secs(10))
        .keep_alive_while_idle(true)
        .initial_stream_window_size(1024 * 1024)
        .initial_connection_window_size(8 * 1024 * 1024))
}

/// Adds a bearer token to a request.
pub fn with_bearer<T>(mut request: tonic::Request<T>, token: &str) -> tonic::Request<T> {
    if let Ok(value) = MetadataValue::try_from(format!("Bearer {token}")) {
        request.metadata_mut().insert("authorization", value);
    }
    request
}

/// Asks a development-mode service to judge the call at `instant` (RFC 3339), through the
/// clock override header; production ignores it. An unusable value adds nothing.
pub fn at_instant<T>(mut request: tonic::Request<T>, instant: &str) -> tonic::Request<T> {
    if let Ok(value) = MetadataValue::try_from(instant) {
        request
            .metadata_mut()
            .insert(crate::clock::CLOCK_OVERRIDE_HEADER, value);
    }
    request
}

/// Adds a request id to a request.
pub fn with_request_id<T>(mut request: tonic::Request<T>, request_id: &str) -> tonic::Request<T> {
    if let Ok(value) = MetadataValue::try_from(request_id) {
        request.metadata_mut().insert(REQUEST_ID_HEADER, value);
    }
    request
}

/// Writes the current span's trace context (`traceparent`, `tracestate`) into a request's
/// metadata, so that the callee continues this trace.
pub fn with_trace_context<T>(mut request: tonic::Request<T>) -> tonic::Request<T> {
    let mut headers = http::HeaderMap::new();
    crate::telemetry::inject_trace(&tracing::Span::current(), &mut headers);
    for (name, value) in &headers {
        if let (Ok(key), Ok(value)) = (
            AsciiMetadataKey::from_bytes(name.as_str().as_bytes()),
            AsciiMetadataValue::try_from(value.as_bytes()),
        ) {
            request.metadata_mut().insert(key, value);
        }
    }
    request
}
