//! What the gateway's cross-service views share: asking several services at once, each
//! under a deadline of its own and as the caller (so each service authorises and audits the
//! real caller), and saying per part what came of it. One service down, slow or refusing
//! costs its part, never the call. The region summary ([`crate::summary`]) and the child's
//! cross-programme view ([`crate::child_view`]) are built on it.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use edu_kit::CallContext;
use edu_kit::clock::CLOCK_OVERRIDE_HEADER;
use edu_kit::context::PURPOSE_HEADER;
use edu_kit::error::ErrorChain;
use edu_proto::edu::gateway::v1 as pb;
use tonic::metadata::MetadataMap;
use tonic::transport::Channel;
use tonic::{Code, Status};
use tonic_types::StatusExt;

use crate::backends::Backends;

/// What a view keeps of the caller's remaining time for composing and sending its answer:
/// the parts' deadlines end this much before the call's. Four times what the kit's pipeline
/// keeps for itself (25 ms at most, see `edu_kit::pipeline`), so the answer leaves before the
/// pipeline would cut the call, even on a loaded machine.
const ANSWER_MARGIN: Duration = Duration::from_millis(100);

/// The most characters of a service's refusal message the answer carries.
const MAX_MESSAGE_CHARS: usize = 512;

/// Calls to the gateway's backends for a view, each part given at most `part_timeout`.
#[derive(Debug, Clone)]
pub struct Fanout {
    backends: Arc<Backends>,
    part_timeout: Duration,
}

impl Fanout {
    /// A fan-out over `backends`, each part given at most `part_timeout`.
    pub fn new(backends: Arc<Backends>, part_timeout: Duration) -> Self {
        Fanout {
            backends,
            part_timeout,
        }
    }

    /// The deadline of each part of a call whose own deadline is `call_deadline`.
    pub fn budget(&self, call_deadline: Option<Instant>) -> Duration {
        part_budget(self.part_timeout, call_deadline, Instant::now())
    }

    /// One service's part: its answer when it gave one within `budget`, and how it went.
    /// `service` is the full gRPC name of the service asked (`edu.aid.v1.ReportService`).
    pub async fn part<Q, R, F, A>(
        &self,
        service: &'static str,
        budget: Duration,
        metadata: &MetadataMap,
        body: Q,
        call: F,
    ) -> (Option<R>, pb::SummaryPart)
    where
        F: FnOnce(Channel, tonic::Request<Q>) -> A,
        A: Future<Output = Result<tonic::Response<R>, Status>>,
    {
        let name = backend_name(service);
        let Some(backend) = self.backends.for_service(service) else {
            return (None, part(name, pb::PartState::NotDeployed, "", "", ""));
        };
        // Only a backend without any endpoint yields none: one whose endpoints fail their
        // health check is still tried, as the proxy does (a replica in its shutdown delay
        // still answers), and a refused connection fails fast into UNAVAILABLE below.
        let Some(channel) = backend.pick() else {
            let message = format!("{name} has no endpoint to call; retry later");
            return (None, unavailable(name, message));
        };
        if budget.is_zero() {
            return (None, deadline_exceeded(name, budget));
        }
        let mut request = tonic::Request::new(body);
        *request.metadata_mut() = metadata.clone();
        // The service stops working on the call when its deadline passes, as this side does.
        request.set_timeout(budget);
        match tokio::time::timeout(budget, call(channel, request)).await {
            Ok(Ok(response)) => (
                Some(response.into_inner()),
                part(name, pb::PartState::Ok, "", "", ""),
            ),
            Ok(Err(status)) => (None, failed(name, budget, &status)),
            Err(_) => (None, deadline_exceeded(name, budget)),
        }
    }
}

/// The deadline of each part: the configured part timeout, cut to the caller's remaining
/// time less [`ANSWER_MARGIN`], so that the answer with whatever parts came back arrives
/// within the caller's deadline. Zero when the call has no time left for any part.
pub fn part_budget(
    part_timeout: Duration,
    call_deadline: Option<Instant>,
    now: Instant,
) -> Duration {
    match call_deadline {
        // The pipeline always sets one (the caller's, or the default); a test may not.
        None => part_timeout,
        Some(deadline) => part_timeout.min(
            deadline
                .saturating_duration_since(now)
                .saturating_sub(ANSWER_MARGIN),
        ),
    }
}

/// What every part's call carries of the incoming call, so that each service sees the real
/// caller: the bearer token (each service authorises and audits the caller itself), the
/// development clock override when the caller sent one (the services honour it only in
/// development), the stated purpose when the view passes it on (as received, still
/// percent-encoded; each service records it with what it released), the call's request id,
/// and this hop's trace context, as the proxy forwards them. Nothing else of the caller's
/// metadata is passed on.
pub fn forwarded_metadata(
    incoming: &MetadataMap,
    context: &CallContext,
    purpose: Purpose,
) -> MetadataMap {
    let mut identity = MetadataMap::new();
    let carried: &[&str] = match purpose {
        Purpose::PassedOn => &["authorization", CLOCK_OVERRIDE_HEADER, PURPOSE_HEADER],
        Purpose::NotPassedOn => &["authorization", CLOCK_OVERRIDE_HEADER],
    };
    for &key in carried {
        if let Some(value) = incoming.get(key) {
            identity.insert(key, value.clone());
        }
    }
    let request = tonic::Request::from_parts(identity, Default::default(), ());
    let request = edu_kit::client::with_request_id(request, context.request_id());
    edu_kit::client::with_trace_context(request).into_parts().0
}

/// Whether a view passes the caller's stated purpose on to the services.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// The view releases personal data: each service records the purpose with it.
    PassedOn,
    /// The view releases figures only.
    NotPassedOn,
}

/// A part that came back with `status`, by what it says of the service: timed out, out of
/// reach, refusing the caller, or failing. A status with a source was made on this side of
/// the wire (the client's own timer, a connection that failed); one from the service has
/// none.
fn failed(name: &str, budget: Duration, status: &Status) -> pb::SummaryPart {
    let reason = status
        .get_error_details()
        .error_info()
        .map(|info| info.reason.clone())
        .unwrap_or_default();
    let local = std::error::Error::source(status).is_some();
    let timed_out = status.code() == Code::DeadlineExceeded || (local && client_timed_out(status));
    if timed_out {
        return deadline_exceeded(name, budget);
    }
    if local || status.code() == Code::Unavailable {
        let cause = std::error::Error::source(status).map_or_else(
            || status.message().to_string(),
            |e| ErrorChain(e).to_string(),
        );
        tracing::warn!(service = name, %cause, "cross-service view: part unavailable");
        let mut part = unavailable(name, format!("{name} is unavailable; retry later"));
        part.reason = reason;
        return part;
    }
    let code = edu_kit::metrics::code_name(status.code());
    match status.code() {
        Code::PermissionDenied
        | Code::NotFound
        | Code::Unauthenticated
        | Code::InvalidArgument
        | Code::ResourceExhausted => {
            // Meant for the caller: it says what the caller lacks.
            let message: String = status.message().chars().take(MAX_MESSAGE_CHARS).collect();
            part(name, pb::PartState::Refused, code, &reason, &message)
        }
        _ => {
            // A service's own failure: its message may describe its insides, so only the
            // code and reason travel on; the service's log has the rest under the request id.
            tracing::warn!(service = name, code, reason = %reason, "cross-service view: part failed");
            let message =
                format!("{name} failed; its log has the cause under this call's request id");
            part(name, pb::PartState::Failed, code, &reason, &message)
        }
    }
}

/// Whether tonic's own timer, armed from the request's `grpc-timeout`, ended the call: it
/// reports CANCELLED with `TimeoutExpired` among its sources.
fn client_timed_out(status: &Status) -> bool {
    let mut cause = std::error::Error::source(status);
    while let Some(error) = cause {
        if error.is::<tonic::TimeoutExpired>() {
            return true;
        }
        cause = error.source();
    }
    false
}

fn deadline_exceeded(name: &str, budget: Duration) -> pb::SummaryPart {
    tracing::warn!(
        service = name,
        ?budget,
        "cross-service view: part timed out"
    );
    let message = format!("{name} did not answer within {} ms", budget.as_millis());
    part(
        name,
        pb::PartState::DeadlineExceeded,
        "DEADLINE_EXCEEDED",
        "",
        &message,
    )
}

fn unavailable(name: &str, message: String) -> pb::SummaryPart {
    part(
        name,
        pb::PartState::Unavailable,
        "UNAVAILABLE",
        "",
        &message,
    )
}

pub fn part(
    name: &str,
    state: pb::PartState,
    code: &str,
    reason: &str,
    message: &str,
) -> pb::SummaryPart {
    pb::SummaryPart {
        service: name.to_string(),
        state: state as i32,
        code: code.to_string(),
        reason: reason.to_string(),
        message: message.to_string(),
    }
}

/// The backend name of a full gRPC service name: `aid` for `edu.aid.v1.ReportService`, the
/// name `EDU_GATEWAY_BACKENDS` gives it and the part reports.
pub fn backend_name(service: &str) -> &str {
    service.split('.').nth(1).unwrap_or(service)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_part_gets_its_timeout_unless_the_call_has_less_time_left() {
        let now = Instant::now();
        let timeout = Duration::from_secs(2);
        assert_eq!(part_budget(timeout, None, now), timeout);
        assert_eq!(
            part_budget(timeout, Some(now + Duration::from_secs(10)), now),
            timeout
        );
        assert_eq!(
            part_budget(timeout, Some(now + Duration::from_millis(600)), now),
            Duration::from_millis(500),
            "the margin for the answer is kept"
        );
        assert_eq!(
            part_budget(timeout, Some(now + Duration::from_millis(50)), now),
            Duration::ZERO
        );
        assert_eq!(
            part_budget(timeout, Some(now), now + timeout),
            Duration::ZERO
        );
    }

    #[test]
    fn statuses_become_states() {
        let budget = Duration::from_secs(1);
        let state = |status: Status| failed("aid", budget, &status).state;
        let refusal = |code: Code| state(Status::new(code, "no"));
        for code in [
            Code::PermissionDenied,
            Code::NotFound,
            Code::Unauthenticated,
            Code::InvalidArgument,
            Code::ResourceExhausted,
        ] {
            assert_eq!(refusal(code), pb::PartState::Refused as i32, "{code:?}");
        }
        assert_eq!(
            refusal(Code::Unavailable),
            pb::PartState::Unavailable as i32
        );
        assert_eq!(
            refusal(Code::DeadlineExceeded),
            pb::PartState::DeadlineExceeded as i32
        );
        for code in [Code::Internal, Code::Unknown, Code::FailedPrecondition] {
            assert_eq!(refusal(code), pb::PartState::Failed as i32, "{code:?}");
        }
        let timer = Status::from_error(Box::new(tonic::TimeoutExpired(())));
        assert_eq!(timer.code(), Code::Cancelled);
        assert_eq!(state(timer), pb::PartState::DeadlineExceeded as i32);
        let connect = Status::from_error(Box::new(tonic::ConnectError(Box::new(
            std::io::Error::from(std::io::ErrorKind::ConnectionRefused),
        ))));
        assert_eq!(state(connect), pb::PartState::Unavailable as i32);
    }

    #[test]
    fn the_purpose_is_passed_on_only_by_views_that_release_personal_data() {
        let mut incoming = MetadataMap::new();
        incoming.insert("authorization", "Bearer t".parse().expect("ascii"));
        incoming.insert(PURPOSE_HEADER, "case%20review".parse().expect("ascii"));
        incoming.insert("x-other", "dropped".parse().expect("ascii"));
        let context = CallContext::new(None, "req-1", None, jiff::Timestamp::UNIX_EPOCH);
        let passed = forwarded_metadata(&incoming, &context, Purpose::PassedOn);
        assert_eq!(
            passed.get(PURPOSE_HEADER).and_then(|v| v.to_str().ok()),
            Some("case%20review"),
            "as received, still percent-encoded"
        );
        assert!(passed.get("authorization").is_some());
        assert!(passed.get("x-other").is_none());
        let withheld = forwarded_metadata(&incoming, &context, Purpose::NotPassedOn);
        assert!(withheld.get(PURPOSE_HEADER).is_none());
        assert!(withheld.get("authorization").is_some());
    }

    #[test]
    fn a_refusal_keeps_its_reason_and_a_failure_hides_its_message() {
        let mut details = tonic_types::ErrorDetails::new();
        details.set_error_info("ROLE_REQUIRED", "edu.suite", []);
        let refused = failed(
            "partnerships",
            Duration::from_secs(1),
            &Status::with_error_details(Code::PermissionDenied, "needs a role", details),
        );
        assert_eq!(
            (
                refused.code.as_str(),
                refused.reason.as_str(),
                refused.message.as_str()
            ),
            ("PERMISSION_DENIED", "ROLE_REQUIRED", "needs a role")
        );
        let internal = failed(
            "aid",
            Duration::from_secs(1),
            &Status::internal("relation aid.secret_table does not exist"),
        );
        assert_eq!(internal.state, pb::PartState::Failed as i32);
        assert_eq!(internal.code, "INTERNAL");
        assert!(
            !internal.message.contains("secret_table"),
            "{}",
            internal.message
        );
    }

    #[test]
    fn parts_are_named_by_backend() {
        use edu_proto::edu::{aid, partnerships};
        assert_eq!(
            backend_name(aid::v1::report_service_server::SERVICE_NAME),
            "aid"
        );
        assert_eq!(
            backend_name(partnerships::v1::progress_service_server::SERVICE_NAME),
            "partnerships"
        );
    }
}
