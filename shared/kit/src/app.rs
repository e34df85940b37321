//! The start-up every database-backed service shares, so that a service's `main` only says
//! what it is: `<binary> serve` (the default) runs it, `<binary> migrate` applies its
//! migrations and exits (for a Kubernetes Job, so replicas never race on start-up),
//! `<binary> demo` loads the service's demo programme through a running gateway (what
//! `cargo suite up` runs for each service, so the local suite needs no service's code), and
//! `<binary> audit-verify` verifies the service's audit chain in any database, a restored
//! dump as much as the live one.
//!
//! Besides the service's own API, `serve` serves the kit's `edu.audit.v1.AuditService` over
//! the service's audit trail, and runs the background tasks every service has: the expiry
//! of idempotency keys and the sealer of the audit chain.

use std::future::Future;
use std::pin::Pin;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use tonic::service::Routes;

use crate::audit::chain;
use crate::audit::service::{self as audit_service, AuditApi};
use crate::auth::TokenVerifier;
use crate::clock::Clock;
use crate::config::{
    AuditConfig, AuthConfig, DatabaseConfig, Env, Limits, Secret, ServerConfig, TelemetryConfig,
};
use crate::server::{DatabaseReadiness, Server};
use crate::{db, idempotency, telemetry};

/// How long start-up waits for the database before giving up.
const DATABASE_PATIENCE: Duration = Duration::from_secs(60);
/// How often the token key files are checked for rotated keys.
const KEY_RELOAD_INTERVAL: Duration = Duration::from_secs(30);

/// What a database-backed service is.
#[derive(Debug, Clone, Copy)]
pub struct DatabaseService {
    /// Its name: telemetry `service.name`, Postgres schema and login role.
    pub name: &'static str,
    /// Its migrations.
    pub migrator: &'static Migrator,
    /// The full names of its gRPC services (for health and reflection).
    pub grpc_services: &'static [&'static str],
    /// Methods callable without a token (`/pkg.Service/Method`).
    pub anonymous_methods: &'static [&'static str],
    /// Builds its routes on its pool.
    pub routes: fn(PgPool, &Limits) -> Routes,
    /// Loads its demo programme through the gateway on the channel, answering a line or two
    /// that say what was loaded.
    pub demo: DemoLoader,
}

/// What a service's `demo` subcommand runs: its demo data, created through the gateway the
/// channel reaches, as any caller would; the answer is what to tell the developer.
pub type DemoLoader =
    fn(
        tonic::transport::Channel,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<String>, tonic::Status>> + Send>>;

#[derive(Debug, Parser)]
#[command(
    about = "A service of the children's programmes suite; configured by EDU_* environment variables"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve gRPC (the default).
    Serve,
    /// Apply pending migrations and exit.
    Migrate,
    /// Load the demo programme through a running gateway (development tokens, so the
    /// services must run in development mode), print what was loaded, and exit.
    Demo {
        /// The gateway's address.
        #[arg(
            long,
            env = "EDU_DEMO_GATEWAY",
            default_value = "http://127.0.0.1:50051"
        )]
        gateway: String,
    },
    /// Verify the service's audit chain and print what was found: exits 0 when the chain
    /// holds, 2 when it is broken, 1 when it could not be verified. For an inspector, against
    /// a restored dump: point --database-url (or EDU_DATABASE_URL, with EDU_DATABASE_PASSWORD
    /// when the password is not in it) at the restored database.
    AuditVerify {
        /// The database, instead of EDU_DATABASE_URL; without a user in it, the service's
        /// role connects.
        #[arg(long)]
        database_url: Option<String>,
        /// The schema holding the trail; the service's name by default.
        #[arg(long)]
        schema: Option<String>,
    },
}

/// The exit code of `audit-verify` for a broken chain (1 is for a verification that could
/// not run).
pub const CHAIN_BROKEN: u8 = 2;

/// The process's async runtime: `EDU_WORKER_THREADS` worker threads, or one per core.
/// (The variable is read here, before configuration proper, as the runtime runs it.)
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = Env::process()
        .get(crate::config::WORKER_THREADS)
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n > 0)
    {
        builder.worker_threads(threads);
    }
    builder.enable_all().build()
}

/// Parses the command line, runs the service, and reports failure as an exit code.
pub fn main(service: DatabaseService) -> ExitCode {
    let cli = Cli::parse();
    let runtime = match runtime() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("{}: cannot start the runtime: {e}", service.name);
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(service, cli.command.unwrap_or(Command::Serve))) {
        Ok(code) => code,
        Err(e) => {
            // Logging may not be up (a configuration error), so stderr too.
            tracing::error!(error = %format!("{e:#}"), "stopped with an error");
            eprintln!("{}: {e:#}", service.name);
            ExitCode::FAILURE
        }
    }
}

async fn run(service: DatabaseService, command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Demo { gateway } => load_demo(service.demo, &gateway).await,
        Command::Migrate => with_database(service, true).await,
        Command::Serve => with_database(service, false).await,
        Command::AuditVerify {
            database_url,
            schema,
        } => return audit_verify(service, database_url, schema).await,
    }
    .map(|()| ExitCode::SUCCESS)
}

/// `migrate` (when `migrate_only`) or `serve`: the commands that need the database.
async fn with_database(service: DatabaseService, migrate_only: bool) -> anyhow::Result<()> {
    let env = Env::process();
    let _telemetry = telemetry::init(&TelemetryConfig::from_env(&env, service.name)?)?;
    let database = DatabaseConfig::from_env(&env)?;
    let pool = db::pool(&database, service.name, service.name)?;
    match migrate_only {
        true => {
            db::migrate_when_reachable(&pool, service.migrator, DATABASE_PATIENCE).await?;
            tracing::info!("migrations applied");
            Ok(())
        }
        false => {
            let config = ServerConfig::from_env(&env, 50051, 9090)?;
            let audit = AuditConfig::from_env(&env)?;
            let auth = AuthConfig::from_env(&env, config.environment)?;
            let verifier = TokenVerifier::start(&auth, KEY_RELOAD_INTERVAL).await?;
            if database.migrate_on_start {
                db::migrate_when_reachable(&pool, service.migrator, DATABASE_PATIENCE).await?;
            }
            let readiness = DatabaseReadiness::new(
                db::connect_options(&database, service.name, service.name)?,
                config.health_check_interval.min(Duration::from_secs(2)),
            );
            let limits = config.limits;
            let mut server =
                Server::new(service.name, config, verifier, Clock::system()).readiness(readiness);
            for name in service.grpc_services {
                server = server.advertise(name);
            }
            server = server.advertise(audit_service::SERVICE_NAME);
            for method in service.anonymous_methods {
                server = server.allow_anonymous(method);
            }
            server.metrics().register_pool(pool.clone());
            idempotency::spawn_expiry(pool.clone());
            chain::spawn_sealer(pool.clone(), audit.seal_interval);
            let routes = (service.routes)(pool.clone(), &limits)
                .add_service(AuditApi::new(pool, service.name).server(&limits));
            server.run_until_signalled(routes).await?;
            Ok(())
        }
    }
}

/// `<binary> audit-verify`: the report of the chain in `schema` (the service's by default)
/// of the database `database_url` names (`EDU_DATABASE_URL` by default), on standard output.
#[allow(clippy::print_stdout)]
async fn audit_verify(
    service: DatabaseService,
    database_url: Option<String>,
    schema: Option<String>,
) -> anyhow::Result<ExitCode> {
    let env = Env::process();
    let database = match (DatabaseConfig::from_env(&env), database_url) {
        (Ok(mut config), Some(url)) => {
            config.url = Secret::new(url);
            config
        }
        (Ok(config), None) => config,
        (Err(_), Some(url)) => DatabaseConfig {
            url: Secret::new(url),
            password: None,
            max_connections: 1,
            acquire_timeout: Duration::from_secs(10),
            migrate_on_start: false,
        },
        (Err(e), None) => return Err(e.into()),
    };
    let schema = schema.unwrap_or_else(|| service.name.to_string());
    db::provision::identifier(&schema)?;
    let options = db::connect_options(
        &database,
        &schema,
        &format!("{}-audit-verify", service.name),
    )?;
    let mut conn = db::single_connection(&options)
        .await
        .map_err(|e| anyhow::anyhow!("cannot connect to the database: {e}"))?;
    let report = chain::verify(&mut conn)
        .await
        .map_err(|e| anyhow::anyhow!("cannot read {schema}.audit_log: {e}"))?;
    println!(
        "{schema} audit trail: {} records sealed, {} not sealed yet",
        report.sealed, report.unsealed
    );
    if let Some(head) = &report.head {
        println!(
            "last sealed: chain_seq {}, hash {}",
            head.chain_seq,
            chain::hex(&head.hash)
        );
    }
    Ok(match report.first_break {
        None => {
            println!("the chain holds");
            ExitCode::SUCCESS
        }
        Some(broken) => {
            println!(
                "the chain is BROKEN at chain_seq {} (record id {}): {}",
                broken.chain_seq,
                broken.id,
                broken.kind.as_str()
            );
            ExitCode::from(CHAIN_BROKEN)
        }
    })
}

/// `<binary> demo`: the service's demo data through the gateway at `gateway`, and what was
/// loaded on standard output, for the developer (or `cargo suite up`) to read.
#[allow(clippy::print_stdout)]
async fn load_demo(demo: DemoLoader, gateway: &str) -> anyhow::Result<()> {
    let channel = crate::client::endpoint(gateway.to_string())?
        .connect()
        .await
        .map_err(|e| anyhow::anyhow!("cannot reach the gateway at {gateway}: {e}"))?;
    let loaded = demo(channel)
        .await
        .map_err(|status| anyhow::anyhow!("loading the demo: {status}"))?;
    for line in loaded {
        println!("{line}");
    }
    Ok(())
}
