//! The gateway binary on its own, in front of a backend that is down: the edge still
//! answers health and refuses what it must, and calls fail fast instead of hanging.

mod common;

use std::time::Duration;

use common::{free_addr, start_gateway};
use edu_devstack::process::Process;
use edu_kit::auth::dev::DevToken;
use edu_proto::edu::competitions::v1 as pb;
use edu_proto::edu::competitions::v1::contest_service_client::ContestServiceClient;
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_types::StatusExt;

async fn gateway_in_front_of_nothing() -> (Process, tonic::transport::Channel) {
    // A backend address nobody listens on: the backend is down.
    start_gateway(free_addr(), "").await
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
