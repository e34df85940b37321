//! The per-call pipeline, a tower layer in front of every gRPC service of a process:
//! continues the caller's trace, assigns the request id, authenticates the bearer token,
//! fixes the instant the call is judged at, and counts and logs the call with its final
//! status code. Handlers then find all of it in the call's [`CallContext`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http::{HeaderMap, HeaderValue, Request, Response};
use http_body::{Body, Frame};
use sha2::{Digest, Sha256};
use tonic::{Code, Status};
use tower::{Layer, Service};
use tracing::Instrument;

use crate::auth::{Caller, TokenVerifier};
use crate::clock::{CLOCK_OVERRIDE_HEADER, Clock};
use crate::context::{CallContext, REQUEST_ID_HEADER, stated_purpose};
use crate::error::{ApiError, ErrorKind, reason};
use crate::framing::{BufferedBody, read_one_message};
use crate::metrics::{Metrics, code_name};
use crate::protection::{CallerKey, Protection};
use crate::telemetry;

/// Methods every process serves without a token: health checks and reflection.
const INFRASTRUCTURE_PREFIXES: [&str; 3] = [
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1.ServerReflection/",
    "/grpc.reflection.v1alpha.ServerReflection/",
];

/// How much earlier than tonic's own timer the pipeline ends an overdue call (see `call`),
/// at most: an eighth of the deadline, so that short deadlines keep most of their budget.
/// With 5 ms, a caller on a loaded two-core machine (CI running every test at once) once
/// heard tonic's CANCELLED instead of DEADLINE_EXCEEDED; a wider margin leaves the worker
/// more time to wake before tonic's timer is due.
const DEADLINE_MARGIN: Duration = Duration::from_millis(25);

/// The margin for a call with `deadline`.
fn deadline_margin(deadline: Duration) -> Duration {
    (deadline / 8).min(DEADLINE_MARGIN)
}

/// What the pipeline needs to know; shared by every call.
#[derive(Debug)]
pub struct PipelineConfig {
    /// Verifies bearer tokens.
    pub verifier: TokenVerifier,
    /// The clock calls are judged by.
    pub clock: Clock,
    /// Whether the development clock override is honoured.
    pub development: bool,
    /// Where calls are counted.
    pub metrics: Metrics,
    /// The deadline of unary calls that set none, and the longest one a unary call gets.
    pub default_deadline: Duration,
    /// The deadline of streaming calls that set none, and the longest one they get.
    pub max_stream: Duration,
    /// The largest request message accepted.
    pub max_message_bytes: usize,
    /// The known methods, by path.
    pub methods: Methods,
    /// Full method paths (`/pkg.Service/Method`) or service prefixes (`/pkg.Service/`) that
    /// may be called without a token. A token, when given, must still be valid.
    pub anonymous_methods: Vec<String>,
    /// The ceiling of calls handled at once and the rate limit per caller.
    pub protection: Protection,
    /// Who verified client certificates stand for, when the listener asks for them: a call
    /// with such a certificate and no token is that caller.
    pub certificate_identities: Option<Arc<crate::auth::CertificateIdentities>>,
}

/// The pipeline as a tower layer.
#[derive(Debug, Clone)]
pub struct CallPipeline {
    config: Arc<PipelineConfig>,
}

impl CallPipeline {
    /// A pipeline with `config`.
    pub fn new(config: PipelineConfig) -> Self {
        CallPipeline {
            config: Arc::new(config),
        }
    }
}

impl<S> Layer<S> for CallPipeline {
    type Service = CallService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CallService {
            inner,
            config: Arc::clone(&self.config),
        }
    }
}

/// The pipeline wrapped around one service.
#[derive(Debug, Clone)]
pub struct CallService<S> {
    inner: S,
    config: Arc<PipelineConfig>,
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S, ResBody> Service<Request<tonic::body::Body>> for CallService<S>
where
    S: Service<Request<tonic::body::Body>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ResBody: Body<Data = bytes::Bytes> + Send + 'static,
    ResBody::Error: Into<tonic::codegen::StdError>,
{
    type Response = Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<tonic::body::Body>) -> Self::Future {
        let started = Instant::now();
        let config = Arc::clone(&self.config);
        // Take the service that was driven to readiness; leave a fresh clone behind.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);

        let path = request.uri().path().to_owned();
        let request_id = incoming_request_id(request.headers())
            .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
        if let Ok(value) = HeaderValue::from_str(&request_id) {
            request.headers_mut().insert(REQUEST_ID_HEADER, value);
        }

        let known = config.methods.get(&path);
        let span = tracing::info_span!(
            "grpc",
            otel.name = %path.trim_start_matches('/'),
            otel.kind = "server",
            rpc.system = "grpc",
            rpc.service = known.service,
            rpc.method = known.method,
            request_id = %request_id,
            trace_id = tracing::field::Empty,
            caller = tracing::field::Empty,
            rpc.grpc.status_code = tracing::field::Empty,
        );
        telemetry::continue_trace(&span, request.headers());
        let trace_id = telemetry::trace_id(&span);
        if let Some(trace_id) = &trace_id {
            span.record("trace_id", trace_id.as_str());
        }

        let kind = known.kind;
        // Streams, an upload as much as a feed, may last up to the stream cap; a unary call
        // up to the default deadline.
        let longest = if kind.server_streaming || kind.client_streaming {
            config.max_stream
        } else {
            config.default_deadline
        };
        let deadline = grpc_timeout(request.headers())
            .map(|t| t.min(longest))
            .unwrap_or(longest);
        let observer = CallObserver {
            metrics: config.metrics.clone(),
            service: known.service,
            method: known.method,
            started,
            deadline,
            span: span.clone(),
            finished: false,
        };

        if INFRASTRUCTURE_PREFIXES.iter().any(|p| path.starts_with(p)) {
            // Probes and reflection: no identity, no access log line per probe, and their
            // streams (health watches, reflection sessions) last as long as their clients.
            let future = inner.call(request);
            return Box::pin(async move {
                let response = future.await?;
                Ok(observe(response, observer.quiet(), None))
            });
        }

        // The peer's address, for the rate limit of callers without a (valid) token. Rate
        // refusals and shed calls are answers like any other, counted in the metrics.
        let extensions = request.extensions();
        let tls_info = extensions.get::<tonic::transport::server::TlsConnectInfo<
            tonic::transport::server::TcpConnectInfo,
        >>();
        let peer = extensions
            .get::<tonic::transport::server::TcpConnectInfo>()
            .or_else(|| tls_info.map(|tls| tls.get_ref()))
            .and_then(|info| info.remote_addr())
            .map(|addr| addr.ip());
        // The client certificate the handshake verified, if the listener asked for one.
        let peer_certificates = tls_info.and_then(|tls| tls.peer_certs());
        let client_certificate = peer_certificates.as_ref().and_then(|chain| chain.first());
        // Count the call against its caller's rate: the token's subject, else the peer's
        // address, which also pays for a token that fails its check (so a flood of bad
        // tokens is limited like any other). The ceiling is taken later, once the request
        // has arrived, so a caller trickling its body holds no place.
        let peer_key = || peer.map_or(CallerKey::Unknown, CallerKey::peer);
        let checked = {
            let context = config
                .authenticate(&path, request.headers(), client_certificate)
                .and_then(|caller| {
                    if let Some(caller) = &caller
                        && !span.is_disabled()
                    {
                        span.record("caller", pseudonym(caller.subject()).as_str());
                    }
                    Ok(CallContext::new(
                        caller,
                        request_id.clone(),
                        trace_id,
                        config.now_for(request.headers())?,
                    )
                    .with_deadline(started + deadline)
                    .with_rpc(path.as_str())
                    .with_purpose(stated_purpose(request.headers())?))
                });
            match context {
                Ok(context) => {
                    if config.protection.limits_rate() {
                        let key = match context.caller_if_any() {
                            Some(caller) => CallerKey::Subject(caller.subject().to_string()),
                            None => peer_key(),
                        };
                        config.protection.check_rate(&key).map(|()| context)
                    } else {
                        Ok(context)
                    }
                }
                Err(refused) => Err(config
                    .protection
                    .check_rate(&peer_key())
                    .err()
                    .unwrap_or(refused)),
            }
        };
        let context = match checked {
            Ok(context) => context,
            Err(error) => {
                let status = Status::from(error);
                let mut observer = observer;
                observer.finish(status.code());
                let mut response = status.into_http::<tonic::body::Body>();
                echo_request_id(response.headers_mut(), &request_id);
                return Box::pin(std::future::ready(Ok(response)));
            }
        };
        request.extensions_mut().insert(context.clone());

        // The caller's deadline (capped by the default) bounds the whole call: reading the
        // request, the handler, and a streaming response. Past it the handler is dropped,
        // its transaction rolls back, and the caller hears DEADLINE_EXCEEDED. tonic also
        // arms a timer from `grpc-timeout` but answers CANCELLED when it fires; it polls
        // this service before its own timer, so firing a little earlier makes the answer
        // ours.
        let budget = deadline
            .saturating_sub(deadline_margin(deadline))
            .max(Duration::from_millis(1));
        let ends_at = tokio::time::Instant::now() + budget;
        let max_message = config.max_message_bytes;
        let protection = config.protection.clone();
        let handled = async move {
            if !kind.client_streaming {
                let (mut parts, body) = request.into_parts();
                let bytes = match read_one_message(body, &parts.headers, max_message).await {
                    Ok(bytes) => bytes,
                    Err(error) => return Ok(Err(error)),
                };
                parts.extensions.insert(BufferedBody(bytes.clone()));
                request = Request::from_parts(
                    parts,
                    tonic::body::Body::new(http_body_util::Full::new(bytes)),
                );
            }
            // A place under the ceiling, or shed: taken once the request has arrived.
            let admitted = match protection.enter() {
                Ok(admitted) => admitted,
                Err(error) => return Ok(Err(error)),
            };
            // The handler runs as serving this call, so that a store function can find it
            // (the audit trail's records of reads: `audit::read_in_call`).
            let answered = context.scope(inner.call(request)).await.map(Ok);
            // The place under the ceiling is held until the handler has answered.
            drop(admitted);
            answered
        };
        let future = tokio::time::timeout_at(ends_at, handled.instrument(span));
        Box::pin(async move {
            let refused = |error: ApiError, mut observer: CallObserver| {
                let status = Status::from(error);
                observer.finish(status.code());
                status.into_http::<tonic::body::Body>()
            };
            let mut response = match future.await {
                Ok(Ok(Ok(response))) => observe(response, observer, Some(ends_at)),
                Ok(Ok(Err(error))) => refused(error, observer),
                Ok(Err(error)) => return Err(error),
                Err(_) => refused(deadline_exceeded(deadline), observer),
            };
            echo_request_id(response.headers_mut(), &request_id);
            Ok(response)
        })
    }
}

/// A status as trailers: its `grpc-*` headers.
fn status_trailers(status: Status) -> HeaderMap {
    let (parts, _) = status.into_http::<tonic::body::Body>().into_parts();
    parts
        .headers
        .into_iter()
        .filter_map(|(name, value)| name.map(|n| (n, value)))
        .filter(|(name, _)| name.as_str().starts_with("grpc-"))
        .collect()
}

/// The refusal of a call whose deadline passed.
fn deadline_exceeded(deadline: Duration) -> ApiError {
    ApiError::new(
        ErrorKind::DeadlineExceeded,
        reason::DEADLINE_EXCEEDED,
        format!("no answer within the call's deadline of {deadline:?}"),
    )
}

/// Whether a method's client and server stream, as its descriptor says.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MethodKind {
    /// The client sends a stream of messages (the request body is not read whole).
    pub client_streaming: bool,
    /// The server answers with a stream (the call's deadline bounds the stream).
    pub server_streaming: bool,
}

/// A method the process knows, named once for the metrics and the logs.
#[derive(Debug, Clone, Copy)]
pub struct Method {
    /// `edu.competitions.v1.ContestService`.
    pub service: &'static str,
    /// `CreateContest`.
    pub method: &'static str,
    /// How it streams.
    pub kind: MethodKind,
}

/// Any path that names no method of the contracts.
const UNKNOWN: Method = Method {
    service: "unknown",
    method: "unknown",
    kind: MethodKind {
        client_streaming: false,
        server_streaming: false,
    },
};

/// The methods of the suite's contracts and of the gRPC infrastructure, by path, read once
/// from the descriptors: every call finds its names here instead of allocating them.
#[derive(Debug, Clone, Default)]
pub struct Methods {
    by_path: std::collections::HashMap<String, Method>,
}

impl Methods {
    /// The methods of `proto/`, health and reflection.
    pub fn of_contracts() -> Self {
        use prost::Message;
        let mut by_path = std::collections::HashMap::new();
        // Names live as long as the process; the set is fixed by the contracts.
        let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
        let mut add = |service: &str, method: &str, kind: MethodKind| {
            let service = leak(service.to_string());
            let method_name = leak(method.to_string());
            by_path.insert(
                format!("/{service}/{method_name}"),
                Method {
                    service,
                    method: method_name,
                    kind,
                },
            );
        };
        if let Ok(set) = prost_types::FileDescriptorSet::decode(edu_proto::FILE_DESCRIPTOR_SET) {
            for file in &set.file {
                for service in &file.service {
                    for method in &service.method {
                        add(
                            &format!("{}.{}", file.package(), service.name()),
                            method.name(),
                            MethodKind {
                                client_streaming: method.client_streaming(),
                                server_streaming: method.server_streaming(),
                            },
                        );
                    }
                }
            }
        }
        let streaming_both = MethodKind {
            client_streaming: true,
            server_streaming: true,
        };
        add("grpc.health.v1.Health", "Check", MethodKind::default());
        add(
            "grpc.health.v1.Health",
            "Watch",
            MethodKind {
                client_streaming: false,
                server_streaming: true,
            },
        );
        add(
            "grpc.reflection.v1.ServerReflection",
            "ServerReflectionInfo",
            streaming_both,
        );
        add(
            "grpc.reflection.v1alpha.ServerReflection",
            "ServerReflectionInfo",
            streaming_both,
        );
        Methods { by_path }
    }

    /// The method at `path`; `unknown` for a path of no known method.
    pub fn get(&self, path: &str) -> Method {
        self.by_path.get(path).copied().unwrap_or(UNKNOWN)
    }
}

impl PipelineConfig {
    /// The caller: the token's when the call carries one (even with a client certificate),
    /// else the client certificate's when the listener asks for certificates and one was
    /// presented (PERMISSION_DENIED `CERTIFICATE_NOT_MAPPED` when it names nobody), else
    /// nobody, where the method allows that.
    fn authenticate(
        &self,
        path: &str,
        headers: &HeaderMap,
        client_certificate: Option<&rustls_pki_types::CertificateDer<'static>>,
    ) -> Result<Option<Caller>, ApiError> {
        match bearer_token(headers)? {
            Some(token) => Ok(Some(self.verifier.verify(token)?)),
            None => match (client_certificate, &self.certificate_identities) {
                (Some(leaf), Some(identities)) => identities.caller_for(leaf).map(Some),
                _ => self.anonymous(path),
            },
        }
    }

    fn anonymous(&self, path: &str) -> Result<Option<Caller>, ApiError> {
        if self.is_anonymous(path) {
            return Ok(None);
        }
        Err(ApiError::new(
            ErrorKind::Unauthenticated,
            reason::TOKEN_MISSING,
            "this call needs a bearer token in the authorization metadata",
        ))
    }

    fn is_anonymous(&self, path: &str) -> bool {
        self.anonymous_methods.iter().any(|m| {
            if m.ends_with('/') {
                path.starts_with(m.as_str())
            } else {
                path == m
            }
        })
    }

    fn now_for(&self, headers: &HeaderMap) -> Result<jiff::Timestamp, ApiError> {
        match headers.get(CLOCK_OVERRIDE_HEADER) {
            Some(value) if self.development => value
                .to_str()
                .ok()
                .and_then(|v| v.parse::<jiff::Timestamp>().ok())
                .ok_or_else(|| {
                    ApiError::invalid_field(
                        reason::INVALID_FIELDS,
                        CLOCK_OVERRIDE_HEADER,
                        "expected an RFC 3339 instant such as 2025-01-31T23:59:00+03:00",
                    )
                }),
            Some(_) => {
                tracing::debug!("ignoring the development clock override in production");
                Ok(self.clock.now())
            }
            None => Ok(self.clock.now()),
        }
    }
}

/// `(service, method)` of a gRPC path `/pkg.Service/Method`.
pub fn split_path(path: &str) -> (&str, &str) {
    let trimmed = path.trim_start_matches('/');
    trimmed.split_once('/').unwrap_or((trimmed, ""))
}

fn bearer_token(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    let Some(value) = headers.get(http::header::AUTHORIZATION) else {
        return Ok(None);
    };
    let invalid = || {
        ApiError::new(
            ErrorKind::Unauthenticated,
            reason::TOKEN_INVALID,
            "authorization metadata must be \"Bearer <token>\"",
        )
    };
    let value = value.to_str().map_err(|_| invalid())?;
    let (scheme, token) = value.split_once(' ').ok_or_else(invalid)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(invalid());
    }
    Ok(Some(token.trim()))
}

/// The caller's request id when it is a sensible one (printable ASCII, at most 128 bytes);
/// otherwise the pipeline assigns a new one rather than trusting arbitrary bytes in logs.
fn incoming_request_id(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(REQUEST_ID_HEADER)?.to_str().ok()?;
    let sensible =
        !value.is_empty() && value.len() <= 128 && value.bytes().all(|b| b.is_ascii_graphic());
    sensible.then(|| value.to_owned())
}

fn echo_request_id(headers: &mut HeaderMap, request_id: &str) {
    if let Ok(value) = HeaderValue::from_str(request_id) {
        headers.insert(REQUEST_ID_HEADER, value);
    }
}

/// A stable pseudonym of a subject for logs: subjects identify people, and logs must not.
pub fn pseudonym(subject: &str) -> String {
    let digest = Sha256::digest(subject.as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses the `grpc-timeout` header (`<digits><unit>`, unit one of H M S m u n).
pub fn grpc_timeout(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get("grpc-timeout")?.to_str().ok()?;
    if value.len() < 2 || value.len() > 9 {
        return None;
    }
    let (digits, unit) = value.split_at(value.len() - 1);
    let amount: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(amount.saturating_mul(3600)),
        "M" => Duration::from_secs(amount.saturating_mul(60)),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    })
}

/// Formats a duration as a `grpc-timeout` header value.
pub fn format_grpc_timeout(timeout: Duration) -> String {
    // Eight digits at most; milliseconds cover up to ~27 hours.
    let millis = timeout.as_millis().max(1);
    if millis < 100_000_000 {
        format!("{millis}m")
    } else {
        format!("{}S", timeout.as_secs().min(99_999_999))
    }
}

struct CallObserver {
    metrics: Metrics,
    service: &'static str,
    method: &'static str,
    started: Instant,
    deadline: Duration,
    span: tracing::Span,
    finished: bool,
}

impl CallObserver {
    /// Counts the call but writes no log line (health probes).
    fn quiet(mut self) -> Self {
        self.span = tracing::Span::none();
        self
    }

    fn finish(&mut self, code: Code) {
        if self.finished {
            return;
        }
        self.finished = true;
        let elapsed = self.started.elapsed();
        self.metrics
            .record_call(self.service, self.method, code, elapsed);
        if self.span.is_none() {
            return;
        }
        self.span.record("rpc.grpc.status_code", code as i32);
        let _entered = self.span.enter();
        let millis = elapsed.as_secs_f64() * 1000.0;
        // A call that succeeds is counted in the metrics and logged only at debug level:
        // a log line per call would cost more than many a call. Refusals are logged.
        match code {
            Code::Ok => {
                tracing::debug!(code = code_name(code), elapsed_ms = millis, "call finished")
            }
            Code::Internal | Code::Unknown | Code::DataLoss => {
                tracing::error!(code = code_name(code), elapsed_ms = millis, "call failed")
            }
            _ => tracing::info!(code = code_name(code), elapsed_ms = millis, "call refused"),
        }
    }
}

impl Drop for CallObserver {
    fn drop(&mut self) {
        // Dropped unfinished: the server timed the call out, or the client went away.
        if !self.finished {
            let code = if self.started.elapsed() >= self.deadline {
                Code::DeadlineExceeded
            } else {
                Code::Cancelled
            };
            self.finish(code);
        }
    }
}

fn observe<B>(
    response: Response<B>,
    mut observer: CallObserver,
    ends_at: Option<tokio::time::Instant>,
) -> Response<tonic::body::Body>
where
    B: Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<tonic::codegen::StdError>,
{
    let header_code = response
        .headers()
        .get("grpc-status")
        .map(|v| Code::from_bytes(v.as_bytes()));
    // A trailers-only answer (every refusal tonic sends) is final as it stands: its empty
    // body reports its end at once, so the server never polls it, and the observer would be
    // dropped unfinished and count the call as CANCELLED. It has nothing more to bound.
    if let Some(code) = header_code {
        observer.finish(code);
    }
    let ends_at = ends_at.filter(|_| header_code.is_none());
    response.map(|inner| {
        tonic::body::Body::new(ObservedBody {
            inner,
            observer,
            header_code,
            deadline: ends_at.map(|at| Box::pin(tokio::time::sleep_until(at))),
            ended: false,
        })
    })
}

pin_project_lite::pin_project! {
    /// A response body that reports the call's status code when its trailers (or its end)
    /// go by, and ends a stream that outlives the call's deadline with DEADLINE_EXCEEDED
    /// (tonic bounds only the handler's first answer, not the stream after it).
    struct ObservedBody<B> {
        #[pin]
        inner: B,
        observer: CallObserver,
        header_code: Option<Code>,
        deadline: Option<Pin<Box<tokio::time::Sleep>>>,
        ended: bool,
    }
}

impl<B> Body for ObservedBody<B>
where
    B: Body<Data = bytes::Bytes>,
    B::Error: Into<tonic::codegen::StdError>,
{
    type Data = bytes::Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        if *this.ended {
            return Poll::Ready(None);
        }
        let polled = this.inner.poll_frame(cx);
        if polled.is_pending()
            && let Some(deadline) = this.deadline.as_mut()
            && deadline.as_mut().poll(cx).is_ready()
        {
            *this.ended = true;
            let status = Status::from(ApiError::new(
                ErrorKind::DeadlineExceeded,
                reason::DEADLINE_EXCEEDED,
                "the stream ran past the call's deadline",
            ));
            this.observer.finish(status.code());
            return Poll::Ready(Some(Ok(Frame::trailers(status_trailers(status)))));
        }
        if matches!(polled, Poll::Ready(None)) {
            *this.ended = true;
        }
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(trailers) = frame.trailers_ref() {
                    let code = trailers
                        .get("grpc-status")
                        .map(|v| Code::from_bytes(v.as_bytes()))
                        .unwrap_or(Code::Unknown);
                    this.observer.finish(code);
                }
            }
            Poll::Ready(Some(Err(_))) => this.observer.finish(Code::Internal),
            Poll::Ready(None) => this
                .observer
                .finish(this.header_code.unwrap_or(Code::Unknown)),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.ended || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_str(v).expect("header"));
        }
        map
    }

    #[test]
    fn grpc_timeouts_parse_in_every_unit() {
        assert_eq!(
            grpc_timeout(&headers(&[("grpc-timeout", "5S")])),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            grpc_timeout(&headers(&[("grpc-timeout", "250m")])),
            Some(Duration::from_millis(250))
        );
        assert_eq!(
            grpc_timeout(&headers(&[("grpc-timeout", "2H")])),
            Some(Duration::from_secs(7200))
        );
        assert_eq!(grpc_timeout(&headers(&[("grpc-timeout", "10x")])), None);
        assert_eq!(
            grpc_timeout(&headers(&[("grpc-timeout", "123456789S")])),
            None,
            "more than 8 digits"
        );
        assert_eq!(format_grpc_timeout(Duration::from_millis(1500)), "1500m");
        assert_eq!(
            grpc_timeout(&headers(&[(
                "grpc-timeout",
                &format_grpc_timeout(Duration::from_secs(30))
            )])),
            Some(Duration::from_secs(30))
        );
    }

    #[test]
    fn bearer_tokens_need_the_bearer_scheme() {
        assert_eq!(
            bearer_token(&headers(&[("authorization", "Bearer abc")])).expect("ok"),
            Some("abc")
        );
        assert_eq!(
            bearer_token(&headers(&[("authorization", "bearer abc")])).expect("ok"),
            Some("abc")
        );
        assert!(bearer_token(&headers(&[("authorization", "Basic abc")])).is_err());
        assert!(bearer_token(&headers(&[("authorization", "Bearer ")])).is_err());
        assert_eq!(bearer_token(&HeaderMap::new()).expect("ok"), None);
    }

    #[test]
    fn request_ids_from_callers_are_kept_only_when_sensible() {
        assert_eq!(
            incoming_request_id(&headers(&[("x-request-id", "abc-123")])).as_deref(),
            Some("abc-123")
        );
        assert_eq!(
            incoming_request_id(&headers(&[("x-request-id", &"x".repeat(200))])),
            None
        );
        assert_eq!(
            incoming_request_id(&headers(&[("x-request-id", "a b")])),
            None
        );
    }

    #[test]
    fn paths_split_into_service_and_method() {
        assert_eq!(
            split_path("/edu.competitions.v1.ContestService/GetContest"),
            ("edu.competitions.v1.ContestService", "GetContest")
        );
        assert_eq!(split_path("/odd"), ("odd", ""));
    }

    #[test]
    fn pseudonyms_are_stable_and_do_not_show_the_subject() {
        assert_eq!(pseudonym("alice"), pseudonym("alice"));
        assert_ne!(pseudonym("alice"), pseudonym("bob"));
        assert!(!pseudonym("alice").contains("alice"));
    }
}
