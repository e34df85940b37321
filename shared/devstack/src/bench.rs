//! The certificates benchmark of issue 5: how fast enrolments are accepted through the
//! gateway, against what Postgres alone does with the same work.
//!
//! It seeds a fresh database with `children` children holding funded certificates and
//! `programmes` certified programmes, and as many requested enrolments as either side can
//! take. Then, one after the other, each for `seconds`, with `concurrency` callers:
//!
//! - (a) the suite: `AcceptEnrolment` through the gateway, each call with its own provider
//!   token and request id (the real path: token checks at the gateway and the service, the
//!   idempotency key, authorisation reads, the locks, the ledger, the audit record);
//! - (b) the reference: the same acceptance's database work directly over SQL — lock the
//!   programme, lock the certificate, sum the ledger, write the reservation, take the seat,
//!   mark the enrolment — in one transaction per acceptance.
//!
//! It prints both rates, their ratio, the suite's p50 and p99 latency, and the resident
//! memory of every process. Figures, not a pass/fail: the machine decides them.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sqlx::{AssertSqlSafe, PgPool};
use tonic::transport::Channel;

use edu_kit::auth::dev::DevToken;
use edu_kit::client::with_bearer;
use edu_proto::edu::certificates::v1 as pb;
use edu_proto::edu::certificates::v1::enrolment_service_client::EnrolmentServiceClient;

use crate::suite::Suite;

/// How large a run is.
#[derive(Debug, Clone, Copy)]
pub struct BenchOptions {
    /// Children with funded certificates.
    pub children: usize,
    /// Certified programmes.
    pub programmes: usize,
    /// Seconds per side.
    pub seconds: u64,
    /// Concurrent callers per side.
    pub concurrency: usize,
}

/// Providers the programmes belong to.
const PROVIDERS: usize = 100;
/// Enrolments seeded per side; more than either side accepts in a run.
fn seeded_per_side(options: &BenchOptions) -> usize {
    (options.seconds as usize * 8_000).max(2_000)
}

/// What a run measured.
#[derive(Debug, Clone)]
pub struct BenchReport {
    /// Accepted through the gateway, per second.
    pub suite_rate: f64,
    /// Accepted directly over SQL, per second.
    pub reference_rate: f64,
    /// The suite's median latency.
    pub p50: Duration,
    /// The suite's 99th percentile latency.
    pub p99: Duration,
    /// Calls refused by a rule (a balance spent by earlier random picks); they count as
    /// done, as the reference counts its refusals.
    pub suite_refusals: usize,
    /// Calls that failed otherwise (should be none).
    pub suite_errors: usize,
    /// Resident memory per process, in KiB, after the run.
    pub rss_kib: Vec<(String, u64)>,
    /// CPU seconds each process used during (a), the driver included, and the machine's
    /// busy CPU seconds in all (the rest is mostly Postgres).
    pub cpu_during_suite: Vec<(String, f64)>,
    /// Seeding time.
    pub seeded_in: Duration,
}

impl BenchReport {
    /// The ratio of the suite's rate to the reference's.
    pub fn ratio(&self) -> f64 {
        if self.reference_rate > 0.0 {
            self.suite_rate / self.reference_rate
        } else {
            0.0
        }
    }

    /// The report as the command prints it.
    pub fn render(&self, options: &BenchOptions) -> String {
        let mut out = format!(
            "certificates benchmark: {} children, {} programmes, {} callers, {} s per side (seeded in {:.1} s)\n",
            options.children,
            options.programmes,
            options.concurrency,
            options.seconds,
            self.seeded_in.as_secs_f64()
        );
        out += &format!(
            "  (a) AcceptEnrolment through the gateway  {:>8.0} /s   p50 {:>6.1} ms   p99 {:>6.1} ms   refused {}   errors {}\n",
            self.suite_rate,
            self.p50.as_secs_f64() * 1e3,
            self.p99.as_secs_f64() * 1e3,
            self.suite_refusals,
            self.suite_errors
        );
        out += &format!(
            "  (b) the same work directly over SQL      {:>8.0} /s\n",
            self.reference_rate
        );
        out += &format!(
            "  ratio (a)/(b)                            {:>8.2}\n",
            self.ratio()
        );
        out += "  CPU seconds used during (a):";
        for (name, seconds) in &self.cpu_during_suite {
            out += &format!(" {name} {seconds:.1}");
        }
        out += "\n";
        for (name, kib) in &self.rss_kib {
            out += &format!(
                "  resident memory of {name:<22} {:>8.1} MiB\n",
                *kib as f64 / 1024.0
            );
        }
        out
    }
}

/// Seeds the bench data as the administrator, in the suite's database.
async fn seed(admin: &PgPool, options: &BenchOptions) -> Result<(), sqlx::Error> {
    let n = options.children as i64;
    let m = options.programmes as i64;
    let per_side = seeded_per_side(options) as i64;
    let statements = [
        "INSERT INTO certificates.periods (id, region_code, municipality_code, municipality_name,
            time_zone, start_date, end_date, nominal, quota, min_age, max_age, currency,
            credit_time, create_time)
         VALUES ('bench', 'RU-ALT', 'bench', 'Бенчмарк', 'Asia/Barnaul', '2024-09-01',
                 '2025-08-31', 1200000, 10000000, 5, 18, 'RUB', now(), now())"
            .to_string(),
        format!(
            "INSERT INTO certificates.consents (id, parent_subject, parent_name, give_time, record_time)
             SELECT 'k' || i, 'parent-' || i, 'Родитель', now(), now() FROM generate_series(1, {n}) i"
        ),
        format!(
            "INSERT INTO certificates.children (id, display_name, identity_document, birth_date,
                region_code, municipality_code, consent_id, create_time)
             SELECT 'ch' || i, 'Ребёнок ' || i, 'DOC-' || i, date '2013-05-01', 'RU-ALT', 'bench',
                    'k' || i, now() FROM generate_series(1, {n}) i"
        ),
        format!(
            "INSERT INTO certificates.certificates (id, child_id, number, state, issue_time, update_time)
             SELECT 'c' || i, 'ch' || i, 'N-' || i, 'ACTIVE', now(), now() FROM generate_series(1, {n}) i"
        ),
        format!(
            "INSERT INTO certificates.period_certificates (period_id, certificate_id, kind)
             SELECT 'bench', 'c' || i, 'FUNDED' FROM generate_series(1, {n}) i"
        ),
        format!(
            "INSERT INTO certificates.ledger (certificate_id, period_id, kind, amount, record_time)
             SELECT 'c' || i, 'bench', 'CREDIT', 1200000, now() FROM generate_series(1, {n}) i"
        ),
        format!(
            "INSERT INTO certificates.providers (id, display_name, tax_id, region_code,
                municipality_code, create_time)
             SELECT 'p' || i, 'Организация ' || i, lpad(i::text, 10, '0'), 'RU-ALT', 'bench', now()
             FROM generate_series(1, {PROVIDERS}) i"
        ),
        format!(
            "INSERT INTO certificates.programmes (provider_id, id, title, direction, min_age,
                max_age, seats, monthly_price, certified, create_time)
             SELECT 'p' || (1 + i % {PROVIDERS}), 'g' || i, 'Программа ' || i, 'TECHNICAL', 5, 18,
                    1000000, 30000, true, now()
             FROM generate_series(1, {m}) i"
        ),
        // Requested enrolments for both sides, drawn alike: a random certificate and a random
        // programme each.
        format!(
            "INSERT INTO certificates.enrolments (id, certificate_id, provider_id, programme_id,
                period_id, start_date, state, monthly_price, create_time, update_time)
             SELECT side || i, 'c' || (1 + floor(random() * {n}))::bigint,
                    'p' || (1 + g % {PROVIDERS}), 'g' || g, 'bench', date '2024-09-02',
                    'REQUESTED', 30000, now(), now()
             FROM (VALUES ('a'), ('b')) AS s(side), generate_series(1, {per_side}) i,
                  LATERAL (SELECT 1 + floor(random() * {m})::bigint + i * 0 AS g) r"
        ),
        "ANALYZE".to_string(),
    ];
    for sql in statements {
        sqlx::query(AssertSqlSafe(sql)).execute(admin).await?;
    }
    Ok(())
}

/// One acceptance's database work, as the store does it, without the service around it;
/// `Ok(false)` when the balance or the seats refuse it.
async fn reference_accept(pool: &PgPool, id: &str) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let (certificate, provider, programme, price): (String, String, String, i64) = sqlx::query_as(
        "SELECT certificate_id, provider_id, programme_id, monthly_price
         FROM certificates.enrolments WHERE id = $1",
    )
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    let (seats, taken): (i32, i32) = sqlx::query_as(
        "SELECT seats, taken FROM certificates.programmes WHERE provider_id = $1 AND id = $2 FOR UPDATE",
    )
    .bind(&provider)
    .bind(&programme)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query("SELECT state FROM certificates.certificates WHERE id = $1 FOR UPDATE")
        .bind(&certificate)
        .execute(&mut *tx)
        .await?;
    let available: i64 = sqlx::query_scalar(
        "SELECT COALESCE(sum(CASE kind WHEN 'CREDIT' THEN amount WHEN 'RELEASE' THEN amount
                                       ELSE -amount END), 0)::bigint
         FROM certificates.ledger WHERE certificate_id = $1 AND period_id = 'bench'",
    )
    .bind(&certificate)
    .fetch_one(&mut *tx)
    .await?;
    let cost = price * 12;
    if taken >= seats || available < cost {
        tx.rollback().await?;
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO certificates.ledger (certificate_id, period_id, kind, amount, enrolment_id, record_time)
         VALUES ($1, 'bench', 'RESERVE', $2, $3, now())",
    )
    .bind(&certificate)
    .bind(cost)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE certificates.programmes SET taken = taken + 1 WHERE provider_id = $1 AND id = $2",
    )
    .bind(&provider)
    .bind(&programme)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE certificates.enrolments SET state = 'ACCEPTED', reserved = $2, update_time = now(),
                version = version + 1 WHERE id = $1",
    )
    .bind(id)
    .bind(cost)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// How one call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Accepted.
    Done,
    /// Refused by a rule: the work was done, the answer is no.
    Refused,
    /// Failed.
    Failed,
}

/// What a side did: latencies of the completed calls, refusals among them, failures, and
/// the time it took.
struct Driven {
    latencies: Vec<Duration>,
    refusals: usize,
    failures: usize,
    elapsed: Duration,
}

/// Runs `concurrency` workers on `work` for `seconds`.
async fn drive<F, Fut>(options: &BenchOptions, work: F) -> Driven
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Outcome> + Send,
{
    let work = Arc::new(work);
    let next = Arc::new(AtomicUsize::new(1));
    let limit = seeded_per_side(options);
    let deadline = Instant::now() + Duration::from_secs(options.seconds);
    let started = Instant::now();
    let workers: Vec<_> = (0..options.concurrency)
        .map(|_| {
            let work = Arc::clone(&work);
            let next = Arc::clone(&next);
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let (mut refusals, mut failures) = (0, 0);
                while Instant::now() < deadline {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i > limit {
                        break;
                    }
                    let began = Instant::now();
                    match work(i).await {
                        Outcome::Done => latencies.push(began.elapsed()),
                        Outcome::Refused => {
                            latencies.push(began.elapsed());
                            refusals += 1;
                        }
                        Outcome::Failed => failures += 1,
                    }
                }
                (latencies, refusals, failures)
            })
        })
        .collect();
    let mut driven = Driven {
        latencies: Vec::new(),
        refusals: 0,
        failures: 0,
        elapsed: Duration::ZERO,
    };
    for worker in workers {
        if let Ok((latencies, refusals, failures)) = worker.await {
            driven.latencies.extend(latencies);
            driven.refusals += refusals;
            driven.failures += failures;
        }
    }
    driven.elapsed = started.elapsed();
    driven
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// Clock ticks per second of `/proc` CPU times (Linux's USER_HZ).
const TICKS_PER_SECOND: f64 = 100.0;

/// CPU seconds a process has used (user and system), from `/proc/<pid>/stat`.
fn cpu_seconds(pid: &str) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the command name (which may hold spaces) start at ") ".
    let fields: Vec<&str> = stat
        .rsplit_once(") ")
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    (ticks(11) + ticks(12)) / TICKS_PER_SECOND
}

/// The machine's busy CPU seconds so far, from `/proc/stat`.
fn machine_busy_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/stat") else {
        return 0.0;
    };
    let Some(line) = stat.lines().next() else {
        return 0.0;
    };
    let values: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal: busy is all but idle and iowait.
    let busy: f64 = values
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4)
        .map(|(_, v)| v)
        .sum();
    busy / TICKS_PER_SECOND
}

/// Resident memory of a process, in KiB, from `/proc` (Linux).
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Runs the benchmark against a started suite whose database `admin` administers.
pub async fn run(
    suite: &Suite,
    admin: &PgPool,
    gateway: Channel,
    options: BenchOptions,
) -> anyhow::Result<BenchReport> {
    let seeding = Instant::now();
    seed(admin, &options).await?;
    let seeded_in = seeding.elapsed();

    // (a) Through the gateway.
    let tokens: Arc<Vec<String>> = Arc::new(
        (1..=PROVIDERS)
            .map(|p| {
                DevToken::new(format!("bench-p{p}"))
                    .role("certificates.provider")
                    .scope(format!("provider:p{p}"))
                    .sign()
            })
            .collect(),
    );
    let providers: Arc<Vec<String>> = Arc::new(
        sqlx::query_scalar("SELECT provider_id FROM certificates.enrolments WHERE id LIKE 'a%' ORDER BY substr(id, 2)::bigint")
            .fetch_all(admin)
            .await?,
    );
    let client = EnrolmentServiceClient::new(gateway);
    let mut processes: Vec<(String, String)> = vec![("driver".into(), "self".into())];
    if let Some(pid) = suite.gateway().pid() {
        processes.push(("gateway".into(), pid.to_string()));
    }
    for service in suite.services() {
        if let Some(pid) = service.pid() {
            processes.push((service.name().to_string(), pid.to_string()));
        }
    }
    let cpu_before: Vec<f64> = processes.iter().map(|(_, pid)| cpu_seconds(pid)).collect();
    let busy_before = machine_busy_seconds();
    let mut suite_side = drive(&options, {
        let tokens = Arc::clone(&tokens);
        let providers = Arc::clone(&providers);
        move |i| {
            let mut client = client.clone();
            let provider: usize = providers
                .get(i - 1)
                .and_then(|p| p.trim_start_matches('p').parse().ok())
                .unwrap_or(1);
            let token = tokens[provider - 1].clone();
            async move {
                let request = with_bearer(
                    tonic::Request::new(pb::AcceptEnrolmentRequest {
                        name: format!("enrolments/a{i}"),
                        request_id: format!("bench-a{i}"),
                    }),
                    &token,
                );
                match client.accept_enrolment(request).await {
                    Ok(_) => Outcome::Done,
                    Err(status) if status.code() == tonic::Code::FailedPrecondition => {
                        Outcome::Refused
                    }
                    Err(_) => Outcome::Failed,
                }
            }
        }
    })
    .await;
    let mut cpu_during_suite: Vec<(String, f64)> = processes
        .iter()
        .zip(&cpu_before)
        .map(|((name, pid), before)| (name.clone(), cpu_seconds(pid) - before))
        .collect();
    cpu_during_suite.push(("machine".into(), machine_busy_seconds() - busy_before));
    suite_side.latencies.sort();
    let suite_rate = suite_side.latencies.len() as f64 / suite_side.elapsed.as_secs_f64();

    // (b) The reference, with as many connections as callers.
    let reference_pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(options.concurrency as u32)
        .connect_with(admin.connect_options().as_ref().clone())
        .await?;
    let reference = drive(&options, {
        let pool = reference_pool.clone();
        move |i| {
            let pool = pool.clone();
            async move {
                match reference_accept(&pool, &format!("b{i}")).await {
                    Ok(true) => Outcome::Done,
                    Ok(false) => Outcome::Refused,
                    Err(_) => Outcome::Failed,
                }
            }
        }
    })
    .await;
    reference_pool.close().await;
    let reference_rate = reference.latencies.len() as f64 / reference.elapsed.as_secs_f64();

    let mut rss = Vec::new();
    if let Some(pid) = suite.gateway().pid() {
        rss.push(("gateway".to_string(), rss_kib(pid).unwrap_or(0)));
    }
    for service in suite.services() {
        if let Some(pid) = service.pid() {
            rss.push((service.name().to_string(), rss_kib(pid).unwrap_or(0)));
        }
    }
    Ok(BenchReport {
        suite_rate,
        reference_rate,
        p50: percentile(&suite_side.latencies, 0.50),
        p99: percentile(&suite_side.latencies, 0.99),
        suite_refusals: suite_side.refusals,
        suite_errors: suite_side.failures + reference.failures,
        rss_kib: rss,
        cpu_during_suite,
        seeded_in,
    })
}
