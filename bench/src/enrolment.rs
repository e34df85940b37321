//! AcceptEnrolment (issues 5 and 13, target 1): (a) through the gateway, each call with its
//! provider's token and a request id (the real path: both token checks, the idempotency key,
//! authorisation, the locks, the ledger, the audit record); (b) the same acceptance's
//! database work directly over SQL, one transaction per acceptance: read the enrolment, lock
//! the programme, lock the certificate, sum the ledger, write the reservation, take the seat,
//! mark the enrolment.

use std::sync::Arc;

use sqlx::{AssertSqlSafe, PgPool};
use tonic::transport::Channel;

use edu_kit::auth::dev::DevToken;
use edu_kit::client::with_bearer;
use edu_kit::db::Reads;
use edu_proto::edu::certificates::v1 as pb;
use edu_proto::edu::certificates::v1::enrolment_service_client::EnrolmentServiceClient;

use super::drive::{Driven, Outcome, drive_from};
use super::rounds::{Measured, Meter, Side, StatementTime, alternate, ratio, round_ratios};
use super::{BenchOptions, PROVIDERS};

/// What the enrolment benchmark measured.
#[derive(Debug, Clone)]
pub struct EnrolmentReport {
    /// (a), through the gateway.
    pub suite: Driven,
    /// (b), the reference over SQL.
    pub reference: Driven,
    /// Statements per acceptance of (a) and (b), when counted.
    pub statements: (Option<f64>, Option<f64>),
    /// Statements of (a) and (b) by kind, per acceptance.
    pub statement_times: [Vec<StatementTime>; 2],
    /// CPU milliseconds per acceptance and process during (a).
    pub suite_cpu: Vec<(String, f64)>,
    /// CPU milliseconds per acceptance and process during (b).
    pub reference_cpu: Vec<(String, f64)>,
    /// (a)/(b) of each round: the sides alternate in [`super::rounds::ROUNDS`] rounds, so that a change in
    /// the machine's load during the run falls on both.
    pub round_ratios: Vec<f64>,
}

impl EnrolmentReport {
    /// (a)/(b).
    pub fn ratio(&self) -> f64 {
        ratio(self.suite.rate(), self.reference.rate())
    }
}

/// Every programme's monthly price, in kopecks.
const MONTHLY_PRICE: i64 = 30_000;

/// Enrolments seeded per side; more than either side accepts in a run.
pub fn seeded_per_side(options: &BenchOptions) -> usize {
    (options.seconds as usize * 8_000).max(2_000)
}

/// The bench's period: the twelve months from the first of the month two months ago, so that
/// today (the day of acceptance, from which attendance and payment run) lies inside it; and
/// the months an acceptance today reserves.
fn period_bounds() -> (jiff::civil::Date, jiff::civil::Date, u32) {
    let today = jiff::Zoned::now().date();
    let start = today
        .first_of_month()
        .checked_sub(jiff::Span::new().months(2))
        .unwrap_or(today);
    let end = start
        .checked_add(jiff::Span::new().years(1))
        .and_then(|d| d.yesterday())
        .unwrap_or(today);
    let months = (i32::from(end.year()) * 12 + i32::from(end.month()))
        - (i32::from(today.year()) * 12 + i32::from(today.month()))
        + 1;
    (start, end, u32::try_from(months).unwrap_or(1))
}

/// Seeds, as the administrator: `children` children with funded certificates, `programmes`
/// certified programmes of [`PROVIDERS`] providers, and requested enrolments for both sides,
/// drawn alike (a random certificate and a random programme each).
pub async fn seed(admin: &PgPool, options: &BenchOptions) -> Result<(), sqlx::Error> {
    let n = options.children as i64;
    let m = options.programmes as i64;
    let per_side = seeded_per_side(options) as i64;
    let (start, end, months) = period_bounds();
    let today = jiff::Zoned::now().date();
    // Enough on every certificate for twice the acceptances it can expect from both sides,
    // so that neither side is refused for money: a refusal writes nothing and is cheaper
    // than an acceptance, and would flatter the side refused more often.
    let per_certificate = 2 * 2 * per_side / n.max(1) + 8;
    // (A period's nominal is at most a billion kopecks.)
    let credit = (i64::from(months) * MONTHLY_PRICE * per_certificate).min(1_000_000_000);
    let statements = [
        format!(
            "INSERT INTO certificates.periods (id, region_code, municipality_code, municipality_name,
                time_zone, start_date, end_date, nominal, quota, min_age, max_age, currency,
                credit_time, create_time)
             VALUES ('bench', 'RU-ALT', 'bench', 'Бенчмарк', 'Asia/Barnaul', '{start}',
                     '{end}', {credit}, 10000000, 5, 18, 'RUB', now(), now())"
        ),
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
             SELECT 'c' || i, 'bench', 'CREDIT', {credit}, now() FROM generate_series(1, {n}) i"
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
                    1000000, {MONTHLY_PRICE}, true, now()
             FROM generate_series(1, {m}) i"
        ),
        format!(
            "INSERT INTO certificates.enrolments (id, certificate_id, provider_id, programme_id,
                period_id, start_date, state, monthly_price, create_time, update_time)
             SELECT side || i, 'c' || (1 + floor(random() * {n}))::bigint,
                    'p' || (1 + g % {PROVIDERS}), 'g' || g, 'bench', date '{today}',
                    'REQUESTED', {MONTHLY_PRICE}, now(), now()
             FROM (VALUES ('a'), ('b')) AS s(side), generate_series(1, {per_side}) i,
                  LATERAL (SELECT 1 + floor(random() * {m})::bigint + i * 0 AS g) r"
        ),
    ];
    for sql in statements {
        sqlx::query(AssertSqlSafe(sql)).execute(admin).await?;
    }
    Ok(())
}

/// One acceptance's database work, as the store does it, without the service around it, in
/// a transaction taken as the services take theirs (the kit's warm transactions);
/// `Ok(false)` when the balance or the seats refuse it.
async fn reference_accept(reads: &Reads, id: &str, months: u32) -> Result<bool, sqlx::Error> {
    let mut tx = reads.begin().await?;
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
    let cost = price * i64::from(months);
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

/// Runs both sides, (a) then (b), on the seeded data.
pub async fn run(
    meter: Meter<'_>,
    gateway: Channel,
    options: &BenchOptions,
) -> anyhow::Result<EnrolmentReport> {
    let admin = meter.admin;
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
        sqlx::query_scalar(
            "SELECT provider_id FROM certificates.enrolments WHERE id LIKE 'a%'
             ORDER BY substr(id, 2)::bigint",
        )
        .fetch_all(admin)
        .await?,
    );
    let limit = seeded_per_side(options);
    let client = EnrolmentServiceClient::new(gateway);
    // (b) with as many connections as callers, as the administrator, configured and taken as
    // the services' are: no check before a connection is handed out, and a transaction that
    // ended hands its connection straight to the next (neither sends a round trip of its own).
    let reference_pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(options.concurrency as u32)
        .min_connections(options.concurrency as u32)
        .test_before_acquire(false)
        .connect_with(admin.connect_options().as_ref().clone())
        .await?;
    let reference_reads = Reads::new(reference_pool.clone());
    let months = period_bounds().2;

    // The two sides as functions of the first enrolment they take and how long they run.
    let concurrency = options.concurrency;
    let suite_side = Side::new(|first: usize, seconds: f64| {
        let tokens = Arc::clone(&tokens);
        let providers = Arc::clone(&providers);
        let client = client.clone();
        drive_from(first, concurrency, seconds, limit, move |i| {
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
        })
    })
    .counting_statements_of("certificates");
    let reference_side = Side::new(|first: usize, seconds: f64| {
        let reads = reference_reads.clone();
        drive_from(first, concurrency, seconds, limit, move |i| {
            let reads = reads.clone();
            async move {
                match reference_accept(&reads, &format!("b{i}"), months).await {
                    Ok(true) => Outcome::Done,
                    Ok(false) => Outcome::Refused,
                    Err(_) => Outcome::Failed,
                }
            }
        })
    })
    .counting_statements_of(admin_role(admin));

    let [suite, reference]: [Measured; 2] =
        alternate(meter, &[suite_side, reference_side], options.seconds as f64)
            .await
            .try_into()
            .map_err(|_| anyhow::anyhow!("two sides measured"))?;
    reference_pool.close().await;
    Ok(EnrolmentReport {
        round_ratios: round_ratios(&suite, &reference),
        statements: (suite.statements, reference.statements),
        statement_times: [
            suite.statement_times.clone(),
            reference.statement_times.clone(),
        ],
        suite_cpu: suite.cpu_ms.clone(),
        reference_cpu: reference.cpu_of(&["driver", "postgres"]),
        suite: suite.driven,
        reference: reference.driven,
    })
}

/// The administrator's role name.
fn admin_role(admin: &PgPool) -> String {
    admin.connect_options().get_username().to_string()
}
