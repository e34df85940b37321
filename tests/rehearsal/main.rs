//! The deployment rehearsal: renders the `dev` overlay, then starts the real binaries on
//! this machine with exactly the configuration the manifests give their containers —
//! command, arguments, environment (ConfigMap values resolved), ports, mounted Secrets
//! (given local test values) — against the local Postgres, provisioned as the overlay's
//! CloudNativePG objects declare. It checks that every declared probe (port, service name)
//! answers SERVING and that the gateway reaches every backend through the addresses the
//! manifests give it. A manifest that no longer matches the binaries fails here, not in a
//! cluster.
//!
//! What stands in for Kubernetes: each pod gets a loopback address of its own (so every
//! pod can listen on the same declared ports, and `0.0.0.0` means that address); Service
//! names resolve to the pod addresses they select; the database Service `<cluster>-rw`
//! resolves to the local Postgres, and the database is a fresh one per run; mount paths
//! become directories under the test's scratch directory.

mod manifests;

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant};

use edu_devstack::process::{Logs, Process, command};
use edu_devstack::suite::{self, local_password};
use edu_kit::auth::dev::{self, DevToken};
use edu_proto::edu::gateway::v1 as gw;
use edu_proto::edu::gateway::v1::gateway_service_client::GatewayServiceClient;
use edu_suite_tests::connect;
use manifests::{Container, Deployment, PostgresCluster, Rendered};
use sqlx::postgres::PgConnectOptions;

const OVERLAY: &str = "deploy/overlays/dev";
/// Where the Dockerfile puts the binaries.
const IMAGE_BIN_DIR: &str = "/usr/local/bin/";
const PATIENCE: Duration = Duration::from_secs(60);

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the repository")
        .to_path_buf()
}

#[tokio::test]
async fn the_dev_overlay_runs_the_real_binaries_as_declared() {
    let rendered = Rendered::overlay(&repository().join(OVERLAY));
    eprintln!("rendered {OVERLAY}: {:?}", rendered.census());
    let deployments = rendered.deployments();
    assert!(
        deployments.iter().any(|d| d.name == "gateway") && deployments.len() >= 2,
        "the overlay runs the gateway and at least one service"
    );
    let cluster = rendered
        .postgres_cluster()
        .expect("the dev overlay brings its CloudNativePG cluster");
    let dockerfile =
        std::fs::read_to_string(repository().join("deploy/Dockerfile")).expect("deploy/Dockerfile");
    for deployment in &deployments {
        check_statically(deployment, &cluster, &dockerfile);
    }

    let rehearsal = Rehearsal::prepare(&rendered, &deployments, &cluster).await;
    let mut running = Vec::new();
    for deployment in &deployments {
        running.push(rehearsal.start(deployment).await);
    }
    for (deployment, process) in deployments.iter().zip(&mut running) {
        rehearsal.check_probes(deployment, process).await;
        rehearsal.check_metrics(deployment).await;
    }
    rehearsal
        .check_gateway_reaches_every_backend(&deployments)
        .await;

    // SIGTERM to every pod at once, as a namespace deletion would.
    let mut stopping = tokio::task::JoinSet::new();
    for process in running {
        stopping.spawn(async move { (process.name().to_string(), process.stop(PATIENCE).await) });
    }
    while let Some(stopped) = stopping.join_next().await {
        let (name, status) = stopped.expect("stop task");
        let status = status.expect("stops on SIGTERM");
        assert!(
            status.success(),
            "{name}: a clean exit after SIGTERM, got {status}"
        );
    }
    rehearsal.finish().await;
}

/// What the manifests must say, before anything runs.
fn check_statically(deployment: &Deployment, cluster: &PostgresCluster, dockerfile: &str) {
    let name = &deployment.name;
    let server = deployment.server();
    for container in deployment.init_containers.iter().chain([server]) {
        let program = container.command.first().unwrap_or_else(|| {
            panic!(
                "{name}/{}: no command; the image has no default for it",
                container.name
            )
        });
        let binary = program.strip_prefix(IMAGE_BIN_DIR).unwrap_or_else(|| {
            panic!(
                "{name}/{}: {program} is not where the image puts binaries",
                container.name
            )
        });
        assert!(
            dockerfile.contains(&format!("--bin {binary} "))
                || dockerfile.contains(&format!("--bin {binary}\n")),
            "{name}: the image does not build {binary} (deploy/Dockerfile)"
        );
    }

    let grpc = *server.ports.get("grpc").expect("a port named grpc");
    let metrics = *server.ports.get("metrics").expect("a port named metrics");
    let readiness = server.readiness.clone().expect("a readiness probe");
    let liveness = server.liveness.clone().expect("a liveness probe");
    let startup = server.startup.clone().expect("a startup probe");
    // The kubelet's gRPC probes cannot speak TLS: they go to the plaintext, health-only
    // probe listener.
    let probe_port = *server.ports.get("probe").expect("a port named probe");
    for probe in [&readiness, &liveness, &startup] {
        assert_eq!(
            probe.port, probe_port,
            "{name}: probes go to the probe port"
        );
    }
    assert_eq!(
        port_of(&server.env["EDU_PROBE_ADDR"]),
        probe_port,
        "{name}: EDU_PROBE_ADDR listens on the declared probe port"
    );
    assert_eq!(
        readiness.service, "",
        "{name}: readiness is the whole process"
    );
    assert_eq!(liveness.service, edu_kit::server::LIVENESS);
    assert_eq!(startup.service, edu_kit::server::LIVENESS);
    assert_eq!(
        port_of(&server.env["EDU_GRPC_ADDR"]),
        grpc,
        "{name}: EDU_GRPC_ADDR listens on the declared gRPC port"
    );
    assert_eq!(
        port_of(&server.env["EDU_METRICS_ADDR"]),
        metrics,
        "{name}: EDU_METRICS_ADDR listens on the declared metrics port"
    );
    assert_eq!(
        deployment.pod_annotations.get("prometheus.io/port"),
        Some(&metrics.to_string()),
        "{name}: Prometheus scrapes the metrics port"
    );

    // SIGKILL must never cut the drain short.
    let shutdown_secs = server.pre_stop_sleep_seconds
        + number(&server.env, "EDU_SHUTDOWN_DELAY_MS", 2_000).div_ceil(1_000)
        + number(&server.env, "EDU_SHUTDOWN_TIMEOUT_SECS", 20);
    assert!(
        deployment.termination_grace_seconds > shutdown_secs,
        "{name}: terminationGracePeriodSeconds {} must exceed preStop + shutdown delay + drain = {shutdown_secs} s",
        deployment.termination_grace_seconds
    );

    // A database-backed service: its role, password Secret, schema and CA are the ones the
    // cluster declares.
    if let Some(url) = server.env.get("EDU_DATABASE_URL") {
        let role = binary_name(server);
        let parts = UrlParts::parse(url);
        assert!(parts.user.is_none(), "{name}: the shared URL names no user");
        assert_eq!(
            parts.host,
            format!("{}-rw", cluster.name),
            "{name}: the primary's Service"
        );
        assert_eq!(parts.database, cluster.database);
        let password_secret = cluster
            .roles
            .get(&role)
            .unwrap_or_else(|| panic!("{name}: the cluster does not manage the role {role}"));
        assert_eq!(
            cluster.schemas.get(&role),
            Some(&role),
            "{name}: the cluster declares the schema {role}, owned by {role}"
        );
        let password_file = server
            .env
            .get("EDU_DATABASE_PASSWORD_FILE")
            .expect("the password comes from a mounted Secret");
        let volume = mounted_volume(server, password_file)
            .unwrap_or_else(|| panic!("{name}: {password_file} is not on a mounted volume"));
        assert_eq!(
            &deployment.secret_volumes[&volume].secret, password_secret,
            "{name}: the pod mounts the Secret the role's password comes from"
        );
        if let Some(ca) = deployment.secret_volumes.get("postgres-ca") {
            assert_eq!(
                ca.secret,
                format!("{}-ca", cluster.name),
                "{name}: the operator's CA"
            );
        }
    }
}

/// The running rehearsal: a fresh database, a scratch directory, a loopback address per pod.
struct Rehearsal {
    admin_url: String,
    admin: PgConnectOptions,
    database: String,
    cluster_host: String,
    scratch: PathBuf,
    pods: BTreeMap<String, Ipv4Addr>,
    services: BTreeMap<String, SocketAddr>,
    gateway_backends: String,
}

impl Rehearsal {
    /// Creates the database, roles and schemas as the operator would, and gives each pod an
    /// address.
    async fn prepare(
        rendered: &Rendered,
        deployments: &[Deployment],
        cluster: &PostgresCluster,
    ) -> Rehearsal {
        let admin_url = edu_kit::testing::admin_url();
        let admin = PgConnectOptions::from_str(&admin_url).expect("admin URL");
        let database = format!("edu_rehearsal_{}", uuid::Uuid::new_v4().simple());
        suite::create_database(&admin_url, &database)
            .await
            .expect("create the database");
        let pool = suite::admin_pool(&admin_url, Some(&database))
            .await
            .expect("admin pool");
        for (schema, owner) in &cluster.schemas {
            assert!(
                cluster.roles.contains_key(owner),
                "schema {schema}: owner {owner} is not a managed role"
            );
            edu_kit::db::provision::role_and_schema(
                &pool,
                owner,
                Some(&local_password(owner)),
                schema,
            )
            .await
            .expect("role and schema");
        }
        pool.close().await;

        // 127.x.y.1: one address per pod, x varying per test process so that parallel runs
        // do not collide.
        let x = 100 + (std::process::id() % 100) as u8;
        let pods: BTreeMap<String, Ipv4Addr> = deployments
            .iter()
            .enumerate()
            .map(|(i, d)| (d.name.clone(), Ipv4Addr::new(127, x, i as u8 + 1, 1)))
            .collect();

        // Every Service resolves to the pods it selects, on the ports it targets.
        let mut services = BTreeMap::new();
        let gateway = deployments
            .iter()
            .find(|d| d.name == "gateway")
            .expect("gateway");
        let gateway_backends = gateway.server().env["EDU_GATEWAY_BACKENDS"].clone();
        for entry in gateway_backends.split(',') {
            let (backend, target) = entry.split_once('=').expect("name=host:port");
            let (host, port) = target.rsplit_once(':').expect("host:port");
            let port: u16 = port.parse().expect("port");
            let service = rendered
                .service(host)
                .unwrap_or_else(|| panic!("backend {backend}: no Service named {host}"));
            assert!(
                service.headless,
                "{host}: headless, so the gateway sees every pod"
            );
            let selected: Vec<&Deployment> =
                deployments.iter().filter(|d| service.selects(d)).collect();
            assert_eq!(
                selected.len(),
                1,
                "{host} selects the pods of one Deployment"
            );
            let container_port = service
                .target(port, selected[0].server())
                .unwrap_or_else(|| panic!("{host} has no port {port} reaching a container port"));
            assert_eq!(
                container_port, port,
                "{host}: a headless Service's DNS gives pod addresses, so the gateway dials the container port itself"
            );
            services.insert(
                host.to_string(),
                SocketAddr::from((pods[&selected[0].name], container_port)),
            );
        }
        let gateway_service = rendered.service("gateway").expect("the gateway's Service");
        assert!(gateway_service.selects(gateway));
        // Every port of the gateway's Service reaches a container port; callers use the one
        // that reaches gRPC (the other is metrics).
        for (port, _) in &gateway_service.ports {
            let target = gateway_service
                .target(*port, gateway.server())
                .expect("the gateway Service reaches a container port");
            if target == gateway.server().ports["grpc"] {
                services.insert(
                    "gateway".into(),
                    SocketAddr::from((pods["gateway"], target)),
                );
            }
        }
        assert!(
            services.contains_key("gateway"),
            "the gateway's Service has a port reaching gRPC"
        );

        let scratch = edu_devstack::binaries_dir()
            .join("rehearsal")
            .join(&database);
        std::fs::create_dir_all(&scratch).expect("scratch directory");
        Rehearsal {
            admin_url,
            admin,
            database,
            cluster_host: format!("{}-rw", cluster.name),
            scratch,
            pods,
            services,
            gateway_backends,
        }
    }

    /// Runs the init containers to completion, then starts the server container.
    async fn start(&self, deployment: &Deployment) -> Process {
        let files = self.scratch.join(&deployment.name);
        self.mount_secrets(deployment, &files);
        for init in &deployment.init_containers {
            let (binary, args) = self.program(init);
            let env = self.environment(deployment, init, &files);
            let output = command(
                &binary,
                &args.iter().map(String::as_str).collect::<Vec<_>>(),
                &env,
            )
            .output()
            .await
            .expect("run the init container");
            assert!(
                output.status.success(),
                "{}/{} exited with {}: {}",
                deployment.name,
                init.name,
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let server = deployment.server();
        let (binary, args) = self.program(server);
        let env = self.environment(deployment, server, &files);
        let pod = self.pods[&deployment.name];
        Process::spawn(
            &deployment.name,
            &binary,
            &args.iter().map(String::as_str).collect::<Vec<_>>(),
            &env,
            SocketAddr::from((pod, server.ports["grpc"])),
            SocketAddr::from((pod, server.ports["metrics"])),
            &Logs::Files(self.scratch.join("logs")),
        )
        .expect("start the server container")
    }

    /// The local binary of the container's image path, and its arguments.
    fn program(&self, container: &Container) -> (PathBuf, Vec<String>) {
        let binary = edu_devstack::binaries_dir().join(binary_name(container));
        assert!(binary.is_file(), "{} is not built", binary.display());
        let args = container.command[1..]
            .iter()
            .chain(&container.args)
            .cloned()
            .collect();
        (binary, args)
    }

    /// Writes each mounted Secret's projected keys, with local test values.
    fn mount_secrets(&self, deployment: &Deployment, files: &Path) {
        let containers = deployment
            .init_containers
            .iter()
            .chain(&deployment.containers);
        for container in containers {
            for (mount_path, volume) in &container.mounts {
                let secret = deployment.secret_volumes.get(volume).unwrap_or_else(|| {
                    panic!(
                        "{}: mount of an undeclared volume {volume}",
                        deployment.name
                    )
                });
                let dir = local_path(files, mount_path);
                std::fs::create_dir_all(&dir).expect("mount directory");
                for (key, path) in &secret.items {
                    std::fs::write(dir.join(path), secret_test_value(&secret.secret, key))
                        .expect("write the Secret's file");
                }
            }
        }
    }

    /// The container's environment with the cluster's names mapped to this machine.
    fn environment(
        &self,
        deployment: &Deployment,
        container: &Container,
        files: &Path,
    ) -> Vec<(String, String)> {
        let pod = self.pods[&deployment.name].to_string();
        container
            .env
            .iter()
            .map(|(key, value)| {
                let mut value = value.replace("0.0.0.0", &pod);
                for mount_path in container.mounts.keys() {
                    value = value.replace(
                        mount_path.as_str(),
                        &local_path(files, mount_path).to_string_lossy(),
                    );
                }
                let value = match key.as_str() {
                    "EDU_DATABASE_URL" => self.local_database_url(&value),
                    "EDU_GATEWAY_BACKENDS" => self.local_backends(&value),
                    _ => value,
                };
                (key.clone(), value)
            })
            .collect()
    }

    fn local_database_url(&self, url: &str) -> String {
        let parts = UrlParts::parse(url);
        assert_eq!(parts.host, self.cluster_host);
        format!(
            "postgres://{}:{}/{}{}",
            self.admin.get_host(),
            self.admin.get_port(),
            self.database,
            parts.query
        )
    }

    fn local_backends(&self, backends: &str) -> String {
        backends
            .split(',')
            .map(|entry| {
                let (name, target) = entry.split_once('=').expect("name=host:port");
                let (host, _) = target.rsplit_once(':').expect("host:port");
                format!("{name}={}", self.services[host])
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Every probe of the server container, as the kubelet would send it: to the pod's
    /// address on the declared port, for the declared service.
    async fn check_probes(&self, deployment: &Deployment, process: &mut Process) {
        let server = deployment.server();
        let pod = self.pods[&deployment.name];
        for (kind, probe) in [
            ("startup", &server.startup),
            ("liveness", &server.liveness),
            ("readiness", &server.readiness),
        ] {
            let probe = probe.as_ref().expect("declared");
            let addr = SocketAddr::from((pod, probe.port));
            if let Err(e) = process
                .wait_serving_at(addr, &probe.service, PATIENCE)
                .await
            {
                panic!(
                    "{}: the {kind} probe (port {}, service {:?}) is not answered SERVING: {e}",
                    deployment.name, probe.port, probe.service
                );
            }
            eprintln!(
                "{}: {kind} probe on {addr} service {:?}: SERVING",
                deployment.name, probe.service
            );
        }
    }

    /// The metrics port answers Prometheus's scrape.
    async fn check_metrics(&self, deployment: &Deployment) {
        let addr = SocketAddr::from((
            self.pods[&deployment.name],
            deployment.server().ports["metrics"],
        ));
        edu_suite_tests::scrape_metrics(addr).await;
    }

    /// Through the gateway's Service: every backend of EDU_GATEWAY_BACKENDS is reached at the
    /// pod address its Service gives, and a call goes through.
    async fn check_gateway_reaches_every_backend(&self, deployments: &[Deployment]) {
        let gateway = connect(self.services["gateway"]).await;
        let operator = DevToken::new("rehearsal").role("gateway.operator").sign();
        let expected: BTreeMap<String, String> = self
            .local_backends(&self.gateway_backends)
            .split(',')
            .map(|entry| {
                let (name, addr) = entry.split_once('=').expect("name=addr");
                (format!("backends/{name}"), addr.to_string())
            })
            .collect();
        let started = Instant::now();
        loop {
            let listed = GatewayServiceClient::new(gateway.clone())
                .list_backends(edu_kit::client::with_bearer(
                    tonic::Request::new(gw::ListBackendsRequest::default()),
                    &operator,
                ))
                .await
                .expect("ListBackends through the gateway")
                .into_inner();
            let serving: BTreeMap<String, Vec<String>> = listed
                .backends
                .iter()
                .map(|b| {
                    let addresses = b
                        .endpoints
                        .iter()
                        .filter(|e| e.state == gw::EndpointState::Serving as i32)
                        .map(|e| e.address.clone())
                        .collect();
                    (b.name.clone(), addresses)
                })
                .collect();
            let reached = expected
                .iter()
                .all(|(name, addr)| serving.get(name).is_some_and(|a| a.contains(addr)));
            if reached {
                eprintln!("gateway reaches {expected:?}");
                break;
            }
            assert!(
                started.elapsed() < PATIENCE,
                "the gateway does not reach every backend: expected {expected:?}, serving {serving:?}"
            );
            // The gateway re-checks its backends on its own interval; nothing to wait on.
            tokio::time::sleep(Duration::from_millis(200)).await;
        }

        // A real call through the gateway, to each service it routes to.
        for deployment in deployments.iter().filter(|d| d.name != "gateway") {
            match deployment.name.as_str() {
                "competitions" => {
                    use edu_proto::edu::competitions::v1 as pb;
                    let organiser = DevToken::new("rehearsal")
                        .role("competitions.organiser")
                        .sign();
                    pb::contest_service_client::ContestServiceClient::new(gateway.clone())
                        .list_contests(edu_kit::client::with_bearer(
                            tonic::Request::new(pb::ListContestsRequest::default()),
                            &organiser,
                        ))
                        .await
                        .expect("ListContests through the gateway");
                }
                "certificates" => {
                    use edu_proto::edu::certificates::v1 as pb;
                    pb::programme_service_client::ProgrammeServiceClient::new(gateway.clone())
                        .search_programmes(tonic::Request::new(
                            pb::SearchProgrammesRequest::default(),
                        ))
                        .await
                        .expect("SearchProgrammes through the gateway");
                }
                "partnerships" => {
                    use edu_proto::edu::partnerships::v1 as pb;
                    let ministry = DevToken::new("rehearsal")
                        .role("partnerships.ministry")
                        .sign();
                    pb::programme_year_service_client::ProgrammeYearServiceClient::new(
                        gateway.clone(),
                    )
                    .list_programme_years(edu_kit::client::with_bearer(
                        tonic::Request::new(pb::ListProgrammeYearsRequest::default()),
                        &ministry,
                    ))
                    .await
                    .expect("ListProgrammeYears through the gateway");
                }
                "aid" => {
                    use edu_proto::edu::aid::v1 as pb;
                    let coordinator = DevToken::new("rehearsal")
                        .role("aid.national_coordinator")
                        .sign();
                    pb::campaign_service_client::CampaignServiceClient::new(gateway.clone())
                        .list_campaigns(edu_kit::client::with_bearer(
                            tonic::Request::new(pb::ListCampaignsRequest::default()),
                            &coordinator,
                        ))
                        .await
                        .expect("ListCampaigns through the gateway");
                }
                "mentoring" => {
                    use edu_proto::edu::mentoring::v1 as pb;
                    let centre = DevToken::new("rehearsal")
                        .role("mentoring.regional_centre")
                        .scope("region:RU-SAR")
                        .sign();
                    pb::institution_service_client::InstitutionServiceClient::new(gateway.clone())
                        .list_institutions(edu_kit::client::with_bearer(
                            tonic::Request::new(pb::ListInstitutionsRequest {
                                region_code: "RU-SAR".into(),
                                ..Default::default()
                            }),
                            &centre,
                        ))
                        .await
                        .expect("ListInstitutions through the gateway");
                }
                other => panic!("add a call to {other} through the gateway to the rehearsal"),
            }
        }
    }

    async fn finish(self) {
        suite::drop_database(&self.admin_url, &self.database)
            .await
            .expect("drop the database");
        let _ = std::fs::remove_dir_all(&self.scratch);
    }
}

/// Local test values for the Secrets the manifests mount (never real ones: these are the
/// development identity provider's public keys and the local roles' passwords). A new
/// Secret fails the rehearsal until it has one here.
fn secret_test_value(secret: &str, key: &str) -> String {
    match (secret, key) {
        ("edu-token-keys", "jwks.json") => dev::public_jwks(),
        // The dev overlay does not verify the server certificate (sslmode=require), so the
        // CA file is mounted but never read.
        ("edu-postgres-ca", "ca.crt") => String::new(),
        (secret, "password") if secret.starts_with("edu-db-") => {
            local_password(&secret["edu-db-".len()..])
        }
        _ => panic!("no local test value for key {key} of Secret {secret}; add one"),
    }
}

/// The binary a container runs: the last part of its command's path.
fn binary_name(container: &Container) -> String {
    container.command[0]
        .rsplit('/')
        .next()
        .expect("a path")
        .to_string()
}

/// The volume mounted at a directory containing `path`.
fn mounted_volume(container: &Container, path: &str) -> Option<String> {
    container
        .mounts
        .iter()
        .find(|(mount_path, _)| path.starts_with(&format!("{}/", mount_path.trim_end_matches('/'))))
        .map(|(_, volume)| volume.clone())
}

fn local_path(files: &Path, mount_path: &str) -> PathBuf {
    files.join(mount_path.trim_start_matches('/'))
}

fn port_of(addr: &str) -> u16 {
    addr.rsplit_once(':')
        .and_then(|(_, port)| port.parse().ok())
        .unwrap_or_else(|| panic!("{addr:?} is not host:port"))
}

fn number(env: &BTreeMap<String, String>, key: &str, default: u64) -> u64 {
    env.get(key)
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{key}={v:?} is not a number"))
        })
        .unwrap_or(default)
}

/// `postgres://[user@]host:port/database[?query]`, as far as the rehearsal needs it.
struct UrlParts {
    user: Option<String>,
    host: String,
    database: String,
    /// `?…` or empty.
    query: String,
}

impl UrlParts {
    fn parse(url: &str) -> UrlParts {
        let rest = url.strip_prefix("postgres://").expect("a postgres:// URL");
        let (rest, query) = match rest.split_once('?') {
            Some((rest, query)) => (rest, format!("?{query}")),
            None => (rest, String::new()),
        };
        let (authority, database) = rest.split_once('/').expect("a database in the URL");
        let (user, host_port) = match authority.rsplit_once('@') {
            Some((user, host_port)) => (Some(user.to_string()), host_port),
            None => (None, authority),
        };
        let host = host_port.split(':').next().expect("host").to_string();
        UrlParts {
            user,
            host,
            database: database.to_string(),
            query,
        }
    }
}
