//! The gateway binary on its own, in front of a backend that is down: the edge still
//! answers health and refuses what it must, and calls fail fast instead of hanging.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use edu_devstack::process::{Logs, Process};
use edu_kit::auth::dev::DevToken;
use edu_proto::edu::competitions::v1 as pb;
use edu_proto::edu::competitions::v1::contest_service_client::ContestServiceClient;
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_types::StatusExt;

fn free_addr() -> SocketAddr {
    let port = edu_devstack::postgres::free_port(0).expect("free port");
    SocketAddr::from(([127, 0, 0, 1], port))
}

async fn gateway_in_front_of_nothing() -> (Process, tonic::transport::Channel) {
    let (grpc, metrics, nothing) = (free_addr(), free_addr(), free_addr());
    let logs = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("gateway-{}", grpc.port()));
    let env = vec![
        ("EDU_ENVIRONMENT".to_string(), "development".to_string()),
        ("EDU_GRPC_ADDR".to_string(), grpc.to_string()),
        ("EDU_METRICS_ADDR".to_string(), metrics.to_string()),
        (
            "EDU_GATEWAY_BACKENDS".to_string(),
            format!("competitions={nothing}"),
        ),
        (
            "EDU_GATEWAY_CHECK_INTERVAL_MS".to_string(),
            "200".to_string(),
        ),
    ];
    let mut gateway = Process::spawn(
        "gateway",
        Path::new(env!("CARGO_BIN_EXE_gateway")),
        &[],
        &env,
        grpc,
        metrics,
        &Logs::Files(logs),
    )
    .expect("spawn");
    gateway
        .wait_serving("", Duration::from_secs(30))
        .await
        .expect("the gateway comes up without its backends");
    let channel = edu_kit::client::endpoint(format!("http://{grpc}"))
        .expect("endpoint")
        .connect()
        .await
        .expect("connect");
    (gateway, channel)
}

#[tokio::test]
async fn a_backend_that_is_down_is_reported_not_serving_and_calls_fail_fast() {
    let (gateway, channel) = gateway_in_front_of_nothing().await;
    let mut health = HealthClient::new(channel.clone());
    let backend = health
        .check(HealthCheckRequest {
            service: "edu.competitions.v1.ContestService".into(),
        })
        .await
        .expect("health answers")
        .into_inner();
    assert_eq!(backend.status(), ServingStatus::NotServing);

    let token = DevToken::new("u").role("competitions.organiser").sign();
    let started = std::time::Instant::now();
    let call = ContestServiceClient::new(channel.clone())
        .list_contests(edu_kit::client::with_bearer(
            tonic::Request::new(pb::ListContestsRequest::default()),
            &token,
        ))
        .await;
    assert_eq!(call.expect_err("no backend").code(), Code::Unavailable);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "fails fast, took {:?}",
        started.elapsed()
    );
    gateway
        .stop(Duration::from_secs(10))
        .await
        .expect("stops on SIGTERM");
}

#[tokio::test]
async fn unknown_packages_are_unimplemented_and_anonymous_calls_unauthenticated() {
    let (gateway, channel) = gateway_in_front_of_nothing().await;
    let token = DevToken::new("u").role("competitions.organiser").sign();
    let mut unknown = tonic::client::Grpc::new(channel.clone());
    unknown.ready().await.expect("ready");
    let path = http::uri::PathAndQuery::from_static("/edu.unknown.v1.NothingService/Nothing");
    let result: Result<tonic::Response<()>, tonic::Status> = unknown
        .unary(
            edu_kit::client::with_bearer(tonic::Request::new(()), &token),
            path,
            tonic_prost::ProstCodec::<(), ()>::default(),
        )
        .await;
    assert_eq!(
        result.expect_err("no such backend").code(),
        Code::Unimplemented
    );

    let anonymous = ContestServiceClient::new(channel)
        .list_contests(tonic::Request::new(pb::ListContestsRequest::default()))
        .await
        .expect_err("refused at the edge");
    assert_eq!(anonymous.code(), Code::Unauthenticated);
    let details = anonymous.get_error_details();
    assert_eq!(
        details.error_info().map(|i| i.reason.as_str()),
        Some("TOKEN_MISSING")
    );
    gateway
        .stop(Duration::from_secs(10))
        .await
        .expect("stops on SIGTERM");
}
