//! Starts the whole suite for one test on a database of its own, and cleans up after it.

#![allow(dead_code)]

use std::net::SocketAddr;

use edu_devstack::process::Logs;
use edu_devstack::suite::{self, Suite, SuiteOptions};
use edu_kit::auth::dev::DevToken;
use edu_suite_tests::connect;
use tonic::transport::Channel;

/// A running suite on a fresh database.
pub struct TestSuite {
    suite: Option<Suite>,
    admin_url: String,
    database: String,
    logs: std::path::PathBuf,
}

impl TestSuite {
    /// Starts every service and the gateway on a new database; logs go to
    /// `target/<profile>/e2e-logs/<database>/`.
    pub async fn start() -> TestSuite {
        TestSuite::start_with(Vec::new()).await
    }

    /// Starts the suite with extra variables for every process.
    pub async fn start_with(extra_env: Vec<(String, String)>) -> TestSuite {
        TestSuite::start_replicated(extra_env, 1).await
    }

    /// Starts the suite with `replicas` processes of each service behind the gateway.
    pub async fn start_replicated(extra_env: Vec<(String, String)>, replicas: usize) -> TestSuite {
        let admin_url = edu_kit::testing::admin_url();
        let database = format!("edu_e2e_{}", uuid::Uuid::new_v4().simple());
        let bin_dir = edu_devstack::binaries_dir();
        let logs = bin_dir.join("e2e-logs").join(&database);
        let suite = Suite::start(SuiteOptions {
            admin_url: admin_url.clone(),
            database: database.clone(),
            bin_dir,
            gateway_port: 0,
            fixed_ports: false,
            logs: Logs::Files(logs.clone()),
            extra_env,
            replicas,
        })
        .await;
        let suite = match suite {
            Ok(suite) => suite,
            Err(e) => {
                let _ = suite::drop_database(&admin_url, &database).await;
                panic!("the suite did not start: {e}");
            }
        };
        TestSuite {
            suite: Some(suite),
            admin_url,
            database,
            logs,
        }
    }

    /// The running suite's processes.
    pub fn suite(&self) -> &Suite {
        self.suite.as_ref().expect("running")
    }

    /// The gateway's address.
    pub fn gateway_addr(&self) -> SocketAddr {
        self.suite().gateway_addr()
    }

    /// A connection to the gateway.
    pub async fn gateway(&self) -> Channel {
        connect(self.gateway_addr()).await
    }

    /// The gateway's metrics address.
    pub fn gateway_metrics_addr(&self) -> SocketAddr {
        self.suite().gateway_metrics_addr()
    }

    /// A service's metrics address.
    pub fn service_metrics_addr(&self, name: &str) -> SocketAddr {
        self.suite()
            .services()
            .iter()
            .find(|p| p.name() == name)
            .map(|p| p.metrics_addr)
            .expect("service")
    }

    /// A connection straight to a service, bypassing the gateway.
    pub async fn service(&self, name: &str) -> Channel {
        connect(self.suite().service_addr(name).expect("service")).await
    }

    /// The name of the suite's database.
    pub fn database_name(&self) -> &str {
        &self.database
    }

    /// A pool on the suite's database as administrator, to look at what the services wrote.
    pub async fn database(&self) -> sqlx::PgPool {
        suite::admin_pool(&self.admin_url, Some(&self.database))
            .await
            .expect("admin pool")
    }

    /// Replaces one process (`certificates`, `certificates-2`) as a rolling restart does.
    pub async fn restart(&mut self, name: &str) {
        self.suite
            .as_mut()
            .expect("running")
            .restart(name)
            .await
            .unwrap_or_else(|e| panic!("{name} restarts: {e}"));
    }

    /// Stops one service with SIGTERM, leaving the others running.
    pub async fn stop_service(&mut self, name: &str) {
        let suite = self.suite.take().expect("running");
        let (stopped, rest) = suite.without(name);
        self.suite = Some(rest);
        stopped
            .expect("service")
            .stop(std::time::Duration::from_secs(30))
            .await
            .expect("stops");
    }

    /// Stops everything and drops the database.
    pub async fn stop(mut self) {
        if let Some(suite) = self.suite.take() {
            suite.stop().await.expect("the suite stops cleanly");
        }
        suite::drop_database(&self.admin_url, &self.database)
            .await
            .expect("drop database");
    }
}

impl Drop for TestSuite {
    fn drop(&mut self) {
        // A failed test: the processes die with their handles; the database is dropped
        // from a thread of its own, as the test's runtime may be unwinding.
        if self.suite.take().is_some() {
            let (admin_url, database) = (self.admin_url.clone(), self.database.clone());
            let _ = std::thread::spawn(move || {
                if let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    let _ = runtime.block_on(suite::drop_database(&admin_url, &database));
                }
            })
            .join();
        }
    }
}

/// A request with a bearer token.
pub fn authorised<T>(token: &str, body: T) -> tonic::Request<T> {
    edu_kit::client::with_bearer(tonic::Request::new(body), token)
}

pub use edu_kit::client::at_instant;

pub fn organiser_token() -> String {
    DevToken::new("e2e-organiser")
        .role("competitions.organiser")
        .sign()
}

pub fn team_token(subject: &str, region: &str) -> String {
    DevToken::new(subject)
        .role("competitions.team")
        .scope(format!("region:{region}"))
        .sign()
}

pub use edu_kit::testing::assert_refused;

/// `text` percent-encoded as `x-edu-purpose` takes it.
pub fn percent_encoded(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b' ' || b == b'-' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// `body` with a bearer token and a stated purpose.
pub fn with_purpose<T>(token: &str, purpose: &str, body: T) -> tonic::Request<T> {
    let mut request = authorised(token, body);
    request.metadata_mut().insert(
        edu_kit::context::PURPOSE_HEADER,
        tonic::metadata::MetadataValue::try_from(percent_encoded(purpose)).expect("ASCII"),
    );
    request
}

/// An inspector of every service that keeps children's records.
pub fn inspector() -> String {
    DevToken::new("e2e-inspector")
        .role("certificates.inspector")
        .role("mentoring.inspector")
        .role("aid.inspector")
        .sign()
}

/// Every record `request` lists, page after page.
pub async fn list_audit_records(
    audit: &mut edu_proto::edu::audit::v1::audit_service_client::AuditServiceClient<
        tonic::transport::Channel,
    >,
    token: &str,
    request: edu_proto::edu::audit::v1::ListAuditRecordsRequest,
) -> Result<Vec<edu_proto::edu::audit::v1::AuditRecord>, tonic::Status> {
    let mut records = Vec::new();
    let mut request = request;
    loop {
        let page = audit
            .list_audit_records(authorised(token, request.clone()))
            .await?
            .into_inner();
        records.extend(page.records);
        if page.next_page_token.is_empty() {
            return Ok(records);
        }
        request.page_token = page.next_page_token;
    }
}
