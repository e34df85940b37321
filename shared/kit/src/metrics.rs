//! Prometheus metrics over HTTP (`GET /metrics`, OpenMetrics text): calls per RPC and status
//! code, call latency, and gauges that are read when scraped (database pool usage, backend
//! health). Services and the gateway register their own gauges here too.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels of a call counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    /// The gRPC service, for example `edu.competitions.v1.ContestService`.
    pub service: &'static str,
    /// The method, for example `CreateContest`.
    pub method: &'static str,
    /// The gRPC status code name, for example `OK` or `FAILED_PRECONDITION`.
    pub code: &'static str,
}

/// Labels of a latency histogram.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MethodLabels {
    /// The gRPC service.
    pub service: &'static str,
    /// The method.
    pub method: &'static str,
}

type Refresher = Box<dyn Fn() + Send + Sync>;

/// The process's metrics. Cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Mutex<Registry>>,
    refreshers: Arc<Mutex<Vec<Refresher>>>,
    calls: Family<CallLabels, Counter>,
    latency: Family<MethodLabels, Histogram>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A registry with the call metrics every server reports.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("edu");
        let calls = Family::<CallLabels, Counter>::default();
        registry.register(
            "grpc_server_calls",
            "gRPC calls handled, by method and status code",
            calls.clone(),
        );
        // 1 ms to ~16 s in 15 doublings: local calls and slow reports fall in distinct buckets.
        let latency = Family::<MethodLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.001, 2.0, 15))
        });
        registry.register(
            "grpc_server_call_duration_seconds",
            "Time from a call's arrival to its last response byte",
            latency.clone(),
        );
        Metrics {
            registry: Arc::new(Mutex::new(registry)),
            refreshers: Arc::default(),
            calls,
            latency,
        }
    }

    /// Counts one finished call and its latency. The labels are the names of the suite's
    /// known methods (the pipeline names any other path `unknown`), so a caller cannot
    /// grow the series without bound, and counting allocates nothing.
    pub fn record_call(
        &self,
        service: &'static str,
        method: &'static str,
        code: tonic::Code,
        elapsed: Duration,
    ) {
        self.calls
            .get_or_create(&CallLabels {
                service,
                method,
                code: code_name(code),
            })
            .inc();
        self.latency
            .get_or_create(&MethodLabels { service, method })
            .observe(elapsed.as_secs_f64());
    }

    /// Registers a gauge family whose values `refresh` sets just before each scrape.
    pub fn register_gauges<L>(
        &self,
        name: &str,
        help: &str,
        refresh: impl Fn(&Family<L, Gauge>) + Send + Sync + 'static,
    ) where
        L: EncodeLabelSet + Clone + std::hash::Hash + Eq + std::fmt::Debug + Send + Sync + 'static,
    {
        let family = Family::<L, Gauge>::default();
        self.lock_registry().register(name, help, family.clone());
        self.refreshers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Box::new(move || refresh(&family)));
    }

    /// Reports the usage of a database pool as `edu_db_pool_connections{state}`.
    pub fn register_pool(&self, pool: sqlx::PgPool) {
        #[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
        struct PoolLabels {
            state: &'static str,
        }
        let max = i64::from(pool.options().get_max_connections());
        self.register_gauges::<PoolLabels>(
            "db_pool_connections",
            "Database pool connections by state",
            move |family| {
                let size = i64::from(pool.size());
                let idle = pool.num_idle() as i64;
                family
                    .get_or_create(&PoolLabels { state: "idle" })
                    .set(idle);
                family
                    .get_or_create(&PoolLabels { state: "in_use" })
                    .set(size - idle);
                family.get_or_create(&PoolLabels { state: "max" }).set(max);
            },
        );
    }

    /// The metrics in OpenMetrics text.
    pub fn render(&self) -> String {
        for refresh in self
            .refreshers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            refresh();
        }
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.lock_registry());
        out
    }

    fn lock_registry(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Serves `GET /metrics` on `listener` until `shutdown` completes.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let app = axum::Router::new().route(
            "/metrics",
            axum::routing::get(move || {
                let metrics = self.clone();
                async move {
                    (
                        [(
                            http::header::CONTENT_TYPE,
                            "application/openmetrics-text; version=1.0.0; charset=utf-8",
                        )],
                        metrics.render(),
                    )
                }
            }),
        );
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
    }

    /// Binds the metrics listener.
    pub async fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
        tokio::net::TcpListener::bind(addr).await
    }
}

/// The canonical upper-case name of a gRPC code, as the gRPC spec spells it.
pub fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "CANCELLED",
        Unknown => "UNKNOWN",
        InvalidArgument => "INVALID_ARGUMENT",
        DeadlineExceeded => "DEADLINE_EXCEEDED",
        NotFound => "NOT_FOUND",
        AlreadyExists => "ALREADY_EXISTS",
        PermissionDenied => "PERMISSION_DENIED",
        ResourceExhausted => "RESOURCE_EXHAUSTED",
        FailedPrecondition => "FAILED_PRECONDITION",
        Aborted => "ABORTED",
        OutOfRange => "OUT_OF_RANGE",
        Unimplemented => "UNIMPLEMENTED",
        Internal => "INTERNAL",
        Unavailable => "UNAVAILABLE",
        DataLoss => "DATA_LOSS",
        Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_show_up_by_method_and_code() {
        let metrics = Metrics::new();
        metrics.record_call(
            "edu.x.v1.S",
            "Get",
            tonic::Code::Ok,
            Duration::from_millis(3),
        );
        metrics.record_call(
            "edu.x.v1.S",
            "Get",
            tonic::Code::NotFound,
            Duration::from_millis(1),
        );
        let text = metrics.render();
        assert!(
            text.contains(
                r#"edu_grpc_server_calls_total{service="edu.x.v1.S",method="Get",code="OK"} 1"#
            ),
            "{text}"
        );
        assert!(text.contains(r#"code="NOT_FOUND"} 1"#), "{text}");
        assert!(
            text.contains("edu_grpc_server_call_duration_seconds_bucket"),
            "{text}"
        );
    }
}
