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
pub const ERROR_DOMAIN: &str = edu_proto::refusal::ERROR_DOMAIN;

/// A stable, machine-readable reason code (`ErrorInfo.reason`) and the Russian sentence a
/// refusal with it shows (`LocalizedMessage`, `ru-RU`) when the error says nothing more
/// specific. A reason cannot be declared without its Russian text, so every refusal of every
/// service speaks the users' language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Reason {
    code: &'static str,
    russian: &'static str,
}

impl Reason {
    /// A reason with its code and Russian sentence.
    pub const fn new(code: &'static str, russian: &'static str) -> Self {
        Reason { code, russian }
    }

    /// The code clients match on.
    pub const fn code(self) -> &'static str {
        self.code
    }

    /// The sentence shown when nothing more specific is said.
    pub const fn russian(self) -> &'static str {
        self.russian
    }
}

impl AsRef<str> for Reason {
    fn as_ref(&self) -> &str {
        self.code
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code)
    }
}

impl PartialEq<&str> for Reason {
    fn eq(&self, other: &&str) -> bool {
        self.code == *other
    }
}

/// Reasons the kit itself gives; services add their own.
pub mod reason {
    use super::Reason;
    use edu_proto::refusal::reason as edge;

    /// A request field is missing or malformed; see the BadRequest details.
    pub const INVALID_FIELDS: Reason =
        Reason::new(edge::INVALID_FIELDS, "Недопустимые значения полей запроса.");
    /// The request body is not a message of the method's request type.
    pub const MESSAGE_UNDECODABLE: Reason = Reason::new(
        edge::MESSAGE_UNDECODABLE,
        "Тело запроса не является сообщением protobuf того типа, который ожидает метод.",
    );
    /// No bearer token.
    pub const TOKEN_MISSING: Reason = Reason::new(
        "TOKEN_MISSING",
        "Для этого вызова нужен токен доступа (метаданные authorization: Bearer …).",
    );
    /// A token that is malformed, wrongly signed, expired, or for another issuer or audience.
    pub const TOKEN_INVALID: Reason = Reason::new(
        "TOKEN_INVALID",
        "Токен доступа недействителен: он повреждён, подписан неизвестным ключом, истёк или выдан для другой системы.",
    );
    /// The caller lacks the role the call needs.
    pub const ROLE_REQUIRED: Reason = Reason::new(
        "ROLE_REQUIRED",
        "У вас нет роли, которая нужна для этого действия.",
    );
    /// An etag that no longer matches: somebody changed the resource since it was read.
    pub const ETAG_MISMATCH: Reason = Reason::new(
        "ETAG_MISMATCH",
        "Объект изменился после того, как вы его прочитали; прочитайте его снова и повторите изменение.",
    );
    /// A `request_id` reused for a different request.
    pub const REQUEST_ID_REUSED: Reason = Reason::new(
        "REQUEST_ID_REUSED",
        "Этот request_id уже использован для другого запроса; задайте новый.",
    );
    /// The resource does not exist, or the caller may not know that it does.
    pub const NOT_FOUND: Reason = Reason::new("NOT_FOUND", "Объект не найден.");
    /// A resource with that name exists already.
    pub const ALREADY_EXISTS: Reason =
        Reason::new("ALREADY_EXISTS", "Такой объект уже существует.");
    /// A page token that was not issued for this query.
    pub const PAGE_TOKEN_INVALID: Reason = Reason::new(
        "PAGE_TOKEN_INVALID",
        "Токен страницы выдан для другого запроса или повреждён; начните список с первой страницы.",
    );
    /// The database did not answer in time, or the connection to it was lost; retry.
    pub const STORE_UNAVAILABLE: Reason = Reason::new(
        "STORE_UNAVAILABLE",
        "База данных временно недоступна; повторите запрос с тем же request_id.",
    );
    /// The call's deadline passed before it was answered.
    pub const DEADLINE_EXCEEDED: Reason = Reason::new(
        "DEADLINE_EXCEEDED",
        "Запрос не был выполнен за отведённое ему время.",
    );
    /// The caller went away before its request arrived whole (no caller hears it; it names
    /// the case in metrics and logs).
    pub const CALL_CANCELLED: Reason = Reason::new(
        "CALL_CANCELLED",
        "Вызов отменён: клиент прервал его, не передав запрос целиком.",
    );
    /// A competing change won; retry.
    pub const CONCURRENT_CHANGE: Reason = Reason::new(
        "CONCURRENT_CHANGE",
        "Одновременное изменение помешало выполнить запрос; повторите его с тем же request_id.",
    );
    /// The state machine of a resource does not allow the move asked for.
    pub const TRANSITION_NOT_ALLOWED: Reason = Reason::new(
        "TRANSITION_NOT_ALLOWED",
        "Из текущего состояния объекта такой переход невозможен.",
    );
    /// An unexpected failure on our side; the request id identifies it in the logs.
    pub const INTERNAL: Reason = Reason::new(
        "INTERNAL",
        "Внутренняя ошибка сервиса; идентификатор запроса (x-request-id) поможет найти её в журналах.",
    );
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
    /// The caller went away (reset its stream or lost its connection) before the call was
    /// answered: nobody hears the answer, but metrics and logs count it as the caller's.
    Cancelled,
    /// No such method here.
    Unimplemented,
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
            ErrorKind::Cancelled => Code::Cancelled,
            ErrorKind::Unimplemented => Code::Unimplemented,
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
    /// The stable reason of `ErrorInfo`.
    pub reason: Reason,
    /// A message for a developer, in English.
    pub message: String,
    // Boxed: most errors carry no details, and errors travel in every `Result`.
    details: Option<Box<Details>>,
}

#[derive(Debug, Clone, Default)]
struct Details {
    fields: Vec<FieldProblem>,
    metadata: HashMap<String, String>,
    retry_after: Option<Duration>,
    russian: Option<String>,
}

/// Bounds on what a status carries, so that its trailers stay far below the 8 KiB that
/// HTTP/2 peers accept, whatever the request held.
mod bounds {
    /// The message and the Russian text, each in bytes.
    pub const MESSAGE_BYTES: usize = 512;
    /// A field's path or a metadata key, in bytes.
    pub const FIELD_BYTES: usize = 100;
    /// A field's description or a metadata value, in bytes.
    pub const TEXT_BYTES: usize = 120;
    /// Fields listed in `BadRequest`, and metadata entries of `ErrorInfo`.
    pub const FIELDS: usize = 8;
}

/// `text` cut to at most `max` bytes on a character boundary.
fn bounded(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max.saturating_sub('…'.len_utf8());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

/// An untrusted value as an error may quote it: at most a short prefix.
pub fn quote(value: &str) -> String {
    format!("{:?}", edu_proto::quote::prefix(value))
}

impl ApiError {
    /// An error of `kind` with `reason` and `message`; its Russian text is the reason's
    /// until [`ApiError::in_russian`] says more.
    pub fn new(kind: ErrorKind, reason: Reason, message: impl Into<String>) -> Self {
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

    /// The Russian text the caller is shown.
    pub fn russian(&self) -> String {
        if let Some(text) = self.details.as_ref().and_then(|d| d.russian.clone()) {
            return text;
        }
        match self.fields() {
            [] => self.reason.russian().to_string(),
            fields => format!(
                "Недопустимые значения полей: {}.",
                fields
                    .iter()
                    .take(bounds::FIELDS)
                    .map(|f| f.field.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    /// Says in Russian, with this case's particulars (dates in the programme's zone, amounts
    /// in roubles), what the reason's sentence says in general.
    pub fn in_russian(mut self, text: impl Into<String>) -> Self {
        self.details_mut().russian = Some(text.into());
        self
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
        reason: Reason,
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
    pub fn failed_precondition(reason: Reason, message: impl Into<String>) -> Self {
        ApiError::new(ErrorKind::FailedPrecondition, reason, message)
    }

    /// A resource that does not exist (or that the caller may not know of).
    pub fn not_found(what: impl Into<String>) -> Self {
        let what = what.into();
        let russian = format!("Объект {} не найден.", quote(&what));
        ApiError::new(
            ErrorKind::NotFound,
            reason::NOT_FOUND,
            format!("{} not found", quote(&what)),
        )
        .in_russian(russian)
    }

    /// A resource that exists already.
    pub fn already_exists(what: impl Into<String>) -> Self {
        let what = what.into();
        let russian = format!("Объект {} уже существует.", quote(&what));
        ApiError::new(
            ErrorKind::AlreadyExists,
            reason::ALREADY_EXISTS,
            format!("{} already exists", quote(&what)),
        )
        .in_russian(russian)
    }

    /// A caller without the needed permission.
    pub fn permission_denied(reason: Reason, message: impl Into<String>) -> Self {
        ApiError::new(ErrorKind::PermissionDenied, reason, message)
    }

    /// A stale etag.
    pub fn etag_mismatch(what: impl Into<String>) -> Self {
        ApiError::new(
            ErrorKind::Aborted,
            reason::ETAG_MISMATCH,
            format!(
                "{} was changed since it was read; read it again",
                quote(&what.into())
            ),
        )
    }

    /// A move its state machine does not allow, from state `from` to `to`.
    pub fn transition_not_allowed(from: &'static str, to: &'static str) -> Self {
        ApiError::failed_precondition(
            reason::TRANSITION_NOT_ALLOWED,
            format!("cannot go from {from} to {to}"),
        )
        .with_metadata("from", from)
        .with_metadata("to", to)
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
        let russian = bounded(error.russian(), bounds::MESSAGE_BYTES);
        let extra = error.details.map(|d| *d).unwrap_or_default();
        let mut details = ErrorDetails::new();
        details.set_error_info(
            error.reason.code(),
            ERROR_DOMAIN,
            extra
                .metadata
                .into_iter()
                .take(bounds::FIELDS)
                .map(|(k, v)| {
                    (
                        bounded(k, bounds::FIELD_BYTES),
                        bounded(v, bounds::TEXT_BYTES),
                    )
                })
                .collect::<HashMap<_, _>>(),
        );
        if !extra.fields.is_empty() {
            details.set_bad_request(
                extra
                    .fields
                    .into_iter()
                    .take(bounds::FIELDS)
                    .map(|f| {
                        FieldViolation::new(
                            bounded(f.field, bounds::FIELD_BYTES),
                            bounded(f.description, bounds::TEXT_BYTES),
                        )
                    })
                    .collect::<Vec<_>>(),
            );
        }
        if let Some(delay) = extra.retry_after {
            details.set_retry_info(Some(delay));
        }
        details.set_localized_message(edu_proto::refusal::LOCALE, russian);
        Status::with_error_details(
            error.kind.code(),
            bounded(error.message, bounds::MESSAGE_BYTES),
            details,
        )
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        match store_fault(&error) {
            Some(StoreFault::Busy) => {
                tracing::warn!("no database connection within the acquire timeout");
                ApiError::new(
                    ErrorKind::Unavailable,
                    reason::STORE_UNAVAILABLE,
                    "the database is busy; retry",
                )
                .with_retry_after(Duration::from_millis(200))
            }
            Some(StoreFault::Unreachable) => {
                tracing::warn!(error = %ErrorChain(&error), "database unreachable");
                ApiError::new(
                    ErrorKind::Unavailable,
                    reason::STORE_UNAVAILABLE,
                    "the database is unreachable or restarting; retry",
                )
                .with_retry_after(Duration::from_secs(1))
            }
            Some(StoreFault::LostRace) => ApiError::new(
                ErrorKind::Aborted,
                reason::CONCURRENT_CHANGE,
                "a concurrent change won; retry",
            ),
            Some(StoreFault::Cancelled) => ApiError::new(
                ErrorKind::Unavailable,
                reason::STORE_UNAVAILABLE,
                "the database cancelled the statement; retry",
            )
            .with_retry_after(Duration::from_millis(200)),
            None => ApiError::internal(&error),
        }
    }
}

/// The database faults a caller may simply retry (the request id makes the retry safe).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreFault {
    /// No connection was free in time.
    Busy,
    /// The connection failed or the server is shutting down, restarting or refusing
    /// connections.
    Unreachable,
    /// A serialization failure or a deadlock: the transaction lost a race.
    LostRace,
    /// The server cancelled the statement (a timeout or an administrator).
    Cancelled,
}

/// Which retryable fault an error is, if any.
pub fn store_fault(error: &sqlx::Error) -> Option<StoreFault> {
    match error {
        sqlx::Error::PoolTimedOut => Some(StoreFault::Busy),
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => Some(StoreFault::Unreachable),
        sqlx::Error::Database(db) => sqlstate_fault(db.code().as_deref()),
        _ => None,
    }
}

/// Faults by SQLSTATE: class 08 (connection exception), 57P01-57P05 (administrator or crash
/// shutdown, cannot connect now, idle session timeout), 53300 (too many connections), 40001
/// and 40P01 (lost a race), 57014 (statement cancelled).
fn sqlstate_fault(sqlstate: Option<&str>) -> Option<StoreFault> {
    let code = sqlstate?;
    match code {
        "40001" | "40P01" => Some(StoreFault::LostRace),
        "57014" => Some(StoreFault::Cancelled),
        "53300" | "57P01" | "57P02" | "57P03" | "57P04" | "57P05" => Some(StoreFault::Unreachable),
        _ if code.starts_with("08") => Some(StoreFault::Unreachable),
        _ => None,
    }
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

    /// Takes a parse step that reports its own field problems (a resource name, say):
    /// records them and returns `None` on error.
    pub fn field<T>(&mut self, result: Result<T, ApiError>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(error) if !error.fields().is_empty() => {
                self.problems.extend(error.fields().iter().cloned());
                None
            }
            Err(error) => {
                self.add("", error.message);
                None
            }
        }
    }

    /// A text field, trimmed: recorded as wrong when `required` and blank, or longer than
    /// `max` characters. Returns the trimmed text either way, so that parsing goes on and
    /// every problem is reported at once.
    pub fn text(&mut self, field: &str, value: &str, max: usize, required: bool) -> String {
        let trimmed = value.trim();
        if required && trimmed.is_empty() {
            self.add(field, "required");
        } else if value.chars().count() > max {
            self.add(field, format!("at most {max} characters"));
        }
        trimmed.to_string()
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
        assert_eq!(info.reason, reason::INVALID_FIELDS.code());
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
        let error =
            ApiError::failed_precondition(Reason::new("DEADLINE_PASSED", "Поздно."), "too late")
                .with_metadata("deadline", "2025-02-01T00:00:00+03:00");
        let status = Status::from(error);
        assert_eq!(status.code(), Code::FailedPrecondition);
        let details = status.get_error_details();
        let info = details.error_info().expect("error info");
        assert_eq!(info.reason, "DEADLINE_PASSED");
        assert_eq!(info.metadata["deadline"], "2025-02-01T00:00:00+03:00");
    }

    #[test]
    fn database_faults_are_retryable_and_constraint_errors_are_not() {
        assert_eq!(sqlstate_fault(Some("40001")), Some(StoreFault::LostRace));
        assert_eq!(sqlstate_fault(Some("40P01")), Some(StoreFault::LostRace));
        assert_eq!(sqlstate_fault(Some("57P01")), Some(StoreFault::Unreachable));
        assert_eq!(sqlstate_fault(Some("08006")), Some(StoreFault::Unreachable));
        assert_eq!(sqlstate_fault(Some("57014")), Some(StoreFault::Cancelled));
        assert_eq!(sqlstate_fault(Some("23505")), None);
        assert!(matches!(
            store_fault(&sqlx::Error::Io(std::io::Error::other("reset"))),
            Some(StoreFault::Unreachable)
        ));
    }

    #[test]
    fn a_status_stays_small_whatever_the_request_held() {
        let huge = "я".repeat(20_000);
        let mut problems = FieldProblems::new();
        for i in 0..50 {
            problems.add(format!("items[{i}].{huge}"), huge.clone());
        }
        let error = problems
            .finish()
            .expect_err("problems")
            .with_metadata("value", huge.clone());
        let status = Status::from(error);
        // The details travel base64-encoded in the trailers.
        let encoded = status.details().len() * 4 / 3 + status.message().len();
        assert!(encoded < 5_000, "{encoded} bytes of status");
        let localized = status
            .get_error_details()
            .localized_message()
            .expect("russian")
            .clone();
        assert_eq!(localized.locale, "ru-RU");
        assert!(localized.message.starts_with("Недопустимые значения полей"));
    }

    #[test]
    fn every_refusal_speaks_russian() {
        let status = Status::from(ApiError::not_found("contests/x"));
        let localized = status
            .get_error_details()
            .localized_message()
            .expect("russian")
            .clone();
        assert_eq!(localized.message, "Объект \"contests/x\" не найден.");
        let status = Status::from(ApiError::new(
            ErrorKind::Unauthenticated,
            reason::TOKEN_MISSING,
            "no token",
        ));
        assert_eq!(
            status
                .get_error_details()
                .localized_message()
                .map(|m| m.message.clone()),
            Some(reason::TOKEN_MISSING.russian().to_string())
        );
    }
}
