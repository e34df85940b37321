//! Enrolments, their reservations and the monthly cycle (rules 5-7), in the store's lock
//! order: programme, then certificate(s).

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff_sqlx::ToSqlx;
use serde_json::json;
use sqlx::PgConnection;

use edu_kit::{ApiError, CallContext, audit};

use super::{corrupt, ledger, people, periods, programmes};
use crate::domain::enrolment::{CertificateKind, ensure_may_pay, ensure_seat_free};
use crate::domain::period::YearMonth;
use crate::domain::{CertificateError, Money, Transition};

/// Where an enrolment is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnrolmentState {
    /// Asked for.
    Requested,
    /// On the waiting list.
    Waitlisted,
    /// Accepted: a seat taken, the remaining months reserved.
    Accepted,
    /// Declined.
    Declined,
    /// Ended.
    Ended,
}

impl EnrolmentState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            EnrolmentState::Requested => "REQUESTED",
            EnrolmentState::Waitlisted => "WAITLISTED",
            EnrolmentState::Accepted => "ACCEPTED",
            EnrolmentState::Declined => "DECLINED",
            EnrolmentState::Ended => "ENDED",
        }
    }

    fn parse(raw: &str) -> Option<Self> {
        [
            EnrolmentState::Requested,
            EnrolmentState::Waitlisted,
            EnrolmentState::Accepted,
            EnrolmentState::Declined,
            EnrolmentState::Ended,
        ]
        .into_iter()
        .find(|s| s.as_str() == raw)
    }
}

/// An enrolment of a certificate in a programme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrolment {
    /// The ID in `enrolments/{id}`.
    pub id: String,
    /// The certificate.
    pub certificate_id: String,
    /// The programme's provider.
    pub provider_id: String,
    /// The programme.
    pub programme_id: String,
    /// The period it is paid from.
    pub period_id: String,
    /// First day.
    pub start_date: Date,
    /// Last day, once ended.
    pub end_date: Option<Date>,
    /// Where it is.
    pub state: EnrolmentState,
    /// The programme's monthly price when requested.
    pub monthly_price: Money,
    /// Reserved on acceptance.
    pub reserved: Money,
    /// Requested.
    pub create_time: Timestamp,
}

struct EnrolmentRow {
    id: String,
    certificate_id: String,
    provider_id: String,
    programme_id: String,
    period_id: String,
    start_date: jiff_sqlx::Date,
    end_date: Option<jiff_sqlx::Date>,
    state: String,
    monthly_price: i64,
    reserved: i64,
    create_time: jiff_sqlx::Timestamp,
}

impl EnrolmentRow {
    fn into_domain(self) -> Result<Enrolment, ApiError> {
        Ok(Enrolment {
            state: EnrolmentState::parse(&self.state)
                .ok_or_else(|| corrupt("enrolment state", &self.state))?,
            id: self.id,
            certificate_id: self.certificate_id,
            provider_id: self.provider_id,
            programme_id: self.programme_id,
            period_id: self.period_id,
            start_date: self.start_date.to_jiff(),
            end_date: self.end_date.map(|d| d.to_jiff()),
            monthly_price: Money::from_kopecks(self.monthly_price),
            reserved: Money::from_kopecks(self.reserved),
            create_time: self.create_time.to_jiff(),
        })
    }
}

/// Reads an enrolment; `lock` holds it `FOR UPDATE`.
pub async fn fetch(
    conn: &mut PgConnection,
    id: &str,
    lock: bool,
) -> Result<Option<Enrolment>, ApiError> {
    let row = if lock {
        sqlx::query_as!(
            EnrolmentRow,
            "SELECT id, certificate_id, provider_id, programme_id, period_id, start_date, end_date,
                    state, monthly_price, reserved, create_time
             FROM certificates.enrolments WHERE id = $1 FOR UPDATE",
            id
        )
        .fetch_optional(&mut *conn)
        .await?
    } else {
        sqlx::query_as!(
            EnrolmentRow,
            "SELECT id, certificate_id, provider_id, programme_id, period_id, start_date, end_date,
                    state, monthly_price, reserved, create_time
             FROM certificates.enrolments WHERE id = $1",
            id
        )
        .fetch_optional(&mut *conn)
        .await?
    };
    row.map(EnrolmentRow::into_domain).transpose()
}

fn missing(id: &str) -> ApiError {
    ApiError::not_found(format!("enrolments/{id}"))
}

/// An enrolment with the rows a change of it works under.
struct Locked {
    programme: programmes::Programme,
    provider_included: bool,
    certificate: people::Certificate,
    enrolment: Enrolment,
}

/// Locks an enrolment's programme, then its certificate, then the enrolment itself: the
/// store's lock order.
async fn lock(conn: &mut PgConnection, id: &str) -> Result<Locked, ApiError> {
    let seen = fetch(conn, id, false).await?.ok_or_else(|| missing(id))?;
    let (programme, provider_included) =
        programmes::fetch(conn, &seen.provider_id, &seen.programme_id, true)
            .await?
            .ok_or_else(|| corrupt("enrolment without programme", id))?;
    let certificate = people::certificate(conn, &seen.certificate_id, true)
        .await?
        .ok_or_else(|| corrupt("enrolment without certificate", id))?;
    let enrolment = fetch(conn, id, true).await?.ok_or_else(|| missing(id))?;
    Ok(Locked {
        programme,
        provider_included,
        certificate,
        enrolment,
    })
}

/// A parent's request: REQUESTED, or WAITLISTED when every seat is taken.
pub async fn request(
    conn: &mut PgConnection,
    context: &CallContext,
    certificate_id: &str,
    provider_id: &str,
    programme_id: &str,
    start_date: Date,
) -> Result<Enrolment, ApiError> {
    let certificate = people::certificate(conn, certificate_id, false)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("certificates/{certificate_id}")))?;
    certificate.state.ensure_active()?;
    let child = people::child(conn, &certificate.child_id)
        .await?
        .ok_or_else(|| corrupt("certificate without child", certificate_id))?;
    let period = periods::on_day(
        conn,
        &child.region_code,
        &child.municipality_code,
        start_date,
    )
    .await?
    .ok_or(CertificateError::OutsidePeriod)?;
    let (programme, included) = programmes::fetch(conn, provider_id, programme_id, false)
        .await?
        .ok_or_else(|| ApiError::not_found(programmes::name(provider_id, programme_id)))?;
    programmes::ensure_open_for_enrolment(&programme, included)?;
    let state = if programme.taken < programme.seats {
        EnrolmentState::Requested
    } else {
        EnrolmentState::Waitlisted
    };
    let now = context.now();
    let enrolment = Enrolment {
        id: edu_kit::resource::new_id(),
        certificate_id: certificate_id.into(),
        provider_id: provider_id.into(),
        programme_id: programme_id.into(),
        period_id: period.id,
        start_date,
        end_date: None,
        state,
        monthly_price: programme.monthly_price,
        reserved: Money::ZERO,
        create_time: now,
    };
    sqlx::query!(
        "INSERT INTO certificates.enrolments
            (id, certificate_id, provider_id, programme_id, period_id, start_date, state,
             monthly_price, create_time, update_time)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
        enrolment.id,
        enrolment.certificate_id,
        enrolment.provider_id,
        enrolment.programme_id,
        enrolment.period_id,
        start_date.to_sqlx(),
        state.as_str(),
        enrolment.monthly_price.kopecks(),
        now.to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    audit::record(
        conn,
        context,
        "enrolment.requested",
        &format!("enrolments/{}", enrolment.id),
        json!({
            "certificate": format!("certificates/{certificate_id}"),
            "programme": programmes::name(provider_id, programme_id),
            "state": state.as_str(),
        }),
    )
    .await?;
    Ok(enrolment)
}

/// Rule 5: the provider accepts: under the programme's and then the certificate's lock, a
/// seat is taken and the remaining months reserved, or nothing happens.
pub async fn accept(
    conn: &mut PgConnection,
    context: &CallContext,
    id: &str,
) -> Result<Enrolment, ApiError> {
    let Locked {
        programme,
        provider_included: included,
        certificate,
        mut enrolment,
    } = lock(conn, id).await?;
    match enrolment.state {
        EnrolmentState::Accepted => return Ok(enrolment),
        EnrolmentState::Requested => {}
        other => {
            return Err(CertificateError::TransitionNotAllowed {
                from: other.as_str(),
                to: "ACCEPTED",
            }
            .into());
        }
    }
    certificate.state.ensure_active()?;
    programmes::ensure_open_for_enrolment(&programme, included)?;
    ensure_seat_free(programme.seats, programme.taken)?;
    let period = periods::fetch(conn, &enrolment.period_id, false)
        .await?
        .ok_or_else(|| corrupt("enrolment without period", id))?;
    let kind = periods::kind_of(conn, &period.id, &certificate.id)
        .await?
        .unwrap_or(CertificateKind::Accounting);
    ensure_may_pay(kind, enrolment.monthly_price)?;
    let cost = period
        .period
        .enrolment_cost(enrolment.start_date, enrolment.monthly_price)?;
    let mut entries = ledger::load(conn, &certificate.id, &period.id).await?;
    let before = entries.entries().len();
    entries.reserve(id, cost)?;
    let now = context.now();
    ledger::append(conn, &certificate.id, &period.id, &entries, before, now).await?;
    sqlx::query!(
        "UPDATE certificates.programmes SET taken = taken + 1 WHERE provider_id = $1 AND id = $2",
        programme.provider_id,
        programme.id
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "UPDATE certificates.enrolments
         SET state = 'ACCEPTED', reserved = $2, update_time = $3, version = version + 1
         WHERE id = $1",
        id,
        cost.kopecks(),
        now.to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    audit::record(
        conn,
        context,
        "enrolment.accepted",
        &format!("enrolments/{id}"),
        json!({ "reserved_kopecks": cost.kopecks() }),
    )
    .await?;
    enrolment.state = EnrolmentState::Accepted;
    enrolment.reserved = cost;
    Ok(enrolment)
}

/// Rule 6: ends an enrolment on `end_date`. Reserved months after the end's month are
/// released (delivered months stay reserved until charged); the seat goes to the first on
/// the waiting list. A repeat is a no-op.
pub async fn end(
    conn: &mut PgConnection,
    context: &CallContext,
    id: &str,
    end_date: Date,
) -> Result<Enrolment, ApiError> {
    let enrolment = lock(conn, id).await?.enrolment;
    finish(conn, context, enrolment, end_date).await
}

/// Ends an enrolment whose programme and certificate the caller holds locked.
async fn finish(
    conn: &mut PgConnection,
    context: &CallContext,
    mut enrolment: Enrolment,
    end_date: Date,
) -> Result<Enrolment, ApiError> {
    let id = enrolment.id.clone();
    let id = id.as_str();
    let was_accepted = match enrolment.state {
        EnrolmentState::Ended => return Ok(enrolment),
        EnrolmentState::Declined => {
            return Err(CertificateError::TransitionNotAllowed {
                from: "DECLINED",
                to: "ENDED",
            }
            .into());
        }
        EnrolmentState::Accepted => true,
        EnrolmentState::Requested | EnrolmentState::Waitlisted => false,
    };
    let now = context.now();
    let mut released = Money::ZERO;
    if was_accepted {
        let mut entries =
            ledger::load(conn, &enrolment.certificate_id, &enrolment.period_id).await?;
        let charged = entries.charged_months(id);
        let last = YearMonth::of(end_date.max(enrolment.start_date));
        let mut due = 0u32;
        let mut month = YearMonth::of(enrolment.start_date);
        while month <= last {
            if !charged.contains(&month) {
                due += 1;
            }
            month = month.next();
        }
        let before = entries.entries().len();
        released = entries.release_beyond(id, enrolment.monthly_price * due);
        ledger::append(
            conn,
            &enrolment.certificate_id,
            &enrolment.period_id,
            &entries,
            before,
            now,
        )
        .await?;
        sqlx::query!(
            "UPDATE certificates.programmes SET taken = taken - 1 WHERE provider_id = $1 AND id = $2",
            enrolment.provider_id,
            enrolment.programme_id
        )
        .execute(&mut *conn)
        .await?;
        // The freed seat is offered to the first on the waiting list.
        sqlx::query!(
            "UPDATE certificates.enrolments SET state = 'REQUESTED', update_time = $3
             WHERE id = (SELECT id FROM certificates.enrolments
                         WHERE provider_id = $1 AND programme_id = $2 AND state = 'WAITLISTED'
                         ORDER BY create_time, id LIMIT 1)",
            enrolment.provider_id,
            enrolment.programme_id,
            now.to_sqlx(),
        )
        .execute(&mut *conn)
        .await?;
    }
    sqlx::query!(
        "UPDATE certificates.enrolments
         SET state = 'ENDED', end_date = $2, update_time = $3, version = version + 1
         WHERE id = $1",
        id,
        end_date.to_sqlx(),
        now.to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    audit::record(
        conn,
        context,
        "enrolment.ended",
        &format!("enrolments/{id}"),
        json!({ "end_date": end_date.to_string(), "released_kopecks": released.kopecks() }),
    )
    .await?;
    enrolment.state = EnrolmentState::Ended;
    enrolment.end_date = Some(end_date);
    Ok(enrolment)
}

/// A certificate's enrolments that have not ended or been declined, by programme.
async fn running(
    conn: &mut PgConnection,
    certificate_id: &str,
) -> Result<Vec<Enrolment>, ApiError> {
    sqlx::query_as!(
        EnrolmentRow,
        "SELECT id, certificate_id, provider_id, programme_id, period_id, start_date, end_date,
                state, monthly_price, reserved, create_time
         FROM certificates.enrolments
         WHERE certificate_id = $1 AND state IN ('REQUESTED', 'WAITLISTED', 'ACCEPTED')
         ORDER BY provider_id, programme_id, id",
        certificate_id
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(EnrolmentRow::into_domain)
    .collect()
}

/// Rule 1: closes a certificate for good on `end_date`: every running enrolment ends and
/// releases what it still has reserved. The enrolments' programmes are locked first (in
/// order), then the certificate, as everywhere in the store.
pub async fn close_certificate(
    conn: &mut PgConnection,
    context: &CallContext,
    certificate_id: &str,
    end_date: Date,
) -> Result<people::Certificate, ApiError> {
    let seen = running(conn, certificate_id).await?;
    let mut programmes_locked: Vec<(String, String)> = seen
        .iter()
        .map(|e| (e.provider_id.clone(), e.programme_id.clone()))
        .collect();
    programmes_locked.dedup();
    for (provider_id, programme_id) in &programmes_locked {
        programmes::fetch(conn, provider_id, programme_id, true).await?;
    }
    people::certificate(conn, certificate_id, true)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("certificates/{certificate_id}")))?;
    let now_running = running(conn, certificate_id).await?;
    if now_running
        .iter()
        .any(|e| !programmes_locked.contains(&(e.provider_id.clone(), e.programme_id.clone())))
    {
        return Err(ApiError::new(
            edu_kit::error::ErrorKind::Aborted,
            edu_kit::error::reason::CONCURRENT_CHANGE,
            "an enrolment was accepted while the certificate was closing; retry",
        ));
    }
    for enrolment in now_running {
        finish(conn, context, enrolment, end_date).await?;
    }
    people::set_state(
        conn,
        context,
        certificate_id,
        people::CertificateState::Closed,
    )
    .await
}

/// Rule 6: the provider reports `month` delivered to `enrolment_ids`; returns the amount.
/// Every enrolment must be the provider's and running in that month.
pub async fn report_month(
    conn: &mut PgConnection,
    context: &CallContext,
    provider_id: &str,
    month: YearMonth,
    enrolment_ids: &[String],
) -> Result<Money, ApiError> {
    let mut amount = Money::ZERO;
    for id in enrolment_ids {
        let enrolment = fetch(conn, id, false)
            .await?
            .filter(|e| e.provider_id == provider_id)
            .ok_or_else(|| missing(id))?;
        let running = matches!(
            enrolment.state,
            EnrolmentState::Accepted | EnrolmentState::Ended
        ) && YearMonth::of(enrolment.start_date) <= month
            && enrolment
                .end_date
                .is_none_or(|end| month <= YearMonth::of(end));
        let was_accepted =
            enrolment.reserved.is_positive() || enrolment.monthly_price == Money::ZERO;
        if !running || !was_accepted {
            return Err(CertificateError::EnrolmentNotRunning {
                enrolment: id.clone(),
            }
            .into());
        }
        amount = amount + enrolment.monthly_price;
    }
    let first_day = jiff::civil::date(month.year, month.month, 1);
    let stored = sqlx::query_scalar!(
        "INSERT INTO certificates.month_reports
            (provider_id, month, enrolment_ids, amount, state, report_time)
         VALUES ($1, $2, $3, $4, 'REPORTED', $5)
         ON CONFLICT (provider_id, month) DO UPDATE
            SET enrolment_ids = $3, amount = $4, report_time = $5
            WHERE certificates.month_reports.state = 'REPORTED'
         RETURNING state",
        provider_id,
        first_day.to_sqlx(),
        enrolment_ids,
        amount.kopecks(),
        context.now().to_sqlx(),
    )
    .fetch_optional(&mut *conn)
    .await?;
    if stored.is_none() {
        return Err(CertificateError::TransitionNotAllowed {
            from: "APPROVED",
            to: "REPORTED",
        }
        .into());
    }
    audit::record(
        conn,
        context,
        "month.reported",
        &format!("providers/{provider_id}/months/{first_day}"),
        json!({ "enrolments": enrolment_ids.len(), "amount_kopecks": amount.kopecks() }),
    )
    .await?;
    Ok(amount)
}

/// Rule 6 and 7: approves a reported month under the report's lock: each enrolment's month
/// moves from its reservation to a charge (certificates locked in ID order). Approving again
/// charges nothing. Returns how many enrolment-months this call charged and the provider's
/// payable for the month.
pub async fn approve_month(
    conn: &mut PgConnection,
    context: &CallContext,
    provider_id: &str,
    month: YearMonth,
) -> Result<(u32, Money), ApiError> {
    let first_day = jiff::civil::date(month.year, month.month, 1);
    let report = sqlx::query!(
        "SELECT enrolment_ids, state FROM certificates.month_reports
         WHERE provider_id = $1 AND month = $2 FOR UPDATE",
        provider_id,
        first_day.to_sqlx(),
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| ApiError::not_found(format!("providers/{provider_id}/months/{first_day}")))?;
    let mut charged = 0;
    if report.state == "REPORTED" {
        let mut by_certificate: BTreeMap<String, Vec<Enrolment>> = BTreeMap::new();
        for id in &report.enrolment_ids {
            let enrolment = fetch(conn, id, false).await?.ok_or_else(|| missing(id))?;
            by_certificate
                .entry(enrolment.certificate_id.clone())
                .or_default()
                .push(enrolment);
        }
        let now = context.now();
        for (certificate_id, enrolments) in by_certificate {
            people::certificate(conn, &certificate_id, true).await?;
            for enrolment in enrolments {
                let mut entries = ledger::load(conn, &certificate_id, &enrolment.period_id).await?;
                let before = entries.entries().len();
                if enrolment.monthly_price.is_positive()
                    && entries.charge(&enrolment.id, month, enrolment.monthly_price)?
                        == Transition::Changed
                {
                    ledger::append(
                        conn,
                        &certificate_id,
                        &enrolment.period_id,
                        &entries,
                        before,
                        now,
                    )
                    .await?;
                    charged += 1;
                }
            }
        }
        sqlx::query!(
            "UPDATE certificates.month_reports SET state = 'APPROVED', approve_time = $3
             WHERE provider_id = $1 AND month = $2",
            provider_id,
            first_day.to_sqlx(),
            now.to_sqlx(),
        )
        .execute(&mut *conn)
        .await?;
        audit::record(
            conn,
            context,
            "month.approved",
            &format!("providers/{provider_id}/months/{first_day}"),
            json!({ "charged": charged }),
        )
        .await?;
    }
    let payable = sqlx::query_scalar!(
        r#"SELECT COALESCE(sum(l.amount), 0)::bigint AS "sum!" FROM certificates.ledger l
           JOIN certificates.enrolments e ON e.id = l.enrolment_id
           WHERE l.kind = 'CHARGE' AND l.month = $2 AND e.provider_id = $1"#,
        provider_id,
        first_day.to_sqlx(),
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok((charged, Money::from_kopecks(payable)))
}
