//! The real gateway binary over TLS (issue 18, items 2 and 3): a government system calls
//! with a client certificate and no token; the gateway maps it to a caller, mints a
//! short-lived token for it and forwards the call over TLS to a backend that verifies that
//! token itself (the kit's verifier, trusting the gateway's issuer by its public key) —
//! for a proxied call and for the region summary. Each refusal: a certificate no entry
//! names (PERMISSION_DENIED `CERTIFICATE_NOT_MAPPED`), one from another CA, an expired one,
//! none where one is required (the handshake fails). And the backend over TLS: reached with
//! the right CA, not without it or with a wrong one; in production the gateway will not
//! start without it.

mod common;
// The certificates and keys the kit's tests make (rcgen, at test time).
#[path = "../../../shared/kit/tests/pki/mod.rs"]
mod pki;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{Spawned, spawn_gateway, start_gateway_probed};
use edu_kit::CallContext;
use edu_kit::auth::TokenVerifier;
use edu_kit::auth::dev::DevToken;
use edu_kit::clock::Clock;
use edu_kit::config::{AuthConfig, Environment, Limits, ServerConfig, TrustedIssuer};
use edu_kit::protection::ProtectionLimits;
use edu_kit::server::Server;
use edu_kit::tls::TlsFiles;
use edu_proto::edu::competitions::v1 as pb;
use edu_proto::edu::competitions::v1::results_service_client::ResultsServiceClient;
use edu_proto::edu::competitions::v1::results_service_server::{
    ResultsService, ResultsServiceServer,
};
use edu_proto::edu::gateway::v1 as gateway_pb;
use edu_proto::edu::gateway::v1::gateway_service_client::GatewayServiceClient;
use pki::{Authority, Issued, SigningKey};
use tokio::sync::oneshot;
use tonic::service::Routes;
use tonic::transport::{Certificate, ClientTlsConfig, Identity};
use tonic::{Code, Request, Response, Status};
use tonic_types::StatusExt;

const GATEWAY_ISSUER: &str = "https://gateway.edu-suite.test";

const IDENTITIES: &str = r#"
- san: registry.example.gov
  subject: system:registry
  name: Региональный реестр
  roles: [competitions.observer]
  scopes: ["region:RU-ALT"]
"#;

/// A competitions backend that says who called it, as its own token check saw them.
#[derive(Clone, Default)]
struct WhoCalls {
    reached: Arc<AtomicUsize>,
}

fn caller_metadata<T>(request: &Request<T>, response: &mut tonic::metadata::MetadataMap) {
    let Ok(context) = CallContext::of(request) else {
        return;
    };
    let Some(caller) = context.caller_if_any() else {
        return;
    };
    let mut roles: Vec<&str> = caller.roles().collect();
    roles.sort();
    let token = request
        .metadata()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let issuer = jsonwebtoken::dangerous::insecure_decode_claims::<serde_json::Value>(token)
        .ok()
        .and_then(|claims| claims["iss"].as_str().map(String::from))
        .unwrap_or_default();
    for (key, value) in [
        ("x-caller", caller.subject().to_string()),
        ("x-caller-roles", roles.join(",")),
        ("x-token-issuer", issuer),
        ("x-token", token.to_string()),
    ] {
        if let Ok(value) = value.parse() {
            response.insert(key, value);
        }
    }
}

#[tonic::async_trait]
impl ResultsService for WhoCalls {
    type ExportResultsStream = tokio_stream::Empty<Result<pb::ExportResultsResponse, Status>>;

    async fn get_ranking(
        &self,
        request: Request<pb::GetRankingRequest>,
    ) -> Result<Response<pb::Ranking>, Status> {
        self.reached.fetch_add(1, Ordering::SeqCst);
        CallContext::of(&request)?.caller()?;
        let mut response = Response::new(pb::Ranking::default());
        caller_metadata(&request, response.metadata_mut());
        Ok(response)
    }

    async fn get_region_summary(
        &self,
        request: Request<pb::GetRegionSummaryRequest>,
    ) -> Result<Response<pb::RegionSummary>, Status> {
        self.reached.fetch_add(1, Ordering::SeqCst);
        let caller = CallContext::of(&request)?.caller()?;
        if caller.subject() != "system:registry" {
            return Err(Status::permission_denied("only the registry, in this test"));
        }
        Ok(Response::new(pb::RegionSummary::default()))
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
        Err(Status::unimplemented("fake"))
    }

    async fn get_results(
        &self,
        _: Request<pb::GetResultsRequest>,
    ) -> Result<Response<pb::Results>, Status> {
        Err(Status::unimplemented("fake"))
    }

    async fn export_results(
        &self,
        _: Request<pb::ExportResultsRequest>,
    ) -> Result<Response<Self::ExportResultsStream>, Status> {
        Err(Status::unimplemented("fake"))
    }
}

/// Everything a test's gateway and backend need, made now.
struct World {
    dir: PathBuf,
    /// Signs the gateway's certificate (what callers trust).
    edge_ca: Authority,
    /// Signs the system callers' certificates.
    client_ca: Authority,
    /// Signs the backends' certificates (what the gateway trusts).
    internal_ca: Authority,
    gateway_key: SigningKey,
}

impl World {
    fn new(name: &str) -> Self {
        World {
            dir: pki::scratch(name),
            edge_ca: Authority::new("edge CA"),
            client_ca: Authority::new("system callers' CA"),
            internal_ca: Authority::new("cluster CA"),
            gateway_key: SigningKey::ed25519(),
        }
    }

    fn file(&self, name: &str, text: &str) -> String {
        pki::write(&self.dir, name, text)
            .to_string_lossy()
            .into_owned()
    }

    /// The gateway's settings: TLS with client certificates (`optional` unless
    /// `client_auth` says otherwise), its token key, and `backend` over TLS checked against
    /// `backend_ca` (plaintext when `None`).
    fn gateway_env(
        &self,
        backend: &str,
        client_auth: &str,
        backend_ca: Option<&str>,
    ) -> Vec<(&'static str, String)> {
        let edge = self.edge_ca.server(&["localhost"]);
        let mut env = vec![
            ("EDU_GATEWAY_BACKENDS", format!("competitions={backend}")),
            ("EDU_TLS_CERT_FILE", self.file("gateway.crt", &edge.cert)),
            ("EDU_TLS_KEY_FILE", self.file("gateway.key", &edge.key)),
            (
                "EDU_TLS_CLIENT_CA_FILE",
                self.file("clients-ca.crt", &self.client_ca.pem()),
            ),
            ("EDU_TLS_CLIENT_AUTH", client_auth.to_string()),
            (
                "EDU_TLS_CLIENT_IDENTITIES_FILE",
                self.file("identities.yaml", IDENTITIES),
            ),
            (
                "EDU_GATEWAY_TOKEN_KEY_FILE",
                self.file("token.key", &self.gateway_key.private_pem),
            ),
            ("EDU_GATEWAY_TOKEN_ISSUER", GATEWAY_ISSUER.to_string()),
        ];
        if let Some(ca) = backend_ca {
            env.push((
                "EDU_GATEWAY_BACKEND_CA_FILE",
                self.file("backend-ca.crt", ca),
            ));
        }
        env
    }

    /// A TLS channel to the gateway at `addr`, presenting `certificate` when given.
    async fn channel(
        &self,
        addr: std::net::SocketAddr,
        certificate: Option<&Issued>,
    ) -> Result<tonic::transport::Channel, Status> {
        let mut tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(self.edge_ca.pem()))
            .domain_name("localhost");
        if let Some(issued) = certificate {
            tls = tls.identity(Identity::from_pem(&issued.cert, &issued.key));
        }
        edu_kit::client::endpoint(format!("https://localhost:{}", addr.port()))
            .map_err(|e| Status::unavailable(e.to_string()))?
            .tls_config(tls)
            .map_err(|e| Status::unavailable(e.to_string()))?
            .connect()
            .await
            .map_err(|e| Status::unavailable(format!("connect: {e:?}")))
    }
}

/// The competitions backend: the kit's server over TLS with a certificate of the cluster
/// CA for `localhost`, trusting the development identity provider and the gateway's issuer.
struct Backend {
    addr: std::net::SocketAddr,
    service: WhoCalls,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), edu_kit::server::ServerError>>,
}

impl Backend {
    async fn start(world: &World) -> Backend {
        let issued = world.internal_ca.server(&["localhost"]);
        let tls = TlsFiles {
            cert: pki::write(&world.dir, "backend.crt", &issued.cert),
            key: pki::write(&world.dir, "backend.key", &issued.key),
            check_every: Duration::from_secs(10),
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
            shutdown_timeout: Duration::from_secs(5),
            shutdown_delay: Duration::ZERO,
            health_check_interval: Duration::from_millis(100),
            tls: Some(tls),
            probe_addr: None,
            client_certificates: None,
        };
        let auth = AuthConfig {
            trusted_issuers: vec![TrustedIssuer {
                issuer: GATEWAY_ISSUER.to_string(),
                key_file: pki::write(
                    &world.dir,
                    "gateway-token.pub",
                    &world.gateway_key.public_pem,
                ),
            }],
            ..AuthConfig::development()
        };
        let verifier = TokenVerifier::from_config(&auth).expect("keys");
        let server = Server::new("competitions", config, verifier, Clock::system())
            .advertise("edu.competitions.v1.ResultsService");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let service = WhoCalls::default();
        let routes = Routes::new(ResultsServiceServer::new(service.clone()));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server.run(routes, listener, None, async {
            let _ = stopped.await;
        }));
        Backend {
            addr,
            service,
            stop,
            task,
        }
    }

    /// `localhost:<port>`: the gateway resolves it to the loopback address and verifies
    /// the backend's certificate against `localhost`, as it does a headless Service's name.
    fn target(&self) -> String {
        format!("localhost:{}", self.addr.port())
    }

    fn reached(&self) -> usize {
        self.service.reached.load(Ordering::SeqCst)
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

fn ranking() -> Request<pb::GetRankingRequest> {
    Request::new(pb::GetRankingRequest {
        contest: "contests/x".into(),
        nomination_id: "health".into(),
    })
}

fn header(response: &tonic::metadata::MetadataMap, key: &str) -> String {
    response
        .get(key)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

async fn stop(gateway: Spawned) {
    gateway
        .process
        .stop(Duration::from_secs(10))
        .await
        .expect("the gateway stops on SIGTERM");
}

#[tokio::test]
async fn a_mapped_certificate_reaches_the_backend_with_a_token_the_gateway_minted() {
    let world = World::new("gateway-mtls");
    let backend = Backend::start(&world).await;
    let env = world.gateway_env(
        &backend.target(),
        "optional",
        Some(&world.internal_ca.pem()),
    );
    let gateway = start_gateway_probed(&env, &["", "edu.competitions.v1.ResultsService"]).await;
    let registry = world.client_ca.client("registry.example.gov", false);
    let channel = world
        .channel(gateway.grpc, Some(&registry))
        .await
        .expect("mutual TLS");

    let mut client = ResultsServiceClient::new(channel.clone());
    let first = client
        .get_ranking(ranking())
        .await
        .expect("the backend accepts the gateway's token");
    let seen = first.metadata();
    assert_eq!(header(seen, "x-caller"), "system:registry");
    assert_eq!(header(seen, "x-caller-roles"), "competitions.observer");
    assert_eq!(header(seen, "x-token-issuer"), GATEWAY_ISSUER);
    let token = header(seen, "x-token");
    let claims: serde_json::Value =
        jsonwebtoken::dangerous::insecure_decode_claims(&token).expect("claims");
    let lifetime = claims["exp"].as_u64().unwrap_or(0) - claims["iat"].as_u64().unwrap_or(0);
    assert_eq!(lifetime, 60, "a short-lived token");
    assert_eq!(claims["scopes"], serde_json::json!(["region:RU-ALT"]));
    let second = client.get_ranking(ranking()).await.expect("again");
    assert_eq!(
        header(second.metadata(), "x-token"),
        token,
        "the token is reused while it is fresh"
    );

    // A caller with a token as well is the token's caller; its token goes through as is.
    let user = DevToken::new("alice").role("competitions.observer").sign();
    let with_token = client
        .get_ranking(edu_kit::client::with_bearer(ranking(), &user))
        .await
        .expect("the token's caller");
    assert_eq!(header(with_token.metadata(), "x-caller"), "alice");
    assert_eq!(header(with_token.metadata(), "x-token"), user);

    // The region summary asks the backend as the certificate's caller, with the same
    // kind of token.
    let summary = GatewayServiceClient::new(channel)
        .get_region_summary(Request::new(gateway_pb::GetRegionSummaryRequest {
            region_code: "RU-ALT".into(),
        }))
        .await
        .expect("the summary")
        .into_inner();
    let competitions = summary
        .parts
        .iter()
        .find(|p| p.service == "competitions")
        .expect("the competitions part");
    assert_eq!(
        competitions.state(),
        gateway_pb::PartState::Ok,
        "{competitions:?}"
    );
    assert_eq!(backend.reached(), 4);
    stop(gateway).await;
    backend.stop().await;
    std::fs::remove_dir_all(&world.dir).ok();
}

/// Refused by the handshake: the gateway's alert is `alert`, and a call with the same
/// certificate (and a valid token) fails with no status of the pipeline's.
async fn refused_at_the_handshake(
    world: &World,
    gateway: &Spawned,
    certificate: Option<&Issued>,
    alert: &str,
) {
    let refused = pki::handshake(gateway.grpc, &world.edge_ca.pem(), certificate)
        .await
        .expect_err("the handshake fails");
    assert!(
        refused.contains(&format!("fatal alert: {alert}")),
        "the gateway's alert is {alert}: {refused}"
    );
    let user = DevToken::new("alice").role("competitions.observer").sign();
    let result = match world.channel(gateway.grpc, certificate).await {
        Ok(channel) => {
            ResultsServiceClient::new(channel)
                .get_ranking(edu_kit::client::with_bearer(ranking(), &user))
                .await
        }
        Err(status) => Err(status),
    };
    let status = result.expect_err("refused");
    assert!(
        !matches!(
            status.code(),
            Code::Unauthenticated | Code::PermissionDenied | Code::Ok
        ),
        "refused by the handshake, not the pipeline: {status:?}"
    );
}

#[tokio::test]
async fn certificates_the_gateway_does_not_accept_are_refused_before_any_handler() {
    let world = World::new("gateway-mtls-refused");
    let backend = Backend::start(&world).await;
    let env = world.gateway_env(
        &backend.target(),
        "optional",
        Some(&world.internal_ca.pem()),
    );
    let gateway = start_gateway_probed(&env, &["", "edu.competitions.v1.ResultsService"]).await;

    // Valid, from the right CA, but no entry names it.
    let stranger = world.client_ca.client("stranger.example.gov", false);
    let channel = world
        .channel(gateway.grpc, Some(&stranger))
        .await
        .expect("the handshake succeeds");
    let status = ResultsServiceClient::new(channel)
        .get_ranking(ranking())
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

    let foreign = Authority::new("another CA").client("registry.example.gov", false);
    refused_at_the_handshake(&world, &gateway, Some(&foreign), "UnknownCA").await;
    let expired = world.client_ca.client("registry.example.gov", true);
    refused_at_the_handshake(&world, &gateway, Some(&expired), "CertificateExpired").await;
    assert_eq!(backend.reached(), 0, "no call reached the backend");
    stop(gateway).await;

    // Required: a handshake without a certificate fails, a token notwithstanding.
    let env = world.gateway_env(
        &backend.target(),
        "required",
        Some(&world.internal_ca.pem()),
    );
    let gateway = start_gateway_probed(&env, &[""]).await;
    refused_at_the_handshake(&world, &gateway, None, "CertificateRequired").await;
    assert_eq!(backend.reached(), 0);
    stop(gateway).await;
    backend.stop().await;
    std::fs::remove_dir_all(&world.dir).ok();
}

#[tokio::test]
async fn a_tls_backend_is_reached_with_its_ca_and_not_without_it_or_with_another() {
    let world = World::new("gateway-backend-tls");
    let backend = Backend::start(&world).await;
    let registry = world.client_ca.client("registry.example.gov", false);
    let stranger_ca = Authority::new("not the cluster CA").pem();
    for backend_ca in [None, Some(stranger_ca.as_str())] {
        let env = world.gateway_env(&backend.target(), "optional", backend_ca);
        let gateway = start_gateway_probed(&env, &[""]).await;
        // Give the gateway a few health checks of the backend.
        tokio::time::sleep(Duration::from_millis(600)).await;
        let channel = world
            .channel(gateway.grpc, Some(&registry))
            .await
            .expect("mutual TLS");
        let status = ResultsServiceClient::new(channel)
            .get_ranking(ranking())
            .await
            .expect_err("the backend cannot be reached");
        assert_eq!(status.code(), Code::Unavailable, "{status:?}");
        assert_eq!(
            status
                .get_error_details()
                .error_info()
                .map(|i| i.reason.as_str()),
            Some("BACKEND_UNAVAILABLE")
        );
        stop(gateway).await;
    }
    assert_eq!(backend.reached(), 0, "nothing reached the backend");

    let env = world.gateway_env(
        &backend.target(),
        "optional",
        Some(&world.internal_ca.pem()),
    );
    let gateway = start_gateway_probed(&env, &["edu.competitions.v1.ResultsService"]).await;
    let channel = world
        .channel(gateway.grpc, Some(&registry))
        .await
        .expect("mutual TLS");
    ResultsServiceClient::new(channel)
        .get_ranking(ranking())
        .await
        .expect("reached over TLS with the cluster CA");
    assert_eq!(backend.reached(), 1);
    stop(gateway).await;
    backend.stop().await;
    std::fs::remove_dir_all(&world.dir).ok();
}

#[tokio::test]
async fn in_production_the_gateway_will_not_start_without_the_backends_ca() {
    let world = World::new("gateway-production");
    let mut env = world.gateway_env("competitions-headless:50051", "optional", None);
    env.push(("EDU_ENVIRONMENT", "production".to_string()));
    let mut gateway = spawn_gateway(&env);
    let error = gateway
        .process
        .wait_serving_at(gateway.probe, "", Duration::from_secs(30))
        .await
        .expect_err("refuses to start");
    assert!(
        error.to_string().contains("EDU_GATEWAY_BACKEND_CA_FILE"),
        "{error}"
    );
    std::fs::remove_dir_all(&world.dir).ok();
}
