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

async fn up(
    port: u16,
    database: String,
    no_build: bool,
    no_demo: bool,
    logs_here: bool,
) -> anyhow::Result<()> {
    if !no_build {
        edu_devstack::build_binaries()?;
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
