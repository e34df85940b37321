//! `edu-bench`, the suite's benchmarks, as figures measured side by side in one run, never as
//! pass or fail: `suite` (enrolment, reads, catalogue search, memory) and `import` (the aid
//! service's CSV import). Each runs the release binaries on a fresh database of a Postgres
//! cluster of its own: `cargo run --release -p edu-bench -- suite`.

#![allow(clippy::print_stdout)]

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use edu_devstack::binaries_dir;
use edu_devstack::postgres::Postgres;
use edu_devstack::process::Logs;
use edu_devstack::suite::{Suite, SuiteOptions};

#[derive(Debug, Parser)]
#[command(
    name = "edu-bench",
    about = "The children's programmes suite's benchmarks"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The suite's benchmarks (issues 5 and 13): AcceptEnrolment through the gateway against
    /// the same work over SQL, object reads, the public catalogues, memory; in a fresh
    /// database of a Postgres cluster of its own. Run it with `--release`:
    /// `cargo run --release -p edu-bench -- suite`.
    Suite {
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
        /// A variable for every process of the suite, `NAME=VALUE` (repeatable): to measure
        /// a setting, such as `EDU_GATEWAY_CONNECTIONS_PER_ENDPOINT=1`.
        #[arg(long = "env", value_parser = name_value)]
        env: Vec<(String, String)>,
        /// Run only these benchmarks (comma-separated); all when unset.
        #[arg(long, value_enum, value_delimiter = ',')]
        only: Vec<Part>,
        /// Do not build the binaries first.
        #[arg(long)]
        no_build: bool,
    },
    /// The aid service's import benchmark (issue 15): a generated CSV of children imported
    /// through the gateway, one upload per size, with the rows per second and the aid
    /// process's peak resident memory; in a fresh database of a Postgres cluster of its own.
    /// Run it with `--release`:
    /// `cargo run --release -p edu-bench -- import`.
    Import {
        /// Data rows of each upload, comma-separated: one upload per size.
        #[arg(long, value_delimiter = ',', default_values_t = [10_000, 100_000])]
        rows: Vec<usize>,
        /// Bytes of each chunk message (the service accepts at most 1 MiB).
        #[arg(long, default_value_t = edu_bench::import::MAX_CHUNK_BYTES)]
        chunk_bytes: usize,
        /// Do not build the binaries first.
        #[arg(long)]
        no_build: bool,
    },
}

/// One of the suite's benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Part {
    /// AcceptEnrolment against the same work over SQL.
    Enrolment,
    /// GetProgramme and GetCertificate, three sides each.
    Reads,
    /// The public catalogues.
    Search,
}

/// `NAME=VALUE`.
fn name_value(arg: &str) -> Result<(String, String), String> {
    match arg.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_string(), value.to_string())),
        _ => Err(format!("{arg:?} is not NAME=VALUE")),
    }
}

/// The benchmarks `only` names; all of them when it names none.
fn parts(only: &[Part]) -> edu_bench::Parts {
    if only.is_empty() {
        return edu_bench::Parts::ALL;
    }
    edu_bench::Parts {
        enrolment: only.contains(&Part::Enrolment),
        reads: only.contains(&Part::Reads),
        search: only.contains(&Part::Search),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Suite {
            children,
            programmes,
            entries,
            seconds,
            concurrency,
            connections,
            worker_threads,
            plans,
            env,
            only,
            no_build,
        } => {
            bench(
                edu_bench::BenchOptions {
                    children,
                    programmes,
                    entries,
                    seconds,
                    concurrency,
                    parts: parts(&only),
                },
                connections,
                worker_threads,
                env,
                plans,
                no_build,
            )
            .await
        }
        Command::Import {
            rows,
            chunk_bytes,
            no_build,
        } => bench_import(rows, chunk_bytes, no_build).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("edu-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
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
            edu_devstack::build_binaries()?;
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
    options: edu_bench::BenchOptions,
    connections: Option<usize>,
    worker_threads: Option<usize>,
    env: Vec<(String, String)>,
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
    .chain(env)
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
        let report = edu_bench::run(&bench.suite, &admin, channel, options).await;
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
        print!("{}", edu_bench::plans::render(explained));
    }
    stopped
}

/// Runs the aid service's import benchmark in a database of its own, dropped afterwards.
async fn bench_import(rows: Vec<usize>, chunk_bytes: usize, no_build: bool) -> anyhow::Result<()> {
    anyhow::ensure!(!rows.is_empty(), "--rows needs at least one size");
    // The log level of production: a log line per row would be measured too.
    let extra_env = vec![(edu_kit::config::LOG.to_string(), "warn".to_string())];
    let bench = BenchSuite::start("bench-import", no_build, extra_env).await?;
    let options = edu_bench::import::ImportOptions { rows, chunk_bytes };
    let report = async {
        let channel = bench.gateway().await?;
        edu_bench::import::run(&bench.suite, channel, &options, |line| {
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
