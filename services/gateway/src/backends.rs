//! The services behind the gateway. Each backend's target is re-resolved periodically (a
//! headless Kubernetes Service resolves to one address per pod), every address is
//! health-checked with `grpc.health.v1`, and calls are spread round-robin over the serving
//! addresses and over several HTTP/2 connections to each — one connection is one stream
//! set, and a busy gateway needs more than one per backend.
//!
//! With a backend CA ([`crate::config::BACKEND_CA_FILE`]) every connection is TLS: the
//! gateway connects to a pod's address and verifies its certificate against the CA and the
//! host name of the target that address came from (the headless Service's name), which the
//! services' certificates carry.

use edu_kit::metrics::Metrics;
use prometheus_client::encoding::EncodeLabelSet;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use jiff::Timestamp;
use prost::Message;
use tonic::transport::{Certificate, Channel, ClientTlsConfig};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use edu_kit::server::Health;

use crate::config::{BackendConfig, GatewayConfig};
use crate::upstream::{Connector, Lane};

/// How long one health check may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(1);

/// One address of a backend and its connections.
#[derive(Debug)]
pub struct Endpoint {
    addr: SocketAddr,
    /// The proxy's connections (see [`crate::upstream`]).
    lanes: Vec<Arc<Lane>>,
    /// The views' and the audit API's connections, for the generated clients.
    channels: Vec<Channel>,
    /// The health check's own connection: a call that breaks a connection of `channels`
    /// (a misbehaving caller, a reset stream) never fails the check, so only the backend's
    /// own health takes it out of rotation.
    probe: Channel,
    serving: AtomicBool,
    last_check: Mutex<(Option<Timestamp>, Option<String>)>,
}

/// How the gateway reaches its backends over TLS: the CA their certificates chain to, for
/// tonic's channels and for the proxy's own connections.
#[derive(Debug, Clone)]
pub struct BackendTls {
    ca: Certificate,
    proxy: Arc<rustls::ClientConfig>,
}

impl BackendTls {
    /// Reads the CA bundle; fails when it holds no certificate tonic can use.
    pub fn load(path: &std::path::Path) -> Result<Self, String> {
        use rustls_pki_types::CertificateDer;
        use rustls_pki_types::pem::PemObject;
        let pem = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut roots = rustls::RootCertStore::empty();
        for certificate in CertificateDer::pem_slice_iter(&pem) {
            let certificate = certificate.map_err(|e| format!("{}: {e}", path.display()))?;
            roots
                .add(certificate)
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
        if roots.is_empty() {
            return Err(format!("{}: no certificate in the bundle", path.display()));
        }
        let mut proxy = rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth();
        proxy.alpn_protocols = vec![b"h2".to_vec()];
        let tls = BackendTls {
            ca: Certificate::from_pem(pem),
            proxy: Arc::new(proxy),
        };
        // Built once now, so that a bad bundle stops the start rather than every endpoint.
        edu_kit::client::endpoint("https://127.0.0.1:1")
            .map_err(|e| e.to_string())?
            .tls_config(tls.config("backend"))
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(tls)
    }

    fn config(&self, server_name: &str) -> ClientTlsConfig {
        ClientTlsConfig::new()
            .ca_certificate(self.ca.clone())
            .domain_name(server_name)
    }
}

/// The name a backend's certificate is verified against: the host of its target.
fn server_name(target: &str) -> &str {
    let host = target.rsplit_once(':').map_or(target, |(host, _)| host);
    host.trim_start_matches('[').trim_end_matches(']')
}

impl Endpoint {
    /// An endpoint at `addr`, over TLS verified against `tls`'s CA and `server_name` when
    /// given.
    fn with_tls(
        addr: SocketAddr,
        connections: usize,
        tls: Option<(&BackendTls, &str)>,
    ) -> Option<Self> {
        let (endpoint, connector) = match tls {
            None => (
                edu_kit::client::endpoint(format!("http://{addr}")).ok()?,
                Connector::plaintext(addr),
            ),
            Some((tls, server_name)) => (
                edu_kit::client::endpoint(format!("https://{addr}"))
                    .ok()?
                    .tls_config(tls.config(server_name))
                    .ok()?,
                Connector::tls(addr, Arc::clone(&tls.proxy), server_name).ok()?,
            ),
        };
        Some(Endpoint {
            addr,
            lanes: (0..connections)
                .map(|_| Arc::new(Lane::new(connector.clone())))
                .collect(),
            // Lazy: each channel opens its one HTTP/2 connection on first use and reconnects
            // by itself after a failure.
            channels: (0..connections).map(|_| endpoint.connect_lazy()).collect(),
            probe: endpoint.connect_lazy(),
            serving: AtomicBool::new(false),
            last_check: Mutex::new((None, None)),
        })
    }

    /// The address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Whether the last health check said SERVING.
    pub fn is_serving(&self) -> bool {
        self.serving.load(Ordering::Relaxed)
    }

    /// When it was last checked and why that check failed, if it did.
    pub fn last_check(&self) -> (Option<Timestamp>, Option<String>) {
        self.last_check
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    async fn check(&self) -> Result<(), String> {
        let mut client = HealthClient::new(self.probe.clone());
        let call = client.check(HealthCheckRequest {
            service: String::new(),
        });
        match tokio::time::timeout(CHECK_TIMEOUT, call).await {
            Err(_) => Err(format!("no answer within {CHECK_TIMEOUT:?}")),
            Ok(Err(status)) => Err(format!("{}: {}", status.code(), status.message())),
            Ok(Ok(response)) => match response.into_inner().status() {
                ServingStatus::Serving => Ok(()),
                other => Err(format!("reports {}", other.as_str_name())),
            },
        }
    }
}

/// One service behind the gateway.
#[derive(Debug)]
pub struct Backend {
    name: String,
    target: String,
    packages: Vec<String>,
    services: Vec<String>,
    connections: usize,
    tls: Option<BackendTls>,
    endpoints: RwLock<Vec<Arc<Endpoint>>>,
    next: AtomicUsize,
}

impl Backend {
    fn new(
        config: &BackendConfig,
        services: Vec<String>,
        connections: usize,
        tls: Option<BackendTls>,
    ) -> Self {
        let mut packages: Vec<String> = services
            .iter()
            .filter_map(|s| s.rsplit_once('.').map(|(package, _)| package.to_string()))
            .collect();
        packages.dedup();
        Backend {
            name: config.name.clone(),
            target: config.target.clone(),
            packages,
            services,
            connections,
            tls,
            endpoints: RwLock::default(),
            next: AtomicUsize::new(0),
        }
    }

    /// The backend's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its configured `host:port`.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The protobuf packages it serves.
    pub fn packages(&self) -> &[String] {
        &self.packages
    }

    /// The gRPC services it serves (known from the contracts).
    pub fn services(&self) -> &[String] {
        &self.services
    }

    /// Its current endpoints.
    pub fn endpoints(&self) -> Vec<Arc<Endpoint>> {
        self.endpoints
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// A connection to a serving endpoint for a generated client, round-robin over
    /// endpoints and their connections; `None` when no endpoint is serving.
    pub fn pick(&self) -> Option<Channel> {
        self.pick_avoiding(&[]).map(|(_, channel)| channel)
    }

    /// [`Backend::pick`], preferring endpoints other than `avoid` (those a call could not
    /// reach just now).
    pub fn pick_avoiding(&self, avoid: &[SocketAddr]) -> Option<(SocketAddr, Channel)> {
        self.choose(avoid).map(|(endpoint, i)| {
            (
                endpoint.addr,
                endpoint.channels[i % endpoint.channels.len()].clone(),
            )
        })
    }

    /// The proxy's connection for a call: [`Backend::pick`]'s choice, preferring endpoints
    /// other than `avoid` (those a call could not reach just now).
    pub fn pick_lane_avoiding(&self, avoid: &[SocketAddr]) -> Option<(SocketAddr, Arc<Lane>)> {
        self.choose(avoid).map(|(endpoint, i)| {
            (
                endpoint.addr,
                Arc::clone(&endpoint.lanes[i % endpoint.lanes.len()]),
            )
        })
    }

    /// An endpoint and the turn of its connections to use, round-robin: a serving endpoint
    /// not in `avoid`; when every serving endpoint is to be avoided, any serving one; when
    /// none is serving, any endpoint at all.
    fn choose(&self, avoid: &[SocketAddr]) -> Option<(Arc<Endpoint>, usize)> {
        let endpoints = self.endpoints.read().unwrap_or_else(|p| p.into_inner());
        // Counted and chosen without collecting: this runs for every call.
        let tiers: [&dyn Fn(&Endpoint) -> bool; 3] = [
            &|e| e.is_serving() && !avoid.contains(&e.addr),
            &|e| e.is_serving(),
            // None reports SERVING: a replica in its shutdown delay (or one whose database
            // is slow) still answers what it can, which beats refusing every call here.
            &|_| true,
        ];
        let eligible = tiers.iter().find_map(|tier| {
            let count = endpoints.iter().filter(|e| tier(e)).count();
            (count > 0).then_some((tier, count))
        });
        let (tier, count) = eligible?;
        let turn = self.next.fetch_add(1, Ordering::Relaxed);
        let endpoint = endpoints.iter().filter(|e| tier(e)).nth(turn % count)?;
        // Consecutive turns visit every endpoint before the next connection of any.
        Some((Arc::clone(endpoint), turn / count))
    }

    /// Re-resolves the target, keeps the endpoints that remain (and their connections),
    /// health-checks every endpoint, and reports whether any is serving.
    async fn refresh(&self) -> bool {
        // Each address with the target it came from, whose host its certificate names.
        let mut resolved: Result<Vec<(SocketAddr, &str)>, std::io::Error> = Ok(Vec::new());
        for target in self.target.split('+').map(str::trim) {
            match tokio::net::lookup_host(target).await {
                Ok(addrs) => {
                    if let Ok(all) = resolved.as_mut() {
                        all.extend(addrs.map(|addr| (addr, target)));
                    }
                }
                Err(e) => resolved = Err(e),
            }
        }
        match resolved {
            Ok(addrs) => {
                let mut addrs = addrs;
                addrs.sort();
                addrs.dedup_by_key(|(addr, _)| *addr);
                let mut endpoints = self.endpoints.write().unwrap_or_else(|p| p.into_inner());
                let mut kept: Vec<Arc<Endpoint>> = Vec::with_capacity(addrs.len());
                for (addr, target) in addrs {
                    let tls = self.tls.as_ref().map(|tls| (tls, server_name(target)));
                    match endpoints.iter().find(|e| e.addr == addr) {
                        Some(existing) => kept.push(Arc::clone(existing)),
                        None => match Endpoint::with_tls(addr, self.connections, tls) {
                            Some(endpoint) => {
                                tracing::info!(backend = %self.name, %addr, "new endpoint");
                                kept.push(Arc::new(endpoint));
                            }
                            None => {
                                tracing::warn!(backend = %self.name, %addr, "cannot build an endpoint")
                            }
                        },
                    }
                }
                for gone in endpoints
                    .iter()
                    .filter(|e| !kept.iter().any(|k| k.addr == e.addr))
                {
                    tracing::info!(backend = %self.name, addr = %gone.addr, "endpoint gone");
                }
                *endpoints = kept;
            }
            // Keep the last known endpoints: a DNS hiccup is not an outage.
            Err(e) => {
                tracing::warn!(backend = %self.name, target = %self.target, error = %e, "cannot resolve")
            }
        }
        let endpoints = self.endpoints();
        let checks = endpoints.iter().map(|endpoint| async move {
            let result = endpoint.check().await;
            let serving = result.is_ok();
            if endpoint.serving.swap(serving, Ordering::Relaxed) != serving {
                match &result {
                    Ok(()) => tracing::info!(backend = %self.name, addr = %endpoint.addr, "endpoint serving"),
                    Err(why) => tracing::warn!(backend = %self.name, addr = %endpoint.addr, reason = %why, "endpoint not serving"),
                }
            }
            *endpoint.last_check.lock().unwrap_or_else(|p| p.into_inner()) = (Some(Timestamp::now()), result.err());
            serving
        });
        futures::future::join_all(checks)
            .await
            .into_iter()
            .any(|serving| serving)
    }
}

/// Every backend, by name.
#[derive(Debug)]
pub struct Backends {
    by_name: BTreeMap<String, Arc<Backend>>,
}

impl Backends {
    /// The configured backends, each with the services the contracts say its packages hold,
    /// reached in plaintext.
    pub fn new(config: &GatewayConfig) -> Self {
        Backends::with_tls(config, None)
    }

    /// [`Backends::new`], reaching every backend over TLS verified against `tls` when given.
    pub fn with_tls(config: &GatewayConfig, tls: Option<BackendTls>) -> Self {
        let services = services_by_backend();
        let by_name = config
            .backends
            .iter()
            .map(|b| {
                let names = services.get(&b.name).cloned().unwrap_or_default();
                if names.is_empty() {
                    tracing::warn!(backend = %b.name, "no service in proto/ belongs to this backend's packages (edu.{}.*)", b.name);
                }
                (
                    b.name.clone(),
                    Arc::new(Backend::new(b, names, config.connections_per_endpoint, tls.clone())),
                )
            })
            .collect();
        Backends { by_name }
    }

    /// The backend serving the gRPC service `service` (`edu.<name>.v1.Service`).
    pub fn for_service(&self, service: &str) -> Option<&Arc<Backend>> {
        let mut parts = service.split('.');
        match (parts.next(), parts.next()) {
            (Some("edu"), Some(name)) => self.by_name.get(name),
            _ => None,
        }
    }

    /// Every backend, ordered by name.
    pub fn all(&self) -> impl Iterator<Item = &Arc<Backend>> {
        self.by_name.values()
    }

    /// Reports each backend's endpoints by the state of their last health check as
    /// `edu_gateway_backend_endpoints{backend, state}` (`serving`, `not_serving`), read at
    /// each scrape: the dashboard's backend health, and an alert when a backend has no
    /// serving endpoint.
    pub fn register_metrics(self: &Arc<Self>, metrics: &Metrics) {
        #[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
        struct EndpointLabels {
            backend: String,
            state: &'static str,
        }
        let backends = Arc::clone(self);
        metrics.register_gauges::<EndpointLabels>(
            "gateway_backend_endpoints",
            "Endpoints of each backend by the state of their last health check",
            move |family| {
                for backend in backends.all() {
                    let endpoints = backend.endpoints();
                    let serving = endpoints.iter().filter(|e| e.is_serving()).count();
                    for (state, count) in [
                        ("serving", serving),
                        ("not_serving", endpoints.len() - serving),
                    ] {
                        let labels = EndpointLabels {
                            backend: backend.name().to_string(),
                            state,
                        };
                        family
                            .get_or_create(&labels)
                            .set(i64::try_from(count).unwrap_or(i64::MAX));
                    }
                }
            },
        );
    }

    /// Every service the gateway routes, for reflection.
    pub fn routed_services(&self) -> Vec<String> {
        self.all()
            .flat_map(|b| b.services.iter().cloned())
            .collect()
    }

    /// Refreshes every backend once, then keeps refreshing every `interval`, reporting each
    /// backend's services in the gateway's health.
    pub fn spawn_monitor(
        self: Arc<Self>,
        health: Health,
        interval: Duration,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                for backend in self.all() {
                    let serving = backend.refresh().await;
                    for service in &backend.services {
                        health.set(service, serving).await;
                    }
                }
            }
        })
    }
}

/// The gRPC services of `proto/`, grouped by backend name (`edu.<name>.*`), except the
/// gateway's own.
fn services_by_backend() -> HashMap<String, Vec<String>> {
    let mut by_backend: HashMap<String, Vec<String>> = HashMap::new();
    let Ok(set) = prost_types::FileDescriptorSet::decode(edu_proto::FILE_DESCRIPTOR_SET) else {
        return by_backend;
    };
    for file in set.file {
        let package = file.package();
        let mut parts = package.split('.');
        if let (Some("edu"), Some(name)) = (parts.next(), parts.next()) {
            for service in &file.service {
                by_backend
                    .entry(name.to_string())
                    .or_default()
                    .push(format!("{package}.{}", service.name()));
            }
        }
    }
    for services in by_backend.values_mut() {
        services.sort();
    }
    by_backend
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backend_is_verified_against_the_host_of_its_target() {
        assert_eq!(
            server_name("mentoring-headless:50051"),
            "mentoring-headless"
        );
        assert_eq!(
            server_name("aid-headless.edu-suite.svc:50051"),
            "aid-headless.edu-suite.svc"
        );
        assert_eq!(server_name("10.0.0.7:50051"), "10.0.0.7");
        assert_eq!(server_name("[::1]:50051"), "::1");
    }

    #[test]
    fn the_contracts_say_which_services_a_backend_serves() {
        let services = services_by_backend();
        let competitions = services.get("competitions").expect("competitions services");
        assert!(competitions.contains(&"edu.competitions.v1.ContestService".to_string()));
        assert!(competitions.contains(&"edu.competitions.v1.ApplicationService".to_string()));
    }

    #[tokio::test]
    async fn calls_are_routed_by_package_and_spread_over_connections() {
        let config = GatewayConfig {
            backends: vec![BackendConfig {
                name: "competitions".into(),
                target: "127.0.0.1:1".into(),
            }],
            connections_per_endpoint: 3,
            check_interval: Duration::from_secs(1),
            summary_part_timeout: Duration::from_secs(2),
            backend_ca_file: None,
            token_signing: None,
        };
        let backends = Backends::new(&config);
        let backend = backends
            .for_service("edu.competitions.v1.ContestService")
            .expect("routed");
        assert_eq!(backend.packages(), ["edu.competitions.v1"]);
        assert!(backends.for_service("edu.unknown.v1.X").is_none());
        assert!(backends.for_service("grpc.health.v1.Health").is_none());
        assert!(
            backend.pick().is_none(),
            "nothing is serving before the first check"
        );

        let endpoint = Arc::new(
            Endpoint::with_tls("127.0.0.1:1".parse().expect("addr"), 3, None).expect("endpoint"),
        );
        endpoint.serving.store(true, Ordering::Relaxed);
        *backend.endpoints.write().expect("lock") = vec![endpoint];
        for _ in 0..6 {
            assert!(backend.pick().is_some());
        }
        assert_eq!(backend.next.load(Ordering::Relaxed), 6);
    }
}
