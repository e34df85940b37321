//! The server runner's promises, proven with a handler that blocks until the test lets it
//! go: calls beyond the ceiling are shed (and counted), the caller's deadline is honoured by
//! the server, and shutdown reports NOT_SERVING first and then drains the call in flight
//! rather than cutting it.

use std::sync::Arc;
use std::time::Duration;

use edu_kit::auth::TokenVerifier;
use edu_kit::auth::dev::DevToken;
use edu_kit::clock::Clock;
use edu_kit::config::{AuthConfig, Environment, Limits, ServerConfig};
use edu_kit::server::Server;
use edu_proto::edu::gateway::v1 as pb;
use edu_proto::edu::gateway::v1::gateway_service_client::GatewayServiceClient;
use edu_proto::edu::gateway::v1::gateway_service_server::{GatewayService, GatewayServiceServer};
use tokio::sync::{Notify, oneshot};
use tonic::service::Routes;
use tonic::transport::Channel;
use tonic::{Code, Request, Response, Status};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// A service whose one method waits until released.
#[derive(Clone, Default)]
struct Blocking {
    entered: Arc<Notify>,
    release: Arc<Notify>,
}

#[tonic::async_trait]
impl GatewayService for Blocking {
    async fn list_backends(
        &self,
        _: Request<pb::ListBackendsRequest>,
    ) -> Result<Response<pb::ListBackendsResponse>, Status> {
        self.entered.notify_one();
        self.release.notified().await;
        Ok(Response::new(pb::ListBackendsResponse::default()))
    }

    /// Not part of what these tests exercise.
    async fn get_region_summary(
        &self,
        _: Request<pb::GetRegionSummaryRequest>,
    ) -> Result<Response<pb::RegionSummary>, Status> {
        Err(Status::unimplemented("not used by this test"))
    }

    /// Not part of what these tests exercise.
    async fn get_child_view(
        &self,
        _: Request<pb::GetChildViewRequest>,
    ) -> Result<Response<pb::ChildView>, Status> {
        Err(Status::unimplemented("not used by this test"))
    }
}

struct Running {
    channel: Channel,
    service: Blocking,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), edu_kit::server::ServerError>>,
    metrics: edu_kit::metrics::Metrics,
}

async fn start(calls_in_flight: usize, shutdown_delay: Duration) -> Running {
    start_with(calls_in_flight, shutdown_delay, None).await
}

async fn start_with(
    calls_in_flight: usize,
    shutdown_delay: Duration,
    readiness: Option<edu_kit::server::DatabaseReadiness>,
) -> Running {
    let config = ServerConfig {
        environment: Environment::Development,
        grpc_addr: "127.0.0.1:0".parse().expect("addr"),
        metrics_addr: "127.0.0.1:0".parse().expect("addr"),
        limits: Limits {
            max_message_bytes: 1024 * 1024,
            protection: edu_kit::protection::ProtectionLimits {
                max_calls_in_flight: calls_in_flight,
                rate_per_second: 0,
                rate_burst: 0,
            },
            max_concurrent_streams: 100,
            default_deadline: Duration::from_secs(10),
            max_stream: Duration::from_secs(60),
        },
        shutdown_timeout: Duration::from_secs(10),
        shutdown_delay,
        health_check_interval: Duration::from_millis(100),
        tls: None,
        probe_addr: None,
        client_certificates: None,
    };
    let verifier = TokenVerifier::from_config(&AuthConfig::development()).expect("keys");
    let service = Blocking::default();
    let mut server = Server::new("test", config, verifier, Clock::system())
        .advertise("edu.gateway.v1.GatewayService");
    if let Some(probe) = readiness {
        server = server.readiness(probe);
    }
    let metrics = server.metrics().clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = oneshot::channel::<()>();
    let routes = Routes::new(GatewayServiceServer::new(service.clone()));
    let task = tokio::spawn(server.run(routes, listener, None, async {
        let _ = stopped.await;
    }));
    let channel = edu_kit::client::endpoint(format!("http://{addr}"))
        .expect("endpoint")
        .connect()
        .await
        .expect("connect");
    Running {
        channel,
        service,
        stop,
        task,
        metrics,
    }
}

fn call() -> Request<pb::ListBackendsRequest> {
    edu_kit::client::with_bearer(
        Request::new(pb::ListBackendsRequest::default()),
        &DevToken::new("t").sign(),
    )
}

async fn health(channel: &Channel) -> ServingStatus {
    HealthClient::new(channel.clone())
        .check(HealthCheckRequest::default())
        .await
        .expect("health")
        .into_inner()
        .status()
}

#[tokio::test]
async fn a_call_beyond_the_ceiling_is_shed_with_resource_exhausted_and_counted() {
    let running = start(1, Duration::ZERO).await;
    let mut first = GatewayServiceClient::new(running.channel.clone());
    let in_flight = tokio::spawn(async move { first.list_backends(call()).await });
    running.service.entered.notified().await;

    let shed = GatewayServiceClient::new(running.channel.clone())
        .list_backends(call())
        .await
        .expect_err("over the ceiling");
    assert_eq!(shed.code(), Code::ResourceExhausted);
    assert_eq!(edu_kit::testing::reason(&shed), "OVERLOADED");
    assert!(
        tonic_types::StatusExt::get_details_retry_info(&shed).is_some(),
        "the caller is told when to retry"
    );
    assert!(
        running
            .metrics
            .render()
            .contains(r#"method="ListBackends",code="RESOURCE_EXHAUSTED"} 1"#),
        "the shed call is counted: {}",
        running.metrics.render()
    );

    running.service.release.notify_one();
    in_flight
        .await
        .expect("task")
        .expect("the call inside the limit completes");
    let _ = running.stop.send(());
    running.task.await.expect("task").expect("clean stop");
}

#[tokio::test]
async fn the_server_honours_the_callers_deadline() {
    let running = start(10, Duration::ZERO).await;
    let mut request = call();
    request.set_timeout(Duration::from_millis(200));
    let started = std::time::Instant::now();
    let result = GatewayServiceClient::new(running.channel.clone())
        .list_backends(request)
        .await;
    assert_eq!(
        result.expect_err("the handler never answers").code(),
        Code::DeadlineExceeded
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(
        running
            .metrics
            .render()
            .contains(r#"method="ListBackends",code="DEADLINE_EXCEEDED"} 1"#),
        "the timed-out call is counted as such"
    );
    let _ = running.stop.send(());
    running.task.await.expect("task").expect("clean stop");
}

#[tokio::test]
async fn shutdown_reports_not_serving_first_then_drains_the_call_in_flight() {
    let running = start(10, Duration::from_secs(1)).await;
    assert_eq!(health(&running.channel).await, ServingStatus::Serving);
    let mut client = GatewayServiceClient::new(running.channel.clone());
    let in_flight = tokio::spawn(async move { client.list_backends(call()).await });
    running.service.entered.notified().await;

    let _ = running.stop.send(());
    // Within the shutdown delay the server still answers, and says it is going away.
    let mut status = health(&running.channel).await;
    while status == ServingStatus::Serving {
        tokio::task::yield_now().await;
        status = health(&running.channel).await;
    }
    assert_eq!(status, ServingStatus::NotServing);
    assert!(!running.task.is_finished(), "still draining");
    assert_eq!(
        health_of(&running.channel, edu_kit::server::LIVENESS).await,
        ServingStatus::Serving,
        "a draining process is alive: a liveness probe must not kill it"
    );

    running.service.release.notify_one();
    in_flight
        .await
        .expect("task")
        .expect("the call in flight completes instead of being cut");
    running.task.await.expect("task").expect("clean stop");
}

#[tokio::test]
async fn calls_without_a_token_are_refused_but_health_is_open() {
    let running = start(10, Duration::ZERO).await;
    let refused = GatewayServiceClient::new(running.channel.clone())
        .list_backends(pb::ListBackendsRequest::default())
        .await;
    assert_eq!(refused.expect_err("no token").code(), Code::Unauthenticated);
    assert_eq!(health(&running.channel).await, ServingStatus::Serving);
    let _ = running.stop.send(());
    running.task.await.expect("task").expect("clean stop");
}

fn readiness(url: &str) -> edu_kit::server::DatabaseReadiness {
    let options: sqlx::postgres::PgConnectOptions = url.parse().expect("url");
    edu_kit::server::DatabaseReadiness::new(options, Duration::from_secs(1))
}

async fn health_of(channel: &Channel, service: &str) -> ServingStatus {
    HealthClient::new(channel.clone())
        .check(HealthCheckRequest {
            service: service.into(),
        })
        .await
        .expect("health")
        .into_inner()
        .status()
}

#[tokio::test]
async fn health_says_serving_only_while_the_database_answers() {
    // A port nobody listens on: the database "is down".
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr");
    let down = start_with(
        10,
        Duration::ZERO,
        Some(readiness(&format!("postgres://postgres@{closed}/postgres"))),
    )
    .await;
    // The first check runs at start; poll until it has reported.
    let mut status = health_of(&down.channel, "edu.gateway.v1.GatewayService").await;
    for _ in 0..50 {
        if status == ServingStatus::NotServing {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        status = health_of(&down.channel, "edu.gateway.v1.GatewayService").await;
    }
    assert_eq!(status, ServingStatus::NotServing);
    assert_eq!(
        health_of(&down.channel, "").await,
        ServingStatus::NotServing
    );
    assert_eq!(
        health_of(&down.channel, edu_kit::server::LIVENESS).await,
        ServingStatus::Serving,
        "a database outage makes the process unready, not dead"
    );
    let _ = down.stop.send(());
    down.task.await.expect("task").expect("clean stop");

    let up = start_with(
        10,
        Duration::ZERO,
        Some(readiness(&edu_kit::testing::admin_url())),
    )
    .await;
    let mut status = health_of(&up.channel, "").await;
    for _ in 0..50 {
        if status == ServingStatus::Serving {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        status = health_of(&up.channel, "").await;
    }
    assert_eq!(status, ServingStatus::Serving);
    let _ = up.stop.send(());
    up.task.await.expect("task").expect("clean stop");
}
