//! `edu-dev`, the local suite: `cargo suite up` runs everything with the demo programmes
//! loaded; `cargo suite token` prints a development token.

#![allow(clippy::print_stdout)]

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Parser, Subcommand};

use edu_devstack::binaries_dir;
use edu_devstack::postgres::{Postgres, Source};
use edu_devstack::process::Logs;
use edu_devstack::suite::{SERVICES, Suite, SuiteOptions};
use edu_kit::auth::dev::DevToken;

#[derive(Debug, Parser)]
#[command(
    name = "edu-dev",
    about = "Runs the children's programmes suite locally"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start Postgres (if needed), every service and the gateway, load the demo programmes,
    /// and run until Ctrl-C.
    Up {
        /// The gateway's port.
        #[arg(long, default_value_t = 50051)]
        port: u16,
        /// The database to use (created when missing).
        #[arg(long, default_value = "edu")]
        database: String,
        /// Do not build the binaries first (use what is in the target directory).
        #[arg(long)]
        no_build: bool,
        /// Do not load the demo programmes.
        #[arg(long)]
        no_demo: bool,
        /// Show every process's log in this terminal instead of in files under
        /// `.local/logs/`.
        #[arg(long)]
        logs_here: bool,
    },
    /// The suite's benchmarks (issues 5 and 13): AcceptEnrolment through the gateway against
    /// the same work over SQL, object reads, the public catalogues, memory; in a fresh
    /// database of a Postgres cluster of its own. Run it with `--release`:
    /// `cargo run --release -p edu-devstack --bin edu-dev -- bench`.
    Bench {
        /// Children with funded certificates.
        #[arg(long, default_value_t = 100_000)]
        children: usize,
        /// Certified programmes enrolled in.
        #[arg(long, default_value_t = 1_000)]
        programmes: usize,
        /// Entries of each public catalogue.
        #[arg(long, default_value_t = 100_000)]
        entries: usize,
        /// Seconds per side.
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        /// Concurrent callers per side.
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        /// Database connections per service (EDU_DATABASE_MAX_CONNECTIONS); as many as
        /// callers when unset, like the reference.
        #[arg(long)]
        connections: Option<usize>,
        /// Worker threads of each process (EDU_WORKER_THREADS); one per core when unset.
        #[arg(long)]
        worker_threads: Option<usize>,
        /// Print the plan of every hot-path statement as well.
        #[arg(long)]
        plans: bool,
        /// Do not build the binaries first.
        #[arg(long)]
        no_build: bool,
    },
    /// The aid service's import benchmark (issue 15): a generated CSV of children imported
    /// through the gateway, one upload per size, with the rows per second and the aid
    /// process's peak resident memory; in a fresh database of a Postgres cluster of its own.
    /// Run it with `--release`:
    /// `cargo run --release -p edu-devstack --bin edu-dev -- bench-import`.
    BenchImport {
        /// Data rows of each upload, comma-separated: one upload per size.
        #[arg(long, value_delimiter = ',', default_values_t = [10_000, 100_000])]
        rows: Vec<usize>,
        /// Bytes of each chunk message (the service accepts at most 1 MiB).
        #[arg(long, default_value_t = edu_devstack::bench::import::MAX_CHUNK_BYTES)]
        chunk_bytes: usize,
        /// Do not build the binaries first.
        #[arg(long)]
        no_build: bool,
    },
    /// Print a development token (accepted only by services in development mode).
    Token {
        /// A role, for example competitions.organiser; repeat for several.
        #[arg(long = "role")]
        roles: Vec<String>,
        /// A tenant scope, for example region:RU-ALT; repeat for several.
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// The subject (the person's ID at the identity provider).
        #[arg(long, default_value = "dev-user")]
        subject: String,
        /// The display name.
        #[arg(long)]
        name: Option<String>,
        /// Lifetime in hours.
        #[arg(long, default_value_t = 12)]
        hours: u32,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Up {
            port,
            database,
            no_build,
            no_demo,
            logs_here,
        } => up(port, database, no_build, no_demo, logs_here).await,
        Command::Bench {
            children,
            programmes,
            entries,
            seconds,
            concurrency,
            connections,
            worker_threads,
            plans,
            no_build,
        } => {
            bench(
                edu_devstack::bench::BenchOptions {
                    children,
                    programmes,
                    entries,
                    seconds,
                    concurrency,
                },
                connections,
                worker_threads,
                plans,
                no_build,
            )
            .await
        }
        Command::BenchImport {
            rows,
            chunk_bytes,
            no_build,
        } => bench_import(rows, chunk_bytes, no_build).await,
        Command::Token {
            roles,
            scopes,
            subject,
            name,
            hours,
        } => {
            let mut token = DevToken::new(subject).expires_in(f64::from(hours) * 3600.0);
            for role in roles {
                token = token.role(role);
            }
            for scope in scopes {
                token = token.scope(scope);
            }
            if let Some(name) = name {
                token = token.name(name);
            }
            println!("{}", token.sign());
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("edu-dev: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Builds the service binaries with the cargo that runs us, so that `up` never starts stale
/// ones.
fn build_binaries() -> anyhow::Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = std::process::Command::new(cargo);
    command.args(["build", "--bins"]);
    // `cargo run` hands us the variables it sets for the binary it runs; passed on, they
    // change what some build scripts see, and the dependencies would be rebuilt on every run
    // (and again by the next `cargo run`).
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy().to_string();
        if name.starts_with("CARGO_PKG_")
            || matches!(
                name.as_str(),
                "CARGO_MANIFEST_DIR"
                    | "CARGO_MANIFEST_PATH"
                    | "CARGO_CRATE_NAME"
                    | "CARGO_BIN_NAME"
                    | "CARGO_PRIMARY_PACKAGE"
                    | "LD_LIBRARY_PATH"
            )
        {
            command.env_remove(&name);
        }
    }
    // The binaries beside us are the ones started: build them in our own profile.
    if !cfg!(debug_assertions) {
        command.arg("--release");
    }
    for service in SERVICES {
        command.args(["-p", &format!("edu-{}", service.name)]);
    }
    command.args(["-p", "edu-gateway"]);
    println!("building the service binaries…");
    let status = command.status()?;
    anyhow::ensure!(status.success(), "building the service binaries failed");
    Ok(())
}

/// A benchmark's own suite: the release binaries (built first unless told not to) on a
/// fresh database of a Postgres cluster of its own, so that nothing else runs beside it and
/// nothing of it is left afterwards.
struct BenchSuite {
    postgres: Postgres,
    database: String,
    suite: Suite,
}

impl BenchSuite {
    /// Starts it: the cluster in `.local/<cluster>` (a benchmark's own folder, since a
    /// fresh cluster replaces the one found there), the suite with `extra_env` for every
    /// process and its logs in files.
    async fn start(
        cluster: &str,
        no_build: bool,
        extra_env: Vec<(String, String)>,
    ) -> anyhow::Result<BenchSuite> {
        if cfg!(debug_assertions) {
            println!("note: a debug build measures debug binaries; run with --release for figures");
        }
        if !no_build {
            build_binaries()?;
        }
        // A cluster of its own, counting statements, where the server binaries are
        // installed; otherwise the Postgres `up` would use, without statement counts.
        let data_root = std::env::current_dir()?.join(".local").join(cluster);
        let postgres = match Postgres::start_counting(&data_root).await {
            Ok(postgres) => postgres,
            Err(e) => {
                println!("note: no private cluster ({e}); statements are not counted");
                Postgres::find_or_start(&std::env::current_dir()?.join(".local")).await?
            }
        };
        let database = format!("edu_bench_{}", uuid::Uuid::new_v4().simple());
        let logs = binaries_dir().join("bench-logs").join(&database);
        println!(
            "starting the suite on a fresh database {database} (logs in {})",
            logs.display()
        );
        let started = Suite::start(SuiteOptions {
            admin_url: postgres.admin_url.clone(),
            database: database.clone(),
            bin_dir: binaries_dir(),
            gateway_port: 0,
            fixed_ports: false,
            logs: Logs::Files(logs),
            replicas: 1,
            extra_env,
        })
        .await;
        match started {
            Ok(suite) => Ok(BenchSuite {
                postgres,
                database,
                suite,
            }),
            Err(e) => {
                // Leave nothing behind; the start's failure is the one to report.
                edu_devstack::suite::drop_database(&postgres.admin_url, &database)
                    .await
                    .ok();
                postgres.stop().await.ok();
                Err(e.into())
            }
        }
    }

    /// A connection to the gateway.
    async fn gateway(&self) -> anyhow::Result<tonic::transport::Channel> {
        Ok(
            edu_kit::client::endpoint(format!("http://{}", self.suite.gateway_addr()))?
                .connect()
                .await?,
        )
    }

    /// Stops the suite, drops the database and stops the cluster, each even when an
    /// earlier one failed; the first failure is returned.
    async fn stop(self) -> anyhow::Result<()> {
        let stopped = self.suite.stop().await;
        let dropped =
            edu_devstack::suite::drop_database(&self.postgres.admin_url, &self.database).await;
        let postgres = self.postgres.stop().await;
        stopped?;
        dropped?;
        postgres?;
        Ok(())
    }
}

/// Runs the certificates benchmark in a database of its own, dropped afterwards.
async fn bench(
    options: edu_devstack::bench::BenchOptions,
    connections: Option<usize>,
    worker_threads: Option<usize>,
    plans: bool,
    no_build: bool,
) -> anyhow::Result<()> {
    // As many database connections as callers unless told, like the reference, and the
    // log level of production.
    let extra_env = [
        Some((
            edu_kit::config::DATABASE_MAX_CONNECTIONS.to_string(),
            connections.unwrap_or(options.concurrency).to_string(),
        )),
        Some((edu_kit::config::LOG.to_string(), "warn".to_string())),
        worker_threads.map(|n| (edu_kit::config::WORKER_THREADS.to_string(), n.to_string())),
    ]
    .into_iter()
    .flatten()
    .collect();
    let bench = BenchSuite::start("bench", no_build, extra_env).await?;
    let report = async {
        let admin =
            edu_devstack::suite::admin_pool(&bench.postgres.admin_url, Some(&bench.database))
                .await?;
        let channel = bench.gateway().await?;
        println!(
            "seeding {} children, {} programmes and {} catalogue entries…",
            options.children, options.programmes, options.entries
        );
        let report = edu_devstack::bench::run(&bench.suite, &admin, channel, options).await;
        admin.close().await;
        report
    }
    .await;
    let stopped = bench.stop().await;
    let report = report?;
    println!();
    print!("{}", report.render(&options));
    if let (true, Ok(explained)) = (plans, &report.plans) {
        println!("\nthe hot paths' generic plans");
        print!("{}", edu_devstack::bench::plans::render(explained));
    }
    stopped
}

/// Runs the aid service's import benchmark in a database of its own, dropped afterwards.
async fn bench_import(rows: Vec<usize>, chunk_bytes: usize, no_build: bool) -> anyhow::Result<()> {
    anyhow::ensure!(!rows.is_empty(), "--rows needs at least one size");
    // The log level of production: a log line per row would be measured too.
    let extra_env = vec![(edu_kit::config::LOG.to_string(), "warn".to_string())];
    let bench = BenchSuite::start("bench-import", no_build, extra_env).await?;
    let options = edu_devstack::bench::import::ImportOptions { rows, chunk_bytes };
    let report = async {
        let channel = bench.gateway().await?;
        edu_devstack::bench::import::run(&bench.suite, channel, &options, |line| {
            println!("{line}");
        })
        .await
    }
    .await;
    let stopped = bench.stop().await;
    let report = report?;
    println!();
    print!("{}", report.render());
    stopped
}

async fn up(
    port: u16,
    database: String,
    no_build: bool,
    no_demo: bool,
    logs_here: bool,
) -> anyhow::Result<()> {
    if !no_build {
        build_binaries()?;
    }
    let started = Instant::now();
    let data_root = std::env::current_dir()?.join(".local");
    let logs = if logs_here {
        Logs::Terminal
    } else {
        Logs::Files(data_root.join("logs"))
    };
    let postgres = Postgres::find_or_start(&data_root).await?;
    match &postgres.source {
        Source::Configured => println!("Postgres: DATABASE_URL"),
        Source::Local => println!("Postgres: the server on localhost:5432"),
        Source::Private(dir) => println!("Postgres: a private cluster in {}", dir.display()),
    }
    let suite = Suite::start(SuiteOptions {
        admin_url: postgres.admin_url.clone(),
        database,
        bin_dir: binaries_dir(),
        gateway_port: port,
        fixed_ports: true,
        logs: logs.clone(),
        extra_env: Vec::new(),
        replicas: 1,
    })
    .await;
    let suite = match suite {
        Ok(suite) => suite,
        Err(e) => {
            postgres.stop().await.ok();
            return Err(e.into());
        }
    };
    let organiser = DevToken::new("dev-organiser")
        .role("competitions.organiser")
        .name("Организатор АСИ")
        .sign();
    let team = DevToken::new("dev-team-lead")
        .role("competitions.team")
        .scope("region:RU-ALT")
        .name("Руководитель команды Алтайского края")
        .sign();
    if !no_demo {
        load_demos(&suite).await?;
    }
    print_banner(&suite, started.elapsed(), &organiser, &team, &logs);

    edu_kit::server::shutdown_signal().await;
    println!("stopping…");
    let stopped = suite.stop().await;
    postgres.stop().await?;
    stopped?;
    println!("stopped");
    Ok(())
}

/// Runs each service binary's `demo` subcommand against the running gateway, in the order
/// of the suite's list, and shows what each loaded: the local suite knows the services only
/// as binaries.
async fn load_demos(suite: &Suite) -> anyhow::Result<()> {
    let gateway = format!("http://{}", suite.gateway_addr());
    for service in SERVICES {
        let binary = binaries_dir().join(service.name);
        let output = tokio::process::Command::new(&binary)
            .args(["demo", "--gateway", &gateway])
            .env_remove("EDU_DEMO_GATEWAY")
            .kill_on_drop(true)
            .output()
            .await
            .with_context(|| format!("running {} demo", binary.display()))?;
        anyhow::ensure!(
            output.status.success(),
            "{} demo failed: {}",
            service.name,
            String::from_utf8_lossy(&output.stderr).trim()
        );
        for line in String::from_utf8_lossy(&output.stdout).lines() {
            println!("demo: {line}");
        }
    }
    Ok(())
}

fn print_banner(suite: &Suite, took: Duration, organiser: &str, team: &str, logs: &Logs) {
    let gateway = suite.gateway_addr();
    println!();
    println!("The suite is up in {:.1} s.", took.as_secs_f64());
    println!(
        "  gateway (the public entry)  grpc://{gateway}   metrics http://{}/metrics",
        suite.gateway_metrics_addr()
    );
    for service in suite.services() {
        println!(
            "  {:<26}  grpc://{}   metrics http://{}/metrics",
            service.name(),
            service.grpc_addr,
            service.metrics_addr
        );
    }
    match logs {
        Logs::Files(dir) => println!(
            "  logs: {}/<process>.log (cargo suite up --logs-here shows them in this terminal)",
            dir.display()
        ),
        Logs::Terminal => println!("  logs: in this terminal, each line after its process's name"),
    }
    println!();
    println!("Development tokens (valid 12 h; services accept them only in development mode):");
    println!("  organiser  export ORGANISER_TOKEN={organiser}");
    println!("  team lead  export TEAM_TOKEN={team}");
    println!("  others     cargo suite token --role <role> --scope <kind:value> --subject <id>");
    println!();
    println!("Try it (grpcurl uses the gateway's reflection):");
    println!("  grpcurl -plaintext {gateway} list");
    println!(
        "  grpcurl -plaintext -H \"authorization: Bearer $ORGANISER_TOKEN\" {gateway} edu.competitions.v1.ContestService/ListContests"
    );
    println!();
    println!("Ctrl-C stops everything.");
}
