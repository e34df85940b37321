//! End-to-end tests of the suite live in `suite/`: each starts the real binaries on a fresh
//! database (with `edu-devstack`, as the local run command does) and calls them through the
//! gateway over gRPC. `rehearsal/` starts them as the Kubernetes `dev` overlay declares.
//! The binaries must be built first; `cargo test --workspace` builds them because the
//! service crates have integration tests of their own.
//!
//! This library holds what both test targets need to talk to a running process.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::transport::Channel;

/// A gRPC connection to a running process.
pub async fn connect(addr: SocketAddr) -> Channel {
    edu_kit::client::endpoint(format!("http://{addr}"))
        .expect("endpoint")
        .connect()
        .await
        .unwrap_or_else(|e| panic!("connect to {addr}: {e}"))
}

/// Scrapes `/metrics` as Prometheus would and returns the whole response; fails unless the
/// answer is 200.
pub async fn scrape_metrics(addr: SocketAddr) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("metrics port {addr}: {e}"));
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: metrics\r\nConnection: close\r\n\r\n")
        .await
        .expect("request");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .await
        .expect("response");
    assert!(
        response.starts_with("HTTP/1.1 200"),
        "/metrics on {addr} answered {}",
        response.lines().next().unwrap_or("nothing")
    );
    response
}
