//! Enrolments, their reservations and the monthly cycle (rules 5-7), in the store's lock
//! order: programme, then certificate(s).

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff_sqlx::ToSqlx;
use serde_json::json;
use sqlx::PgConnection;

use edu_kit::idempotency::{self, IdempotencyKey, KeyRecord, SeenKey};
use edu_kit::{ApiError, CallContext, audit};

use super::{corrupt, ledger, people, periods, programmes};
use crate::domain::enrolment::{
    CertificateKind, attendance_starts, ensure_may_pay, ensure_seat_free, ensure_start_not_in_past,
};
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
    /// The parent's rating, once given.
    pub rating: Option<i16>,
    /// The parent's comment with the rating.
    pub rating_comment: String,
    /// Requested.
    pub create_time: Timestamp,
    /// Last changed.
    pub update_time: Timestamp,
    /// The etag's version.
    pub version: i64,
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
    rating: Option<i16>,
    rating_comment: String,
    create_time: jiff_sqlx::Timestamp,
    update_time: jiff_sqlx::Timestamp,
    version: i64,
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
            rating: self.rating,
            rating_comment: self.rating_comment,
            create_time: self.create_time.to_jiff(),
            update_time: self.update_time.to_jiff(),
            version: self.version,
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
                    state, monthly_price, reserved, rating, rating_comment, create_time, update_time, version
             FROM certificates.enrolments WHERE id = $1 FOR UPDATE",
            id
        )
        .fetch_optional(&mut *conn)
        .await?
    } else {
        sqlx::query_as!(
            EnrolmentRow,
            "SELECT id, certificate_id, provider_id, programme_id, period_id, start_date, end_date,
                    state, monthly_price, reserved, rating, rating_comment, create_time, update_time, version
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

/// An enrolment with every row a change of it works under: its child (whose parent and
/// municipality decide who may act), its programme and provider, its certificate, its
/// period and the certificate's kind in it.
#[derive(Debug, Clone)]
pub struct Held {
    /// The enrolment, locked.
    pub enrolment: Enrolment,
    /// The child whose certificate pays.
    pub child: people::Child,
    /// The programme, locked.
    pub programme: programmes::Programme,
    /// Whether the programme's provider is included in the registry.
    pub provider_included: bool,
    /// The certificate, locked.
    pub certificate: people::Certificate,
    /// The period the enrolment is paid from.
    pub period: periods::PeriodRecord,
    /// Whether the certificate is funded in the period (`None`: not decided, accounting).
    pub kind: Option<CertificateKind>,
    /// The row of the call's idempotency key as the locking statement saw it (the kit's
    /// `stored_beside_lock`); `None` without a key or a row.
    pub seen_key: Option<SeenKey>,
}

/// Reads an enrolment with everything a change of it needs, in one statement that locks,
/// in the store's order, its programme, its certificate and the enrolment itself: the
/// locks are taken row mark by row mark in the order of `FOR UPDATE OF`, and under READ
/// COMMITTED a row changed while we waited is read again in its committed form. The
/// ledger is read by the next statement, whose snapshot follows the locks. The row of the
/// call's idempotency `key`, if any, is read beside the locks, which saves the acceptance a
/// statement (see the kit's `stored_beside_lock` for why that read may be stale). It is read
/// by two subqueries rather than joined: a ninth table in the join exceeds Postgres's
/// `join_collapse_limit` (8), and the planner then chose a worse order for the eight.
pub async fn hold(
    conn: &mut PgConnection,
    id: &str,
    key: Option<&IdempotencyKey>,
) -> Result<Option<Held>, ApiError> {
    let (key_caller, key_method, key_request_id) = idempotency::lookup_columns(key);
    let row = sqlx::query!(
        r#"-- hot path: AcceptEnrolment (hold)
                  SELECT e.id, e.certificate_id, e.provider_id, e.programme_id, e.period_id, e.start_date,
                  e.end_date, e.state, e.monthly_price, e.reserved, e.rating, e.rating_comment,
                  e.create_time, e.update_time, e.version,
                  p.title, p.description, p.direction, p.min_age, p.max_age, p.seats, p.taken,
                  p.schedule, p.monthly_price AS programme_price, p.certified, p.rating_sum,
                  p.rating_count, v.region_code AS programme_region, v.municipality_code AS programme_municipality,
                  p.create_time AS programme_create_time, v.included,
                  c.child_id, c.number, c.state AS certificate_state, c.issue_time,
                  c.version AS certificate_version,
                  ch.display_name, ch.identity_document, ch.birth_date, ch.region_code,
                  ch.municipality_code, co.parent_subject, co.parent_name, co.give_time,
                  ch.create_time AS child_create_time,
                  per.region_code AS period_region, per.municipality_code AS period_municipality,
                  per.municipality_name, per.time_zone, per.start_date AS period_start,
                  per.end_date AS period_end, per.nominal, per.quota, per.min_age AS period_min_age,
                  per.max_age AS period_max_age, per.currency, per.credit_time,
                  per.create_time AS period_create_time, pc.kind AS "kind?",
                  (SELECT k.request_hash FROM certificates.idempotency_keys k
                   WHERE k.caller = $2 AND k.method = $3 AND k.request_id = $4) AS "key_hash?",
                  (SELECT k.response FROM certificates.idempotency_keys k
                   WHERE k.caller = $2 AND k.method = $3 AND k.request_id = $4) AS "key_response?"
           FROM certificates.programmes p
           JOIN certificates.enrolments e ON e.provider_id = p.provider_id AND e.programme_id = p.id
           JOIN certificates.providers v ON v.id = p.provider_id
           JOIN certificates.certificates c ON c.id = e.certificate_id
           JOIN certificates.children ch ON ch.id = c.child_id
           JOIN certificates.consents co ON co.id = ch.consent_id
           JOIN certificates.periods per ON per.id = e.period_id
           LEFT JOIN certificates.period_certificates pc
             ON pc.period_id = e.period_id AND pc.certificate_id = c.id
           WHERE e.id = $1
           FOR UPDATE OF p, c, e"#,
        id,
        key_caller,
        key_method,
        key_request_id,
    )
    .fetch_optional(&mut *conn)
    .await?;
    let Some(r) = row else {
        return Ok(None);
    };
    let kind = r.kind.as_deref().map(|k| {
        if k == "FUNDED" {
            CertificateKind::Funded
        } else {
            CertificateKind::Accounting
        }
    });
    let (programme, provider_included) = programmes::ProgrammeRow {
        provider_id: r.provider_id.clone(),
        id: r.programme_id.clone(),
        title: r.title,
        description: r.description,
        direction: r.direction,
        min_age: r.min_age,
        max_age: r.max_age,
        seats: r.seats,
        taken: r.taken,
        schedule: r.schedule,
        monthly_price: r.programme_price,
        certified: r.certified,
        rating_sum: r.rating_sum,
        rating_count: r.rating_count,
        region_code: r.programme_region,
        municipality_code: r.programme_municipality,
        create_time: r.programme_create_time,
        included: r.included,
    }
    .into_domain();
    let certificate = people::CertificateRow {
        id: r.certificate_id.clone(),
        child_id: r.child_id.clone(),
        number: r.number,
        state: r.certificate_state,
        issue_time: r.issue_time,
        version: r.certificate_version,
    }
    .into_domain()?;
    let child = people::ChildRow {
        id: r.child_id,
        display_name: r.display_name,
        identity_document: r.identity_document,
        birth_date: r.birth_date,
        region_code: r.region_code,
        municipality_code: r.municipality_code,
        parent_subject: r.parent_subject,
        parent_name: r.parent_name,
        give_time: r.give_time,
        create_time: r.child_create_time,
    }
    .into_domain();
    let period = periods::PeriodRow {
        id: r.period_id.clone(),
        region_code: r.period_region,
        municipality_code: r.period_municipality,
        municipality_name: r.municipality_name,
        time_zone: r.time_zone,
        start_date: r.period_start,
        end_date: r.period_end,
        nominal: r.nominal,
        quota: r.quota,
        min_age: r.period_min_age,
        max_age: r.period_max_age,
        currency: r.currency,
        credit_time: r.credit_time,
        create_time: r.period_create_time,
    }
    .into_record();
    let enrolment = EnrolmentRow {
        id: r.id,
        certificate_id: r.certificate_id,
        provider_id: r.provider_id,
        programme_id: r.programme_id,
        period_id: r.period_id,
        start_date: r.start_date,
        end_date: r.end_date,
        state: r.state,
        monthly_price: r.monthly_price,
        reserved: r.reserved,
        rating: r.rating,
        rating_comment: r.rating_comment,
        create_time: r.create_time,
        update_time: r.update_time,
        version: r.version,
    }
    .into_domain()?;
    Ok(Some(Held {
        enrolment,
        child,
        programme,
        provider_included,
        certificate,
        period,
        kind,
        seen_key: SeenKey::from_columns(r.key_hash, r.key_response),
    }))
}

/// A parent's request: REQUESTED, or WAITLISTED when every seat is taken or others are
/// waiting already (rule 5). The programme is locked, so that the decision and the waiting
/// list's order agree with every concurrent acceptance and ending.
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
    ensure_start_not_in_past(start_date, period.today(context.now()))?;
    let (programme, included) = programmes::fetch(conn, provider_id, programme_id, true)
        .await?
        .ok_or_else(|| ApiError::not_found(programmes::name(provider_id, programme_id)))?;
    programmes::ensure_open_for_enrolment(&programme, included)?;
    let someone_waits = sqlx::query_scalar!(
        r#"-- hot path: RequestEnrolment (waiting list)
           SELECT EXISTS (SELECT 1 FROM certificates.enrolments
                          WHERE provider_id = $1 AND programme_id = $2 AND state = 'WAITLISTED')
           AS "waits!""#,
        provider_id,
        programme_id,
    )
    .fetch_one(&mut *conn)
    .await?;
    let state = if programme.taken < programme.seats && !someone_waits {
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
        rating: None,
        rating_comment: String::new(),
        create_time: now,
        update_time: now,
        version: 1,
    };
    sqlx::query!(
        "-- hot path: RequestEnrolment (write)
         INSERT INTO certificates.enrolments
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
    let held = hold(conn, id, None).await?.ok_or_else(|| missing(id))?;
    accept_held(conn, context, held, |_| KeyRecord::default()).await
}

/// [`accept`], for an enrolment the caller holds (and has authorised the call on): the
/// ledger is read, the domain decides, and the reservation, the seat, the enrolment's new
/// state, the audit record and the call's idempotency key with its response (`key_record`
/// of the accepted enrolment; see the kit's lock-first idempotency) are written in one
/// statement.
pub async fn accept_held(
    conn: &mut PgConnection,
    context: &CallContext,
    held: Held,
    key_record: impl FnOnce(&Enrolment) -> KeyRecord,
) -> Result<Enrolment, ApiError> {
    let Held {
        mut enrolment,
        programme,
        provider_included: included,
        certificate,
        period,
        kind,
        ..
    } = held;
    let id = enrolment.id.clone();
    match enrolment.state {
        // Accepted before, by another request: this one's id answers with it from now on,
        // as if it had done the work (and a different request under it is refused).
        EnrolmentState::Accepted => {
            key_record(&enrolment).store(conn, context.now()).await?;
            return Ok(enrolment);
        }
        EnrolmentState::Requested => {}
        // A full programme says so; with a seat free, the first on the list goes first.
        EnrolmentState::Waitlisted => {
            ensure_seat_free(programme.seats, programme.taken)?;
            return Err(CertificateError::TransitionNotAllowed {
                from: "WAITLISTED",
                to: "ACCEPTED",
            }
            .into());
        }
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
    ensure_may_pay(
        kind.unwrap_or(CertificateKind::Accounting),
        enrolment.monthly_price,
    )?;
    let now = context.now();
    let start = attendance_starts(enrolment.start_date, period.today(now));
    let cost = period
        .period
        .enrolment_cost(start, enrolment.monthly_price)?;
    let mut entries = ledger::load(conn, &certificate.id, &period.id).await?;
    entries.reserve(&id, cost)?;
    let audit = audit::Record::new(
        context,
        "enrolment.accepted",
        &format!("enrolments/{id}"),
        json!({ "reserved_kopecks": cost.kopecks(), "start": start.to_string() }),
    );
    enrolment.state = EnrolmentState::Accepted;
    enrolment.start_date = start;
    enrolment.reserved = cost;
    enrolment.update_time = now;
    enrolment.version += 1;
    let key = key_record(&enrolment);
    // One statement: the reservation (none for a free programme), the seat, the enrolment,
    // its audit record and the call's key (the kit's `audit_log` and `idempotency_keys`, in
    // this schema).
    let keys_recorded = sqlx::query_scalar!(
        "-- hot path: AcceptEnrolment (write)
         WITH reserve AS (
             INSERT INTO certificates.ledger
                 (certificate_id, period_id, kind, amount, enrolment_id, record_time)
             SELECT $2, $3, 'RESERVE', $4::bigint, $1, $6 WHERE $4::bigint > 0
         ), seat AS (
             UPDATE certificates.programmes SET taken = taken + 1
             WHERE provider_id = $7 AND id = $8
         ), audit AS (
             INSERT INTO certificates.audit_log
                 (occurred_at, actor, action, resource, request_id, trace_id, changes, rpc)
             VALUES ($6, $9, $10, $11, $12, $13, $14, $20)
         ), key AS (
             INSERT INTO certificates.idempotency_keys
                 (caller, method, request_id, request_hash, response, created_at)
             SELECT $15, $16, $17, $18, $19, $6 WHERE $15::text IS NOT NULL
             ON CONFLICT DO NOTHING
             RETURNING 1
         )
         UPDATE certificates.enrolments
         SET state = 'ACCEPTED', reserved = $4, start_date = $5, update_time = $6,
             version = version + 1
         WHERE id = $1
         RETURNING (SELECT count(*) FROM key) AS \"keys_recorded!\"",
        id,
        certificate.id,
        period.id,
        cost.kopecks(),
        start.to_sqlx(),
        now.to_sqlx(),
        programme.provider_id,
        programme.id,
        audit.actor,
        audit.action,
        audit.resource,
        audit.request_id,
        audit.trace_id,
        audit.changes,
        key.caller,
        key.method,
        key.request_id,
        key.request_hash,
        key.response,
        audit.rpc,
    )
    .fetch_one(&mut *conn)
    .await?;
    key.check_inserted(keys_recorded)?;
    if programme.taken + 1 >= programme.seats {
        waitlist_open_requests(conn, &programme.provider_id, &programme.id, now).await?;
    }
    Ok(enrolment)
}

/// Rule 5, the waiting list: once the last seat is taken, every request still open joins
/// the waiting list, keeping the order in which requests were made (the list is ordered by
/// request time, so these stand ahead of anyone who asked later). Runs under the
/// programme's lock.
async fn waitlist_open_requests(
    conn: &mut PgConnection,
    provider_id: &str,
    programme_id: &str,
    now: Timestamp,
) -> Result<(), ApiError> {
    sqlx::query!(
        "-- hot path: AcceptEnrolment (last seat)
         UPDATE certificates.enrolments
         SET state = 'WAITLISTED', update_time = $3, version = version + 1
         WHERE provider_id = $1 AND programme_id = $2 AND state = 'REQUESTED'",
        provider_id,
        programme_id,
        now.to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Rule 5, the waiting list: while there are fewer open requests than free seats, the
/// first on the waiting list becomes an open request again, for the provider to accept.
/// Runs under the programme's lock, after a seat is freed or a request leaves.
async fn offer_free_seats(
    conn: &mut PgConnection,
    provider_id: &str,
    programme_id: &str,
    now: Timestamp,
) -> Result<(), ApiError> {
    sqlx::query!(
        "UPDATE certificates.enrolments
         SET state = 'REQUESTED', update_time = $3, version = version + 1
         WHERE id IN (
             SELECT id FROM certificates.enrolments
             WHERE provider_id = $1 AND programme_id = $2 AND state = 'WAITLISTED'
             ORDER BY create_time, id
             LIMIT GREATEST(0,
                 (SELECT seats - taken FROM certificates.programmes
                  WHERE provider_id = $1 AND id = $2)
                 - (SELECT count(*) FROM certificates.enrolments
                    WHERE provider_id = $1 AND programme_id = $2 AND state = 'REQUESTED')))",
        provider_id,
        programme_id,
        now.to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
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
    let enrolment = hold(conn, id, None)
        .await?
        .ok_or_else(|| missing(id))?
        .enrolment;
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
        let keep = enrolment
            .monthly_price
            .times(due)
            .map_err(CertificateError::from)?;
        released = entries
            .release_beyond(id, keep)
            .map_err(CertificateError::from)?;
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
    // A freed seat, or a request that no longer waits for one, moves the list on.
    offer_free_seats(conn, &enrolment.provider_id, &enrolment.programme_id, now).await?;
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
    enrolment.update_time = now;
    enrolment.version += 1;
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
                state, monthly_price, reserved, rating, rating_comment, create_time, update_time, version
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

/// What a month's report holds after a `report_month`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reported {
    /// Every enrolment-month reported for the provider's month so far, in money.
    pub amount: Money,
    /// Enrolments this call added.
    pub added: u32,
}

/// Rule 6: the provider reports `month` delivered to `enrolment_ids` (each listed once; the
/// API refuses repeats). A provider's month is one report that grows: each enrolment-month
/// is a line, unique on (enrolment, month), so reporting one again adds nothing, and a line
/// added after an approval waits for the next one. Every enrolment must be the provider's,
/// accepted and running in that month, and the month must have begun in the municipality.
/// The report's row is locked (created if new) before its lines, as in `approve_month`.
pub async fn report_month(
    conn: &mut PgConnection,
    context: &CallContext,
    provider_id: &str,
    month: YearMonth,
    enrolment_ids: &[String],
) -> Result<Reported, ApiError> {
    let now = context.now();
    let mut lines = Vec::with_capacity(enrolment_ids.len());
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
        let period = periods::fetch(conn, &enrolment.period_id, false)
            .await?
            .ok_or_else(|| corrupt("enrolment without period", id))?;
        if month > YearMonth::of(period.today(now)) {
            return Err(CertificateError::MonthNotBegun { month }.into());
        }
        lines.push(enrolment);
    }
    let first_day = jiff::civil::date(month.year, month.month, 1);
    // The report's row first: concurrent reports and approvals of the month queue here.
    sqlx::query!(
        "INSERT INTO certificates.month_reports (provider_id, month, amount, state, report_time)
         VALUES ($1, $2, 0, 'REPORTED', $3)
         ON CONFLICT (provider_id, month) DO UPDATE SET report_time = EXCLUDED.report_time",
        provider_id,
        first_day.to_sqlx(),
        now.to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    let ids: Vec<String> = lines.iter().map(|e| e.id.clone()).collect();
    let prices: Vec<i64> = lines.iter().map(|e| e.monthly_price.kopecks()).collect();
    let added = sqlx::query_scalar!(
        "INSERT INTO certificates.month_report_lines
            (provider_id, month, enrolment_id, amount, report_time)
         SELECT $1, $2, line.enrolment_id, line.amount, $5
         FROM unnest($3::text[], $4::bigint[]) AS line (enrolment_id, amount)
         ON CONFLICT (enrolment_id, month) DO NOTHING
         RETURNING enrolment_id",
        provider_id,
        first_day.to_sqlx(),
        &ids,
        &prices,
        now.to_sqlx(),
    )
    .fetch_all(&mut *conn)
    .await?;
    let amount = sqlx::query_scalar!(
        r#"UPDATE certificates.month_reports r
           SET amount = (SELECT COALESCE(sum(amount), 0)::bigint FROM certificates.month_report_lines l
                         WHERE l.provider_id = r.provider_id AND l.month = r.month),
               state = CASE WHEN $3 THEN 'REPORTED' ELSE r.state END
           WHERE provider_id = $1 AND month = $2
           RETURNING amount"#,
        provider_id,
        first_day.to_sqlx(),
        !added.is_empty(),
    )
    .fetch_one(&mut *conn)
    .await?;
    audit::record(
        conn,
        context,
        "month.reported",
        &format!("providers/{provider_id}/months/{first_day}"),
        json!({ "added": added, "amount_kopecks": amount }),
    )
    .await?;
    Ok(Reported {
        amount: Money::from_kopecks(amount),
        added: u32::try_from(added.len()).unwrap_or(u32::MAX),
    })
}

/// Rule 6 and 7: approves a reported month under the report's lock: each line not yet
/// approved moves its enrolment's month from the reservation to a charge (certificates
/// locked in ID order). Approving again charges nothing new. Returns how many
/// enrolment-months this call charged and the provider's payable for the month.
pub async fn approve_month(
    conn: &mut PgConnection,
    context: &CallContext,
    provider_id: &str,
    month: YearMonth,
) -> Result<(u32, Money), ApiError> {
    let first_day = jiff::civil::date(month.year, month.month, 1);
    let report = sqlx::query_scalar!(
        "SELECT state FROM certificates.month_reports
         WHERE provider_id = $1 AND month = $2 FOR UPDATE",
        provider_id,
        first_day.to_sqlx(),
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| {
        ApiError::not_found(format!(
            "providers/{provider_id}/months/{:04}-{:02}",
            month.year, month.month
        ))
    })?;
    let mut charged = 0;
    if report == "REPORTED" {
        let pending = sqlx::query_scalar!(
            "SELECT enrolment_id FROM certificates.month_report_lines
             WHERE provider_id = $1 AND month = $2 AND approve_time IS NULL",
            provider_id,
            first_day.to_sqlx(),
        )
        .fetch_all(&mut *conn)
        .await?;
        let mut by_certificate: BTreeMap<String, Vec<Enrolment>> = BTreeMap::new();
        for id in &pending {
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
            "UPDATE certificates.month_report_lines SET approve_time = $3
             WHERE provider_id = $1 AND month = $2 AND approve_time IS NULL",
            provider_id,
            first_day.to_sqlx(),
            now.to_sqlx(),
        )
        .execute(&mut *conn)
        .await?;
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

/// The provider declines a request or a waiting-list place; the list moves on. A repeat is
/// a no-op. The programme is locked first, as everywhere.
pub async fn decline(
    conn: &mut PgConnection,
    context: &CallContext,
    seen: &Enrolment,
    reason: &str,
) -> Result<Enrolment, ApiError> {
    let id = seen.id.as_str();
    programmes::fetch(conn, &seen.provider_id, &seen.programme_id, true).await?;
    let mut enrolment = fetch(conn, id, true).await?.ok_or_else(|| missing(id))?;
    match enrolment.state {
        EnrolmentState::Declined => return Ok(enrolment),
        EnrolmentState::Requested | EnrolmentState::Waitlisted => {}
        other => {
            return Err(CertificateError::TransitionNotAllowed {
                from: other.as_str(),
                to: "DECLINED",
            }
            .into());
        }
    }
    let now = context.now();
    sqlx::query!(
        "UPDATE certificates.enrolments SET state = 'DECLINED', update_time = $2, version = version + 1
         WHERE id = $1",
        id,
        now.to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    offer_free_seats(conn, &enrolment.provider_id, &enrolment.programme_id, now).await?;
    audit::record(
        conn,
        context,
        "enrolment.declined",
        &format!("enrolments/{id}"),
        json!({ "reason": reason }),
    )
    .await?;
    enrolment.state = EnrolmentState::Declined;
    enrolment.update_time = now;
    enrolment.version += 1;
    Ok(enrolment)
}

/// Rule 9: the parent rates the programme once per enrolment, after at least one month was
/// charged (the child attended). The programme's sum and count move in the same statement
/// as the guard, so concurrent ratings cannot count twice.
pub async fn rate(
    conn: &mut PgConnection,
    context: &CallContext,
    id: &str,
    rating: i16,
    comment: &str,
) -> Result<(), ApiError> {
    let enrolment = fetch(conn, id, false).await?.ok_or_else(|| missing(id))?;
    let attended = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM certificates.ledger
                          WHERE enrolment_id = $1 AND kind = 'CHARGE') AS "attended!""#,
        id
    )
    .fetch_one(&mut *conn)
    .await?;
    if !attended {
        return Err(CertificateError::NotAttended.into());
    }
    let rated = sqlx::query!(
        "UPDATE certificates.enrolments SET rating = $2, rating_comment = $3, update_time = $4
         WHERE id = $1 AND rating IS NULL",
        id,
        rating,
        comment,
        context.now().to_sqlx(),
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if rated == 0 {
        return Err(CertificateError::AlreadyRated.into());
    }
    sqlx::query!(
        "UPDATE certificates.programmes
         SET rating_sum = rating_sum + $3, rating_count = rating_count + 1
         WHERE provider_id = $1 AND id = $2",
        enrolment.provider_id,
        enrolment.programme_id,
        i32::from(rating),
    )
    .execute(&mut *conn)
    .await?;
    audit::record(
        conn,
        context,
        "enrolment.rated",
        &format!("enrolments/{id}"),
        json!({ "rating": rating }),
    )
    .await?;
    Ok(())
}

/// Whose enrolments a listing shows.
#[derive(Debug, Clone)]
pub enum EnrolmentScope {
    /// A municipality's (its operator).
    Municipality {
        /// Region.
        region_code: String,
        /// Municipality.
        municipality_code: String,
    },
    /// A provider's programmes'.
    Provider(String),
    /// The children a parent consented for.
    Parent(String),
}

/// Which enrolments a listing shows.
#[derive(Debug, Clone)]
pub struct EnrolmentFilter {
    /// Whose.
    pub scope: EnrolmentScope,
    /// Only this certificate's.
    pub certificate_id: Option<String>,
    /// Only this programme's (provider, programme).
    pub programme: Option<(String, String)>,
    /// Only in this state.
    pub state: Option<EnrolmentState>,
}

/// Lists enrolments in request order.
pub async fn list(
    conn: &mut PgConnection,
    filter: &EnrolmentFilter,
    size: usize,
    after: Option<edu_kit::paging::Cursor>,
) -> Result<edu_kit::paging::Page<Enrolment>, ApiError> {
    let (region, municipality, provider, parent) = match &filter.scope {
        EnrolmentScope::Municipality {
            region_code,
            municipality_code,
        } => (
            Some(region_code.as_str()),
            Some(municipality_code.as_str()),
            None,
            None,
        ),
        EnrolmentScope::Provider(id) => (None, None, Some(id.as_str()), None),
        EnrolmentScope::Parent(subject) => (None, None, None, Some(subject.as_str())),
    };
    let (programme_provider, programme_id) = match &filter.programme {
        Some((p, id)) => (Some(p.as_str()), Some(id.as_str())),
        None => (None, None),
    };
    let (after_time, after_id) = edu_kit::paging::Cursor::split(after);
    let rows = sqlx::query_as!(
        EnrolmentRow,
        "SELECT e.id, e.certificate_id, e.provider_id, e.programme_id, e.period_id, e.start_date,
                e.end_date, e.state, e.monthly_price, e.reserved, e.rating, e.rating_comment, e.create_time,
                e.update_time, e.version
         FROM certificates.enrolments e
         JOIN certificates.certificates c ON c.id = e.certificate_id
         JOIN certificates.children ch ON ch.id = c.child_id
         JOIN certificates.consents co ON co.id = ch.consent_id
         WHERE ($1::text IS NULL OR (ch.region_code = $1 AND ch.municipality_code = $2))
           AND ($3::text IS NULL OR e.provider_id = $3)
           AND ($4::text IS NULL OR co.parent_subject = $4)
           AND ($5::text IS NULL OR e.certificate_id = $5)
           AND ($6::text IS NULL OR (e.provider_id = $6 AND e.programme_id = $7))
           AND ($8::text IS NULL OR e.state = $8)
           AND ($9::timestamptz IS NULL OR (e.create_time, e.id) > ($9, $10::text))
         ORDER BY e.create_time, e.id
         LIMIT $11",
        region,
        municipality,
        provider,
        parent,
        filter.certificate_id,
        programme_provider,
        programme_id,
        filter.state.map(|s| s.as_str()),
        after_time,
        after_id,
        edu_kit::paging::overfetch_limit(size),
    )
    .fetch_all(&mut *conn)
    .await?;
    let enrolments = rows
        .into_iter()
        .map(EnrolmentRow::into_domain)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(edu_kit::paging::Page::from_overfetch(
        enrolments,
        size,
        |e: &Enrolment| edu_kit::paging::Cursor {
            time: e.create_time,
            id: e.id.clone(),
        },
    ))
}

/// A certificate's enrolments, newest first, at most `limit`, and whether it has more.
pub async fn newest_of_certificate(
    conn: &mut PgConnection,
    certificate_id: &str,
    limit: usize,
) -> Result<(Vec<Enrolment>, bool), ApiError> {
    let rows = sqlx::query_as!(
        EnrolmentRow,
        "SELECT e.id, e.certificate_id, e.provider_id, e.programme_id, e.period_id, e.start_date,
                e.end_date, e.state, e.monthly_price, e.reserved, e.rating, e.rating_comment, e.create_time,
                e.update_time, e.version
         FROM certificates.enrolments e
         WHERE e.certificate_id = $1
         ORDER BY e.create_time DESC, e.id DESC
         LIMIT $2",
        certificate_id,
        i64::try_from(limit).unwrap_or(i64::MAX).saturating_add(1),
    )
    .fetch_all(&mut *conn)
    .await?;
    let more = rows.len() > limit;
    let enrolments = rows
        .into_iter()
        .take(limit)
        .map(EnrolmentRow::into_domain)
        .collect::<Result<Vec<_>, _>>()?;
    Ok((enrolments, more))
}

/// One provider's payable for a month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payable {
    /// The provider.
    pub provider_id: String,
    /// Its taxpayer number.
    pub tax_id: String,
    /// Charged enrolment-months.
    pub enrolment_months: i64,
    /// The amount.
    pub amount: Money,
}

/// Rule 6: a municipality's payables for a month, per provider, from the charges.
pub async fn payables(
    conn: &mut PgConnection,
    region_code: &str,
    municipality_code: &str,
    month: YearMonth,
) -> Result<Vec<Payable>, ApiError> {
    let first_day = jiff::civil::date(month.year, month.month, 1);
    let rows = sqlx::query!(
        r#"SELECT v.id, v.tax_id, count(*) AS "months!", sum(l.amount)::bigint AS "amount!"
           FROM certificates.ledger l
           JOIN certificates.enrolments e ON e.id = l.enrolment_id
           JOIN certificates.providers v ON v.id = e.provider_id
           WHERE l.kind = 'CHARGE' AND l.month = $3
             AND v.region_code = $1 AND v.municipality_code = $2
           GROUP BY v.id, v.tax_id
           ORDER BY v.id"#,
        region_code,
        municipality_code,
        first_day.to_sqlx(),
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Payable {
            provider_id: r.id,
            tax_id: r.tax_id,
            enrolment_months: r.months,
            amount: Money::from_kopecks(r.amount),
        })
        .collect())
}

/// The place of a waitlisted enrolment on its programme's list, 1 for the next; 0 when it
/// is not waitlisted.
pub async fn waiting_position(
    conn: &mut PgConnection,
    enrolment: &Enrolment,
) -> Result<i32, ApiError> {
    if enrolment.state != EnrolmentState::Waitlisted {
        return Ok(0);
    }
    let ahead = sqlx::query_scalar!(
        r#"SELECT count(*) AS "count!" FROM certificates.enrolments
           WHERE provider_id = $1 AND programme_id = $2 AND state = 'WAITLISTED'
             AND (create_time, id) < ($3, $4)"#,
        enrolment.provider_id,
        enrolment.programme_id,
        enrolment.create_time.to_sqlx(),
        enrolment.id,
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(i32::try_from(ahead + 1).unwrap_or(i32::MAX))
}

struct HeldRow {
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
    rating: Option<i16>,
    rating_comment: String,
    create_time: jiff_sqlx::Timestamp,
    update_time: jiff_sqlx::Timestamp,
    version: i64,
    child_id: String,
    display_name: String,
    identity_document: String,
    birth_date: jiff_sqlx::Date,
    region_code: String,
    municipality_code: String,
    parent_subject: String,
    parent_name: String,
    give_time: jiff_sqlx::Timestamp,
    child_create_time: jiff_sqlx::Timestamp,
}

/// An enrolment with the child whose certificate pays for it, in one read: what deciding who
/// may act on the enrolment needs.
pub async fn with_child(
    conn: &mut PgConnection,
    id: &str,
) -> Result<Option<(Enrolment, people::Child)>, ApiError> {
    let row = sqlx::query_as!(
        HeldRow,
        "SELECT e.id, e.certificate_id, e.provider_id, e.programme_id, e.period_id, e.start_date,
                e.end_date, e.state, e.monthly_price, e.reserved, e.rating, e.rating_comment,
                e.create_time, e.update_time, e.version,
                ch.id AS child_id, ch.display_name, ch.identity_document, ch.birth_date,
                ch.region_code, ch.municipality_code, co.parent_subject, co.parent_name,
                co.give_time, ch.create_time AS child_create_time
         FROM certificates.enrolments e
         JOIN certificates.certificates c ON c.id = e.certificate_id
         JOIN certificates.children ch ON ch.id = c.child_id
         JOIN certificates.consents co ON co.id = ch.consent_id
         WHERE e.id = $1",
        id
    )
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| {
        let child = people::ChildRow {
            id: r.child_id,
            display_name: r.display_name,
            identity_document: r.identity_document,
            birth_date: r.birth_date,
            region_code: r.region_code,
            municipality_code: r.municipality_code,
            parent_subject: r.parent_subject,
            parent_name: r.parent_name,
            give_time: r.give_time,
            create_time: r.child_create_time,
        }
        .into_domain();
        let enrolment = EnrolmentRow {
            id: r.id,
            certificate_id: r.certificate_id,
            provider_id: r.provider_id,
            programme_id: r.programme_id,
            period_id: r.period_id,
            start_date: r.start_date,
            end_date: r.end_date,
            state: r.state,
            monthly_price: r.monthly_price,
            reserved: r.reserved,
            rating: r.rating,
            rating_comment: r.rating_comment,
            create_time: r.create_time,
            update_time: r.update_time,
            version: r.version,
        }
        .into_domain()?;
        Ok((enrolment, child))
    })
    .transpose()
}
