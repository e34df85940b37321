//! Reports for the municipality (rule 10), summed from the ledger and the register.

use jiff_sqlx::ToSqlx;
use sqlx::PgConnection;

use edu_kit::ApiError;

use super::periods::PeriodRecord;
use crate::domain::Money;

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
