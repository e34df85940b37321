//! One error type for every service's API room, mapped once to a gRPC status with
//! `google.rpc.ErrorInfo` (a stable, machine-readable reason) and `google.rpc.BadRequest`
//! (the offending fields). Services turn their typed domain errors into [`ApiError`]; nothing
//! else builds a `tonic::Status` by hand.

use std::collections::HashMap;
use std::time::Duration;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

/// The `domain` of every `ErrorInfo` the suite returns: reasons are unique across the suite,
/// so clients localise one table of them.
pub const ERROR_DOMAIN: &str = "edu.suite";

/// Reasons the kit itself gives; services add their own.
pub mod reason {
    /// A request field is missing or malformed; see the BadRequest details.
    pub const INVALID_FIELDS: &str = "INVALID_FIELDS";
    /// No bearer token.
    pub const TOKEN_MISSING: &str = "TOKEN_MISSING";
    /// A token that is malformed, wrongly signed, expired, or for another issuer or audience.
    pub const TOKEN_INVALID: &str = "TOKEN_INVALID";
    /// The caller lacks the role the call needs.
    pub const ROLE_REQUIRED: &str = "ROLE_REQUIRED";
    /// An etag that no longer matches: somebody changed the resource since it was read.
    pub const ETAG_MISMATCH: &str = "ETAG_MISMATCH";
    /// A `request_id` reused for a different request.
    pub const REQUEST_ID_REUSED: &str = "REQUEST_ID_REUSED";
    /// The resource does not exist, or the caller may not know that it does.
    pub const NOT_FOUND: &str = "NOT_FOUND";
    /// A resource with that name exists already.
    pub const ALREADY_EXISTS: &str = "ALREADY_EXISTS";
    /// A page token that was not issued for this query.
    pub const PAGE_TOKEN_INVALID: &str = "PAGE_TOKEN_INVALID";
    /// The database did not answer in time; retry.
    pub const STORE_UNAVAILABLE: &str = "STORE_UNAVAILABLE";
    /// The call's deadline passed before it was answered.
    pub const DEADLINE_EXCEEDED: &str = "DEADLINE_EXCEEDED";
    /// A competing change won; retry.
    pub const CONCURRENT_CHANGE: &str = "CONCURRENT_CHANGE";
    /// An unexpected failure on our side; the request id identifies it in the logs.
    pub const INTERNAL: &str = "INTERNAL";
}

/// The kinds of failure the suite distinguishes, each with one gRPC code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request is malformed; the field violations say where.
    InvalidArgument,
    /// A rule forbids the change in the resource's current state.
    FailedPrecondition,
    /// The resource does not exist or the caller may not know of it.
    NotFound,
    /// The resource exists already.
    AlreadyExists,
    /// A concurrent change won (stale etag, serialization failure).
    Aborted,
    /// The caller is known but not allowed.
    PermissionDenied,
    /// The caller is not known.
    Unauthenticated,
    /// A limit or quota is reached.
    ResourceExhausted,
    /// A dependency is down; retrying later may work.
    Unavailable,
    /// The call ran out of time.
    DeadlineExceeded,
    /// A bug or an unexpected failure on our side.
    Internal,
}

impl ErrorKind {
    /// The gRPC code of this kind.
    pub fn code(self) -> Code {
        match self {
            ErrorKind::InvalidArgument => Code::InvalidArgument,
            ErrorKind::FailedPrecondition => Code::FailedPrecondition,
            ErrorKind::NotFound => Code::NotFound,
            ErrorKind::AlreadyExists => Code::AlreadyExists,
            ErrorKind::Aborted => Code::Aborted,
            ErrorKind::PermissionDenied => Code::PermissionDenied,
            ErrorKind::Unauthenticated => Code::Unauthenticated,
            ErrorKind::ResourceExhausted => Code::ResourceExhausted,
            ErrorKind::Unavailable => Code::Unavailable,
            ErrorKind::DeadlineExceeded => Code::DeadlineExceeded,
            ErrorKind::Internal => Code::Internal,
        }
    }
}

/// A field of the request and what is wrong with it. Field paths use the proto field names
/// joined by dots, as in `contest.nominations[2].title`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldProblem {
    /// The path of the offending field.
    pub field: String,
    /// What is wrong, in English.
    pub description: String,
}

/// An error a caller sees: kind, stable reason, message, and the offending fields.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{kind:?} {reason}: {message}")]
pub struct ApiError {
    /// Which kind of failure, hence which gRPC code.
    pub kind: ErrorKind,
    /// The stable reason code of `ErrorInfo`.
    pub reason: &'static str,
    /// A message for a developer, in English; clients localise by `reason`.
    pub message: String,
    // Boxed: most errors carry no details, and errors travel in every `Result`.
    details: Option<Box<Details>>,
}

#[derive(Debug, Clone, Default)]
struct Details {
    fields: Vec<FieldProblem>,
    metadata: HashMap<String, String>,
    retry_after: Option<Duration>,
}

impl ApiError {
    /// An error of `kind` with `reason` and `message`.
    pub fn new(kind: ErrorKind, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            kind,
            reason,
            message: message.into(),
            details: None,
        }
    }

    fn details_mut(&mut self) -> &mut Details {
        self.details.get_or_insert_with(Box::default)
    }

    /// For `InvalidArgument`, every offending field.
    pub fn fields(&self) -> &[FieldProblem] {
        self.details
            .as_ref()
            .map(|d| d.fields.as_slice())
            .unwrap_or_default()
    }

    /// The `ErrorInfo` metadata.
    pub fn metadata(&self, key: &str) -> Option<&str> {
        self.details
            .as_ref()
            .and_then(|d| d.metadata.get(key))
            .map(String::as_str)
    }

    /// A malformed request with its offending fields.
    pub fn invalid_fields(fields: Vec<FieldProblem>) -> Self {
        let message = match fields.as_slice() {
            [one] => format!("invalid {}: {}", one.field, one.description),
            many => format!(
                "invalid fields: {}",
                many.iter()
                    .map(|f| f.field.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let mut error = ApiError::new(ErrorKind::InvalidArgument, reason::INVALID_FIELDS, message);
        error.details_mut().fields = fields;
        error
    }

    /// A malformed request with one offending field and its own reason.
    pub fn invalid_field(
        reason: &'static str,
        field: impl Into<String>,
        description: impl Into<String>,
    ) -> Self {
        let field = field.into();
        let description = description.into();
        let message = format!("invalid {field}: {description}");
        let mut error = ApiError::new(ErrorKind::InvalidArgument, reason, message);
        error.details_mut().fields = vec![FieldProblem { field, description }];
        error
    }

    /// A rule that the current state forbids.
    pub fn failed_precondition(reason: &'static str, message: impl Into<String>) -> Self {
        ApiError::new(ErrorKind::FailedPrecondition, reason, message)
    }

    /// A resource that does not exist (or that the caller may not know of).
    pub fn not_found(what: impl Into<String>) -> Self {
        ApiError::new(
            ErrorKind::NotFound,
            reason::NOT_FOUND,
            format!("{} not found", what.into()),
        )
    }

    /// A resource that exists already.
    pub fn already_exists(what: impl Into<String>) -> Self {
        ApiError::new(
            ErrorKind::AlreadyExists,
            reason::ALREADY_EXISTS,
            format!("{} already exists", what.into()),
        )
    }

    /// A caller without the needed permission.
    pub fn permission_denied(reason: &'static str, message: impl Into<String>) -> Self {
        ApiError::new(ErrorKind::PermissionDenied, reason, message)
    }

    /// A stale etag.
    pub fn etag_mismatch(what: impl Into<String>) -> Self {
        ApiError::new(
            ErrorKind::Aborted,
            reason::ETAG_MISMATCH,
            format!(
                "{} was changed since it was read; read it again",
                what.into()
            ),
        )
    }

    /// An unexpected failure. The cause is logged here, with the request's span, and not
    /// shown to the caller.
    pub fn internal(cause: &(dyn std::error::Error + 'static)) -> Self {
        tracing::error!(error = %ErrorChain(cause), "internal error");
        ApiError::new(
            ErrorKind::Internal,
            reason::INTERNAL,
            "internal error; the request id identifies it in the logs",
        )
    }

    /// Adds an `ErrorInfo` metadata entry.
    pub fn with_metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.details_mut().metadata.insert(key.into(), value.into());
        self
    }

    /// Asks the caller to retry after `delay`.
    pub fn with_retry_after(mut self, delay: Duration) -> Self {
        self.details_mut().retry_after = Some(delay);
        self
    }
}

impl From<ApiError> for Status {
    fn from(error: ApiError) -> Status {
        let extra = error.details.map(|d| *d).unwrap_or_default();
        let mut details = ErrorDetails::new();
        details.set_error_info(error.reason, ERROR_DOMAIN, extra.metadata);
        if !extra.fields.is_empty() {
            details.set_bad_request(
                extra
                    .fields
                    .into_iter()
                    .map(|f| FieldViolation::new(f.field, f.description))
                    .collect::<Vec<_>>(),
            );
        }
        if let Some(delay) = extra.retry_after {
            details.set_retry_info(Some(delay));
        }
        Status::with_error_details(error.kind.code(), error.message, details)
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        match &error {
            sqlx::Error::PoolTimedOut => {
                tracing::warn!("no database connection within the acquire timeout");
                ApiError::new(
                    ErrorKind::Unavailable,
                    reason::STORE_UNAVAILABLE,
                    "the database is busy; retry",
                )
                .with_retry_after(Duration::from_millis(200))
            }
            sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
                tracing::warn!(error = %ErrorChain(&error), "database unreachable");
                ApiError::new(
                    ErrorKind::Unavailable,
                    reason::STORE_UNAVAILABLE,
                    "the database is unreachable; retry",
                )
                .with_retry_after(Duration::from_secs(1))
            }
            sqlx::Error::Database(db) if is_retryable_conflict(db.code().as_deref()) => {
                ApiError::new(
                    ErrorKind::Aborted,
                    reason::CONCURRENT_CHANGE,
                    "a concurrent change won; retry",
                )
            }
            _ => ApiError::internal(&error),
        }
    }
}

/// Serialization failures and deadlocks: the transaction lost a race and may simply be
/// retried.
fn is_retryable_conflict(sqlstate: Option<&str>) -> bool {
    matches!(sqlstate, Some("40001") | Some("40P01"))
}

/// Displays an error with its chain of causes, `a: b: c`.
#[derive(Debug)]
pub struct ErrorChain<'a>(pub &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

/// A handler's result as tonic wants it.
pub fn respond<T>(result: Result<T, ApiError>) -> Result<tonic::Response<T>, tonic::Status> {
    result
        .map(tonic::Response::new)
        .map_err(tonic::Status::from)
}

/// Collects the offending fields of a request, so that a caller learns every problem at once
/// rather than one per attempt.
#[derive(Debug, Default)]
pub struct FieldProblems {
    problems: Vec<FieldProblem>,
}

impl FieldProblems {
    /// No problems yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that `field` is wrong.
    pub fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.problems.push(FieldProblem {
            field: field.into(),
            description: description.into(),
        });
    }

    /// Runs a parse step; on error, records it under `field` and returns `None`.
    pub fn check<T, E: std::fmt::Display>(
        &mut self,
        field: &str,
        result: Result<T, E>,
    ) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(e) => {
                self.add(field, e.to_string());
                None
            }
        }
    }

    /// Whether nothing is wrong so far.
    pub fn is_empty(&self) -> bool {
        self.problems.is_empty()
    }

    /// `Ok` when nothing is wrong, else the `INVALID_ARGUMENT` error naming every field.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(ApiError::invalid_fields(self.problems))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_fields_become_bad_request_details() {
        let mut problems = FieldProblems::new();
        problems.add("contest.title", "must not be empty");
        problems.add("contest.time_zone", "unknown time zone \"Mars/Olympus\"");
        let status = Status::from(problems.finish().expect_err("two problems"));
        assert_eq!(status.code(), Code::InvalidArgument);
        let details = status.get_error_details();
        let info = details.error_info().expect("error info");
        assert_eq!(info.reason, reason::INVALID_FIELDS);
        assert_eq!(info.domain, ERROR_DOMAIN);
        let fields: Vec<_> = details
            .bad_request()
            .expect("bad request")
            .field_violations
            .iter()
            .map(|v| v.field.as_str())
            .collect();
        assert_eq!(fields, ["contest.title", "contest.time_zone"]);
    }

    #[test]
    fn a_precondition_carries_its_reason_and_metadata() {
        let error = ApiError::failed_precondition("DEADLINE_PASSED", "too late")
            .with_metadata("deadline", "2025-02-01T00:00:00+03:00");
        let status = Status::from(error);
        assert_eq!(status.code(), Code::FailedPrecondition);
        let details = status.get_error_details();
        let info = details.error_info().expect("error info");
        assert_eq!(info.reason, "DEADLINE_PASSED");
        assert_eq!(info.metadata["deadline"], "2025-02-01T00:00:00+03:00");
    }

    #[test]
    fn serialization_failures_are_aborted_not_internal() {
        assert!(is_retryable_conflict(Some("40001")));
        assert!(is_retryable_conflict(Some("40P01")));
        assert!(!is_retryable_conflict(Some("23505")));
    }
}
