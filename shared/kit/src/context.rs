//! What a handler knows about the call it serves: who calls, which request this is, the
//! trace it belongs to, the RPC it is, the purpose the caller stated, and the instant it is
//! judged at. The call pipeline ([`crate::pipeline`]) builds it before the handler runs, and
//! runs the handler inside [`CallContext::scope`], so that code far from the handler (a store
//! function that reads people) can find the call it serves with [`CallContext::current`].

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use jiff::Timestamp;

use crate::auth::Caller;
use crate::error::{ApiError, ErrorKind, reason};

/// The metadata header that carries the correlation id of a call across services.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The metadata header in which a caller states why it reads personal data, recorded with
/// each read in the audit trail ([`crate::audit::read`]). UTF-8, percent-encoded where it is
/// not printable ASCII (`%D0%BF…`), at most [`MAX_PURPOSE_CHARS`] characters once decoded.
pub const PURPOSE_HEADER: &str = "x-edu-purpose";

/// The longest purpose a caller may state.
pub const MAX_PURPOSE_CHARS: usize = 256;

tokio::task_local! {
    /// The call the running task serves (see [`CallContext::scope`]).
    static CURRENT: CallContext;
}

/// The context of one call.
#[derive(Debug, Clone)]
pub struct CallContext {
    caller: Option<Caller>,
    request_id: String,
    trace_id: Option<String>,
    now: Timestamp,
    deadline: Option<std::time::Instant>,
    rpc: String,
    purpose: String,
    /// The resources this call has recorded reads of (shared by the context's clones), so
    /// that a call that reads one person twice leaves one record.
    reads: Arc<Mutex<HashSet<String>>>,
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
            rpc: String::new(),
            purpose: String::new(),
            reads: Arc::default(),
        }
    }

    /// The same context for a call of `rpc` (`/package.Service/Method`).
    pub fn with_rpc(mut self, rpc: impl Into<String>) -> Self {
        self.rpc = rpc.into();
        self
    }

    /// The same context with the purpose the caller stated (see [`PURPOSE_HEADER`]).
    pub fn with_purpose(mut self, purpose: impl Into<String>) -> Self {
        self.purpose = purpose.into();
        self
    }

    /// The RPC the call is, `/package.Service/Method`; empty for a context built outside
    /// the pipeline without one.
    pub fn rpc(&self) -> &str {
        &self.rpc
    }

    /// The purpose the caller stated for reading personal data; empty when none.
    pub fn purpose(&self) -> &str {
        &self.purpose
    }

    /// The stated purpose, for a read that releases personal data only for one: INVALID_ARGUMENT
    /// `INVALID_FIELDS` naming the `x-edu-purpose` header when the caller stated none.
    pub fn require_purpose(&self) -> Result<&str, ApiError> {
        if self.purpose.trim().is_empty() {
            return Err(ApiError::invalid_field(
                reason::INVALID_FIELDS,
                PURPOSE_HEADER,
                "required: state why you read this child's records (it is kept in the audit trail)",
            ));
        }
        Ok(&self.purpose)
    }

    /// Runs `work` as serving this call: [`CallContext::current`] finds the context while
    /// `work` runs (on this task; a task `work` spawns does not inherit it).
    pub async fn scope<F: std::future::Future>(self, work: F) -> F::Output {
        CURRENT.scope(self, work).await
    }

    /// The context of the call the running task serves, when it runs inside
    /// [`CallContext::scope`]; `None` outside any call (a background task, a test that calls
    /// a store function directly).
    pub fn current() -> Option<CallContext> {
        CURRENT.try_with(Clone::clone).ok()
    }

    /// Of `resources`, those this call has not yet recorded a read of, now marked as
    /// recorded.
    pub(crate) fn first_reads(&self, resources: &[String]) -> Vec<String> {
        let mut seen = self.reads.lock().unwrap_or_else(|p| p.into_inner());
        resources
            .iter()
            .filter(|resource| seen.insert((*resource).clone()))
            .cloned()
            .collect()
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

/// The purpose a call's metadata states ([`PURPOSE_HEADER`]), decoded; empty when it states
/// none. `INVALID_ARGUMENT` naming the header for one that is not percent-encoded UTF-8, holds
/// a control character, or is longer than [`MAX_PURPOSE_CHARS`]: it is written into the
/// audit trail as sent, so it must be text.
pub fn stated_purpose(headers: &http::HeaderMap) -> Result<String, ApiError> {
    let Some(value) = headers.get(PURPOSE_HEADER) else {
        return Ok(String::new());
    };
    let invalid = || {
        ApiError::invalid_field(
            reason::INVALID_FIELDS,
            PURPOSE_HEADER,
            format!(
                "must be UTF-8 text of at most {MAX_PURPOSE_CHARS} characters, percent-encoded where it is not printable ASCII"
            ),
        )
    };
    let raw = value.to_str().map_err(|_| invalid())?;
    let decoded = percent_decoded(raw).ok_or_else(invalid)?;
    if decoded.chars().count() > MAX_PURPOSE_CHARS || decoded.chars().any(char::is_control) {
        return Err(invalid());
    }
    Ok(decoded.trim().to_string())
}

/// `%XX` escapes replaced by their bytes, read as UTF-8; `None` for a broken escape or
/// bytes that are not UTF-8.
fn percent_decoded(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            if !hex.iter().all(u8::is_ascii_hexdigit) {
                return None;
            }
            let digits = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(digits, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn purpose(raw: &str) -> Result<String, ApiError> {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            PURPOSE_HEADER,
            http::HeaderValue::from_str(raw).expect("a header value"),
        );
        stated_purpose(&headers)
    }

    #[test]
    fn a_stated_purpose_is_percent_decoded_text() {
        assert_eq!(
            stated_purpose(&http::HeaderMap::new()).ok(),
            Some(String::new())
        );
        assert_eq!(
            purpose("case review 42").ok(),
            Some("case review 42".into())
        );
        assert_eq!(
            purpose("%D0%BF%D1%80%D0%BE%D0%B2%D0%B5%D1%80%D0%BA%D0%B0").ok(),
            Some("проверка".into())
        );
        for bad in ["%", "%4", "%zz", "%+1", "%FF%FE", "a%0Ab"] {
            assert!(purpose(bad).is_err(), "{bad:?} accepted");
        }
        assert!(purpose(&"a".repeat(MAX_PURPOSE_CHARS)).is_ok());
        assert!(purpose(&"a".repeat(MAX_PURPOSE_CHARS + 1)).is_err());
    }

    #[test]
    fn a_required_purpose_is_refused_when_none_is_stated() {
        let context = |purpose: &str| {
            CallContext::new(None, "req-1", None, Timestamp::UNIX_EPOCH).with_purpose(purpose)
        };
        for none in ["", "   "] {
            let refused = context(none).require_purpose().expect_err("no purpose");
            assert_eq!(refused.reason, reason::INVALID_FIELDS);
            assert!(
                refused.fields().iter().any(|v| v.field == PURPOSE_HEADER),
                "{refused:?}"
            );
        }
        assert_eq!(
            context("case review 42").require_purpose().ok(),
            Some("case review 42")
        );
    }

    #[tokio::test]
    async fn the_current_call_is_found_inside_its_scope_only() {
        let context = CallContext::new(None, "req-1", None, Timestamp::UNIX_EPOCH)
            .with_rpc("/edu.x.v1.S/M")
            .with_purpose("why");
        assert!(CallContext::current().is_none());
        let inside = context
            .clone()
            .scope(async {
                CallContext::current().map(|c| (c.rpc().to_string(), c.purpose().to_string()))
            })
            .await;
        assert_eq!(inside, Some(("/edu.x.v1.S/M".into(), "why".into())));
        assert!(CallContext::current().is_none(), "the scope has ended");
    }

    #[test]
    fn a_call_records_a_read_of_each_resource_once() {
        let context = CallContext::new(None, "req-1", None, Timestamp::UNIX_EPOCH);
        let a = vec!["children/a".to_string(), "children/b".to_string()];
        assert_eq!(context.first_reads(&a), a);
        assert_eq!(
            context.first_reads(&[
                "children/b".into(),
                "children/c".into(),
                "children/c".into()
            ]),
            vec!["children/c".to_string()],
            "each resource once per call"
        );
    }
}
