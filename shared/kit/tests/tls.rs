//! TLS at a process's gRPC listener (issue 18, item 1), against the real server runner over
//! real TCP: a call through the handshake, a plaintext client refused, a key that is not
//! the certificate's refused at start, and a certificate rotated under load, picked up by
//! new connections without a failed call; and no plaintext outside development.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use edu_kit::auth::TokenVerifier;
use edu_kit::auth::dev::DevToken;
use edu_kit::clock::Clock;
use edu_kit::config::{AuthConfig, Environment, Limits, ServerConfig};
use edu_kit::protection::ProtectionLimits;
use edu_kit::server::Server;
use edu_kit::tls::TlsFiles;
use edu_proto::edu::gateway::v1 as pb;
use edu_proto::edu::gateway::v1::gateway_service_client::GatewayServiceClient;
use edu_proto::edu::gateway::v1::gateway_service_server::{GatewayService, GatewayServiceServer};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use rustls_pki_types::CertificateDer;
use tokio::sync::oneshot;
use tonic::service::Routes;
use tonic::transport::{Certificate, Channel, ClientTlsConfig};
use tonic::{Request, Response, Status};

/// A service that answers at once.
#[derive(Clone, Default)]
struct Answering;

#[tonic::async_trait]
impl GatewayService for Answering {
    async fn list_backends(
        &self,
        _: Request<pb::ListBackendsRequest>,
    ) -> Result<Response<pb::ListBackendsResponse>, Status> {
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

/// A test certificate authority.
struct Authority {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Authority {
    fn new() -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "edu-suite test CA");
        let issuer =
            CertifiedIssuer::self_signed(params, KeyPair::generate().expect("key")).expect("CA");
        Authority { issuer }
    }

    fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// A server certificate for `localhost`, as (certificate PEM, key PEM, DER).
    fn server(&self) -> (String, String, CertificateDer<'static>) {
        let key = KeyPair::generate().expect("key");
        let params = CertificateParams::new(vec!["localhost".to_string()]).expect("params");
        let cert = params.signed_by(&key, &self.issuer).expect("signed");
        (cert.pem(), key.serialize_pem(), cert.der().clone())
    }
}

/// Writes a certificate and key where the server reads them, each file replaced at once (a
/// new file renamed over the old), the key first: a check between the two renames sees a
/// key that is not the certificate's and keeps the previous pair, as it must.
fn install(dir: &Path, cert_pem: &str, key_pem: &str) -> TlsFiles {
    let files = TlsFiles {
        cert: dir.join("tls.crt"),
        key: dir.join("tls.key"),
        check_every: Duration::from_millis(100),
    };
    for (path, text) in [(&files.key, key_pem), (&files.cert, cert_pem)] {
        let staged = path.with_extension("new");
        std::fs::write(&staged, text).expect("write");
        std::fs::rename(&staged, path).expect("rename");
    }
    files
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("edu-tls-{name}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

struct Running {
    addr: std::net::SocketAddr,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), edu_kit::server::ServerError>>,
}

async fn start(tls: TlsFiles) -> Running {
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
        client_certificates: None,
    };
    let verifier = TokenVerifier::from_config(&AuthConfig::development()).expect("keys");
    let server = Server::new("test", config, verifier, Clock::system())
        .advertise("edu.gateway.v1.GatewayService");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = oneshot::channel::<()>();
    let routes = Routes::new(GatewayServiceServer::new(Answering));
    let task = tokio::spawn(server.run(routes, listener, None, async {
        let _ = stopped.await;
    }));
    Running { addr, stop, task }
}

async fn tls_channel(addr: std::net::SocketAddr, ca_pem: &str) -> Result<Channel, String> {
    edu_kit::client::endpoint(format!("https://localhost:{}", addr.port()))
        .map_err(|e| e.to_string())?
        .tls_config(
            ClientTlsConfig::new()
                .ca_certificate(Certificate::from_pem(ca_pem))
                .domain_name("localhost"),
        )
        .map_err(|e| e.to_string())?
        .connect()
        .await
        .map_err(|e| format!("{e:?}"))
}

async fn call(channel: Channel) -> Result<(), Status> {
    GatewayServiceClient::new(channel)
        .list_backends(edu_kit::client::with_bearer(
            Request::new(pb::ListBackendsRequest::default()),
            &DevToken::new("tls-test").sign(),
        ))
        .await
        .map(|_| ())
}

/// The leaf certificate a fresh handshake is shown.
async fn presented(addr: std::net::SocketAddr, ca_pem: &str) -> CertificateDer<'static> {
    let mut roots = rustls::RootCertStore::empty();
    let ca = rustls_pki_types::pem::PemObject::from_pem_slice(ca_pem.as_bytes()).expect("CA");
    roots.add(ca).expect("root");
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("tcp");
    let name = rustls_pki_types::ServerName::try_from("localhost").expect("name");
    let tls = connector.connect(name, tcp).await.expect("handshake");
    tls.get_ref().1.peer_certificates().expect("certificates")[0].clone()
}

#[tokio::test]
async fn a_call_goes_through_the_handshake_and_a_plaintext_client_gets_nothing() {
    let authority = Authority::new();
    let (cert, key, _) = authority.server();
    let dir = scratch("call");
    let running = start(install(&dir, &cert, &key)).await;

    let channel = tls_channel(running.addr, &authority.pem())
        .await
        .expect("TLS connection");
    call(channel).await.expect("a call over TLS");

    let plaintext = edu_kit::client::endpoint(format!("http://{}", running.addr))
        .expect("endpoint")
        .connect()
        .await;
    let refused = match plaintext {
        Err(_) => true,
        Ok(channel) => call(channel).await.is_err(),
    };
    assert!(refused, "a plaintext client is not served");

    let _ = running.stop.send(());
    running.task.await.expect("task").expect("clean stop");
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn a_key_that_is_not_the_certificates_stops_the_start() {
    let authority = Authority::new();
    let (cert, _, _) = authority.server();
    let (_, other_key, _) = authority.server();
    let dir = scratch("mismatch");
    let running = start(install(&dir, &cert, &other_key)).await;
    let started = running.task.await.expect("task");
    let error = started.expect_err("the server refuses to start");
    assert!(error.to_string().contains("TLS"), "{error}");
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn a_certificate_rotated_under_load_is_picked_up_without_a_failed_call() {
    let authority = Authority::new();
    let (first, first_key, first_der) = authority.server();
    let dir = scratch("rotate");
    let running = start(install(&dir, &first, &first_key)).await;
    assert_eq!(presented(running.addr, &authority.pem()).await, first_der);

    // Callers on one long-lived connection each, and callers opening a new connection for
    // every call, all the while the certificate changes.
    let stop = Arc::new(AtomicBool::new(false));
    let (calls, failures) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let mut callers = Vec::new();
    for fresh in [false, false, true, true] {
        let (stop, calls, failures) = (stop.clone(), calls.clone(), failures.clone());
        let (addr, ca) = (running.addr, authority.pem());
        callers.push(tokio::spawn(async move {
            let mut kept = None;
            while !stop.load(Ordering::Relaxed) {
                let channel = match (&kept, fresh) {
                    (Some(channel), false) => Ok(Channel::clone(channel)),
                    _ => tls_channel(addr, &ca).await,
                };
                let outcome = match channel {
                    Ok(channel) => {
                        if !fresh {
                            kept = Some(channel.clone());
                        }
                        call(channel).await.map_err(|s| s.to_string())
                    }
                    Err(e) => Err(e),
                };
                calls.fetch_add(1, Ordering::Relaxed);
                if let Err(e) = outcome {
                    failures.fetch_add(1, Ordering::Relaxed);
                    eprintln!("failed: {e}");
                }
            }
        }));
    }
    while calls.load(Ordering::Relaxed) < 50 {
        tokio::task::yield_now().await;
    }

    let (second, second_key, second_der) = authority.server();
    install(&dir, &second, &second_key);
    // New handshakes get the new certificate once the server has looked at the files.
    let mut shown = presented(running.addr, &authority.pem()).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while shown != second_der && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        shown = presented(running.addr, &authority.pem()).await;
    }
    assert_eq!(
        shown, second_der,
        "new handshakes present the rotated certificate"
    );
    let before = calls.load(Ordering::Relaxed);
    while calls.load(Ordering::Relaxed) < before + 50 {
        tokio::task::yield_now().await;
    }
    stop.store(true, Ordering::Relaxed);
    for caller in callers {
        caller.await.expect("caller");
    }
    assert_eq!(
        failures.load(Ordering::Relaxed),
        0,
        "of {} calls across the rotation, none failed",
        calls.load(Ordering::Relaxed)
    );

    let _ = running.stop.send(());
    running.task.await.expect("task").expect("clean stop");
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn outside_development_a_process_refuses_to_serve_plaintext() {
    let config = ServerConfig {
        environment: Environment::Production,
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
        shutdown_timeout: Duration::from_secs(1),
        shutdown_delay: Duration::ZERO,
        health_check_interval: Duration::from_millis(100),
        tls: None,
        probe_addr: None,
        client_certificates: None,
    };
    let verifier = TokenVerifier::from_config(&AuthConfig::development()).expect("keys");
    let server = Server::new("test", config, verifier, Clock::system());
    let routes = Routes::new(GatewayServiceServer::new(Answering));
    let error = server
        .run_until_signalled(routes)
        .await
        .expect_err("no plaintext in production");
    assert!(
        matches!(error, edu_kit::server::ServerError::PlaintextRefused),
        "{error}"
    );
    assert!(error.to_string().contains("EDU_TLS_CERT_FILE"), "{error}");
}
