//! Periods and crediting (rule 2).

use jiff::Timestamp;
use jiff::civil::Date;
use jiff_sqlx::ToSqlx;
use serde_json::json;
use sqlx::PgConnection;

use edu_kit::{ApiError, CallContext, audit};

use crate::domain::enrolment::{CertificateKind, kind_within_quota};
use crate::domain::period::Period;
use crate::domain::{CertificateError, Money};

/// A period as stored: where, the rules' figures, and whether it was credited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeriodRecord {
    /// The ID in `periods/{id}`.
    pub id: String,
    /// Region, ISO 3166-2.
    pub region_code: String,
    /// Municipality within the region.
    pub municipality_code: String,
    /// Its name.
    pub municipality_name: String,
    /// Its IANA zone.
    pub time_zone: String,
    /// The figures the rules use.
    pub period: Period,
    /// ISO 4217.
    pub currency: String,
    /// When credited.
    pub credit_time: Option<Timestamp>,
    /// When created.
    pub create_time: Timestamp,
}

pub(super) struct PeriodRow {
    pub(super) id: String,
    pub(super) region_code: String,
    pub(super) municipality_code: String,
    pub(super) municipality_name: String,
    pub(super) time_zone: String,
    pub(super) start_date: jiff_sqlx::Date,
    pub(super) end_date: jiff_sqlx::Date,
    pub(super) nominal: i64,
    pub(super) quota: i32,
    pub(super) min_age: i16,
    pub(super) max_age: i16,
    pub(super) currency: String,
    pub(super) credit_time: Option<jiff_sqlx::Timestamp>,
    pub(super) create_time: jiff_sqlx::Timestamp,
}

impl PeriodRow {
    pub(super) fn into_record(self) -> PeriodRecord {
        PeriodRecord {
            id: self.id,
            region_code: self.region_code,
            municipality_code: self.municipality_code,
            municipality_name: self.municipality_name,
            time_zone: self.time_zone,
            period: Period {
                start: self.start_date.to_jiff(),
                end: self.end_date.to_jiff(),
                nominal: Money::from_kopecks(self.nominal),
                quota: u32::try_from(self.quota).unwrap_or(0),
                min_age: self.min_age,
                max_age: self.max_age,
            },
            currency: self.currency,
            credit_time: self.credit_time.map(|t| t.to_jiff()),
            create_time: self.create_time.to_jiff(),
        }
    }
}

/// Creates a period. A period that shares a day with another of its municipality is
/// refused naming the other: the exclusion constraint `periods_do_not_overlap` decides, so
/// that of two concurrent creations only one wins. Expected conflicts are decided from
/// `ON CONFLICT DO NOTHING`, never from a constraint error (which the server would log).
pub async fn create(
    conn: &mut PgConnection,
    context: &CallContext,
    record: &PeriodRecord,
) -> Result<(), ApiError> {
    let p = &record.period;
    let inserted = sqlx::query!(
        "INSERT INTO certificates.periods
            (id, region_code, municipality_code, municipality_name, time_zone, start_date, end_date,
             nominal, quota, min_age, max_age, currency, create_time)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
         ON CONFLICT DO NOTHING",
        record.id,
        record.region_code,
        record.municipality_code,
        record.municipality_name,
        record.time_zone,
        p.start.to_sqlx(),
        p.end.to_sqlx(),
        p.nominal.kopecks(),
        i32::try_from(p.quota).unwrap_or(i32::MAX),
        p.min_age,
        p.max_age,
        record.currency,
        record.create_time.to_sqlx(),
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if inserted == 0 {
        if fetch(conn, &record.id, false).await?.is_some() {
            return Err(ApiError::already_exists(format!("periods/{}", record.id)));
        }
        let other = sqlx::query_scalar!(
            "SELECT id FROM certificates.periods
             WHERE region_code = $1 AND municipality_code = $2
               AND daterange(start_date, end_date, '[]') && daterange($3, $4, '[]')
             ORDER BY start_date LIMIT 1",
            record.region_code,
            record.municipality_code,
            p.start.to_sqlx(),
            p.end.to_sqlx(),
        )
        .fetch_optional(&mut *conn)
        .await?;
        return Err(match other {
            Some(period) => CertificateError::PeriodOverlaps { period }.into(),
            // The conflicting period was created and removed again since: retry.
            None => ApiError::new(
                edu_kit::error::ErrorKind::Aborted,
                edu_kit::error::reason::CONCURRENT_CHANGE,
                "a concurrent change of the municipality's periods won; retry",
            ),
        });
    }
    audit::record(
        conn,
        context,
        "period.created",
        &format!("periods/{}", record.id),
        json!({
            "municipality": format!("{}/{}", record.region_code, record.municipality_code),
            "start": p.start.to_string(),
            "end": p.end.to_string(),
            "nominal_kopecks": p.nominal.kopecks(),
            "quota": p.quota,
        }),
    )
    .await?;
    Ok(())
}

/// Reads a period; `lock` holds it `FOR UPDATE`.
pub async fn fetch(
    conn: &mut PgConnection,
    id: &str,
    lock: bool,
) -> Result<Option<PeriodRecord>, ApiError> {
    let row = if lock {
        sqlx::query_as!(
            PeriodRow,
            "SELECT id, region_code, municipality_code, municipality_name, time_zone, start_date,
                    end_date, nominal, quota, min_age, max_age, currency, credit_time, create_time
             FROM certificates.periods WHERE id = $1 FOR UPDATE",
            id
        )
        .fetch_optional(&mut *conn)
        .await?
    } else {
        sqlx::query_as!(
            PeriodRow,
            "SELECT id, region_code, municipality_code, municipality_name, time_zone, start_date,
                    end_date, nominal, quota, min_age, max_age, currency, credit_time, create_time
             FROM certificates.periods WHERE id = $1",
            id
        )
        .fetch_optional(&mut *conn)
        .await?
    };
    Ok(row.map(PeriodRow::into_record))
}

/// The period of a municipality that contains `day`, if any.
pub async fn on_day(
    conn: &mut PgConnection,
    region_code: &str,
    municipality_code: &str,
    day: Date,
) -> Result<Option<PeriodRecord>, ApiError> {
    let row = sqlx::query_as!(
        PeriodRow,
        "SELECT id, region_code, municipality_code, municipality_name, time_zone, start_date,
                end_date, nominal, quota, min_age, max_age, currency, credit_time, create_time
         FROM certificates.periods
         WHERE region_code = $1 AND municipality_code = $2 AND start_date <= $3 AND end_date >= $3",
        region_code,
        municipality_code,
        day.to_sqlx(),
    )
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(PeriodRow::into_record))
}

/// How a crediting ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Credited {
    /// Certificates funded in the period.
    pub funded: u32,
    /// Certificates beyond the quota.
    pub accounting: u32,
}

/// Rule 2: credits the period under its lock: every active certificate of the municipality
/// without a decision for the period gets one, in issue order, funded within the quota; the
/// funded are credited the nominal. Crediting again decides nothing new.
pub async fn credit(
    conn: &mut PgConnection,
    context: &CallContext,
    id: &str,
) -> Result<(PeriodRecord, Credited), ApiError> {
    let mut record = fetch(conn, id, true)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("periods/{id}")))?;
    let undecided = sqlx::query_scalar!(
        "SELECT c.id FROM certificates.certificates c
         JOIN certificates.children ch ON ch.id = c.child_id
         WHERE c.state = 'ACTIVE' AND ch.region_code = $1 AND ch.municipality_code = $2
           AND NOT EXISTS (SELECT 1 FROM certificates.period_certificates pc
                           WHERE pc.period_id = $3 AND pc.certificate_id = c.id)
         ORDER BY c.issue_time, c.id",
        record.region_code,
        record.municipality_code,
        id,
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut funded = count_funded(conn, id).await?;
    let (mut funded_ids, mut accounting_ids) = (Vec::new(), Vec::new());
    for certificate in undecided {
        match kind_within_quota(funded, record.period.quota) {
            CertificateKind::Funded => {
                funded += 1;
                funded_ids.push(certificate);
            }
            CertificateKind::Accounting => accounting_ids.push(certificate),
        }
    }
    let now = context.now();
    sqlx::query!(
        "INSERT INTO certificates.period_certificates (period_id, certificate_id, kind)
         SELECT $1, c, 'FUNDED' FROM unnest($2::text[]) AS c
         UNION ALL
         SELECT $1, c, 'ACCOUNTING' FROM unnest($3::text[]) AS c",
        id,
        &funded_ids,
        &accounting_ids,
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "INSERT INTO certificates.ledger (certificate_id, period_id, kind, amount, record_time)
         SELECT c, $1, 'CREDIT', $2, $3 FROM unnest($4::text[]) AS c",
        id,
        record.period.nominal.kopecks(),
        now.to_sqlx(),
        &funded_ids,
    )
    .execute(&mut *conn)
    .await?;
    if record.credit_time.is_none() {
        sqlx::query!(
            "UPDATE certificates.periods SET credit_time = $2 WHERE id = $1",
            id,
            now.to_sqlx()
        )
        .execute(&mut *conn)
        .await?;
        record.credit_time = Some(now);
    }
    if !funded_ids.is_empty() || !accounting_ids.is_empty() {
        audit::record(
            conn,
            context,
            "period.credited",
            &format!("periods/{id}"),
            json!({ "funded": funded_ids.len(), "accounting": accounting_ids.len() }),
        )
        .await?;
    }
    let accounting = sqlx::query_scalar!(
        r#"SELECT count(*) AS "count!" FROM certificates.period_certificates
           WHERE period_id = $1 AND kind = 'ACCOUNTING'"#,
        id
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok((
        record,
        Credited {
            funded,
            accounting: u32::try_from(accounting).unwrap_or(u32::MAX),
        },
    ))
}

/// Funded certificates of a period so far.
pub async fn count_funded(conn: &mut PgConnection, period_id: &str) -> Result<u32, ApiError> {
    let count = sqlx::query_scalar!(
        r#"SELECT count(*) AS "count!" FROM certificates.period_certificates
           WHERE period_id = $1 AND kind = 'FUNDED'"#,
        period_id
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(u32::try_from(count).unwrap_or(u32::MAX))
}

/// The kind of a certificate in a period, once decided.
pub async fn kind_of(
    conn: &mut PgConnection,
    period_id: &str,
    certificate_id: &str,
) -> Result<Option<CertificateKind>, ApiError> {
    let kind = sqlx::query_scalar!(
        "SELECT kind FROM certificates.period_certificates
         WHERE period_id = $1 AND certificate_id = $2",
        period_id,
        certificate_id
    )
    .fetch_optional(&mut *conn)
    .await?;
    Ok(kind.map(|k| {
        if k == "FUNDED" {
            CertificateKind::Funded
        } else {
            CertificateKind::Accounting
        }
    }))
}

/// Lists periods, newest first, optionally of one region or municipality.
pub async fn list(
    conn: &mut PgConnection,
    region_code: Option<&str>,
    municipality_code: Option<&str>,
    size: usize,
    after: Option<edu_kit::paging::Cursor>,
) -> Result<edu_kit::paging::Page<PeriodRecord>, ApiError> {
    let (after_time, after_id) = edu_kit::paging::Cursor::split(after);
    let rows = sqlx::query_as!(
        PeriodRow,
        "SELECT id, region_code, municipality_code, municipality_name, time_zone, start_date,
                end_date, nominal, quota, min_age, max_age, currency, credit_time, create_time
         FROM certificates.periods
         WHERE ($1::text IS NULL OR region_code = $1)
           AND ($2::text IS NULL OR municipality_code = $2)
           AND ($3::timestamptz IS NULL OR (create_time, id) < ($3, $4::text))
         ORDER BY create_time DESC, id DESC
         LIMIT $5",
        region_code,
        municipality_code,
        after_time,
        after_id,
        edu_kit::paging::overfetch_limit(size),
    )
    .fetch_all(&mut *conn)
    .await?;
    let records = rows.into_iter().map(PeriodRow::into_record).collect();
    Ok(edu_kit::paging::Page::from_overfetch(
        records,
        size,
        |p: &PeriodRecord| edu_kit::paging::Cursor {
            time: p.create_time,
            id: p.id.clone(),
        },
    ))
}

/// The municipality's period that contains `now`, read in the period's own time zone.
pub async fn current(
    conn: &mut PgConnection,
    region_code: &str,
    municipality_code: &str,
    now: Timestamp,
) -> Result<Option<PeriodRecord>, ApiError> {
    let rows = sqlx::query_as!(
        PeriodRow,
        "SELECT id, region_code, municipality_code, municipality_name, time_zone, start_date,
                end_date, nominal, quota, min_age, max_age, currency, credit_time, create_time
         FROM certificates.periods WHERE region_code = $1 AND municipality_code = $2
         ORDER BY start_date DESC",
        region_code,
        municipality_code,
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(PeriodRow::into_record).find(|p| {
        jiff::tz::TimeZone::get(&p.time_zone)
            .is_ok_and(|zone| p.period.contains(now.to_zoned(zone).date()))
    }))
}

impl PeriodRecord {
    /// Today in the period's time zone.
    pub fn today(&self, now: Timestamp) -> Date {
        jiff::tz::TimeZone::get(&self.time_zone)
            .map(|zone| now.to_zoned(zone).date())
            .unwrap_or_else(|_| now.to_zoned(jiff::tz::TimeZone::UTC).date())
    }
}

struct PeriodKindRow {
    id: String,
    region_code: String,
    municipality_code: String,
    municipality_name: String,
    time_zone: String,
    start_date: jiff_sqlx::Date,
    end_date: jiff_sqlx::Date,
    nominal: i64,
    quota: i32,
    min_age: i16,
    max_age: i16,
    currency: String,
    credit_time: Option<jiff_sqlx::Timestamp>,
    create_time: jiff_sqlx::Timestamp,
    kind: Option<String>,
}

/// A period with the kind of one certificate in it (when decided), in one read.
pub async fn with_kind(
    conn: &mut PgConnection,
    id: &str,
    certificate_id: &str,
) -> Result<Option<(PeriodRecord, Option<CertificateKind>)>, ApiError> {
    let row = sqlx::query_as!(
        PeriodKindRow,
        r#"SELECT p.id, p.region_code, p.municipality_code, p.municipality_name, p.time_zone,
                  p.start_date, p.end_date, p.nominal, p.quota, p.min_age, p.max_age, p.currency,
                  p.credit_time, p.create_time, pc.kind AS "kind?"
           FROM certificates.periods p
           LEFT JOIN certificates.period_certificates pc
             ON pc.period_id = p.id AND pc.certificate_id = $2
           WHERE p.id = $1"#,
        id,
        certificate_id
    )
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|r| {
        let kind = r.kind.as_deref().map(|k| {
            if k == "FUNDED" {
                CertificateKind::Funded
            } else {
                CertificateKind::Accounting
            }
        });
        let record = PeriodRow {
            id: r.id,
            region_code: r.region_code,
            municipality_code: r.municipality_code,
            municipality_name: r.municipality_name,
            time_zone: r.time_zone,
            start_date: r.start_date,
            end_date: r.end_date,
            nominal: r.nominal,
            quota: r.quota,
            min_age: r.min_age,
            max_age: r.max_age,
            currency: r.currency,
            credit_time: r.credit_time,
            create_time: r.create_time,
        }
        .into_record();
        (record, kind)
    }))
}
