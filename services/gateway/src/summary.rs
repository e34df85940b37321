//! `GetRegionSummary`: one region's figures from every service, each part the answer of that
//! service's own `GetRegionSummary`. The gateway adds no figure of its own and counts nothing:
//! it asks the five services in parallel, as the caller (so each service authorises and
//! audits the real caller), each under a deadline of its own, and says per part what came of
//! it. One service down, slow or refusing costs its part, never the call.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use edu_kit::error::{ErrorChain, reason};
use edu_kit::region::RegionCode;
use edu_kit::{ApiError, CallContext};
use edu_proto::edu::aid::v1 as aid;
use edu_proto::edu::certificates::v1 as certificates;
use edu_proto::edu::competitions::v1 as competitions;
use edu_proto::edu::gateway::v1 as pb;
use edu_proto::edu::mentoring::v1 as mentoring;
use edu_proto::edu::partnerships::v1 as partnerships;
use tonic::metadata::MetadataMap;
use tonic::transport::Channel;
use tonic::{Code, Status};
use tonic_types::StatusExt;

use crate::backends::Backends;

/// What the summary keeps of the caller's remaining time for composing and sending its
/// answer: the parts' deadlines end this much before the call's. Four times what the kit's
/// pipeline keeps for itself (25 ms at most, see `edu_kit::pipeline`), so the answer leaves
/// before the pipeline would cut the call, even on a loaded machine.
const ANSWER_MARGIN: Duration = Duration::from_millis(100);

/// The most characters of a service's refusal message the answer carries.
const MAX_MESSAGE_CHARS: usize = 512;

/// The region summaries over the gateway's backends.
#[derive(Debug, Clone)]
pub struct RegionSummaries {
    backends: Arc<Backends>,
    part_timeout: Duration,
}

impl RegionSummaries {
    /// Summaries over `backends`, each part given at most `part_timeout`.
    pub fn new(backends: Arc<Backends>, part_timeout: Duration) -> Self {
        RegionSummaries {
            backends,
            part_timeout,
        }
    }

    /// The summary of the request's region: refused only for a caller without a token or a
    /// malformed region code; every part's failure is reported in `parts` instead.
    pub async fn summary(
        &self,
        request: &tonic::Request<pb::GetRegionSummaryRequest>,
    ) -> Result<pb::RegionSummary, ApiError> {
        let context = CallContext::of(request)?;
        context.caller()?;
        let region = region_code(&request.get_ref().region_code)?;
        let budget = part_budget(self.part_timeout, context.deadline(), Instant::now());
        let metadata = forwarded_metadata(request.metadata(), context);
        let code = || region.as_str().to_string();
        let (competitions, certificates, partnerships, aid, mentoring) = futures::join!(
            self.part(
                competitions::results_service_server::SERVICE_NAME,
                budget,
                &metadata,
                competitions::GetRegionSummaryRequest {
                    region_code: code()
                },
                |channel, request| async move {
                    competitions::results_service_client::ResultsServiceClient::new(channel)
                        .get_region_summary(request)
                        .await
                },
            ),
            self.part(
                certificates::report_service_server::SERVICE_NAME,
                budget,
                &metadata,
                certificates::GetRegionSummaryRequest {
                    region_code: code()
                },
                |channel, request| async move {
                    certificates::report_service_client::ReportServiceClient::new(channel)
                        .get_region_summary(request)
                        .await
                },
            ),
            self.part(
                partnerships::progress_service_server::SERVICE_NAME,
                budget,
                &metadata,
                partnerships::GetRegionSummaryRequest {
                    region_code: code(),
                    year: String::new(),
                },
                |channel, request| async move {
                    partnerships::progress_service_client::ProgressServiceClient::new(channel)
                        .get_region_summary(request)
                        .await
                },
            ),
            self.part(
                aid::report_service_server::SERVICE_NAME,
                budget,
                &metadata,
                aid::GetRegionSummaryRequest {
                    region_code: code(),
                    campaign: String::new(),
                },
                |channel, request| async move {
                    aid::report_service_client::ReportServiceClient::new(channel)
                        .get_region_summary(request)
                        .await
                },
            ),
            self.part(
                mentoring::report_service_server::SERVICE_NAME,
                budget,
                &metadata,
                mentoring::GetRegionSummaryRequest {
                    region_code: code()
                },
                |channel, request| async move {
                    mentoring::report_service_client::ReportServiceClient::new(channel)
                        .get_region_summary(request)
                        .await
                },
            ),
        );
        let now = context.now();
        Ok(pb::RegionSummary {
            region_code: code(),
            competitions: competitions.0,
            certificates: certificates.0,
            partnerships: partnerships.0,
            aid: aid.0,
            mentoring: mentoring.0,
            parts: vec![
                competitions.1,
                certificates.1,
                partnerships.1,
                aid.1,
                mentoring.1,
            ],
            read_time: Some(prost_types::Timestamp {
                seconds: now.as_second(),
                nanos: now.subsec_nanosecond(),
            }),
        })
    }

    /// One service's part: its answer when it gave one within `budget`, and how it went.
    /// `service` is the full gRPC name of the service asked (`edu.aid.v1.ReportService`).
    async fn part<Q, R, F, A>(
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

/// The request's region, upper-cased; `INVALID_FIELDS` naming `region_code` when it is empty
/// or not ISO 3166-2. Checked here, so that a malformed code is refused once rather than
/// five times in the parts.
fn region_code(raw: &str) -> Result<RegionCode, ApiError> {
    let invalid = |description: String| {
        ApiError::invalid_field(reason::INVALID_FIELDS, "region_code", description)
    };
    if raw.trim().is_empty() {
        return Err(invalid("required: the region, for example RU-ALT".into()));
    }
    RegionCode::parse(raw).map_err(|e| invalid(e.to_string()))
}

/// The deadline of each part: the configured part timeout, cut to the caller's remaining
/// time less [`ANSWER_MARGIN`], so that the answer with whatever parts came back arrives
/// within the caller's deadline. Zero when the call has no time left for any part.
fn part_budget(part_timeout: Duration, call_deadline: Option<Instant>, now: Instant) -> Duration {
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
/// development), the call's request id, and this hop's trace context, as the proxy forwards
/// them. Nothing else of the caller's metadata is passed on.
fn forwarded_metadata(incoming: &MetadataMap, context: &CallContext) -> MetadataMap {
    let mut identity = MetadataMap::new();
    for key in ["authorization", edu_kit::clock::CLOCK_OVERRIDE_HEADER] {
        if let Some(value) = incoming.get(key) {
            identity.insert(key, value.clone());
        }
    }
    let request = tonic::Request::from_parts(identity, Default::default(), ());
    let request = edu_kit::client::with_request_id(request, context.request_id());
    edu_kit::client::with_trace_context(request).into_parts().0
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
        tracing::warn!(service = name, %cause, "region summary: part unavailable");
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
            tracing::warn!(service = name, code, reason = %reason, "region summary: part failed");
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
    tracing::warn!(service = name, ?budget, "region summary: part timed out");
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

fn part(
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
fn backend_name(service: &str) -> &str {
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
    fn region_codes_are_upper_cased_or_refused_naming_the_field() {
        assert_eq!(region_code("ru-sar").expect("valid").as_str(), "RU-SAR");
        for bad in ["", "  ", "Saratov", "RU-SARA"] {
            let error = region_code(bad).expect_err(bad);
            assert_eq!(error.reason.code(), "INVALID_FIELDS");
            assert_eq!(error.fields()[0].field, "region_code");
        }
    }

    #[test]
    fn parts_are_named_by_backend() {
        assert_eq!(
            backend_name(aid::report_service_server::SERVICE_NAME),
            "aid"
        );
        assert_eq!(
            backend_name(partnerships::progress_service_server::SERVICE_NAME),
            "partnerships"
        );
    }
}
