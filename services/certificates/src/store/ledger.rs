//! Reading and writing a certificate's ledger in one period.

use jiff::Timestamp;
use jiff_sqlx::ToSqlx;
use sqlx::PgConnection;

use edu_kit::ApiError;

use super::corrupt;
use crate::domain::ledger::{Entry, EntryKind};
use crate::domain::period::YearMonth;
use crate::domain::{Ledger, Money};

struct EntryRow {
    kind: String,
    amount: i64,
    enrolment_id: Option<String>,
    month: Option<jiff_sqlx::Date>,
}

/// The ledger of a certificate in a period, oldest entry first.
pub async fn load(
    conn: &mut PgConnection,
    certificate_id: &str,
    period_id: &str,
) -> Result<Ledger, ApiError> {
    let rows = sqlx::query_as!(
        EntryRow,
        "-- hot path: AcceptEnrolment (ledger)
         SELECT kind, amount, enrolment_id, month FROM certificates.ledger
         WHERE certificate_id = $1 AND period_id = $2 ORDER BY id",
        certificate_id,
        period_id
    )
    .fetch_all(&mut *conn)
    .await?;
    let entries = rows
        .into_iter()
        .map(|row| {
            let enrolment = || {
                row.enrolment_id
                    .clone()
                    .ok_or_else(|| corrupt("ledger entry without enrolment", &row.kind))
            };
            let kind = match row.kind.as_str() {
                "CREDIT" => EntryKind::Credit,
                "RESERVE" => EntryKind::Reserve {
                    enrolment: enrolment()?,
                },
                "RELEASE" => EntryKind::Release {
                    enrolment: enrolment()?,
                },
                "CHARGE" => EntryKind::Charge {
                    enrolment: enrolment()?,
                    month: YearMonth::of(
                        row.month
                            .ok_or_else(|| corrupt("charge without month", &row.kind))?
                            .to_jiff(),
                    ),
                },
                other => return Err(corrupt("ledger kind", other)),
            };
            Ok(Entry {
                kind,
                amount: Money::from_kopecks(row.amount),
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok(Ledger::from_entries(entries))
}

/// Writes the entries of `ledger` after the first `already` (those the domain just added).
pub async fn append(
    conn: &mut PgConnection,
    certificate_id: &str,
    period_id: &str,
    ledger: &Ledger,
    already: usize,
    now: Timestamp,
) -> Result<(), ApiError> {
    for entry in &ledger.entries()[already..] {
        let (kind, enrolment, month) = match &entry.kind {
            EntryKind::Credit => ("CREDIT", None, None),
            EntryKind::Reserve { enrolment } => ("RESERVE", Some(enrolment.as_str()), None),
            EntryKind::Release { enrolment } => ("RELEASE", Some(enrolment.as_str()), None),
            EntryKind::Charge { enrolment, month } => {
                ("CHARGE", Some(enrolment.as_str()), Some(*month))
            }
        };
        let month = month
            .map(|m| jiff::civil::date(m.year, m.month, 1))
            .map(|d| d.to_sqlx());
        sqlx::query!(
            "INSERT INTO certificates.ledger
                (certificate_id, period_id, kind, amount, enrolment_id, month, record_time)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            certificate_id,
            period_id,
            kind,
            entry.amount.kopecks(),
            enrolment,
            month as _,
            now.to_sqlx(),
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}
