//! The region summary against fake backends, one per way a part can go: an aid service that
//! answers (and records what reached it), a competitions service that stalls far past the
//! part's deadline, a partnerships service that refuses the caller, certificates configured
//! at an address nobody listens on, and mentoring not configured at all. The answer comes,
//! early, with every part's state.

mod common;

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{free_addr, serve, start_gateway_with};
use edu_devstack::process::Process;
use edu_kit::auth::dev::DevToken;
use edu_proto::edu::aid::v1 as aid;
use edu_proto::edu::aid::v1::report_service_server::{ReportService, ReportServiceServer};
use edu_proto::edu::competitions::v1 as competitions;
use edu_proto::edu::competitions::v1::results_service_server::{
    ResultsService, ResultsServiceServer,
};
use edu_proto::edu::gateway::v1 as pb;
use edu_proto::edu::gateway::v1::gateway_service_client::GatewayServiceClient;
use edu_proto::edu::partnerships::v1 as partnerships;
use edu_proto::edu::partnerships::v1::progress_service_server::{
    ProgressService, ProgressServiceServer,
};
use tokio_stream::Stream;
use tonic::metadata::{MetadataMap, MetadataValue};
use tonic::service::Routes;
use tonic::{Code, Request, Response, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// How long the stalled competitions service takes: far past the part's deadline.
const STALL: Duration = Duration::from_secs(30);
/// The part deadline the gateway is started with.
const PART_TIMEOUT_MS: &str = "300";
/// The development clock the caller asks for.
const CLOCK: &str = "2025-03-01T10:00:00+03:00";
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

/// What reached the fake aid service: the metadata and the region asked.
type Seen = Arc<Mutex<Option<(MetadataMap, String)>>>;

type Unused<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// Answers a summary of one campaign and records what reached it.
struct FakeAid {
    seen: Seen,
}

#[tonic::async_trait]
impl ReportService for FakeAid {
    type ExportFairListStream = Unused<aid::ExportFairListResponse>;

    async fn get_campaign_report(
        &self,
        _: Request<aid::GetCampaignReportRequest>,
    ) -> Result<Response<aid::CampaignReport>, Status> {
        Err(Status::unimplemented("fake"))
    }

    async fn get_region_summary(
        &self,
        request: Request<aid::GetRegionSummaryRequest>,
    ) -> Result<Response<aid::RegionSummary>, Status> {
        let region_code = request.get_ref().region_code.clone();
        *self.seen.lock().expect("lock") = Some((request.metadata().clone(), region_code.clone()));
        Ok(Response::new(aid_summary(&region_code)))
    }

    async fn export_fair_list(
        &self,
        _: Request<aid::ExportFairListRequest>,
    ) -> Result<Response<Self::ExportFairListStream>, Status> {
        Err(Status::unimplemented("fake"))
    }
}

fn aid_summary(region_code: &str) -> aid::RegionSummary {
    aid::RegionSummary {
        region_code: region_code.into(),
        campaigns: vec![aid::RegionCampaignSummary {
            campaign: "campaigns/fake".into(),
            display_name: "Собери ребёнка в школу".into(),
            children_identified: 12,
            children_helped: 5,
            ..Default::default()
        }],
        read_time: None,
    }
}

/// Answers a summary only after [`STALL`], and says whether it ever got that far.
struct StalledResults {
    completed: Arc<AtomicBool>,
}

#[tonic::async_trait]
impl ResultsService for StalledResults {
    type ExportResultsStream = Unused<competitions::ExportResultsResponse>;

    async fn get_region_summary(
        &self,
        _: Request<competitions::GetRegionSummaryRequest>,
    ) -> Result<Response<competitions::RegionSummary>, Status> {
        tokio::time::sleep(STALL).await;
        self.completed.store(true, Ordering::SeqCst);
        Ok(Response::new(competitions::RegionSummary::default()))
    }

    async fn get_ranking(
        &self,
        _: Request<competitions::GetRankingRequest>,
    ) -> Result<Response<competitions::Ranking>, Status> {
        Err(Status::unimplemented("fake"))
    }

    async fn set_winners(
        &self,
        _: Request<competitions::SetWinnersRequest>,
    ) -> Result<Response<competitions::Ranking>, Status> {
        Err(Status::unimplemented("fake"))
    }

    async fn announce_results(
        &self,
        _: Request<competitions::AnnounceResultsRequest>,
    ) -> Result<Response<competitions::AnnounceResultsResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }

    async fn get_results(
        &self,
        _: Request<competitions::GetResultsRequest>,
    ) -> Result<Response<competitions::Results>, Status> {
        Err(Status::unimplemented("fake"))
    }

    async fn export_results(
        &self,
        _: Request<competitions::ExportResultsRequest>,
    ) -> Result<Response<Self::ExportResultsStream>, Status> {
        Err(Status::unimplemented("fake"))
    }
}

/// Refuses every caller as the partnerships service refuses one without its role.
struct RefusingProgress;

#[tonic::async_trait]
impl ProgressService for RefusingProgress {
    async fn get_region_summary(
        &self,
        _: Request<partnerships::GetRegionSummaryRequest>,
    ) -> Result<Response<partnerships::RegionSummary>, Status> {
        let mut details = ErrorDetails::new();
        details.set_error_info("ROLE_REQUIRED", "edu.suite", []);
        Err(Status::with_error_details(
            Code::PermissionDenied,
            "needs one of the roles partnerships.ministry, partnerships.regional_office",
            details,
        ))
    }

    async fn get_progress(
        &self,
        _: Request<partnerships::GetProgressRequest>,
    ) -> Result<Response<partnerships::Progress>, Status> {
        Err(Status::unimplemented("fake"))
    }
}

/// The fakes and the gateway in front of them.
struct Scene {
    gateway: Process,
    channel: tonic::transport::Channel,
    aid_seen: Seen,
    competitions_completed: Arc<AtomicBool>,
}

async fn scene() -> Scene {
    let aid_seen = Seen::default();
    let competitions_completed = Arc::new(AtomicBool::new(false));
    let aid = serve(Routes::new(ReportServiceServer::new(FakeAid {
        seen: Arc::clone(&aid_seen),
    })))
    .await;
    let competitions = serve(Routes::new(ResultsServiceServer::new(StalledResults {
        completed: Arc::clone(&competitions_completed),
    })))
    .await;
    let partnerships = serve(Routes::new(ProgressServiceServer::new(RefusingProgress))).await;
    // Certificates at an address nobody listens on; mentoring not configured at all.
    let backends = format!(
        "competitions={competitions},certificates={},partnerships={partnerships},aid={aid}",
        free_addr()
    );
    let (gateway, channel) = start_gateway_with(
        &backends,
        &[("EDU_GATEWAY_SUMMARY_PART_TIMEOUT_MS", PART_TIMEOUT_MS)],
        &[
            "edu.aid.v1.ReportService",
            "edu.competitions.v1.ResultsService",
            "edu.partnerships.v1.ProgressService",
        ],
    )
    .await;
    Scene {
        gateway,
        channel,
        aid_seen,
        competitions_completed,
    }
}

fn summary_request(token: Option<&str>, region_code: &str) -> Request<pb::GetRegionSummaryRequest> {
    let mut request = Request::new(pb::GetRegionSummaryRequest {
        region_code: region_code.into(),
    });
    request.set_timeout(Duration::from_secs(20));
    match token {
        Some(token) => edu_kit::client::with_bearer(request, token),
        None => request,
    }
}

fn text(metadata: &MetadataMap, key: &str) -> Option<String> {
    metadata
        .get(key)
        .and_then(|v| v.to_str().ok())
        .map(String::from)
}

#[tokio::test]
async fn every_part_says_how_it_went_and_a_stalled_service_does_not_hold_up_the_answer() {
    let scene = scene().await;
    let token = DevToken::new("summary-reader")
        .role("aid.national_coordinator")
        .sign();
    let mut request = edu_kit::client::at_instant(summary_request(Some(&token), "ru-alt"), CLOCK);
    request.metadata_mut().insert(
        "traceparent",
        MetadataValue::try_from(format!("00-{TRACE_ID}-00f067aa0ba902b7-01")).expect("header"),
    );
    let started = Instant::now();
    let response = GatewayServiceClient::new(scene.channel.clone())
        .get_region_summary(request)
        .await
        .expect("the summary answers whatever its parts did");
    let took = started.elapsed();
    assert!(
        took < STALL / 3,
        "the answer came long before the stalled service would have answered: {took:?}"
    );
    assert!(
        !scene.competitions_completed.load(Ordering::SeqCst),
        "the stalled service never finished: its call was given up"
    );
    let request_id = text(response.metadata(), "x-request-id").expect("a request id");
    let summary = response.into_inner();
    assert_eq!(summary.region_code, "RU-ALT", "lower case is upper-cased");
    assert_eq!(
        summary.read_time.map(|t| t.seconds),
        Some(
            CLOCK
                .parse::<jiff::Timestamp>()
                .expect("instant")
                .as_second()
        ),
        "the call is judged at the caller's development clock"
    );

    let parts: Vec<(&str, pb::PartState, &str, &str)> = summary
        .parts
        .iter()
        .map(|p| {
            (
                p.service.as_str(),
                p.state(),
                p.code.as_str(),
                p.reason.as_str(),
            )
        })
        .collect();
    assert_eq!(
        parts,
        [
            (
                "competitions",
                pb::PartState::DeadlineExceeded,
                "DEADLINE_EXCEEDED",
                ""
            ),
            (
                "certificates",
                pb::PartState::Unavailable,
                "UNAVAILABLE",
                ""
            ),
            (
                "partnerships",
                pb::PartState::Refused,
                "PERMISSION_DENIED",
                "ROLE_REQUIRED"
            ),
            ("aid", pb::PartState::Ok, "", ""),
            ("mentoring", pb::PartState::NotDeployed, "", ""),
        ],
        "{:#?}",
        summary.parts
    );
    assert!(
        summary.parts[2].message.contains("partnerships.ministry"),
        "a refusal carries the service's message: {:?}",
        summary.parts[2].message
    );
    assert_eq!(summary.aid, Some(aid_summary("RU-ALT")));
    assert!(
        summary.competitions.is_none()
            && summary.certificates.is_none()
            && summary.partnerships.is_none()
            && summary.mentoring.is_none(),
        "a part that is not OK is left unset"
    );

    // The aid service saw the real caller, the call's request id and trace, the caller's
    // clock, and a deadline no longer than the part's.
    let (seen, region) = scene
        .aid_seen
        .lock()
        .expect("lock")
        .clone()
        .expect("the aid service was asked");
    assert_eq!(region, "RU-ALT");
    assert_eq!(
        text(&seen, "authorization"),
        Some(format!("Bearer {token}"))
    );
    assert_eq!(text(&seen, "x-edu-clock").as_deref(), Some(CLOCK));
    assert_eq!(text(&seen, "x-request-id"), Some(request_id));
    let traceparent = text(&seen, "traceparent").expect("trace context");
    assert_eq!(
        traceparent.split('-').nth(1),
        Some(TRACE_ID),
        "the caller's trace continues"
    );
    let timeout =
        edu_kit::pipeline::grpc_timeout(&seen.into_headers()).expect("the part's deadline is sent");
    assert!(
        timeout <= Duration::from_millis(300),
        "at most the part's deadline, got {timeout:?}"
    );
    scene
        .gateway
        .stop(Duration::from_secs(10))
        .await
        .expect("stops");
}

#[tokio::test]
async fn a_malformed_region_or_a_missing_token_is_refused_and_no_service_is_asked() {
    let scene = scene().await;
    let token = DevToken::new("summary-reader")
        .role("aid.national_coordinator")
        .sign();
    let mut client = GatewayServiceClient::new(scene.channel.clone());
    for bad in ["", "Saratov", "RU-SARA", "RU_SAR"] {
        let refused = client
            .get_region_summary(summary_request(Some(&token), bad))
            .await
            .expect_err(bad);
        assert_eq!(refused.code(), Code::InvalidArgument, "{bad:?}");
        assert_eq!(edu_kit::testing::reason(&refused), "INVALID_FIELDS");
        let fields: Vec<String> = refused
            .get_error_details()
            .bad_request()
            .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
            .unwrap_or_default();
        assert_eq!(fields, ["region_code"], "{bad:?}");
    }
    let anonymous = client
        .get_region_summary(summary_request(None, "RU-ALT"))
        .await
        .expect_err("no token");
    assert_eq!(anonymous.code(), Code::Unauthenticated);
    assert_eq!(edu_kit::testing::reason(&anonymous), "TOKEN_MISSING");
    assert!(
        scene.aid_seen.lock().expect("lock").is_none(),
        "a refused call asks no service"
    );
    scene
        .gateway
        .stop(Duration::from_secs(10))
        .await
        .expect("stops");
}
