//! The suite under hostile callers and faults (issue 12): oversized requests from anonymous
//! callers never fail anyone else's calls, database connections killed under load give
//! retryable answers that a retry with the same request id completes exactly once, every
//! call ends with a status by its deadline, and replicas restart one after another under
//! load without a failed call.

// The figures these tests print (methods, calls, failures) are part of what they report.
#![allow(clippy::print_stdout)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use edu_certificates::demo;
use edu_kit::auth::dev::DevToken;
use edu_proto::edu::certificates::v1 as cert;
use edu_proto::edu::certificates::v1::period_service_client::PeriodServiceClient;
use edu_proto::edu::certificates::v1::programme_service_client::ProgrammeServiceClient;
use edu_proto::edu::competitions::v1 as comp;
use edu_proto::edu::competitions::v1::event_service_client::EventServiceClient;
use tokio_stream::StreamExt;
use tonic::Code;

use crate::harness::*;

fn operator() -> String {
    DevToken::new("robust-moc")
        .role("certificates.operator")
        .scope(format!(
            "municipality:{}/{}",
            demo::REGION,
            demo::MUNICIPALITY
        ))
        .sign()
}

fn with_deadline<T>(mut request: tonic::Request<T>, deadline: Duration) -> tonic::Request<T> {
    request.set_timeout(deadline);
    request
}

/// A read through the gateway that touches the database: the demo's period.
async fn read_period(channel: tonic::transport::Channel, token: &str) -> Result<(), tonic::Status> {
    PeriodServiceClient::new(channel)
        .get_period(authorised(
            token,
            cert::GetPeriodRequest {
                name: format!("periods/{}", demo::PERIOD_ID),
            },
        ))
        .await
        .map(|_| ())
}

/// Issue 12, item 1: four anonymous callers send names and queries of 20 KB for three
/// seconds; another caller's calls meanwhile all succeed, and no backend leaves rotation.
#[tokio::test]
async fn oversized_anonymous_calls_never_fail_another_callers_calls() {
    let suite = TestSuite::start().await;
    demo::load(suite.gateway().await).await.expect("demo");
    let stop = Arc::new(AtomicBool::new(false));
    let refused = Arc::new(AtomicUsize::new(0));
    let mut hostile = Vec::new();
    for n in 0..4 {
        let channel = suite.gateway().await;
        let (stop, refused) = (Arc::clone(&stop), Arc::clone(&refused));
        hostile.push(tokio::spawn(async move {
            let huge = "я".repeat(10_000);
            while !stop.load(Ordering::Relaxed) {
                let mut programmes = ProgrammeServiceClient::new(channel.clone());
                let answer = if n % 2 == 0 {
                    programmes
                        .search_programmes(cert::SearchProgrammesRequest {
                            region_code: huge.clone(),
                            municipality_code: huge.clone(),
                            ..Default::default()
                        })
                        .await
                        .map(|_| ())
                } else {
                    programmes
                        .get_programme(cert::GetProgrammeRequest {
                            name: format!("providers/{huge}/programmes/{huge}"),
                        })
                        .await
                        .map(|_| ())
                };
                let status = answer.expect_err("oversized");
                assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
                refused.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let token = operator();
    let started = Instant::now();
    let mut calls = 0;
    let mut failures = Vec::new();
    while started.elapsed() < Duration::from_secs(3) {
        if let Err(status) = read_period(suite.gateway().await, &token).await {
            failures.push(format!("{:?} {}", status.code(), status.message()));
        }
        calls += 1;
    }
    stop.store(true, Ordering::Relaxed);
    for task in hostile {
        task.await.expect("hostile caller");
    }
    println!(
        "robustness: {calls} calls of another caller beside {} oversized anonymous calls; {} failed",
        refused.load(Ordering::Relaxed),
        failures.len()
    );
    assert!(failures.is_empty(), "{failures:?}");
    let statuses = GatewayStatus::read(&suite).await;
    assert!(statuses.all_serving(), "{statuses:?}");
    suite.stop().await;
}

/// The gateway's view of its backends' endpoints.
#[derive(Debug)]
struct GatewayStatus(Vec<(String, String, bool)>);

impl GatewayStatus {
    async fn read(suite: &TestSuite) -> GatewayStatus {
        use edu_proto::edu::gateway::v1 as gw;
        let token = DevToken::new("robust-ops").role("gateway.operator").sign();
        let backends = gw::gateway_service_client::GatewayServiceClient::new(suite.gateway().await)
            .list_backends(authorised(&token, gw::ListBackendsRequest::default()))
            .await
            .expect("backends")
            .into_inner()
            .backends;
        GatewayStatus(
            backends
                .into_iter()
                .flat_map(|b| {
                    b.endpoints.into_iter().map(move |e| {
                        (
                            b.name.clone(),
                            e.address,
                            e.state == gw::EndpointState::Serving as i32,
                        )
                    })
                })
                .collect(),
        )
    }

    fn all_serving(&self) -> bool {
        self.0.iter().all(|(_, _, serving)| *serving)
    }

    fn serving(&self, backend: &str) -> usize {
        self.0
            .iter()
            .filter(|(b, _, serving)| b.ends_with(backend) && *serving)
            .count()
    }
}

/// Issue 12, item 4: the service's database connections are terminated over and over under
/// load; no caller hears INTERNAL, and every creation retried with its request id after an
/// UNAVAILABLE or ABORTED answer ends created exactly once.
#[tokio::test]
async fn terminated_database_connections_are_retryable_and_retries_create_once() {
    let suite = TestSuite::start().await;
    let database = suite.database().await;
    let stop = Arc::new(AtomicBool::new(false));
    let terminator = {
        let (database, stop, name) = (
            database.clone(),
            Arc::clone(&stop),
            suite.database_name().to_string(),
        );
        tokio::spawn(async move {
            let mut killed = 0i64;
            while !stop.load(Ordering::Relaxed) {
                let n: i64 = sqlx::query_scalar(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                     WHERE datname = $1 AND usename = 'certificates'",
                )
                .bind(&name)
                .fetch_one(&database)
                .await
                .expect("terminate");
                killed += n;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            killed
        })
    };
    let token = operator();
    let mut workers = Vec::new();
    for worker in 0..6 {
        let channel = suite.gateway().await;
        let token = token.clone();
        workers.push(tokio::spawn(async move {
            let mut internal = Vec::new();
            let mut retried = 0;
            for n in 0..10 {
                let id = format!("robust-{worker}-{n}");
                let request = cert::CreateProviderRequest {
                    provider: Some(cert::Provider {
                        display_name: format!("Поставщик {worker}-{n}"),
                        tax_id: format!("77{worker:02}{n:06}"),
                        region_code: demo::REGION.into(),
                        municipality_code: demo::MUNICIPALITY.into(),
                        ..Default::default()
                    }),
                    provider_id: id.clone(),
                    request_id: uuid::Uuid::new_v4().to_string(),
                };
                let mut attempts = 0;
                loop {
                    attempts += 1;
                    let answer = ProgrammeServiceClient::new(channel.clone())
                        .create_provider(authorised(&token, request.clone()))
                        .await;
                    match answer {
                        Ok(_) => break,
                        Err(s) if matches!(s.code(), Code::Unavailable | Code::Aborted) => {
                            retried += 1;
                            assert!(attempts < 50, "{id}: no success in 50 attempts: {s:?}");
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                        Err(s) => {
                            internal.push(format!("{id}: {:?} {}", s.code(), s.message()));
                            break;
                        }
                    }
                }
            }
            (internal, retried)
        }));
    }
    let mut wrong = Vec::new();
    let mut retried = 0;
    for worker in workers {
        let (w, r) = worker.await.expect("worker");
        wrong.extend(w);
        retried += r;
    }
    stop.store(true, Ordering::Relaxed);
    let killed = terminator.await.expect("terminator");
    let created: i64 =
        sqlx::query_scalar("SELECT count(*) FROM certificates.providers WHERE id LIKE 'robust-%'")
            .fetch_one(&database)
            .await
            .expect("count");
    println!(
        "robustness: {killed} database connections terminated under 60 creations; {retried} retryable answers; {} other",
        wrong.len()
    );
    assert!(wrong.is_empty(), "{wrong:?}");
    assert_eq!(created, 60, "every creation exactly once");
    assert!(killed > 0, "the test terminated nothing");
    database.close().await;
    suite.stop().await;
}

/// Issue 12, item 5: a stream with a 50 ms deadline ends with DEADLINE_EXCEEDED, directly
/// and through the gateway; unary calls whose deadline runs out while the database holds
/// them are DEADLINE_EXCEEDED, never UNAVAILABLE or without a status.
#[tokio::test]
async fn every_call_ends_with_deadline_exceeded_at_its_deadline() {
    let suite = TestSuite::start().await;
    demo::load(suite.gateway().await).await.expect("demo");
    let consumer = DevToken::new("robust-consumer")
        .role("competitions.event_consumer")
        .sign();
    for (route, channel) in [
        ("gateway", suite.gateway().await),
        ("service", suite.service("competitions").await),
    ] {
        let started = Instant::now();
        let stream = EventServiceClient::new(channel)
            .watch_events(with_deadline(
                authorised(&consumer, comp::WatchEventsRequest::default()),
                Duration::from_millis(50),
            ))
            .await;
        let status = match stream {
            Err(status) => status,
            Ok(response) => {
                let mut stream = response.into_inner();
                loop {
                    match stream.next().await {
                        Some(Ok(_)) => {}
                        Some(Err(status)) => break status,
                        None => panic!("{route}: the stream ended without a status"),
                    }
                }
            }
        };
        let elapsed = started.elapsed();
        println!("robustness: a watch with a 50 ms deadline ended after {elapsed:?} ({route})");
        assert_eq!(status.code(), Code::DeadlineExceeded, "{route}: {status:?}");
        assert!(elapsed < Duration::from_secs(1), "{route}: {elapsed:?}");
    }

    // The period's row locked by an administrator holds every read of it.
    let database = suite.database().await;
    let mut lock = database.begin().await.expect("begin");
    sqlx::query("LOCK TABLE certificates.periods IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *lock)
        .await
        .expect("lock");
    let token = operator();
    for (route, channel) in [
        ("gateway", suite.gateway().await),
        ("service", suite.service("certificates").await),
    ] {
        for deadline in [150u64, 300] {
            let started = Instant::now();
            let answer = PeriodServiceClient::new(channel.clone())
                .get_period(with_deadline(
                    authorised(
                        &token,
                        cert::GetPeriodRequest {
                            name: format!("periods/{}", demo::PERIOD_ID),
                        },
                    ),
                    Duration::from_millis(deadline),
                ))
                .await;
            let elapsed = started.elapsed();
            let status = answer.expect_err("held by the lock");
            assert_eq!(
                (status.code(), edu_kit::testing::reason(&status)),
                (Code::DeadlineExceeded, "DEADLINE_EXCEEDED".to_string()),
                "{route}, {deadline} ms: {status:?}"
            );
            assert!(
                elapsed < Duration::from_millis(deadline + 500),
                "{route}: {elapsed:?}"
            );
        }
    }
    lock.rollback().await.expect("unlock");
    read_period(suite.gateway().await, &token)
        .await
        .expect("reads again once the lock is gone");
    database.close().await;
    suite.stop().await;
}

/// Issue 12, item 9: two replicas of each service behind the gateway, steady load, and the
/// certificates replicas restarted one after the other with the production shutdown delay:
/// no call fails. The gateway's check interval (500 ms here) is shorter than the delay.
#[tokio::test]
async fn a_rolling_restart_under_load_fails_no_call() {
    let mut suite = TestSuite::start_replicated(
        vec![(
            edu_kit::config::SHUTDOWN_DELAY_MS.to_string(),
            "1500".to_string(),
        )],
        2,
    )
    .await;
    demo::load(suite.gateway().await).await.expect("demo");
    let stop = Arc::new(AtomicBool::new(false));
    let token = operator();
    let mut load = Vec::new();
    for _ in 0..4 {
        let channel = suite.gateway().await;
        let (stop, token) = (Arc::clone(&stop), token.clone());
        load.push(tokio::spawn(async move {
            let (mut calls, mut failures) = (0usize, Vec::new());
            while !stop.load(Ordering::Relaxed) {
                if let Err(status) = read_period(channel.clone(), &token).await {
                    failures.push(format!("{:?} {}", status.code(), status.message()));
                }
                calls += 1;
            }
            (calls, failures)
        }));
    }
    for replica in ["certificates", "certificates-2"] {
        suite.restart(replica).await;
        // The next replica goes only once the gateway routes to this one again.
        let started = Instant::now();
        while GatewayStatus::read(&suite).await.serving("certificates") < 2 {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "{replica} never came back"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    stop.store(true, Ordering::Relaxed);
    let (mut calls, mut failures) = (0, Vec::new());
    for task in load {
        let (c, f) = task.await.expect("load");
        calls += c;
        failures.extend(f);
    }
    println!(
        "robustness: {calls} calls during a rolling restart of two replicas; {} failed",
        failures.len()
    );
    assert!(calls > 100, "the load ran: {calls}");
    assert!(failures.is_empty(), "{failures:?}");
    suite.stop().await;
}

/// Issue 12, item 9: with a single replica, the calls that arrive during its shutdown delay
/// are still served (the gateway routes to an endpoint that reports NOT_SERVING when it has
/// no other), rather than refused.
#[tokio::test]
async fn a_single_replica_serves_calls_during_its_shutdown_delay() {
    let suite = TestSuite::start_with(vec![(
        edu_kit::config::SHUTDOWN_DELAY_MS.to_string(),
        "2000".to_string(),
    )])
    .await;
    demo::load(suite.gateway().await).await.expect("demo");
    let token = operator();
    let pid = suite
        .suite()
        .services()
        .iter()
        .find(|p| p.name() == "certificates")
        .and_then(|p| p.pid())
        .expect("certificates runs");
    let terminated = tokio::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .await
        .expect("kill");
    assert!(terminated.success());
    let started = Instant::now();
    let (mut calls, mut failures) = (0, Vec::new());
    // Well inside the delay, past the gateway's next health check (500 ms here).
    while started.elapsed() < Duration::from_millis(1_500) {
        if let Err(status) = read_period(suite.gateway().await, &token).await {
            failures.push(format!(
                "{:?} after {:?}: {}",
                status.code(),
                started.elapsed(),
                status.message()
            ));
        }
        calls += 1;
    }
    println!(
        "robustness: {calls} calls during a single replica's shutdown delay; {} failed",
        failures.len()
    );
    assert!(failures.is_empty(), "{failures:?}");
}
