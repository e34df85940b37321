//! Mutual TLS at a process's gRPC listener (issue 18, item 2), against the real server
//! runner over real TCP: a mapped client certificate is its caller (and a token beats it),
//! an unmapped one is PERMISSION_DENIED `CERTIFICATE_NOT_MAPPED`, and a certificate from
//! another CA, an expired one, or none where one is required fail the handshake — the
//! handler never runs. The identities file is re-read when it changes.

mod pki;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use edu_kit::CallContext;
use edu_kit::auth::TokenVerifier;
use edu_kit::auth::dev::DevToken;
use edu_kit::clock::Clock;
use edu_kit::config::{AuthConfig, Environment, Limits, ServerConfig};
use edu_kit::protection::ProtectionLimits;
use edu_kit::server::Server;
use edu_kit::tls::{ClientCertificates, TlsFiles};
use edu_proto::edu::gateway::v1 as pb;
use edu_proto::edu::gateway::v1::gateway_service_client::GatewayServiceClient;
use edu_proto::edu::gateway::v1::gateway_service_server::{GatewayService, GatewayServiceServer};
use pki::{Authority, Issued};
use tokio::sync::oneshot;
use tonic::service::Routes;
use tonic::transport::{Certificate, ClientTlsConfig, Identity};
use tonic::{Code, Request, Response, Status};
use tonic_types::StatusExt;

/// Says who called, and counts the calls that reached it.
#[derive(Clone, Default)]
struct WhoCalls {
    reached: Arc<AtomicUsize>,
}

#[tonic::async_trait]
impl GatewayService for WhoCalls {
    async fn list_backends(
        &self,
        request: Request<pb::ListBackendsRequest>,
    ) -> Result<Response<pb::ListBackendsResponse>, Status> {
        self.reached.fetch_add(1, Ordering::SeqCst);
        let caller = CallContext::of(&request)?.caller()?;
        let mut roles: Vec<&str> = caller.roles().collect();
        roles.sort();
        Ok(Response::new(pb::ListBackendsResponse {
            backends: vec![pb::Backend {
                name: caller.subject().to_string(),
                packages: roles.into_iter().map(String::from).collect(),
                ..Default::default()
            }],
            ..Default::default()
        }))
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

const IDENTITIES: &str = r#"
# The regional registry's system, by the DNS name in its certificate.
- san: registry.example.gov
  subject: system:registry
  roles: [gateway.operator]
  scopes: ["region:RU-ALT"]
"#;

struct Setup {
    dir: std::path::PathBuf,
    server_ca: Authority,
    client_ca: Authority,
    identities: std::path::PathBuf,
}

impl Setup {
    fn new(name: &str) -> Self {
        let dir = pki::scratch(name);
        let identities = pki::write(&dir, "identities.yaml", IDENTITIES);
        Setup {
            dir,
            server_ca: Authority::new("server CA"),
            client_ca: Authority::new("client CA"),
            identities,
        }
    }
}

struct Running {
    addr: std::net::SocketAddr,
    service: WhoCalls,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), edu_kit::server::ServerError>>,
}

async fn start(setup: &Setup, required: bool) -> Running {
    let server = setup.server_ca.server(&["localhost"]);
    let tls = TlsFiles {
        cert: pki::write(&setup.dir, "tls.crt", &server.cert),
        key: pki::write(&setup.dir, "tls.key", &server.key),
        check_every: Duration::from_millis(100),
    };
    let clients = ClientCertificates {
        ca_file: pki::write(&setup.dir, "client-ca.crt", &setup.client_ca.pem()),
        required,
        identities_file: Some(setup.identities.clone()),
    };
    let config = ServerConfig {
        environment: Environment::Development,
        grpc_addr: "127.0.0.1:0".parse().expect("addr"),
        metrics_addr: "127.0.0.1:0".parse().expect("addr"),
        limits: Limits {
            max_message_bytes: 1024 * 1024,
            protection: ProtectionLimits {
                max_calls_in_flight: 1024,
                rate_per_second: 0,
                rate_burst: 0,
            },
            max_concurrent_streams: 100,
            default_deadline: Duration::from_secs(10),
            max_stream: Duration::from_secs(60),
        },
        shutdown_timeout: Duration::from_secs(10),
        shutdown_delay: Duration::ZERO,
        health_check_interval: Duration::from_millis(100),
        tls: Some(tls),
        probe_addr: None,
        client_certificates: Some(clients),
    };
    let verifier = TokenVerifier::from_config(&AuthConfig::development()).expect("keys");
    let server = Server::new("test", config, verifier, Clock::system())
        .advertise("edu.gateway.v1.GatewayService");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = oneshot::channel::<()>();
    let service = WhoCalls::default();
    let routes = Routes::new(GatewayServiceServer::new(service.clone()));
    let task = tokio::spawn(server.run(routes, listener, None, async {
        let _ = stopped.await;
    }));
    Running {
        addr,
        service,
        stop,
        task,
    }
}

impl Running {
    async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.expect("task").expect("clean stop");
    }

    /// One call with `certificate` and `token` (either may be absent), on a new
    /// connection: the caller's subject and roles, or the status.
    async fn call(
        &self,
        server_ca: &str,
        certificate: Option<&Issued>,
        token: Option<&str>,
    ) -> Result<(String, Vec<String>), Status> {
        let mut tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(server_ca))
            .domain_name("localhost");
        if let Some(issued) = certificate {
            tls = tls.identity(Identity::from_pem(&issued.cert, &issued.key));
        }
        let channel = edu_kit::client::endpoint(format!("https://localhost:{}", self.addr.port()))
            .map_err(|e| Status::unavailable(e.to_string()))?
            .tls_config(tls)
            .map_err(|e| Status::unavailable(e.to_string()))?
            .connect()
            .await
            .map_err(|e| Status::unavailable(format!("connect: {e:?}")))?;
        let mut request = Request::new(pb::ListBackendsRequest::default());
        if let Some(token) = token {
            request = edu_kit::client::with_bearer(request, token);
        }
        let answer = GatewayServiceClient::new(channel)
            .list_backends(request)
            .await?
            .into_inner();
        let backend = answer.backends.into_iter().next().unwrap_or_default();
        Ok((backend.name, backend.packages))
    }

    fn reached(&self) -> usize {
        self.service.reached.load(Ordering::SeqCst)
    }
}

/// Refused by the handshake with the TLS `alert`: the server's alert is `alert`, a call
/// with the same certificate fails with no status of the kit's own (an authentication
/// refusal would mean a decision after the handshake), and no handler ran.
async fn refused_at_the_handshake(
    running: &Running,
    server_ca: &str,
    certificate: Option<&Issued>,
    alert: &str,
) {
    let refused = pki::handshake(running.addr, server_ca, certificate)
        .await
        .expect_err("the handshake fails");
    assert!(
        refused.contains(&format!("fatal alert: {alert}")),
        "the server's alert is {alert}: {refused}"
    );
    let token = DevToken::new("alice").sign();
    let status = running
        .call(server_ca, certificate, Some(&token))
        .await
        .expect_err("refused");
    assert!(
        !matches!(
            status.code(),
            Code::Unauthenticated | Code::PermissionDenied | Code::Ok
        ),
        "refused by the handshake, not the pipeline: {status:?}"
    );
    assert_eq!(running.reached(), 0, "no handler ran");
}

#[tokio::test]
async fn a_mapped_certificate_is_its_caller_and_a_token_beats_it() {
    let setup = Setup::new("mtls-mapped");
    let running = start(&setup, false).await;
    let registry = setup.client_ca.client("registry.example.gov", false);
    let ca = setup.server_ca.pem();

    let (subject, roles) = running
        .call(&ca, Some(&registry), None)
        .await
        .expect("the certificate's caller");
    assert_eq!(subject, "system:registry");
    assert_eq!(roles, ["gateway.operator"]);

    let token = DevToken::new("alice").role("gateway.viewer").sign();
    let (subject, roles) = running
        .call(&ca, Some(&registry), Some(&token))
        .await
        .expect("the token's caller");
    assert_eq!(subject, "alice", "a caller with both is the token's");
    assert_eq!(roles, ["gateway.viewer"]);

    // Optional: without a certificate a token is needed, and enough.
    let (subject, _) = running
        .call(&ca, None, Some(&token))
        .await
        .expect("a token alone");
    assert_eq!(subject, "alice");
    let anonymous = running.call(&ca, None, None).await.expect_err("nobody");
    assert_eq!(anonymous.code(), Code::Unauthenticated);
    running.stop().await;
    std::fs::remove_dir_all(&setup.dir).ok();
}

#[tokio::test]
async fn a_valid_certificate_no_entry_names_is_permission_denied() {
    let setup = Setup::new("mtls-unmapped");
    let running = start(&setup, true).await;
    let stranger = setup.client_ca.client("unknown-system.example.gov", false);
    let status = running
        .call(&setup.server_ca.pem(), Some(&stranger), None)
        .await
        .expect_err("not mapped");
    assert_eq!(status.code(), Code::PermissionDenied);
    assert_eq!(
        status
            .get_error_details()
            .error_info()
            .map(|i| i.reason.as_str()),
        Some("CERTIFICATE_NOT_MAPPED")
    );
    assert_eq!(running.reached(), 0);
    running.stop().await;
    std::fs::remove_dir_all(&setup.dir).ok();
}

#[tokio::test]
async fn another_cas_certificate_an_expired_one_or_none_where_required_fail_the_handshake() {
    let setup = Setup::new("mtls-refused");
    let running = start(&setup, true).await;
    let ca = setup.server_ca.pem();
    let foreign = Authority::new("another CA").client("registry.example.gov", false);
    refused_at_the_handshake(&running, &ca, Some(&foreign), "UnknownCA").await;
    let expired = setup.client_ca.client("registry.example.gov", true);
    refused_at_the_handshake(&running, &ca, Some(&expired), "CertificateExpired").await;
    // Required: a token does not make up for the missing certificate.
    refused_at_the_handshake(&running, &ca, None, "CertificateRequired").await;

    // The same certificate, valid and from the right CA, gets through.
    let registry = setup.client_ca.client("registry.example.gov", false);
    running
        .call(&ca, Some(&registry), None)
        .await
        .expect("a good certificate");
    assert_eq!(running.reached(), 1);
    running.stop().await;
    std::fs::remove_dir_all(&setup.dir).ok();
}

#[tokio::test]
async fn the_identities_file_is_read_again_when_it_changes() {
    let setup = Setup::new("mtls-reload");
    let running = start(&setup, false).await;
    let ca = setup.server_ca.pem();
    let newcomer = setup
        .client_ca
        .client("spiffe://gov.example/aid-exchange", false);
    let refused = running
        .call(&ca, Some(&newcomer), None)
        .await
        .expect_err("not yet listed");
    assert_eq!(refused.code(), Code::PermissionDenied);

    let listed = format!(
        "{IDENTITIES}- san: spiffe://gov.example/aid-exchange\n  subject: system:aid-exchange\n"
    );
    write_later(&setup.identities, &listed).await;
    let until = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut outcome = running.call(&ca, Some(&newcomer), None).await;
    while outcome.is_err() && tokio::time::Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(100)).await;
        outcome = running.call(&ca, Some(&newcomer), None).await;
    }
    assert_eq!(outcome.expect("listed now").0, "system:aid-exchange");
    running.stop().await;
    std::fs::remove_dir_all(&setup.dir).ok();
}

/// Rewrites a file so that its modification time differs from the last read's even on a
/// file system with coarse timestamps.
async fn write_later(path: &Path, text: &str) {
    tokio::time::sleep(Duration::from_millis(20)).await;
    let dir = path.parent().expect("dir");
    let name = path.file_name().expect("name").to_string_lossy();
    pki::write(dir, &name, text);
}
