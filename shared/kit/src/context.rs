//! What a handler knows about the call it serves: who calls, which request this is, the
//! trace it belongs to, and the instant it is judged at. The call pipeline
//! ([`crate::pipeline`]) builds it before the handler runs.

use jiff::Timestamp;

use crate::auth::Caller;
use crate::error::{ApiError, ErrorKind, reason};

/// The metadata header that carries the correlation id of a call across services.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The context of one call.
#[derive(Debug, Clone)]
pub struct CallContext {
    caller: Option<Caller>,
    request_id: String,
    trace_id: Option<String>,
    now: Timestamp,
    deadline: Option<std::time::Instant>,
}

impl CallContext {
    /// A context as the pipeline builds it; tests build their own.
    pub fn new(
        caller: Option<Caller>,
        request_id: impl Into<String>,
        trace_id: Option<String>,
        now: Timestamp,
    ) -> Self {
        CallContext {
            caller,
            request_id: request_id.into(),
            trace_id,
            now,
            deadline: None,
        }
    }

    /// The same context with the instant by which the call must be answered.
    pub fn with_deadline(mut self, deadline: std::time::Instant) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// The instant by which the call must be answered (the caller's `grpc-timeout`, capped
    /// by the process's default deadline).
    pub fn deadline(&self) -> Option<std::time::Instant> {
        self.deadline
    }

    /// The context the pipeline attached to `request`.
    pub fn of<T>(request: &tonic::Request<T>) -> Result<&CallContext, ApiError> {
        request.extensions().get::<CallContext>().ok_or_else(|| {
            ApiError::new(
                ErrorKind::Internal,
                reason::INTERNAL,
                "call context missing: the service runs without the kit's call pipeline",
            )
        })
    }

    /// The verified caller, or `UNAUTHENTICATED` for an anonymous call.
    pub fn caller(&self) -> Result<&Caller, ApiError> {
        self.caller.as_ref().ok_or_else(|| {
            ApiError::new(
                ErrorKind::Unauthenticated,
                reason::TOKEN_MISSING,
                "this call needs a bearer token",
            )
        })
    }

    /// The caller when the call carried a valid token; `None` for anonymous public calls.
    pub fn caller_if_any(&self) -> Option<&Caller> {
        self.caller.as_ref()
    }

    /// The correlation id of the call (`x-request-id`).
    pub fn request_id(&self) -> &str {
        &self.request_id
    }

    /// The W3C trace id the call belongs to, as 32 hex digits.
    pub fn trace_id(&self) -> Option<&str> {
        self.trace_id.as_deref()
    }

    /// The instant the call is judged at.
    pub fn now(&self) -> Timestamp {
        self.now
    }
}
