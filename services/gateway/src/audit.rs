//! `edu.audit.v1.AuditService` at the gateway: every service keeps its own audit trail and
//! serves it itself (the kit's `edu_kit::audit::service`); the gateway serves the API once
//! for all of them, checks the caller holds the inspector role of the service the request's
//! `parent` names (`services/{service}`), and forwards the call to that service's backend
//! with the generated client, carrying the caller's token (the service checks it again),
//! request id, stated purpose, trace context and the remaining deadline. The backend's
//! answer, refusals included, comes back unchanged; a backend that cannot be reached is
//! tried once more on another endpoint (the calls only read) and then answers
//! UNAVAILABLE `BACKEND_UNAVAILABLE`.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use edu_kit::audit::service::{ExportStream, authorise};
use edu_kit::config::Limits;
use edu_kit::context::{PURPOSE_HEADER, REQUEST_ID_HEADER};
use edu_kit::error::ErrorKind;
use edu_kit::{ApiError, CallContext};
use edu_proto::edu::audit::v1 as pb;
use edu_proto::edu::audit::v1::audit_service_client::AuditServiceClient;
use edu_proto::edu::audit::v1::audit_service_server::{AuditService, AuditServiceServer};
use tonic::transport::Channel;
use tonic::{Code, Request, Response, Status};

use crate::backends::{Backend, Backends};
use crate::proxy::reason::BACKEND_UNAVAILABLE;

/// The metadata a forwarded call carries on from the caller's.
const FORWARDED: [&str; 4] = [
    "authorization",
    REQUEST_ID_HEADER,
    PURPOSE_HEADER,
    edu_kit::clock::CLOCK_OVERRIDE_HEADER,
];

/// How many endpoints a call is tried on when the backend cannot be reached.
const ATTEMPTS: usize = 2;

/// The gateway's `AuditService`.
#[derive(Debug, Clone)]
pub struct AuditGateway {
    backends: Arc<Backends>,
    max_message_bytes: usize,
}

impl AuditGateway {
    /// The service over `backends`.
    pub fn new(backends: Arc<Backends>, limits: &Limits) -> Self {
        AuditGateway {
            backends,
            max_message_bytes: limits.max_message_bytes,
        }
    }

    /// As a gRPC service, with the process's message limits.
    pub fn server(self) -> AuditServiceServer<AuditGateway> {
        let limit = self.max_message_bytes;
        AuditServiceServer::new(self)
            .max_decoding_message_size(limit)
            .max_encoding_message_size(limit)
    }

    /// The backend of the service `parent` names, once the caller is known to hold its
    /// inspector role.
    fn backend<T>(&self, request: &Request<T>, parent: &str) -> Result<&Arc<Backend>, ApiError> {
        let context = CallContext::of(request)?;
        let service = authorise(context, parent)?;
        self.backends
            .all()
            .find(|b| b.name() == service)
            .ok_or_else(|| ApiError::not_found(parent.to_string()))
    }

    /// Sends `request` to `backend` with `call`, on another endpoint once more when the first
    /// could not be reached.
    async fn forward<T, R, F, Fut>(
        &self,
        request: Request<T>,
        parent: &str,
        call: F,
    ) -> Result<Response<R>, Status>
    where
        T: Clone,
        F: Fn(AuditServiceClient<Channel>, Request<T>) -> Fut,
        Fut: Future<Output = Result<Response<R>, Status>>,
    {
        let backend = self.backend(&request, parent).map_err(Status::from)?;
        let mut tried: Vec<SocketAddr> = Vec::new();
        let mut last = None;
        for _ in 0..ATTEMPTS {
            let (addr, channel) = backend
                .pick_avoiding(&tried)
                .ok_or_else(|| Status::from(unavailable(backend, "no endpoint is serving")))?;
            let outgoing = outgoing(&request).map_err(Status::from)?;
            let client = AuditServiceClient::new(channel)
                .max_decoding_message_size(self.max_message_bytes)
                .max_encoding_message_size(self.max_message_bytes);
            match call(client, outgoing).await {
                Err(status) if unreached(&status) => {
                    tracing::debug!(backend = %backend.name(), %addr, error = %status.message(), "audit call not answered; trying another endpoint");
                    tried.push(addr);
                    last = Some(status);
                }
                // The backend's own metadata (its headers) stays behind: the pipeline
                // answers with this call's own.
                answered => return answered.map(|r| Response::new(r.into_inner())),
            }
        }
        let why = last.map_or_else(String::new, |s| s.message().to_string());
        Err(Status::from(unavailable(backend, &why)))
    }
}

/// The request to send on: the body, the caller's metadata that matters, this hop's trace
/// context, and what is left of the call's deadline.
fn outgoing<T: Clone>(request: &Request<T>) -> Result<Request<T>, ApiError> {
    let mut out = Request::new(request.get_ref().clone());
    for key in FORWARDED {
        if let Some(value) = request.metadata().get(key) {
            out.metadata_mut().insert(key, value.clone());
        }
    }
    let mut out = edu_kit::client::with_trace_context(out);
    if let Some(deadline) = CallContext::of(request)?.deadline() {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(ApiError::new(
                ErrorKind::DeadlineExceeded,
                edu_kit::error::reason::DEADLINE_EXCEEDED,
                "the call's deadline passed before it was forwarded",
            ));
        }
        out.set_timeout(remaining);
    }
    Ok(out)
}

/// Whether a status is the transport's (the backend never answered), not the backend's: the
/// kit's refusals always carry details.
fn unreached(status: &Status) -> bool {
    matches!(status.code(), Code::Unavailable | Code::Unknown) && status.details().is_empty()
}

fn unavailable(backend: &Backend, why: &str) -> ApiError {
    ApiError::new(
        ErrorKind::Unavailable,
        BACKEND_UNAVAILABLE,
        format!("{} is unavailable: {why}; retry", backend.name()),
    )
    .with_metadata("backend", backend.name())
    .with_retry_after(Duration::from_millis(500))
}

#[tonic::async_trait]
impl AuditService for AuditGateway {
    async fn list_audit_records(
        &self,
        request: Request<pb::ListAuditRecordsRequest>,
    ) -> Result<Response<pb::ListAuditRecordsResponse>, Status> {
        let parent = request.get_ref().parent.clone();
        self.forward(request, &parent, |mut client, outgoing| async move {
            client.list_audit_records(outgoing).await
        })
        .await
    }

    type ExportAuditRecordsStream = ExportStream;

    async fn export_audit_records(
        &self,
        request: Request<pb::ExportAuditRecordsRequest>,
    ) -> Result<Response<ExportStream>, Status> {
        let parent = request.get_ref().parent.clone();
        let stream = self
            .forward(request, &parent, |mut client, outgoing| async move {
                client.export_audit_records(outgoing).await
            })
            .await?
            .into_inner();
        // Each record (or the backend's refusal midway) passes through as it arrives.
        let stream: ExportStream = Box::pin(stream);
        Ok(Response::new(stream))
    }

    async fn verify_audit_chain(
        &self,
        request: Request<pb::VerifyAuditChainRequest>,
    ) -> Result<Response<pb::AuditChainReport>, Status> {
        let parent = request.get_ref().parent.clone();
        self.forward(request, &parent, |mut client, outgoing| async move {
            client.verify_audit_chain(outgoing).await
        })
        .await
    }
}
