//! The gateway as the one public entry: health, reflection, identity at the edge, and what
//! it carries to the services.

use std::time::Duration;

use edu_kit::auth::dev::DevToken;
use edu_proto::edu::competitions::v1 as pb;
use edu_proto::edu::competitions::v1::contest_service_client::ContestServiceClient;
use edu_proto::edu::gateway::v1 as gw;
use edu_proto::edu::gateway::v1::gateway_service_client::GatewayServiceClient;
use tokio_stream::StreamExt;
use tonic::Code;
use tonic::metadata::MetadataValue;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

use crate::harness::*;

const COMPETITIONS: [&str; 3] = [
    "edu.competitions.v1.ContestService",
    "edu.competitions.v1.TeamService",
    "edu.competitions.v1.ApplicationService",
];

async fn health(suite: &TestSuite, service: &str) -> ServingStatus {
    HealthClient::new(suite.gateway().await)
        .check(HealthCheckRequest {
            service: service.into(),
        })
        .await
        .expect("health answers without a token")
        .into_inner()
        .status()
}

#[tokio::test]
async fn health_is_serving_for_the_gateway_and_each_backend_service() {
    let suite = TestSuite::start().await;
    assert_eq!(health(&suite, "").await, ServingStatus::Serving);
    assert_eq!(
        health(&suite, "edu.gateway.v1.GatewayService").await,
        ServingStatus::Serving
    );
    for service in COMPETITIONS {
        assert_eq!(
            health(&suite, service).await,
            ServingStatus::Serving,
            "{service}"
        );
    }
    suite.stop().await;
}

#[tokio::test]
async fn reflection_lists_the_services_behind_the_gateway() {
    let suite = TestSuite::start().await;
    let mut client = ServerReflectionClient::new(suite.gateway().await);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .expect("reflection answers without a token")
        .into_inner();
    let response = responses.next().await.expect("a response").expect("ok");
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
        panic!("expected a service list, got {response:?}");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for expected in COMPETITIONS
        .iter()
        .chain(&["edu.gateway.v1.GatewayService", "grpc.health.v1.Health"])
    {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} missing from {names:?}"
        );
    }
    suite.stop().await;
}

#[tokio::test]
async fn a_call_without_a_valid_token_is_refused_at_the_gateway_and_at_the_service() {
    let suite = TestSuite::start().await;
    let list = pb::ListContestsRequest::default;
    let mut via_gateway = ContestServiceClient::new(suite.gateway().await);
    assert_refused(
        via_gateway.list_contests(list()).await,
        Code::Unauthenticated,
        "TOKEN_MISSING",
    );
    assert_refused(
        via_gateway
            .list_contests(authorised("not-a-jwt", list()))
            .await,
        Code::Unauthenticated,
        "TOKEN_INVALID",
    );
    let expired = DevToken::new("late")
        .role("competitions.organiser")
        .expires_in(-300.0)
        .sign();
    assert_refused(
        via_gateway
            .list_contests(authorised(&expired, list()))
            .await,
        Code::Unauthenticated,
        "TOKEN_INVALID",
    );

    // The gateway is not the only wall: the service refuses on its own.
    let mut direct = ContestServiceClient::new(suite.service("competitions").await);
    assert_refused(
        direct.list_contests(list()).await,
        Code::Unauthenticated,
        "TOKEN_MISSING",
    );

    via_gateway
        .list_contests(authorised(&organiser_token(), list()))
        .await
        .expect("a valid token is let through");
    suite.stop().await;
}

#[tokio::test]
async fn the_request_id_and_the_trace_reach_the_service_and_its_audit_log() {
    let suite = TestSuite::start().await;
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let mut request = authorised(
        &organiser_token(),
        pb::CreateContestRequest {
            contest: Some(edu_competitions::demo::contest(2099)),
            contest_id: "traced".into(),
            request_id: String::new(),
        },
    );
    request.metadata_mut().insert(
        "traceparent",
        MetadataValue::try_from(format!("00-{trace_id}-00f067aa0ba902b7-01")).expect("header"),
    );
    request
        .metadata_mut()
        .insert("x-request-id", MetadataValue::from_static("e2e-request-1"));
    let response = ContestServiceClient::new(suite.gateway().await)
        .create_contest(request)
        .await
        .expect("created");
    assert_eq!(
        response
            .metadata()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok()),
        Some("e2e-request-1")
    );

    let db = suite.database().await;
    let (request_id, recorded_trace, actor): (String, Option<String>, String) =
        sqlx::query_as("SELECT request_id, trace_id, actor FROM competitions.audit_log WHERE resource = 'contests/traced'")
            .fetch_one(&db)
            .await
            .expect("audit record");
    assert_eq!(request_id, "e2e-request-1");
    assert_eq!(
        recorded_trace.as_deref(),
        Some(trace_id),
        "the caller's trace continues through the gateway"
    );
    assert_eq!(actor, "e2e-organiser");
    db.close().await;
    suite.stop().await;
}

#[tokio::test]
async fn operators_see_the_backends_and_their_endpoints() {
    let suite = TestSuite::start().await;
    let mut client = GatewayServiceClient::new(suite.gateway().await);
    let operator = DevToken::new("ops").role("gateway.operator").sign();
    let backends = client
        .list_backends(authorised(&operator, gw::ListBackendsRequest::default()))
        .await
        .expect("operators may list")
        .into_inner();
    let competitions = backends
        .backends
        .iter()
        .find(|b| b.name == "backends/competitions")
        .expect("competitions backend");
    assert_eq!(competitions.packages, ["edu.competitions.v1"]);
    assert_eq!(competitions.endpoints.len(), 1);
    assert_eq!(
        competitions.endpoints[0].state,
        gw::EndpointState::Serving as i32
    );

    assert_refused(
        client
            .list_backends(authorised(
                &organiser_token(),
                gw::ListBackendsRequest::default(),
            ))
            .await,
        Code::PermissionDenied,
        "ROLE_REQUIRED",
    );
    suite.stop().await;
}

#[tokio::test]
async fn a_stopped_service_turns_not_serving_at_the_gateway_and_calls_fail_fast() {
    let mut suite = TestSuite::start().await;
    suite.stop_service("competitions").await;
    // The gateway re-checks its backends every 500 ms in the test suite.
    let mut status = health(&suite, COMPETITIONS[0]).await;
    let started = std::time::Instant::now();
    while status == ServingStatus::Serving && started.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        status = health(&suite, COMPETITIONS[0]).await;
    }
    assert_eq!(status, ServingStatus::NotServing);
    let call = ContestServiceClient::new(suite.gateway().await)
        .list_contests(authorised(
            &organiser_token(),
            pb::ListContestsRequest::default(),
        ))
        .await;
    assert_eq!(call.expect_err("no backend").code(), Code::Unavailable);
    assert_eq!(
        health(&suite, "").await,
        ServingStatus::Serving,
        "the gateway itself stays up"
    );
    suite.stop().await;
}

/// Issue 17, item 3: a caller over its rate gets RESOURCE_EXHAUSTED with a RetryInfo at the
/// gateway, counted in the gateway's metrics, while another caller goes on unaffected.
#[tokio::test]
async fn a_caller_over_its_rate_limit_is_refused_with_retry_info_and_others_are_not() {
    let suite = TestSuite::start_with(vec![
        ("EDU_RATE_LIMIT_PER_SECOND".into(), "1".into()),
        ("EDU_RATE_LIMIT_BURST".into(), "3".into()),
    ])
    .await;
    let mut client = ContestServiceClient::new(suite.gateway().await);
    let token = |subject: &str| DevToken::new(subject).role("competitions.organiser").sign();
    let (busy, calm) = (token("e2e-busy-system"), token("e2e-calm-system"));

    let started = std::time::Instant::now();
    let mut answered = 0u64;
    let refused = loop {
        match client
            .list_contests(authorised(&busy, pb::ListContestsRequest::default()))
            .await
        {
            Ok(_) => answered += 1,
            Err(status) => break status,
        }
        assert!(answered <= 10, "never refused");
    };
    // A burst of three, plus one call a second for the time the loop took.
    let allowed = 3 + started.elapsed().as_secs();
    assert!(
        (3..=allowed).contains(&answered),
        "{answered} calls answered"
    );
    assert_eq!(refused.code(), Code::ResourceExhausted);
    assert_eq!(edu_kit::testing::reason(&refused), "RATE_LIMITED");
    let retry = tonic_types::StatusExt::get_details_retry_info(&refused)
        .and_then(|info| info.retry_delay)
        .expect("a RetryInfo with a delay");
    assert!(retry <= Duration::from_secs(1), "{retry:?}");

    client
        .list_contests(authorised(&calm, pb::ListContestsRequest::default()))
        .await
        .expect("another caller has its own allowance");

    // Tokens that fail their check are counted against the address they come from, so a
    // flood of them is limited too (each would otherwise cost a signature check).
    let started = std::time::Instant::now();
    let mut unauthenticated = 0u64;
    let limited = loop {
        let status = client
            .list_contests(authorised(
                "not-a-token",
                pb::ListContestsRequest::default(),
            ))
            .await
            .expect_err("a bad token");
        match status.code() {
            Code::Unauthenticated => unauthenticated += 1,
            _ => break status,
        }
        assert!(unauthenticated <= 10, "bad tokens are never limited");
    };
    assert!(unauthenticated <= 3 + started.elapsed().as_secs());
    assert_eq!(edu_kit::testing::reason(&limited), "RATE_LIMITED");

    let gateway = edu_suite_tests::scrape_metrics(suite.gateway_metrics_addr()).await;
    assert!(
        gateway.contains(r#"edu_grpc_server_calls_total{service="edu.competitions.v1.ContestService",method="ListContests",code="RESOURCE_EXHAUSTED"} 2"#),
        "both refusals are counted: {gateway}"
    );
    suite.stop().await;
}

/// A caller who may read `RU-SAR` and `RU-ALT` in every service: the role and scope each
/// service's GetRegionSummary asks for.
fn summary_reader() -> String {
    DevToken::new("e2e-summary-reader")
        .role("competitions.organiser")
        .role("certificates.operator")
        .role("partnerships.ministry")
        .role("aid.national_coordinator")
        .role("mentoring.regional_centre")
        .scope("region:RU-SAR")
        .scope("region:RU-ALT")
        .sign()
}

async fn region_summary(channel: &Channel, token: &str, region_code: &str) -> gw::RegionSummary {
    GatewayServiceClient::new(channel.clone())
        .get_region_summary(authorised(
            token,
            gw::GetRegionSummaryRequest {
                region_code: region_code.into(),
            },
        ))
        .await
        .unwrap_or_else(|e| panic!("the summary of {region_code} answers: {e:?}"))
        .into_inner()
}

/// Each part's state, by service, in the answer's order.
fn states(summary: &gw::RegionSummary) -> Vec<(&str, gw::PartState)> {
    summary
        .parts
        .iter()
        .map(|p| (p.service.as_str(), p.state()))
        .collect()
}

/// What each service answers `token` itself for `region_code`, with the instants of reading
/// left out (each call reads at its own), to compare with the gateway's parts.
async fn own_answers(channel: &Channel, token: &str, region_code: &str) -> gw::RegionSummary {
    use edu_proto::edu::aid::v1 as aid;
    use edu_proto::edu::certificates::v1 as cert;
    use edu_proto::edu::mentoring::v1 as ment;
    use edu_proto::edu::partnerships::v1 as part;
    let code = || region_code.to_string();
    let competitions = pb::results_service_client::ResultsServiceClient::new(channel.clone())
        .get_region_summary(authorised(
            token,
            pb::GetRegionSummaryRequest {
                region_code: code(),
            },
        ))
        .await
        .expect("competitions answers")
        .into_inner();
    let certificates = cert::report_service_client::ReportServiceClient::new(channel.clone())
        .get_region_summary(authorised(
            token,
            cert::GetRegionSummaryRequest {
                region_code: code(),
            },
        ))
        .await
        .expect("certificates answers")
        .into_inner();
    let partnerships = part::progress_service_client::ProgressServiceClient::new(channel.clone())
        .get_region_summary(authorised(
            token,
            part::GetRegionSummaryRequest {
                region_code: code(),
                year: String::new(),
            },
        ))
        .await
        .expect("partnerships answers")
        .into_inner();
    let aid = aid::report_service_client::ReportServiceClient::new(channel.clone())
        .get_region_summary(authorised(
            token,
            aid::GetRegionSummaryRequest {
                region_code: code(),
                campaign: String::new(),
            },
        ))
        .await
        .expect("aid answers")
        .into_inner();
    let mentoring = ment::report_service_client::ReportServiceClient::new(channel.clone())
        .get_region_summary(authorised(
            token,
            ment::GetRegionSummaryRequest {
                region_code: code(),
            },
        ))
        .await
        .expect("mentoring answers")
        .into_inner();
    without_read_times(gw::RegionSummary {
        region_code: code(),
        competitions: Some(competitions),
        certificates: Some(certificates),
        partnerships: Some(partnerships),
        aid: Some(aid),
        mentoring: Some(mentoring),
        parts: Vec::new(),
        read_time: None,
    })
}

fn without_read_times(mut summary: gw::RegionSummary) -> gw::RegionSummary {
    summary.read_time = None;
    summary.parts.clear();
    if let Some(part) = summary.competitions.as_mut() {
        part.read_time = None;
    }
    if let Some(part) = summary.certificates.as_mut() {
        part.read_time = None;
    }
    if let Some(part) = summary.partnerships.as_mut() {
        part.read_time = None;
    }
    if let Some(part) = summary.aid.as_mut() {
        part.read_time = None;
    }
    if let Some(part) = summary.mentoring.as_mut() {
        part.read_time = None;
    }
    summary
}

/// Issue 17, item 1: the region summary through the real services. With every backend up
/// each part is what its service answers the caller itself; a caller with the roles of some
/// services gets the others refused; with a service stopped, the answer still comes, in
/// time, with that part marked unavailable and the others intact.
#[tokio::test]
async fn the_region_summary_is_each_service_answer_and_survives_a_stopped_service() {
    let mut suite = TestSuite::start().await;
    let channel = suite.gateway().await;
    let now = jiff::Timestamp::now();
    edu_competitions::demo::announced::load(channel.clone(), &organiser_token(), now)
        .await
        .expect("the announced contest");
    edu_certificates::demo::load(channel.clone())
        .await
        .expect("the certificates demo");
    edu_partnerships::demo::load(channel.clone())
        .await
        .expect("the partnerships demo");
    edu_aid::demo::load(channel.clone())
        .await
        .expect("the aid demo");
    edu_mentoring::demo::load(channel.clone())
        .await
        .expect("the mentoring demo");

    let reader = summary_reader();
    let all_ok = [
        ("competitions", gw::PartState::Ok),
        ("certificates", gw::PartState::Ok),
        ("partnerships", gw::PartState::Ok),
        ("aid", gw::PartState::Ok),
        ("mentoring", gw::PartState::Ok),
    ];
    for region in ["ru-sar", "RU-ALT"] {
        let summary = region_summary(&channel, &reader, region).await;
        assert_eq!(states(&summary), all_ok, "{region}: {:#?}", summary.parts);
        assert!(summary.read_time.is_some());
        let upper = region.to_ascii_uppercase();
        assert_eq!(
            without_read_times(summary),
            own_answers(&channel, &reader, &upper).await,
            "{region}: each part is what its service answers the caller"
        );
    }
    // The figures themselves: the mentoring demo's seven active pairs and groups in Saratov,
    // the announced contest's Altai application and the Altai certificates.
    let saratov = region_summary(&channel, &reader, "RU-SAR").await;
    let mentoring = saratov.mentoring.expect("the mentoring part");
    assert_eq!(mentoring.active_pairs + mentoring.active_groups, 7);
    let altai = region_summary(&channel, &reader, "RU-ALT").await;
    assert!(
        altai
            .competitions
            .as_ref()
            .is_some_and(|c| c.total_applications >= 1),
        "{:?}",
        altai.competitions
    );
    assert!(
        altai
            .certificates
            .as_ref()
            .is_some_and(|c| c.active_certificates >= 1),
        "{:?}",
        altai.certificates
    );

    // A caller with the roles of two services: the other three refuse it.
    let partial = DevToken::new("e2e-summary-partial")
        .role("aid.national_coordinator")
        .role("mentoring.regional_centre")
        .scope("region:RU-SAR")
        .sign();
    let summary = region_summary(&channel, &partial, "RU-SAR").await;
    assert_eq!(
        states(&summary),
        [
            ("competitions", gw::PartState::Refused),
            ("certificates", gw::PartState::Refused),
            ("partnerships", gw::PartState::Refused),
            ("aid", gw::PartState::Ok),
            ("mentoring", gw::PartState::Ok),
        ],
        "{:#?}",
        summary.parts
    );
    for refused in &summary.parts[..3] {
        assert_eq!(
            (refused.code.as_str(), refused.reason.as_str()),
            ("PERMISSION_DENIED", "ROLE_REQUIRED"),
            "{refused:?}"
        );
    }
    assert!(summary.competitions.is_none() && summary.aid.is_some());

    // Mentoring stopped: its part is unavailable, the others are still there, and the answer
    // comes in time (each part has at most 2 s by default; a refused connection fails fast).
    suite.stop_service("mentoring").await;
    let started = std::time::Instant::now();
    let summary = region_summary(&channel, &reader, "RU-SAR").await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "answered in {:?}",
        started.elapsed()
    );
    assert_eq!(
        states(&summary),
        [
            ("competitions", gw::PartState::Ok),
            ("certificates", gw::PartState::Ok),
            ("partnerships", gw::PartState::Ok),
            ("aid", gw::PartState::Ok),
            ("mentoring", gw::PartState::Unavailable),
        ],
        "{:#?}",
        summary.parts
    );
    assert_eq!(summary.parts[4].code, "UNAVAILABLE");
    assert!(summary.mentoring.is_none());
    suite.stop().await;
}

/// Issue 18, item 1: outside development the gateway serves TLS or does not start, saying
/// which settings it needs.
#[tokio::test]
async fn the_gateway_refuses_to_serve_plaintext_in_production() {
    let output = tokio::process::Command::new(edu_devstack::binaries_dir().join("gateway"))
        .env_clear()
        .env("EDU_ENVIRONMENT", "production")
        .env("EDU_GRPC_ADDR", "127.0.0.1:0")
        .env("EDU_METRICS_ADDR", "127.0.0.1:0")
        .env("EDU_GATEWAY_BACKENDS", "competitions=127.0.0.1:1")
        .kill_on_drop(true)
        .output()
        .await
        .expect("the gateway binary runs");
    assert!(!output.status.success(), "it must not start");
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(
        said.contains("EDU_TLS_CERT_FILE") && said.contains("EDU_TLS_KEY_FILE"),
        "{said}"
    );
}
