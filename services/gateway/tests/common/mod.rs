//! Starting the real gateway binary for a test, in development mode, in front of the
//! backends a test gives it.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use edu_devstack::process::{Logs, Process};
use tonic::transport::Channel;

/// A loopback address nobody listens on yet.
pub fn free_addr() -> SocketAddr {
    let port = edu_devstack::postgres::free_port(0).expect("free port");
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Starts the gateway with `backend` as its competitions backend, waits until its health
/// reports `ready` (`""` for the gateway itself) as SERVING, and connects to it.
#[allow(dead_code)] // Not every test target starts its gateway this way.
pub async fn start_gateway(backend: SocketAddr, ready: &str) -> (Process, Channel) {
    start_gateway_with(&format!("competitions={backend}"), &[], &[ready]).await
}

/// Starts the gateway with `backends` as the whole `EDU_GATEWAY_BACKENDS` value and `extra`
/// variables besides, waits until its health reports each of `ready` (`""` for the gateway
/// itself) as SERVING, and connects to it.
pub async fn start_gateway_with(
    backends: &str,
    extra: &[(&str, &str)],
    ready: &[&str],
) -> (Process, Channel) {
    let (grpc, metrics) = (free_addr(), free_addr());
    let mut env = vec![
        ("EDU_ENVIRONMENT".to_string(), "development".to_string()),
        ("EDU_GRPC_ADDR".to_string(), grpc.to_string()),
        ("EDU_METRICS_ADDR".to_string(), metrics.to_string()),
        ("EDU_GATEWAY_BACKENDS".to_string(), backends.to_string()),
        (
            "EDU_GATEWAY_CHECK_INTERVAL_MS".to_string(),
            "200".to_string(),
        ),
    ];
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let logs = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("gateway-{}", grpc.port()));
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
    for service in ready {
        gateway
            .wait_serving(service, Duration::from_secs(30))
            .await
            .unwrap_or_else(|e| panic!("the gateway reports {service:?} serving: {e}"));
    }
    let channel = edu_kit::client::endpoint(format!("http://{grpc}"))
        .expect("endpoint")
        .connect()
        .await
        .expect("connect");
    (gateway, channel)
}

/// A gateway process spawned with `env` on top of development mode and its addresses
/// (a later entry of `env` wins), serving whatever the variables say, TLS included.
#[allow(dead_code)] // Not every test target starts its gateway this way.
pub struct Spawned {
    pub process: Process,
    /// The gRPC address.
    pub grpc: SocketAddr,
    /// The plaintext probe listener (health only).
    pub probe: SocketAddr,
}

#[allow(dead_code)] // Not every test target starts its gateway this way.
pub fn spawn_gateway(env: &[(&str, String)]) -> Spawned {
    let (grpc, metrics, probe) = (free_addr(), free_addr(), free_addr());
    let mut all = vec![
        ("EDU_ENVIRONMENT".to_string(), "development".to_string()),
        ("EDU_GRPC_ADDR".to_string(), grpc.to_string()),
        ("EDU_METRICS_ADDR".to_string(), metrics.to_string()),
        ("EDU_PROBE_ADDR".to_string(), probe.to_string()),
        (
            "EDU_GATEWAY_CHECK_INTERVAL_MS".to_string(),
            "200".to_string(),
        ),
    ];
    for (key, value) in env {
        all.retain(|(k, _)| k != key);
        all.push((key.to_string(), value.clone()));
    }
    let logs = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("gateway-{}", grpc.port()));
    let process = Process::spawn(
        "gateway",
        Path::new(env!("CARGO_BIN_EXE_gateway")),
        &[],
        &all,
        grpc,
        metrics,
        &Logs::Files(logs),
    )
    .expect("spawn");
    Spawned {
        process,
        grpc,
        probe,
    }
}

/// [`spawn_gateway`], then waits on the probe listener until the gateway's health reports
/// each of `ready` (`""` for the gateway itself) SERVING.
#[allow(dead_code)] // Not every test target starts its gateway this way.
pub async fn start_gateway_probed(env: &[(&str, String)], ready: &[&str]) -> Spawned {
    let mut spawned = spawn_gateway(env);
    for service in ready {
        spawned
            .process
            .wait_serving_at(spawned.probe, service, Duration::from_secs(30))
            .await
            .unwrap_or_else(|e| panic!("the gateway reports {service:?} serving: {e}"));
    }
    spawned
}

/// Serves `routes` and a health service reporting SERVING on a fresh loopback port.
#[allow(dead_code)] // Not every test target serves fake services this way.
pub async fn serve(routes: tonic::service::Routes) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (health, health_service) = tonic_health::server::health_reporter();
    health
        .set_service_status("", tonic_health::ServingStatus::Serving)
        .await;
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_routes(routes.add_service(health_service))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    addr
}
