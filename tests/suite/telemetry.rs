//! What operators see: metrics per RPC and code, pool usage, and traces exported over OTLP
//! that follow one call from the gateway into the service.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use edu_proto::edu::competitions::v1 as pb;
use edu_proto::edu::competitions::v1::contest_service_client::ContestServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use tokio::sync::mpsc;
use tonic::metadata::MetadataValue;

use crate::harness::*;

/// Issue 17, item 6: every series the operators' dashboard
/// (`deploy/components/monitoring/edu-suite-dashboard.json`) queries exists in the scrapes of
/// the running suite, so a renamed metric breaks a test rather than a panel. Called at the
/// end of the end-to-end story, when every kind of series has been written.
pub async fn assert_dashboard_series_exist(suite: &TestSuite) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy/components/monitoring/edu-suite-dashboard.json");
    let text = std::fs::read_to_string(&path).expect("the dashboard");
    let dashboard: serde_json::Value = serde_json::from_str(&text).expect("the dashboard is JSON");
    let expressions: Vec<String> = dashboard["panels"]
        .as_array()
        .expect("panels")
        .iter()
        .flat_map(|panel| panel["targets"].as_array().cloned().unwrap_or_default())
        .filter_map(|target| target["expr"].as_str().map(str::to_string))
        .collect();
    let series: BTreeSet<String> = expressions
        .iter()
        .flat_map(|expr| metric_names(expr))
        .collect();
    assert!(series.len() >= 4, "the dashboard queries {series:?}");

    let mut scrapes = vec![(
        "gateway".to_string(),
        edu_suite_tests::scrape_metrics(suite.gateway_metrics_addr()).await,
    )];
    for process in suite.suite().services() {
        scrapes.push((
            process.name().to_string(),
            edu_suite_tests::scrape_metrics(process.metrics_addr).await,
        ));
    }
    for name in &series {
        let found: Vec<&str> = scrapes
            .iter()
            .filter(|(_, text)| {
                text.lines()
                    .any(|line| line.starts_with(&format!("{name}{{")))
            })
            .map(|(process, _)| process.as_str())
            .collect();
        assert!(
            !found.is_empty(),
            "the dashboard's {name} is in no process's metrics"
        );
    }
    // The per-process panels need every service, not just one, to report.
    for (process, text) in scrapes.iter().filter(|(p, _)| p != "gateway") {
        assert!(
            text.contains("edu_db_pool_connections{"),
            "{process} reports no pool"
        );
    }
}

/// The metric names (`edu_…`) a PromQL expression reads.
fn metric_names(expr: &str) -> Vec<String> {
    expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|word| word.starts_with("edu_"))
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn metrics_count_calls_by_method_and_code_and_show_the_pool() {
    let suite = TestSuite::start().await;
    let mut client = ContestServiceClient::new(suite.gateway().await);
    client
        .list_contests(authorised(
            &organiser_token(),
            pb::ListContestsRequest::default(),
        ))
        .await
        .expect("ok");
    client
        .list_contests(pb::ListContestsRequest::default())
        .await
        .expect_err("no token");
    // A refusal by the service's handler, answered trailers-only, through the gateway.
    let missing = client
        .get_contest(authorised(
            &organiser_token(),
            pb::GetContestRequest {
                name: "contests/no-such-contest".into(),
            },
        ))
        .await
        .expect_err("no such contest");
    assert_eq!(missing.code(), tonic::Code::NotFound);

    let gateway = edu_suite_tests::scrape_metrics(suite.gateway_metrics_addr()).await;
    assert!(
        gateway.contains(r#"edu_grpc_server_calls_total{service="edu.competitions.v1.ContestService",method="ListContests",code="OK"} 1"#),
        "{gateway}"
    );
    assert!(
        gateway.contains(r#"edu_grpc_server_calls_total{service="edu.competitions.v1.ContestService",method="ListContests",code="UNAUTHENTICATED"} 1"#),
        "{gateway}"
    );
    let service = edu_suite_tests::scrape_metrics(suite.service_metrics_addr("competitions")).await;
    assert!(
        service.contains(r#"method="ListContests",code="OK"} 1"#),
        "the service counts only what the gateway let through: {service}"
    );
    assert!(!service.contains(r#"code="UNAUTHENTICATED""#), "{service}");
    for (process, metrics) in [("gateway", &gateway), ("competitions", &service)] {
        assert!(
            metrics.contains(r#"method="GetContest",code="NOT_FOUND"} 1"#),
            "{process} counts the refusal by its code: {metrics}"
        );
        assert!(
            !metrics.contains(r#"code="CANCELLED""#),
            "{process}: {metrics}"
        );
    }
    assert!(
        service.contains(r#"edu_db_pool_connections{state="max"} 10"#),
        "{service}"
    );
    assert!(
        service.contains("edu_grpc_server_call_duration_seconds_bucket"),
        "{service}"
    );
    suite.stop().await;
}

/// An OTLP collector that hands every exported span to the test: (service name, trace id,
/// span name).
struct Collector {
    spans: mpsc::UnboundedSender<(String, String, String)>,
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        for resource_spans in request.into_inner().resource_spans {
            let service = resource_spans
                .resource
                .iter()
                .flat_map(|r| &r.attributes)
                .find(|a| a.key == "service.name")
                .and_then(|a| a.value.as_ref()?.value.as_ref())
                .map(|v| match v {
                    Value::StringValue(s) => s.clone(),
                    other => format!("{other:?}"),
                })
                .unwrap_or_default();
            for scope in resource_spans.scope_spans {
                for span in scope.spans {
                    let trace_id: String =
                        span.trace_id.iter().map(|b| format!("{b:02x}")).collect();
                    let _ = self.spans.send((service.clone(), trace_id, span.name));
                }
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tokio::test]
async fn one_trace_follows_a_call_from_the_gateway_into_the_service_over_otlp() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let collector_addr = listener.local_addr().expect("addr");
    let (spans, mut received) = mpsc::unbounded_channel();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(Collector { spans }))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    let suite = TestSuite::start_with(vec![
        (
            "EDU_OTLP_ENDPOINT".into(),
            format!("http://{collector_addr}"),
        ),
        // Export every 100 ms instead of every 5 s, so the test need not wait long.
        ("OTEL_BSP_SCHEDULE_DELAY".into(), "100".into()),
    ])
    .await;

    let trace_id = "0af7651916cd43dd8448eb211c80319c";
    let mut request = authorised(&organiser_token(), pb::ListContestsRequest::default());
    request.metadata_mut().insert(
        "traceparent",
        MetadataValue::try_from(format!("00-{trace_id}-b7ad6b7169203331-01")).expect("header"),
    );
    ContestServiceClient::new(suite.gateway().await)
        .list_contests(request)
        .await
        .expect("ok");

    let mut services_in_trace = BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while services_in_trace.len() < 2 {
        let remaining = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(remaining, received.recv()).await {
            Ok(Some((service, span_trace, name))) if span_trace == trace_id => {
                assert_eq!(name, "edu.competitions.v1.ContestService/ListContests");
                services_in_trace.insert(service);
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => break,
        }
    }
    assert_eq!(
        services_in_trace,
        BTreeSet::from(["competitions".to_string(), "gateway".to_string()])
    );
    suite.stop().await;
}
