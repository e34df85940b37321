//! The suite's benchmarks (issues 5 and 13), as figures measured side by side in one run,
//! never as pass or fail: the machine decides them.
//!
//! - [`enrolment`]: `AcceptEnrolment` through the gateway against the same database work
//!   over SQL, with the statements each side sends per acceptance, Postgres's execution
//!   time per acceptance by statement, and the CPU each process spends on it;
//! - [`reads`]: one object read through the gateway, straight to the service, and as the
//!   service's own SELECT over SQL;
//! - [`search`]: the two public catalogues at 100 000 entries each;
//! - the resident memory of every process, idle and under load;
//! - [`import`]: the aid service's import of a generated CSV through the gateway (issue
//!   15), rows per second and the aid process's peak memory per file size, run on its own
//!   by `edu-bench import`.
//!
//! `edu-bench suite` runs them on a fresh database of a Postgres cluster of its own that loads
//! `pg_stat_statements` (where the server binaries are installed), so that statements are
//! counted and timed exactly; elsewhere the statement counts and times are left out.

pub mod drive;
pub mod enrolment;
pub mod hot_paths;
pub mod import;
pub mod measure;
pub mod plans;
pub mod reads;
pub mod rounds;
pub mod search;

use std::time::{Duration, Instant};

use sqlx::PgPool;
use tonic::transport::Channel;

use drive::Driven;
use edu_devstack::suite::Suite;
use enrolment::EnrolmentReport;
use reads::ReadReport;
use rounds::{Meter, StatementTime, ratio};
use search::SearchReport;

/// Providers the bench's programmes belong to.
pub const PROVIDERS: usize = 100;

/// How large a run is.
#[derive(Debug, Clone, Copy)]
pub struct BenchOptions {
    /// Children with funded certificates.
    pub children: usize,
    /// Certified programmes enrolled in.
    pub programmes: usize,
    /// Entries of each public catalogue searched.
    pub entries: usize,
    /// Seconds per side.
    pub seconds: u64,
    /// Concurrent callers per side.
    pub concurrency: usize,
    /// Which benchmarks run.
    pub parts: Parts,
}

/// Which of the suite's benchmarks run (all by default; fewer to look at one figure).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parts {
    /// AcceptEnrolment.
    pub enrolment: bool,
    /// The reads.
    pub reads: bool,
    /// The catalogue searches.
    pub search: bool,
}

impl Parts {
    /// Every benchmark.
    pub const ALL: Parts = Parts {
        enrolment: true,
        reads: true,
        search: true,
    };
}

/// What a run measured.
#[derive(Debug, Clone)]
pub struct BenchReport {
    /// The enrolment benchmark, when it ran.
    pub enrolment: Option<EnrolmentReport>,
    /// The reads.
    pub reads: Vec<ReadReport>,
    /// The searches.
    pub searches: Vec<SearchReport>,
    /// Resident memory per process in KiB: idle (before any load) and the most seen under
    /// load.
    pub memory: Vec<(String, u64, u64)>,
    /// Seeding time.
    pub seeded_in: Duration,
    /// The hot paths' plans on the benchmark's data, after the runs, or why they could
    /// not be read.
    pub plans: Result<Vec<plans::QueryPlan>, String>,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn line(label: &str, driven: &Driven) -> String {
    format!(
        "  {label:<44} {:>8.0} /s   p50 {:>6.2} ms   p99 {:>6.2} ms   errors {}\n",
        driven.rate(),
        ms(driven.percentile(0.50)),
        ms(driven.percentile(0.99)),
        driven.failures
    )
}

fn cpu(label: &str, cpu: &[(String, f64)]) -> String {
    let total: f64 = cpu.iter().map(|(_, v)| v).sum();
    let mut out = format!("  {label:<44}");
    for (name, value) in cpu {
        out += &format!(" {name} {value:.3}");
    }
    out + &format!("  (total {total:.3})\n")
}

fn statements(count: Option<f64>) -> String {
    count.map_or("not counted (no pg_stat_statements)".to_string(), |n| {
        format!("{n:.1}")
    })
}

fn round_ratios(ratios: &[f64]) -> String {
    ratios
        .iter()
        .map(|r| format!("{r:.2}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn render_enrolment(e: &EnrolmentReport) -> String {
    let mut out = "AcceptEnrolment\n".to_string();
    out += &line("(a) through the gateway", &e.suite);
    out += &line("(b) the same work directly over SQL", &e.reference);
    out += &format!(
        "  {:<44} (a) {}   (b) {}\n",
        "refused by a rule (balance, seats)", e.suite.refusals, e.reference.refusals
    );
    out += &format!("  {:<44} {:>8.2}\n", "ratio (a)/(b)", e.ratio());
    out += &format!(
        "  {:<44} {}\n",
        "ratio of each round (the sides alternate)",
        round_ratios(&e.round_ratios)
    );
    out += &format!(
        "  {:<44} (a) {}   (b) {}\n",
        "statements per acceptance",
        statements(e.statements.0),
        statements(e.statements.1)
    );
    out += &cpu("CPU ms per acceptance, (a)", &e.suite_cpu);
    out += &cpu("CPU ms per acceptance, (b)", &e.reference_cpu);
    out += &statement_times("(a)", &e.statement_times[0]);
    out += &statement_times("(b)", &e.statement_times[1]);
    out
}

/// Postgres's execution time per acceptance by statement, most first (parse, plan, network
/// and the commit's WAL flush are in the CPU figures above, not here).
fn statement_times(side: &str, times: &[StatementTime]) -> String {
    if times.is_empty() {
        return String::new();
    }
    let total: f64 = times.iter().map(|t| t.exec_ms).sum();
    let mut out = format!(
        "  Postgres execution ms per acceptance, {side}  (total {total:.3}; per statement, count per acceptance)\n"
    );
    for t in times.iter().take(8) {
        out += &format!("    {:>7.3}  {:>5.2}  {}\n", t.exec_ms, t.count, t.label);
    }
    out
}

fn render_read(read: &ReadReport) -> String {
    let (a, b, c) = (&read.gateway, &read.service, &read.sql);
    let mut out = format!("\n{}\n", read.method);
    out += &line("(a) through the gateway", &a.driven);
    out += &line("(b) straight to the service", &b.driven);
    out += &line("(c) the same SELECT over SQL", &c.driven);
    out += &format!(
        "  {:<44} (a)/(b) {:.2}   (b)/(c) {:.2}\n",
        "ratios",
        ratio(a.driven.rate(), b.driven.rate()),
        ratio(b.driven.rate(), c.driven.rate())
    );
    out += &format!(
        "  {:<44} (a)/(b) {}   (b)/(c) {}\n",
        "ratios of each round (the sides alternate)",
        round_ratios(&rounds::round_ratios(a, b)),
        round_ratios(&rounds::round_ratios(b, c))
    );
    // Only the processes a side involves: the others idle alike on every side.
    out += &cpu(
        "CPU ms per read, (a)",
        &a.cpu_of(&["driver", "gateway", "certificates", "postgres"]),
    );
    out += &cpu(
        "CPU ms per read, (b)",
        &b.cpu_of(&["driver", "certificates", "postgres"]),
    );
    out += &cpu("CPU ms per read, (c)", &c.cpu_of(&["driver", "postgres"]));
    out
}

impl BenchReport {
    /// The report as the command prints it.
    pub fn render(&self, options: &BenchOptions) -> String {
        let mut out = format!(
            "suite benchmark: {} children, {} programmes, {} catalogue entries, {} callers, {} s per side (seeded in {:.1} s)\n\n",
            options.children,
            options.programmes,
            options.entries,
            options.concurrency,
            options.seconds,
            self.seeded_in.as_secs_f64()
        );
        if let Some(e) = &self.enrolment {
            out += &render_enrolment(e);
        }
        for read in &self.reads {
            out += &render_read(read);
        }
        if !self.searches.is_empty() {
            out += &format!(
                "\nthe public catalogues, {} entries each\n",
                options.entries
            );
        }
        for search in &self.searches {
            out += &line(search.method, &search.driven);
        }
        match &self.plans {
            Ok(explained) => {
                let scans: Vec<String> = explained
                    .iter()
                    .flat_map(|plan| {
                        plan.large_scans.iter().map(move |(table, rows)| {
                            format!("{} reads {table} ({rows:.0} rows) whole", plan.use_case)
                        })
                    })
                    .collect();
                out += &format!(
                    "\nhot-path plans (generic)  {} statements, sequential scans of tables over {:.0} rows: {}\n",
                    explained.len(),
                    plans::LARGE_TABLE_ROWS,
                    if scans.is_empty() {
                        "none".to_string()
                    } else {
                        scans.join("; ")
                    }
                );
            }
            Err(e) => out += &format!("\nhot-path plans            not read: {e}\n"),
        }
        out += "\nresident memory           idle     under load\n";
        for (name, idle, load) in &self.memory {
            out += &format!(
                "  {name:<20} {:>8.1} MiB {:>8.1} MiB\n",
                *idle as f64 / 1024.0,
                *load as f64 / 1024.0
            );
        }
        out
    }
}

/// Brings the freshly seeded tables to the state a long-lived database keeps them in:
/// vacuumed (every page visible to all, so reads neither set hint bits nor prune), analysed,
/// and written out, so that neither side pays for the seed's leftovers.
pub async fn settle(admin: &PgPool) -> Result<(), sqlx::Error> {
    sqlx::query("VACUUM (FREEZE, ANALYZE)")
        .execute(admin)
        .await?;
    sqlx::query("CHECKPOINT").execute(admin).await?;
    Ok(())
}

/// Samples the suite's resident memory until `stop` resolves; returns the most per process.
async fn peak_memory(
    suite: &Suite,
    stop: tokio::sync::oneshot::Receiver<()>,
) -> Vec<(String, u64)> {
    let mut peak = measure::suite_rss(suite);
    let mut stop = std::pin::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => return peak,
            () = tokio::time::sleep(Duration::from_millis(200)) => {
                for ((_, most), (_, now)) in peak.iter_mut().zip(measure::suite_rss(suite)) {
                    *most = (*most).max(now);
                }
            }
        }
    }
}

/// Runs every benchmark against a started suite whose database `admin` administers.
pub async fn run(
    suite: &Suite,
    admin: &PgPool,
    gateway: Channel,
    options: BenchOptions,
) -> anyhow::Result<BenchReport> {
    let database: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(admin)
        .await?;
    let idle = measure::suite_rss(suite);
    let seeding = Instant::now();
    let parts = options.parts;
    // The reads take the enrolment's children, certificates and programmes.
    if parts.enrolment || parts.reads {
        enrolment::seed(admin, &options).await?;
    }
    if parts.search {
        search::seed(admin, options.entries).await?;
    }
    settle(admin).await?;
    let seeded_in = seeding.elapsed();
    let statements = measure::Statements::detect(admin).await;
    let meter = Meter {
        suite,
        admin,
        database: &database,
        statements: &statements,
    };
    let service_addr = suite
        .service_addr("certificates")
        .ok_or_else(|| anyhow::anyhow!("the certificates service is not running"))?;
    let service = edu_kit::client::endpoint(format!("http://{service_addr}"))?
        .connect()
        .await?;

    let (stop, stopped) = tokio::sync::oneshot::channel();
    let (enrolment, reads, searches, peak) = {
        let sampler = peak_memory(suite, stopped);
        let work = async {
            let enrolment = match parts.enrolment {
                true => Some(enrolment::run(meter, gateway.clone(), &options).await?),
                false => None,
            };
            let reads = match parts.reads {
                true => reads::run(meter, gateway.clone(), service, &options).await?,
                false => Vec::new(),
            };
            let searches = match parts.search {
                true => search::run(gateway, &options).await?,
                false => Vec::new(),
            };
            let _ = stop.send(());
            anyhow::Ok((enrolment, reads, searches))
        };
        let (peak, done) = tokio::join!(sampler, work);
        let (enrolment, reads, searches) = done?;
        (enrolment, reads, searches, peak)
    };
    let memory = idle
        .into_iter()
        .zip(peak)
        .map(|((name, idle), (_, peak))| (name, idle, peak))
        .collect();
    // The plans are read from this checkout's statements; a suite of another version may
    // not know them, which leaves the figures standing.
    let plans = plans::explain_all(admin)
        .await
        .map_err(|e| format!("{e:#}"));
    Ok(BenchReport {
        enrolment,
        reads,
        searches,
        memory,
        seeded_in,
        plans,
    })
}
