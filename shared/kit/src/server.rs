//! Runs a gRPC process the way every process of the suite runs: with the call pipeline,
//! limits, `grpc.health.v1` that follows readiness, server reflection, Prometheus metrics,
//! and a graceful shutdown that reports NOT_SERVING first, then drains calls in flight under
//! a hard timeout.

use std::collections::BTreeSet;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;
use tonic::service::Routes;
use tonic::transport::server::TcpIncoming;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::auth::TokenVerifier;
use crate::clock::Clock;
use crate::config::ServerConfig;
use crate::metrics::Metrics;
use crate::pipeline::{CallPipeline, PipelineConfig};

/// Why a server stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The reflection service could not be built from the descriptors.
    #[error("reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    /// The gRPC server failed.
    #[error("gRPC server: {0}")]
    Transport(#[from] tonic::transport::Error),
    /// The metrics server failed.
    #[error("metrics server: {0}")]
    Metrics(std::io::Error),
    /// The TLS certificate or key could not be used.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    /// No certificate outside development.
    #[error(
        "gRPC is served over TLS outside development: set {} and {} (or {}=development on a developer's machine)",
        crate::config::TLS_CERT_FILE,
        crate::config::TLS_KEY_FILE,
        crate::config::ENVIRONMENT
    )]
    PlaintextRefused,
}

/// The health entry that answers SERVING for as long as the process serves gRPC, whatever
/// its database does and through the shutdown drain: liveness and startup probes check it,
/// so that a database outage makes pods unready (`""`) but never gets them restarted.
pub const LIVENESS: &str = "liveness";

/// The health statuses a process reports, by service name (`""` is the whole process).
/// Cheap to clone; remembers every name it set, so that shutdown can turn them all off
/// ([`LIVENESS`] aside).
#[derive(Debug, Clone)]
pub struct Health {
    reporter: HealthReporter,
    names: Arc<Mutex<BTreeSet<String>>>,
}

impl Health {
    fn new(reporter: HealthReporter) -> Self {
        Health {
            reporter,
            names: Arc::default(),
        }
    }

    /// Sets the status of `service` (`""` for the whole process).
    pub async fn set(&self, service: &str, serving: bool) {
        self.names
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(service.to_string());
        let status = if serving {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        self.reporter.set_service_status(service, status).await;
    }

    /// Reports [`LIVENESS`] SERVING; shutdown leaves it on, so the drain is not cut short.
    async fn report_alive(&self) {
        self.reporter
            .set_service_status(LIVENESS, ServingStatus::Serving)
            .await;
    }

    /// Sets every status this process has reported so far.
    pub async fn set_all(&self, serving: bool) {
        let names: Vec<String> = self
            .names
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .cloned()
            .collect();
        for name in names {
            self.set(&name, serving).await;
        }
    }
}

/// Decides whether the process can do its work (usually: does its database answer).
pub trait ReadinessProbe: Send + Sync + 'static {
    /// `Ok` when ready; otherwise why not, for the log.
    fn check(&self) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + '_>>;
}

/// Ready while a query on a dedicated connection (outside the pool, so that a saturated pool
/// does not look like a dead database) answers within the check interval.
#[derive(Debug)]
pub struct DatabaseReadiness {
    options: sqlx::postgres::PgConnectOptions,
    connection: tokio::sync::Mutex<Option<sqlx::PgConnection>>,
    timeout: Duration,
}

impl DatabaseReadiness {
    /// A probe connecting with `options`, each check bounded by `timeout`.
    pub fn new(options: sqlx::postgres::PgConnectOptions, timeout: Duration) -> Self {
        // Named after its service, so that pg_stat_activity tells whose probe it is.
        let name = format!(
            "{}-readiness",
            options.get_application_name().unwrap_or("edu")
        );
        DatabaseReadiness {
            options: options.application_name(&name),
            connection: tokio::sync::Mutex::new(None),
            timeout,
        }
    }
}

impl ReadinessProbe for DatabaseReadiness {
    fn check(&self) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + '_>> {
        Box::pin(async move {
            use sqlx::Connection;
            let mut slot = self.connection.lock().await;
            let attempt = async {
                if slot.is_none() {
                    *slot = Some(
                        crate::db::single_connection(&self.options)
                            .await
                            .map_err(|e| e.to_string())?,
                    );
                }
                match slot.as_mut() {
                    Some(conn) => conn.ping().await.map_err(|e| e.to_string()),
                    None => Err("no connection".to_string()),
                }
            };
            let result = match tokio::time::timeout(self.timeout, attempt).await {
                Ok(result) => result,
                Err(_) => Err(format!("no answer within {:?}", self.timeout)),
            };
            if result.is_err() {
                // Reconnect next time rather than trust a connection that failed.
                *slot = None;
            }
            result
        })
    }
}

/// A gRPC process being assembled: what it serves and how it is protected.
pub struct Server {
    name: &'static str,
    config: ServerConfig,
    verifier: TokenVerifier,
    clock: Clock,
    metrics: Metrics,
    health: Health,
    add_health_service: Box<dyn FnOnce(Routes) -> Routes + Send>,
    /// The same health service, for the probe listener.
    probe_routes: Routes,
    advertised: Vec<String>,
    reflected: Vec<String>,
    anonymous_methods: Vec<String>,
    readiness: Option<Arc<dyn ReadinessProbe>>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("name", &self.name)
            .field("advertised", &self.advertised)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// A server named `name` (its `service.name` in telemetry).
    pub fn new(
        name: &'static str,
        config: ServerConfig,
        verifier: TokenVerifier,
        clock: Clock,
    ) -> Self {
        let (reporter, health_service) = tonic_health::server::health_reporter();
        Server {
            name,
            config,
            verifier,
            clock,
            metrics: Metrics::new(),
            health: Health::new(reporter),
            probe_routes: Routes::new(health_service.clone()),
            add_health_service: Box::new(move |routes| routes.add_service(health_service)),
            advertised: Vec::new(),
            reflected: Vec::new(),
            anonymous_methods: Vec::new(),
            readiness: None,
        }
    }

    /// The process's metrics, to register more gauges.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The process's health statuses, for processes that report more than their own
    /// readiness (the gateway reports its backends').
    pub fn health(&self) -> Health {
        self.health.clone()
    }

    /// Advertises a gRPC service: in reflection, and in health under its full name.
    pub fn advertise(mut self, service_name: &str) -> Self {
        self.advertised.push(service_name.to_string());
        self
    }

    /// Lists a gRPC service in reflection only: one this process serves on behalf of another
    /// (the gateway), whose health it reports itself.
    pub fn reflect(mut self, service_name: &str) -> Self {
        self.reflected.push(service_name.to_string());
        self
    }

    /// Lets a method (`/pkg.Service/Method`) or a whole service (`/pkg.Service/`) be called
    /// without a token.
    pub fn allow_anonymous(mut self, path: &str) -> Self {
        self.anonymous_methods.push(path.to_string());
        self
    }

    /// Reports SERVING only while `probe` succeeds.
    pub fn readiness(mut self, probe: impl ReadinessProbe) -> Self {
        self.readiness = Some(Arc::new(probe));
        self
    }

    /// Binds the configured addresses and runs until SIGTERM or Ctrl-C. Outside
    /// development the gRPC listener serves TLS only: without a certificate the process
    /// refuses to start (the suite carries children's data, inside the cluster too).
    pub async fn run_until_signalled(self, routes: Routes) -> Result<(), ServerError> {
        if self.config.tls.is_none() && !self.config.environment.is_development() {
            return Err(ServerError::PlaintextRefused);
        }
        let grpc = bind(self.config.grpc_addr).await?;
        let metrics = bind(self.config.metrics_addr).await?;
        self.run(routes, grpc, Some(metrics), shutdown_signal())
            .await
    }

    /// Runs on the given listeners until `shutdown` completes, then drains.
    pub async fn run(
        self,
        routes: Routes,
        grpc: TcpListener,
        metrics: Option<TcpListener>,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), ServerError> {
        let Server {
            name,
            config,
            verifier,
            clock,
            metrics: registry,
            health,
            add_health_service,
            probe_routes,
            advertised,
            reflected,
            anonymous_methods,
            readiness,
        } = self;
        let grpc_addr = grpc.local_addr().map_err(|source| ServerError::Bind {
            addr: config.grpc_addr,
            source,
        })?;

        // Everything starts NOT_SERVING until readiness has been checked once; liveness
        // holds from the first call the listener accepts.
        health.report_alive().await;
        health.set("", readiness.is_none()).await;
        for service in &advertised {
            health.set(service, readiness.is_none()).await;
        }
        // What can fail comes before any task is spawned, so an error leaves nothing running.
        let listed: Vec<String> = advertised.iter().chain(&reflected).cloned().collect();
        let routes = add_health_service(routes)
            .add_service(reflection_v1(&listed)?)
            .add_service(reflection_v1alpha(&listed)?);
        let tls = match &config.tls {
            Some(files) => Some(crate::tls::ServerTls::load(
                files.clone(),
                config.client_certificates.clone(),
            )?),
            None => None,
        };
        let probe_listener = match config.probe_addr {
            Some(addr) => Some(bind(addr).await?),
            None => None,
        };

        let readiness_task = readiness.map(|probe| {
            let health = health.clone();
            let names = advertised.clone();
            let interval = config.health_check_interval;
            tokio::spawn(watch_readiness(probe, health, names, interval))
        });

        let limits = config.limits;
        // Shedding and rate limits run inside the pipeline, not as tonic's per-connection
        // limit around it, so every refused call is counted in the metrics.
        let protection = crate::protection::Protection::new(limits.protection);
        let _forget_idle_callers = AbortOnDrop(protection.limits_rate().then(|| {
            let protection = protection.clone();
            tokio::spawn(async move {
                let mut ticker = tokio::time::interval(Duration::from_secs(60));
                loop {
                    ticker.tick().await;
                    protection.forget_idle();
                }
            })
        }));
        let pipeline = CallPipeline::new(PipelineConfig {
            verifier,
            clock,
            development: config.environment.is_development(),
            metrics: registry.clone(),
            default_deadline: limits.default_deadline,
            max_stream: limits.max_stream,
            max_message_bytes: limits.max_message_bytes,
            methods: crate::pipeline::Methods::of_contracts(),
            anonymous_methods,
            protection: protection.clone(),
            certificate_identities: tls.as_ref().and_then(|tls| tls.identities()),
        });
        let grpc_server = tonic::transport::Server::builder()
            .max_concurrent_streams(limits.max_concurrent_streams)
            .initial_stream_window_size(1024 * 1024)
            .initial_connection_window_size(8 * 1024 * 1024)
            .http2_keepalive_interval(Some(Duration::from_secs(30)))
            .http2_keepalive_timeout(Some(Duration::from_secs(10)))
            .http2_max_header_list_size(64 * 1024)
            .layer(pipeline)
            .add_routes(routes);

        let (drain_tx, drain_rx) = tokio::sync::watch::channel(false);
        let drained = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|stop| *stop).await;
        };
        let (mut grpc_task, _certificate_watch) = match tls {
            Some(tls) => {
                let files = tls.files().clone();
                let watch = AbortOnDrop(Some(tls.spawn_watch(files.check_every)));
                match &config.client_certificates {
                    Some(clients) => tracing::info!(
                        cert = %files.cert.display(),
                        client_ca = %clients.ca_file.display(),
                        client_certificate = if clients.required { "required" } else { "optional" },
                        "serving gRPC over TLS with client certificates"
                    ),
                    None => tracing::info!(cert = %files.cert.display(), "serving gRPC over TLS"),
                }
                let incoming = crate::tls::listen_reloading(grpc, tls);
                let task = tokio::spawn(
                    grpc_server.serve_with_incoming_shutdown(incoming, drained(drain_rx.clone())),
                );
                (task, watch)
            }
            None => {
                // tonic ignores the server's nodelay setting for a given listener; set it
                // here.
                let incoming = TcpIncoming::from(grpc).with_nodelay(Some(true));
                let task = tokio::spawn(
                    grpc_server.serve_with_incoming_shutdown(incoming, drained(drain_rx.clone())),
                );
                (task, AbortOnDrop(None))
            }
        };
        // Probes over plaintext, health only: the kubelet's gRPC probes cannot speak TLS.
        let _probe_task = match probe_listener {
            None => AbortOnDrop(None),
            Some(listener) => {
                if let Ok(local) = listener.local_addr() {
                    tracing::info!(probe_addr = %local, "serving health probes");
                }
                let probes = tonic::transport::Server::builder()
                    .add_routes(probe_routes)
                    .serve_with_incoming_shutdown(
                        TcpIncoming::from(listener),
                        drained(drain_rx.clone()),
                    );
                AbortOnDrop(Some(tokio::spawn(async move {
                    if let Err(e) = probes.await {
                        tracing::error!(error = %e, "the probe listener stopped");
                    }
                })))
            }
        };
        let metrics_task = match metrics {
            Some(listener) => {
                if let Ok(addr) = listener.local_addr() {
                    tracing::info!(metrics_addr = %addr, "serving metrics");
                }
                Some(tokio::spawn(
                    registry.serve(listener, drained(drain_rx.clone())),
                ))
            }
            None => None,
        };
        tracing::info!(service = name, grpc_addr = %grpc_addr, services = ?advertised, "serving");

        tokio::select! {
            () = shutdown => {}
            result = &mut grpc_task => {
                // The server stopped by itself: that is an error whatever it says.
                if let Some(task) = readiness_task { task.abort(); }
                return match result {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => Err(e.into()),
                    Err(join) => Err(ServerError::Metrics(std::io::Error::other(join))),
                };
            }
        }

        tracing::info!(delay = ?config.shutdown_delay, "shutting down: reporting NOT_SERVING, then draining calls in flight");
        if let Some(task) = readiness_task {
            task.abort();
        }
        health.set_all(false).await;
        // Keep serving while whoever routes to us notices NOT_SERVING; only then stop
        // accepting and drain.
        tokio::time::sleep(config.shutdown_delay).await;
        let _ = drain_tx.send(true);
        match tokio::time::timeout(config.shutdown_timeout, &mut grpc_task).await {
            Ok(Ok(result)) => result?,
            Ok(Err(join)) => tracing::error!(error = %join, "gRPC server task failed"),
            Err(_) => {
                tracing::warn!(timeout = ?config.shutdown_timeout, "calls still in flight at the shutdown timeout; stopping anyway");
                grpc_task.abort();
            }
        }
        if let Some(task) = metrics_task
            && let Ok(Ok(Err(e))) = tokio::time::timeout(Duration::from_secs(2), task).await
        {
            return Err(ServerError::Metrics(e));
        }
        tracing::info!("stopped");
        Ok(())
    }
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, ServerError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServerError::Bind { addr, source })
}

async fn watch_readiness(
    probe: Arc<dyn ReadinessProbe>,
    health: Health,
    names: Vec<String>,
    interval: Duration,
) {
    let mut ready: Option<bool> = None;
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let result = probe.check().await;
        let now_ready = result.is_ok();
        if ready != Some(now_ready) {
            match &result {
                Ok(()) => tracing::info!("ready: reporting SERVING"),
                Err(why) => tracing::warn!(reason = %why, "not ready: reporting NOT_SERVING"),
            }
            health.set("", now_ready).await;
            for name in &names {
                health.set(name, now_ready).await;
            }
            ready = Some(now_ready);
        }
    }
}

/// Reflection as both endpoints serve it: the same services listed, and every one of them
/// describable, on `grpc.reflection.v1` and on `grpc.reflection.v1alpha` (which older
/// grpcurl builds and Python tooling still use).
fn reflection_builder(advertised: &[String]) -> tonic_reflection::server::Builder<'static> {
    let mut builder = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(edu_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET)
        .with_service_name("grpc.health.v1.Health")
        .with_service_name("grpc.reflection.v1.ServerReflection")
        .with_service_name("grpc.reflection.v1alpha.ServerReflection");
    for name in advertised {
        builder = builder.with_service_name(name.clone());
    }
    builder
}

fn reflection_v1(
    advertised: &[String],
) -> Result<
    tonic_reflection::server::v1::ServerReflectionServer<
        impl tonic_reflection::server::v1::ServerReflection,
    >,
    ServerError,
> {
    Ok(reflection_builder(advertised).build_v1()?)
}

fn reflection_v1alpha(
    advertised: &[String],
) -> Result<
    tonic_reflection::server::v1alpha::ServerReflectionServer<
        impl tonic_reflection::server::v1alpha::ServerReflection,
    >,
    ServerError,
> {
    Ok(reflection_builder(advertised).build_v1alpha()?)
}

/// Completes on SIGTERM (Kubernetes stopping the pod) or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("received Ctrl-C"),
        () = terminate => tracing::info!("received SIGTERM"),
    }
}

/// A generated tonic server for `api`, with the process's message size limit both ways:
/// `served!(ContestServiceServer<_>, ContestsApi::new(store), limits.max_message_bytes)`.
#[macro_export]
macro_rules! served {
    ($server:ty, $api:expr, $max:expr) => {
        <$server>::new($api)
            .max_decoding_message_size($max)
            .max_encoding_message_size($max)
    };
}

/// Aborts a background task when the server stops, however it stops.
struct AbortOnDrop(Option<tokio::task::JoinHandle<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(task) = &self.0 {
            task.abort();
        }
    }
}
