//! The proxy against a fake competitions backend that echoes what reaches it: calls pass
//! through unchanged — server streaming, metadata, status details — and the gateway adds the
//! request id, its own trace context and the remaining deadline.

mod common;

use std::pin::Pin;
use std::time::Duration;

use common::{serve, start_gateway};
use edu_devstack::process::Process;
use edu_kit::auth::dev::DevToken;
use edu_proto::edu::competitions::v1 as pb;
use edu_proto::edu::competitions::v1::results_service_client::ResultsServiceClient;
use edu_proto::edu::competitions::v1::results_service_server::{
    ResultsService, ResultsServiceServer,
};
use tokio_stream::{Stream, StreamExt};
use tonic::metadata::MetadataValue;
use tonic::service::Routes;
use tonic::{Code, Request, Response, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// Echoes the metadata it receives into its response metadata.
struct FakeResults;

fn echo(
    request_metadata: &tonic::metadata::MetadataMap,
    response: &mut tonic::metadata::MetadataMap,
) {
    for key in [
        "grpc-timeout",
        "traceparent",
        "x-request-id",
        "authorization",
        "x-custom",
    ] {
        if let Some(value) = request_metadata.get(key) {
            response.insert(
                tonic::metadata::MetadataKey::from_bytes(format!("echo-{key}").as_bytes())
                    .expect("key"),
                value.clone(),
            );
        }
    }
}

#[tonic::async_trait]
impl ResultsService for FakeResults {
    type ExportResultsStream =
        Pin<Box<dyn Stream<Item = Result<pb::ExportResultsResponse, Status>> + Send>>;

    async fn get_ranking(
        &self,
        request: Request<pb::GetRankingRequest>,
    ) -> Result<Response<pb::Ranking>, Status> {
        let mut response = Response::new(pb::Ranking {
            nomination_id: request.get_ref().nomination_id.clone(),
            ..Default::default()
        });
        echo(request.metadata(), response.metadata_mut());
        Ok(response)
    }

    async fn set_winners(
        &self,
        _: Request<pb::SetWinnersRequest>,
    ) -> Result<Response<pb::Ranking>, Status> {
        Err(Status::unimplemented("fake"))
    }

    async fn announce_results(
        &self,
        _: Request<pb::AnnounceResultsRequest>,
    ) -> Result<Response<pb::AnnounceResultsResponse>, Status> {
        let mut details = ErrorDetails::new();
        details.set_error_info(
            "CONTEST_NOT_CLOSED",
            "edu.suite",
            [("state".to_string(), "OPEN".to_string())],
        );
        details.add_bad_request_violation("name", "a made-up violation");
        Err(Status::with_error_details(
            Code::FailedPrecondition,
            "not closed",
            details,
        ))
    }

    async fn get_results(
        &self,
        _: Request<pb::GetResultsRequest>,
    ) -> Result<Response<pb::Results>, Status> {
        Err(Status::unimplemented("fake"))
    }

    async fn get_region_summary(
        &self,
        _: Request<pb::GetRegionSummaryRequest>,
    ) -> Result<Response<pb::RegionSummary>, Status> {
        Err(Status::unimplemented("fake"))
    }

    async fn export_results(
        &self,
        request: Request<pb::ExportResultsRequest>,
    ) -> Result<Response<Self::ExportResultsStream>, Status> {
        let rows = (1..=3).map(|rank| {
            Ok(pb::ExportResultsResponse {
                nomination_id: "health".into(),
                nomination_title: "Здоровьесбережение с детства".into(),
                application: Some(pb::RankedApplication {
                    rank,
                    ..Default::default()
                }),
            })
        });
        let mut response: Response<Self::ExportResultsStream> =
            Response::new(Box::pin(tokio_stream::iter(rows)));
        echo(request.metadata(), response.metadata_mut());
        Ok(response)
    }
}

/// A fake competitions backend that reports SERVING, and the gateway in front of it.
async fn gateway_with_fake_backend() -> (Process, tonic::transport::Channel) {
    let backend_addr = serve(Routes::new(ResultsServiceServer::new(FakeResults))).await;
    start_gateway(backend_addr, "edu.competitions.v1.ResultsService").await
}

fn authorised<T>(body: T) -> Request<T> {
    let token = DevToken::new("u").role("competitions.organiser").sign();
    edu_kit::client::with_bearer(Request::new(body), &token)
}

fn echoed(metadata: &tonic::metadata::MetadataMap, key: &str) -> Option<String> {
    metadata
        .get(format!("echo-{key}").as_str())
        .and_then(|v| v.to_str().ok())
        .map(String::from)
}

#[tokio::test]
async fn metadata_reaches_the_backend_with_request_id_trace_and_remaining_deadline() {
    let (gateway, channel) = gateway_with_fake_backend().await;
    let mut request = authorised(pb::GetRankingRequest {
        contest: "contests/x".into(),
        nomination_id: "health".into(),
    });
    request.set_timeout(Duration::from_secs(5));
    request
        .metadata_mut()
        .insert("x-custom", MetadataValue::from_static("kept"));
    request.metadata_mut().insert(
        "traceparent",
        MetadataValue::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
    );
    let response = ResultsServiceClient::new(channel)
        .get_ranking(request)
        .await
        .expect("ok");
    assert_eq!(
        response.get_ref().nomination_id,
        "health",
        "the message passes unchanged"
    );
    let metadata = response.metadata();

    assert_eq!(echoed(metadata, "x-custom").as_deref(), Some("kept"));
    assert!(
        echoed(metadata, "authorization").is_some_and(|v| v.starts_with("Bearer ")),
        "services verify the token too"
    );
    let request_id = echoed(metadata, "x-request-id").expect("the gateway assigns a request id");
    assert_eq!(
        metadata.get("x-request-id").and_then(|v| v.to_str().ok()),
        Some(request_id.as_str())
    );

    let traceparent = echoed(metadata, "traceparent").expect("trace context");
    let parts: Vec<&str> = traceparent.split('-').collect();
    assert_eq!(
        parts[1], "4bf92f3577b34da6a3ce929d0e0e4736",
        "the caller's trace continues"
    );
    assert_ne!(
        parts[2], "00f067aa0ba902b7",
        "with the gateway's span as the parent"
    );

    let timeout = echoed(metadata, "grpc-timeout").expect("the deadline is forwarded");
    let millis: u64 = timeout.trim_end_matches('m').parse().expect("milliseconds");
    assert!(
        timeout.ends_with('m') && millis <= 5_000 && millis > 4_000,
        "the remaining deadline, got {timeout}"
    );
    gateway.stop(Duration::from_secs(10)).await.expect("stops");
}

#[tokio::test]
async fn server_streams_and_status_details_pass_through() {
    let (gateway, channel) = gateway_with_fake_backend().await;
    let mut client = ResultsServiceClient::new(channel);
    let mut stream = client
        .export_results(authorised(pb::ExportResultsRequest {
            contest: "contests/x".into(),
        }))
        .await
        .expect("stream")
        .into_inner();
    let mut ranks = Vec::new();
    while let Some(row) = stream.next().await {
        ranks.push(row.expect("row").application.expect("application").rank);
    }
    assert_eq!(ranks, [1, 2, 3]);

    let status = client
        .announce_results(authorised(pb::AnnounceResultsRequest {
            name: "contests/x".into(),
            etag: String::new(),
        }))
        .await
        .expect_err("the backend refuses");
    assert_eq!(status.code(), Code::FailedPrecondition);
    let details = status.get_error_details();
    assert_eq!(
        details.error_info().map(|i| i.reason.as_str()),
        Some("CONTEST_NOT_CLOSED")
    );
    assert_eq!(
        details.bad_request().map(|b| b.field_violations.len()),
        Some(1)
    );
    gateway.stop(Duration::from_secs(10)).await.expect("stops");
}
