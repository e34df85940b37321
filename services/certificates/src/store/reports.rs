//! Reports for the municipality (rule 10) and the region summary, summed from the ledger
//! and the register.

use jiff::Timestamp;
use jiff_sqlx::ToSqlx;
use sqlx::PgConnection;

use edu_kit::ApiError;

use super::periods::PeriodRecord;
use crate::domain::ledger::Sums;
use crate::domain::{Balance, Money};

/// The money of one group in a period.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BudgetRow {
    /// `providers/{id}`, a direction's stored name, or empty for the total.
    pub group: String,
    /// Credited.
    pub credited: Money,
    /// Reserved and not yet charged or released.
    pub reserved: Money,
    /// Charged.
    pub charged: Money,
    /// Released.
    pub released: Money,
}

struct SumsRow {
    group_key: Option<String>,
    credited: i64,
    reserves: i64,
    released: i64,
    charged: i64,
}

impl SumsRow {
    fn into_row(self) -> BudgetRow {
        BudgetRow {
            group: self.group_key.unwrap_or_default(),
            credited: Money::from_kopecks(self.credited),
            reserved: Money::from_kopecks(self.reserves - self.released - self.charged),
            charged: Money::from_kopecks(self.charged),
            released: Money::from_kopecks(self.released),
        }
    }
}

/// The period's budget: the total, by provider, and by direction.
pub async fn budget(
    conn: &mut PgConnection,
    period_id: &str,
) -> Result<(BudgetRow, Vec<BudgetRow>, Vec<BudgetRow>), ApiError> {
    let total = sqlx::query_as!(
        SumsRow,
        r#"SELECT NULL::text AS group_key,
                  COALESCE(sum(amount) FILTER (WHERE kind = 'CREDIT'), 0)::bigint AS "credited!",
                  COALESCE(sum(amount) FILTER (WHERE kind = 'RESERVE'), 0)::bigint AS "reserves!",
                  COALESCE(sum(amount) FILTER (WHERE kind = 'RELEASE'), 0)::bigint AS "released!",
                  COALESCE(sum(amount) FILTER (WHERE kind = 'CHARGE'), 0)::bigint AS "charged!"
           FROM certificates.ledger WHERE period_id = $1"#,
        period_id
    )
    .fetch_one(&mut *conn)
    .await?
    .into_row();
    let by_provider = sqlx::query_as!(
        SumsRow,
        r#"SELECT 'providers/' || e.provider_id AS group_key,
                  0::bigint AS "credited!",
                  COALESCE(sum(l.amount) FILTER (WHERE l.kind = 'RESERVE'), 0)::bigint AS "reserves!",
                  COALESCE(sum(l.amount) FILTER (WHERE l.kind = 'RELEASE'), 0)::bigint AS "released!",
                  COALESCE(sum(l.amount) FILTER (WHERE l.kind = 'CHARGE'), 0)::bigint AS "charged!"
           FROM certificates.ledger l JOIN certificates.enrolments e ON e.id = l.enrolment_id
           WHERE l.period_id = $1
           GROUP BY e.provider_id ORDER BY e.provider_id"#,
        period_id
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(SumsRow::into_row)
    .collect();
    let by_direction = sqlx::query_as!(
        SumsRow,
        r#"SELECT p.direction AS group_key,
                  0::bigint AS "credited!",
                  COALESCE(sum(l.amount) FILTER (WHERE l.kind = 'RESERVE'), 0)::bigint AS "reserves!",
                  COALESCE(sum(l.amount) FILTER (WHERE l.kind = 'RELEASE'), 0)::bigint AS "released!",
                  COALESCE(sum(l.amount) FILTER (WHERE l.kind = 'CHARGE'), 0)::bigint AS "charged!"
           FROM certificates.ledger l
           JOIN certificates.enrolments e ON e.id = l.enrolment_id
           JOIN certificates.programmes p ON p.provider_id = e.provider_id AND p.id = e.programme_id
           WHERE l.period_id = $1
           GROUP BY p.direction ORDER BY p.direction"#,
        period_id
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(SumsRow::into_row)
    .collect();
    Ok((total, by_provider, by_direction))
}

/// Coverage: (children of eligible age with an active certificate, of those enrolled).
pub async fn coverage(
    conn: &mut PgConnection,
    period: &PeriodRecord,
) -> Result<(i64, i64), ApiError> {
    let p = &period.period;
    // Eligible on the first day: born after (start − max_age − 1 year) and on or before
    // (start − min_age years).
    let oldest = p
        .start
        .checked_sub(jiff::Span::new().years(i64::from(p.max_age) + 1))
        .map_err(|e| ApiError::internal(&e))?;
    let youngest = p
        .start
        .checked_sub(jiff::Span::new().years(i64::from(p.min_age)))
        .map_err(|e| ApiError::internal(&e))?;
    let row = sqlx::query!(
        r#"SELECT count(*) AS "eligible!",
                  count(*) FILTER (WHERE EXISTS (
                      SELECT 1 FROM certificates.enrolments e
                      WHERE e.certificate_id = c.id AND e.period_id = $3
                        AND e.state = 'ACCEPTED')) AS "enrolled!"
           FROM certificates.certificates c
           JOIN certificates.children ch ON ch.id = c.child_id
           WHERE c.state = 'ACTIVE' AND ch.region_code = $1 AND ch.municipality_code = $2
             AND ch.birth_date > $4 AND ch.birth_date <= $5"#,
        period.region_code,
        period.municipality_code,
        period.id,
        oldest.to_sqlx(),
        youngest.to_sqlx(),
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok((row.eligible, row.enrolled))
}

/// One municipality's part of a region summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MunicipalitySummary {
    /// The municipality's code within the region.
    pub municipality_code: String,
    /// Its name, from its latest period; empty without one.
    pub municipality_name: String,
    /// Its period containing the day of the call, whose money is counted.
    pub period_id: Option<String>,
    /// ACTIVE certificates of its children.
    pub active_certificates: i64,
    /// Its children holding an ACTIVE or SUSPENDED certificate.
    pub children_with_certificate: i64,
    /// The current period's money, summed as a certificate's balance is.
    pub balance: Balance,
}

/// The region summary of `region` at `now`: one entry per municipality with a period or
/// certificates, by code; only the municipalities in `only` when given (an operator of
/// some municipalities of the region).
///
/// One statement, so its figures are one snapshot without a transaction. The region's
/// children are read once, through the (region, municipality) index, each with its
/// certificate (unique by child) and that certificate's ledger in the current period
/// (the (certificate, period) index, both columns bound); periods through the (region,
/// municipality, start) key. A child holds at most one certificate, ever (rule 1), so
/// counting certificates by state counts children. The ledger is summed through the municipality's certificates rather than by
/// `period_id` as GetBudgetReport does: a period credits and reserves only for
/// certificates of its municipality's children, so the sums agree, and the ledger has no
/// index by period (one would cost every acceptance's insert). Money counts every
/// certificate whatever its state: a closed one's credit and charges stay in the period's
/// budget, as in GetBudgetReport.
pub async fn region_summary(
    conn: &mut PgConnection,
    region: &str,
    only: Option<&[String]>,
    now: Timestamp,
) -> Result<Vec<MunicipalitySummary>, ApiError> {
    let rows = sqlx::query!(
        r#"WITH region_periods AS (
               SELECT p.id, p.municipality_code, p.municipality_name, p.start_date,
                      p.start_date <= ($3::timestamptz AT TIME ZONE p.time_zone)::date
                          AND p.end_date >= ($3::timestamptz AT TIME ZONE p.time_zone)::date
                          AS current
               FROM certificates.periods p
               WHERE p.region_code = $1
                 AND ($2::text[] IS NULL OR p.municipality_code = ANY ($2))),
           named AS (
               SELECT DISTINCT ON (municipality_code) municipality_code, municipality_name
               FROM region_periods ORDER BY municipality_code, start_date DESC),
           current_period AS (
               SELECT DISTINCT ON (municipality_code) municipality_code, id
               FROM region_periods WHERE current ORDER BY municipality_code, start_date DESC),
           held AS (
               SELECT ch.municipality_code,
                      count(*) FILTER (WHERE c.state = 'ACTIVE') AS active,
                      count(*) FILTER (WHERE c.state <> 'CLOSED') AS children,
                      sum(s.credits) AS credits, sum(s.reserves) AS reserves,
                      sum(s.releases) AS releases, sum(s.charges) AS charges
               FROM certificates.children ch
               JOIN certificates.certificates c ON c.child_id = ch.id
               LEFT JOIN current_period cp ON cp.municipality_code = ch.municipality_code
               LEFT JOIN LATERAL (
                   SELECT sum(l.amount) FILTER (WHERE l.kind = 'CREDIT') AS credits,
                          sum(l.amount) FILTER (WHERE l.kind = 'RESERVE') AS reserves,
                          sum(l.amount) FILTER (WHERE l.kind = 'RELEASE') AS releases,
                          sum(l.amount) FILTER (WHERE l.kind = 'CHARGE') AS charges
                   FROM certificates.ledger l
                   WHERE l.certificate_id = c.id AND l.period_id = cp.id) s ON true
               WHERE ch.region_code = $1
                 AND ($2::text[] IS NULL OR ch.municipality_code = ANY ($2))
               GROUP BY ch.municipality_code)
           SELECT COALESCE(n.municipality_code, h.municipality_code) AS "municipality_code!",
                  COALESCE(n.municipality_name, '') AS "municipality_name!",
                  cp.id AS "period_id?",
                  COALESCE(h.active, 0)::bigint AS "active!",
                  COALESCE(h.children, 0)::bigint AS "children!",
                  COALESCE(h.credits, 0)::bigint AS "credits!",
                  COALESCE(h.reserves, 0)::bigint AS "reserves!",
                  COALESCE(h.releases, 0)::bigint AS "releases!",
                  COALESCE(h.charges, 0)::bigint AS "charges!"
           FROM named n
           FULL JOIN held h ON h.municipality_code = n.municipality_code
           LEFT JOIN current_period cp
             ON cp.municipality_code = COALESCE(n.municipality_code, h.municipality_code)
           ORDER BY 1"#,
        region,
        only,
        now.to_sqlx(),
    )
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(|r| {
            let balance = Balance::from_sums(Sums {
                credits: Money::from_kopecks(r.credits),
                reserves: Money::from_kopecks(r.reserves),
                releases: Money::from_kopecks(r.releases),
                charges: Money::from_kopecks(r.charges),
            })
            // Stored sums out of range are a bug or a manual edit, never the caller's doing.
            .map_err(|e| ApiError::internal(&e))?;
            Ok(MunicipalitySummary {
                municipality_code: r.municipality_code,
                municipality_name: r.municipality_name,
                period_id: r.period_id,
                active_certificates: r.active,
                children_with_certificate: r.children,
                balance,
            })
        })
        .collect()
}
