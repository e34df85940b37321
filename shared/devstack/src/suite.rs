//! The whole suite on one machine: a database with each service's role and schema,
//! migrations run by each binary's `migrate` command, every service started and ready, and
//! the gateway in front of them — the same binaries and configuration variables that run
//! one per pod in Kubernetes.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{AssertSqlSafe, PgPool};

use edu_kit::config as env;
use edu_kit::db::provision;

use crate::DevError;
use crate::process::{Logs, Process, command};

/// A domain service of the suite.
#[derive(Debug, Clone, Copy)]
pub struct ServiceSpec {
    /// Its name: binary, Postgres role and schema, and gateway backend.
    pub name: &'static str,
    /// A gRPC service it serves, whose health at the gateway says it is reachable.
    pub probe_service: &'static str,
    /// Its default port for `up`.
    pub port: u16,
}

/// The domain services; a new one is one more line.
pub const SERVICES: [ServiceSpec; 5] = [
    ServiceSpec {
        name: "competitions",
        probe_service: "edu.competitions.v1.ContestService",
        port: 50061,
    },
    ServiceSpec {
        name: "certificates",
        probe_service: "edu.certificates.v1.CertificateService",
        port: 50062,
    },
    ServiceSpec {
        name: "partnerships",
        probe_service: "edu.partnerships.v1.ProgrammeYearService",
        port: 50063,
    },
    ServiceSpec {
        name: "aid",
        probe_service: "edu.aid.v1.CampaignService",
        port: 50064,
    },
    ServiceSpec {
        name: "mentoring",
        probe_service: "edu.mentoring.v1.InstitutionService",
        port: 50065,
    },
];

/// How long a process may take to become ready or to stop.
const PATIENCE: Duration = Duration::from_secs(60);

/// How to start the suite.
#[derive(Debug, Clone)]
pub struct SuiteOptions {
    /// An administrator URL of the Postgres server.
    pub admin_url: String,
    /// The database the suite uses (created when missing).
    pub database: String,
    /// Where the service binaries are.
    pub bin_dir: PathBuf,
    /// The gateway's port; 0 for any free port.
    pub gateway_port: u16,
    /// Whether services take their default ports (`up`) or any free ones (tests).
    pub fixed_ports: bool,
    /// Where logs go.
    pub logs: Logs,
    /// Extra variables for every process.
    pub extra_env: Vec<(String, String)>,
    /// Processes per service (the gateway balances over them), 1 for a plain local run.
    pub replicas: usize,
}

/// A running suite.
#[derive(Debug)]
pub struct Suite {
    gateway: Process,
    services: Vec<Process>,
}

impl Suite {
    /// Provisions, migrates and starts every service, then the gateway, and waits until the
    /// gateway reports every backend SERVING.
    pub async fn start(options: SuiteOptions) -> Result<Suite, DevError> {
        create_database(&options.admin_url, &options.database).await?;
        let admin = admin_pool(&options.admin_url, Some(&options.database)).await?;
        for service in SERVICES {
            provision::role_and_schema(
                &admin,
                service.name,
                Some(&local_password(service.name)),
                service.name,
            )
            .await
            .map_err(|e| DevError::Postgres(e.to_string()))?;
        }
        admin.close().await;

        let mut services = Vec::new();
        for (index, service) in SERVICES.iter().enumerate() {
            let binary = binary(&options, service.name)?;
            let env = service_env(&options, service)?;
            migrate(&binary, service.name, &env).await?;
            for replica in 0..options.replicas.max(1) {
                let addrs = || -> Result<(SocketAddr, SocketAddr), DevError> {
                    Ok(if replica == 0 {
                        (
                            local(port(&options, service.port)?),
                            local(port(&options, 9161 + index as u16)?),
                        )
                    } else {
                        (local(any_port()?), local(any_port()?))
                    })
                };
                let name = replica_name(service.name, replica);
                let process =
                    start_serving(&options, &name, &binary, &["serve"], &env, addrs, &[""]).await?;
                services.push(process);
            }
        }

        let backends = SERVICES
            .iter()
            .map(|service| {
                let replicas: Vec<String> = services
                    .iter()
                    .filter(|p| service_of(p.name()) == service.name)
                    .map(|p| p.grpc_addr.to_string())
                    .collect();
                format!("{}={}", service.name, replicas.join("+"))
            })
            .collect::<Vec<_>>()
            .join(",");
        let addrs = || -> Result<(SocketAddr, SocketAddr), DevError> {
            let grpc = if options.gateway_port == 0 {
                any_port()?
            } else {
                options.gateway_port
            };
            Ok((local(grpc), local(port(&options, 9160)?)))
        };
        let mut env = common_env(&options);
        env.push(("EDU_GATEWAY_BACKENDS".into(), backends));
        env.push(("EDU_GATEWAY_CHECK_INTERVAL_MS".into(), "500".into()));
        let probes: Vec<&str> = SERVICES.iter().map(|s| s.probe_service).collect();
        let gateway = start_serving(
            &options,
            "gateway",
            &binary(&options, "gateway")?,
            &[],
            &env,
            addrs,
            &probes,
        )
        .await?;
        Ok(Suite { gateway, services })
    }

    /// The gateway's gRPC address: the suite's one public entry.
    pub fn gateway_addr(&self) -> SocketAddr {
        self.gateway.grpc_addr
    }

    /// The gateway's metrics address.
    pub fn gateway_metrics_addr(&self) -> SocketAddr {
        self.gateway.metrics_addr
    }

    /// The gateway's process.
    pub fn gateway(&self) -> &Process {
        &self.gateway
    }

    /// The processes behind the gateway.
    pub fn services(&self) -> &[Process] {
        &self.services
    }

    /// The gRPC address of service `name`, for calls that bypass the gateway.
    pub fn service_addr(&self, name: &str) -> Option<SocketAddr> {
        self.services
            .iter()
            .find(|p| p.name() == name)
            .map(|p| p.grpc_addr)
    }

    /// Replaces process `name` (a service, or a replica such as `certificates-2`) with a new
    /// one on the same addresses: SIGTERM, the drain, a fresh start, and readiness; as a
    /// rolling restart replaces a pod.
    pub async fn restart(&mut self, name: &str) -> Result<(), DevError> {
        let index = self
            .services
            .iter()
            .position(|p| p.name() == name)
            .ok_or_else(|| DevError::NotReady(name.to_string(), "no such process".into()))?;
        let old = self.services.remove(index);
        let mut new = old.restart(PATIENCE).await?;
        let waited = new.wait_serving("", PATIENCE).await;
        self.services.insert(index, new);
        waited
    }

    /// Takes service `name` out of the suite (to stop it alone, as a failing pod would be).
    pub fn without(mut self, name: &str) -> (Option<Process>, Suite) {
        let taken = self
            .services
            .iter()
            .position(|p| p.name() == name)
            .map(|i| self.services.remove(i));
        (taken, self)
    }

    /// Stops the gateway, then every service, each with SIGTERM and a drain.
    pub async fn stop(self) -> Result<(), DevError> {
        let mut result = self.gateway.stop(PATIENCE).await.map(|_| ());
        for service in self.services {
            let stopped = service.stop(PATIENCE).await.map(|_| ());
            result = result.and(stopped);
        }
        result
    }
}

/// The process name of a service's replica: the service's name for the first, then
/// `certificates-2`, `certificates-3`.
fn replica_name(service: &str, replica: usize) -> String {
    if replica == 0 {
        service.to_string()
    } else {
        format!("{service}-{}", replica + 1)
    }
}

/// The service a process name belongs to.
fn service_of(process: &str) -> &str {
    match process.rsplit_once('-') {
        Some((service, n)) if n.parse::<usize>().is_ok() => service,
        _ => process,
    }
}

/// The password of a service's role in a local run. Local only: production passwords come
/// from Secrets.
pub fn local_password(service: &str) -> String {
    format!("{service}-local-only")
}

fn binary(options: &SuiteOptions, name: &str) -> Result<PathBuf, DevError> {
    let path = options.bin_dir.join(name);
    if path.is_file() {
        Ok(path)
    } else {
        Err(DevError::MissingBinary(path))
    }
}

fn any_port() -> Result<u16, DevError> {
    crate::postgres::free_port(0)
}

fn port(options: &SuiteOptions, default: u16) -> Result<u16, DevError> {
    if options.fixed_ports {
        Ok(default)
    } else {
        any_port()
    }
}

fn common_env(options: &SuiteOptions) -> Vec<(String, String)> {
    let log_format = match options.logs {
        Logs::Terminal => "text",
        Logs::Files(_) => "json",
    };
    let mut env = vec![
        (env::ENVIRONMENT.to_string(), "development".to_string()),
        (env::LOG_FORMAT.to_string(), log_format.to_string()),
        (env::LOG.to_string(), "info".to_string()),
        (env::HEALTH_CHECK_INTERVAL_MS.to_string(), "500".to_string()),
        (env::SHUTDOWN_TIMEOUT_SECS.to_string(), "10".to_string()),
        // Locally nobody routes around a stopping process; stop at once.
        (env::SHUTDOWN_DELAY_MS.to_string(), "0".to_string()),
    ];
    env.extend(options.extra_env.iter().cloned());
    env
}

fn service_env(
    options: &SuiteOptions,
    service: &ServiceSpec,
) -> Result<Vec<(String, String)>, DevError> {
    let admin = PgConnectOptions::from_str(&options.admin_url)
        .map_err(|e| DevError::Postgres(e.to_string()))?;
    let url = format!(
        "postgres://{role}:{password}@{host}:{port}/{database}",
        role = service.name,
        password = local_password(service.name),
        host = admin.get_host(),
        port = admin.get_port(),
        database = options.database,
    );
    let mut env = common_env(options);
    env.push((env::DATABASE_URL.into(), url));
    env.push((env::DATABASE_MIGRATE_ON_START.into(), "false".into()));
    // Ten connections unless the caller chose (the benchmark gives as many as callers): a
    // default pushed after the caller's value would override it.
    if !options
        .extra_env
        .iter()
        .any(|(name, _)| name == env::DATABASE_MAX_CONNECTIONS)
    {
        env.push((env::DATABASE_MAX_CONNECTIONS.into(), "10".into()));
    }
    Ok(env)
}

/// A loopback address.
fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Starts `binary` on the addresses `addrs` chooses and waits until its health reports
/// every one of `probes` SERVING. Ports we chose are free when chosen, and another test's
/// process can bind one before ours does: a process that exits because its address is
/// taken is started again on newly chosen ones (never with fixed ports, which are the
/// user's to free).
async fn start_serving(
    options: &SuiteOptions,
    name: &str,
    binary: &Path,
    args: &[&str],
    env: &[(String, String)],
    addrs: impl Fn() -> Result<(SocketAddr, SocketAddr), DevError>,
    probes: &[&str],
) -> Result<Process, DevError> {
    const ATTEMPTS: usize = 5;
    let mut attempt = 1;
    loop {
        let (grpc, metrics) = addrs()?;
        let mut process = Process::spawn(
            name,
            binary,
            args,
            &with_addrs(env.to_vec(), grpc, metrics),
            grpc,
            metrics,
            &options.logs,
        )?;
        let mut serving = Ok(());
        for probe in probes {
            serving = process.wait_serving(probe, PATIENCE).await;
            if serving.is_err() {
                break;
            }
        }
        match serving {
            Ok(()) => return Ok(process),
            Err(DevError::Exited(_, _, ref log))
                if !options.fixed_ports
                    && attempt < ATTEMPTS
                    && log.contains("Address already in use") =>
            {
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

fn with_addrs(
    mut env: Vec<(String, String)>,
    grpc: SocketAddr,
    metrics: SocketAddr,
) -> Vec<(String, String)> {
    env.push((env::GRPC_ADDR.into(), grpc.to_string()));
    env.push((env::METRICS_ADDR.into(), metrics.to_string()));
    env
}

async fn migrate(binary: &Path, name: &str, env: &[(String, String)]) -> Result<(), DevError> {
    let output = command(binary, &["migrate"], env)
        .output()
        .await
        .map_err(|e| DevError::Io(binary.to_path_buf(), e))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(DevError::Exited(
            format!("{name} migrate"),
            output.status.to_string(),
            String::from_utf8_lossy(&output.stderr).to_string(),
        ))
    }
}

/// A pool of one administrator connection, to `database` or to the URL's own.
pub async fn admin_pool(admin_url: &str, database: Option<&str>) -> Result<PgPool, DevError> {
    let mut options =
        PgConnectOptions::from_str(admin_url).map_err(|e| DevError::Postgres(e.to_string()))?;
    if let Some(database) = database {
        options = options.database(database);
    }
    PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(options)
        .await
        .map_err(|e| DevError::Postgres(e.to_string()))
}

/// Creates `database` unless it exists.
pub async fn create_database(admin_url: &str, database: &str) -> Result<(), DevError> {
    let database =
        provision::identifier(database).map_err(|e| DevError::Postgres(e.to_string()))?;
    let admin = admin_pool(admin_url, None).await?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(database)
            .fetch_one(&admin)
            .await
            .map_err(|e| DevError::Postgres(e.to_string()))?;
    if !exists {
        sqlx::query(AssertSqlSafe(format!(
            "CREATE DATABASE {database} ENCODING 'UTF8'"
        )))
        .execute(&admin)
        .await
        .map_err(|e| DevError::Postgres(e.to_string()))?;
    }
    admin.close().await;
    Ok(())
}

/// Drops `database` (tests clean up after themselves).
pub async fn drop_database(admin_url: &str, database: &str) -> Result<(), DevError> {
    let database =
        provision::identifier(database).map_err(|e| DevError::Postgres(e.to_string()))?;
    let admin = admin_pool(admin_url, None).await?;
    sqlx::query(AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {database} WITH (FORCE)"
    )))
    .execute(&admin)
    .await
    .map_err(|e| DevError::Postgres(e.to_string()))?;
    admin.close().await;
    Ok(())
}
