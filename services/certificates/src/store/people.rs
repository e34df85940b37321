//! Children with their parents' consent, and certificates (rule 1).

use jiff::Timestamp;
use jiff::civil::Date;
use jiff_sqlx::ToSqlx;
use serde_json::json;
use sqlx::PgConnection;

use edu_kit::{ApiError, CallContext, audit};

use super::{corrupt, ledger, periods};
use crate::domain::enrolment::{CertificateKind, kind_within_quota};
use crate::domain::ledger::Sums;
use crate::domain::{Balance, CertificateError, Money, Transition};

/// A child in the municipality's register.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Child {
    /// The ID in `children/{id}`.
    pub id: String,
    /// Full name (personal data).
    pub display_name: String,
    /// Identity document (personal data).
    pub identity_document: String,
    /// Birth date (personal data).
    pub birth_date: Date,
    /// Region of residence.
    pub region_code: String,
    /// Municipality of residence.
    pub municipality_code: String,
    /// The consenting parent's subject.
    pub parent_subject: String,
    /// The consenting parent's name.
    pub parent_name: String,
    /// When the consent was given.
    pub consent_time: Timestamp,
    /// Registered.
    pub create_time: Timestamp,
}

/// Rule 1: records the parent's consent, then the child, in the transaction `conn` is in.
pub async fn create_child(
    conn: &mut PgConnection,
    context: &CallContext,
    child: &Child,
) -> Result<(), ApiError> {
    let consent_id = edu_kit::resource::new_id();
    sqlx::query!(
        "INSERT INTO certificates.consents (id, parent_subject, parent_name, give_time, record_time)
         VALUES ($1, $2, $3, $4, $5)",
        consent_id,
        child.parent_subject,
        child.parent_name,
        child.consent_time.to_sqlx(),
        context.now().to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    // An identity document registered already is an expected conflict: decided from the
    // insert's result, never from a constraint error, which the server would log with the
    // document's number.
    let inserted = sqlx::query!(
        "INSERT INTO certificates.children
            (id, display_name, identity_document, birth_date, region_code, municipality_code,
             consent_id, create_time)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT DO NOTHING",
        child.id,
        child.display_name,
        child.identity_document,
        child.birth_date.to_sqlx(),
        child.region_code,
        child.municipality_code,
        consent_id,
        child.create_time.to_sqlx(),
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Err(if child_exists(conn, &child.id).await? {
            ApiError::already_exists(format!("children/{}", child.id))
        } else {
            ApiError::already_exists("a child with this identity document")
        });
    }
    // Personal data stays out of the audit log: the record says who consented and when.
    audit::record(
        conn,
        context,
        "child.registered",
        &format!("children/{}", child.id),
        json!({
            "consent": { "parent": child.parent_subject, "given": child.consent_time.to_string() },
            "municipality": format!("{}/{}", child.region_code, child.municipality_code),
        }),
    )
    .await?;
    Ok(())
}

async fn child_exists(conn: &mut PgConnection, id: &str) -> Result<bool, ApiError> {
    Ok(sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM certificates.children WHERE id = $1) AS "exists!""#,
        id
    )
    .fetch_one(&mut *conn)
    .await?)
}

/// A child as stored, with the consent's parent: what the queries read.
pub(super) struct ChildRow {
    pub(super) id: String,
    pub(super) display_name: String,
    pub(super) identity_document: String,
    pub(super) birth_date: jiff_sqlx::Date,
    pub(super) region_code: String,
    pub(super) municipality_code: String,
    pub(super) parent_subject: String,
    pub(super) parent_name: String,
    pub(super) give_time: jiff_sqlx::Timestamp,
    pub(super) create_time: jiff_sqlx::Timestamp,
}

impl ChildRow {
    pub(super) fn into_domain(self) -> Child {
        Child {
            id: self.id,
            display_name: self.display_name,
            identity_document: self.identity_document,
            birth_date: self.birth_date.to_jiff(),
            region_code: self.region_code,
            municipality_code: self.municipality_code,
            parent_subject: self.parent_subject,
            parent_name: self.parent_name,
            consent_time: self.give_time.to_jiff(),
            create_time: self.create_time.to_jiff(),
        }
    }
}

/// Reads a child.
pub async fn child(conn: &mut PgConnection, id: &str) -> Result<Option<Child>, ApiError> {
    let row = sqlx::query_as!(
        ChildRow,
        "SELECT ch.id, ch.display_name, ch.identity_document, ch.birth_date, ch.region_code,
                ch.municipality_code, co.parent_subject, co.parent_name, co.give_time, ch.create_time
         FROM certificates.children ch JOIN certificates.consents co ON co.id = ch.consent_id
         WHERE ch.id = $1",
        id
    )
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(ChildRow::into_domain))
}

/// Whose children a caller reaches by their token: the rule of `api::access::may_see_child`
/// as data, for a lookup that restricts itself in its query, so that another's child and no
/// child at all are one answer (the same rows read, the same time taken).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChildReach {
    /// A parent's subject: the children they consented for.
    pub parent_subject: Option<String>,
    /// The children a parent's token names (`child:` scopes).
    pub child_ids: Vec<String>,
    /// An operator's municipalities, each `{region}/{code}`.
    pub municipalities: Vec<String>,
    /// An operator's whole regions.
    pub regions: Vec<String>,
}

/// The child registered under `document`, compared by its key (the migration's
/// `certificates.identity_document_key`, the same function the stored key comes from), and
/// born on `birth_date`, when `reach` covers them; `None` whether there is no such child or
/// they are someone else's.
pub async fn child_by_identity(
    conn: &mut PgConnection,
    reach: &ChildReach,
    document: &str,
    birth_date: Date,
) -> Result<Option<Child>, ApiError> {
    let row = sqlx::query_as!(
        ChildRow,
        "SELECT ch.id, ch.display_name, ch.identity_document, ch.birth_date, ch.region_code,
                ch.municipality_code, co.parent_subject, co.parent_name, co.give_time, ch.create_time
         FROM certificates.children ch JOIN certificates.consents co ON co.id = ch.consent_id
         WHERE ch.identity_document_key = certificates.identity_document_key($1)
           AND ch.birth_date = $2
           AND (co.parent_subject = $3
                OR ch.id = ANY($4::text[])
                OR ch.region_code || '/' || ch.municipality_code = ANY($5::text[])
                OR ch.region_code = ANY($6::text[]))",
        document,
        birth_date.to_sqlx(),
        reach.parent_subject,
        &reach.child_ids,
        &reach.municipalities,
        &reach.regions,
    )
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(ChildRow::into_domain))
}

/// The ID of `child_id`'s certificate, when one was issued (there is at most one, ever).
pub async fn certificate_of_child(
    conn: &mut PgConnection,
    child_id: &str,
) -> Result<Option<String>, ApiError> {
    Ok(sqlx::query_scalar!(
        "SELECT id FROM certificates.certificates WHERE child_id = $1",
        child_id
    )
    .fetch_optional(&mut *conn)
    .await?)
}

/// Where a certificate is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertificateState {
    /// In use.
    Active,
    /// No new enrolments.
    Suspended,
    /// Closed for good.
    Closed,
}

impl CertificateState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            CertificateState::Active => "ACTIVE",
            CertificateState::Suspended => "SUSPENDED",
            CertificateState::Closed => "CLOSED",
        }
    }

    fn parse(raw: &str) -> Option<Self> {
        [
            CertificateState::Active,
            CertificateState::Suspended,
            CertificateState::Closed,
        ]
        .into_iter()
        .find(|s| s.as_str() == raw)
    }

    /// Rule 1: only an active certificate takes new enrolments.
    pub fn ensure_active(self) -> Result<(), CertificateError> {
        match self {
            CertificateState::Active => Ok(()),
            other => Err(CertificateError::CertificateNotActive {
                state: other.as_str(),
            }),
        }
    }
}

/// A child's certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    /// The ID in `certificates/{id}`.
    pub id: String,
    /// The child.
    pub child_id: String,
    /// The printed number.
    pub number: String,
    /// Where it is.
    pub state: CertificateState,
    /// Issued.
    pub issue_time: Timestamp,
    /// The etag's version.
    pub version: i64,
}

pub(super) struct CertificateRow {
    pub(super) id: String,
    pub(super) child_id: String,
    pub(super) number: String,
    pub(super) state: String,
    pub(super) issue_time: jiff_sqlx::Timestamp,
    pub(super) version: i64,
}

impl CertificateRow {
    pub(super) fn into_domain(self) -> Result<Certificate, ApiError> {
        Ok(Certificate {
            state: CertificateState::parse(&self.state)
                .ok_or_else(|| corrupt("certificate state", &self.state))?,
            id: self.id,
            child_id: self.child_id,
            number: self.number,
            issue_time: self.issue_time.to_jiff(),
            version: self.version,
        })
    }
}

/// Reads a certificate; `lock` holds it `FOR UPDATE` (the balance is summed under it).
pub async fn certificate(
    conn: &mut PgConnection,
    id: &str,
    lock: bool,
) -> Result<Option<Certificate>, ApiError> {
    let row = if lock {
        sqlx::query_as!(
            CertificateRow,
            "SELECT id, child_id, number, state, issue_time, version
             FROM certificates.certificates WHERE id = $1 FOR UPDATE",
            id
        )
        .fetch_optional(&mut *conn)
        .await?
    } else {
        sqlx::query_as!(
            CertificateRow,
            "SELECT id, child_id, number, state, issue_time, version
             FROM certificates.certificates WHERE id = $1",
            id
        )
        .fetch_optional(&mut *conn)
        .await?
    };
    row.map(CertificateRow::into_domain).transpose()
}

/// A certificate as a caller reads it: with its child (whose parent and municipality decide
/// who may see it), the period current in the municipality, its kind there and its balance.
#[derive(Debug, Clone)]
pub struct CertificateView {
    /// The certificate.
    pub certificate: Certificate,
    /// Its child.
    pub child: Child,
    /// The current period's ID, when the municipality has one today.
    pub period_id: Option<String>,
    /// Funded or accounting in the current period, when decided.
    pub kind: Option<CertificateKind>,
    /// Its money in the current period (zero without one).
    pub balance: Balance,
}

/// Reads a certificate with everything a caller sees of it, in one statement: the current
/// period is the municipality's period containing the day `now` falls on in the period's
/// zone, and the balance is summed from that period's ledger.
pub async fn certificate_view(
    conn: &mut PgConnection,
    id: &str,
    now: Timestamp,
) -> Result<Option<CertificateView>, ApiError> {
    let row = sqlx::query!(
        r#"-- hot path: GetCertificate
                  SELECT c.id, c.child_id, c.number, c.state, c.issue_time, c.version,
                  ch.display_name, ch.identity_document, ch.birth_date, ch.region_code,
                  ch.municipality_code, co.parent_subject, co.parent_name, co.give_time,
                  ch.create_time AS child_create_time, per.id AS "period_id?", pc.kind AS "kind?",
                  COALESCE(s.credits, 0)::bigint AS "credits!", COALESCE(s.reserves, 0)::bigint AS "reserves!",
                  COALESCE(s.releases, 0)::bigint AS "releases!", COALESCE(s.charges, 0)::bigint AS "charges!"
           FROM certificates.certificates c
           JOIN certificates.children ch ON ch.id = c.child_id
           JOIN certificates.consents co ON co.id = ch.consent_id
           LEFT JOIN LATERAL (
               SELECT p.id FROM certificates.periods p
               WHERE p.region_code = ch.region_code AND p.municipality_code = ch.municipality_code
                 AND p.start_date <= ($2::timestamptz AT TIME ZONE p.time_zone)::date
                 AND p.end_date >= ($2::timestamptz AT TIME ZONE p.time_zone)::date
               LIMIT 1) per ON true
           LEFT JOIN certificates.period_certificates pc
             ON pc.period_id = per.id AND pc.certificate_id = c.id
           LEFT JOIN LATERAL (
               SELECT sum(l.amount) FILTER (WHERE l.kind = 'CREDIT') AS credits,
                      sum(l.amount) FILTER (WHERE l.kind = 'RESERVE') AS reserves,
                      sum(l.amount) FILTER (WHERE l.kind = 'RELEASE') AS releases,
                      sum(l.amount) FILTER (WHERE l.kind = 'CHARGE') AS charges
               FROM certificates.ledger l
               WHERE l.certificate_id = c.id AND l.period_id = per.id) s ON true
           WHERE c.id = $1"#,
        id,
        now.to_sqlx(),
    )
    .fetch_optional(&mut *conn)
    .await?;
    let Some(r) = row else {
        return Ok(None);
    };
    let certificate = CertificateRow {
        id: r.id,
        child_id: r.child_id.clone(),
        number: r.number,
        state: r.state,
        issue_time: r.issue_time,
        version: r.version,
    }
    .into_domain()?;
    let child = ChildRow {
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
    let balance = Balance::from_sums(Sums {
        credits: Money::from_kopecks(r.credits),
        reserves: Money::from_kopecks(r.reserves),
        releases: Money::from_kopecks(r.releases),
        charges: Money::from_kopecks(r.charges),
    })
    .map_err(CertificateError::from)?;
    Ok(Some(CertificateView {
        certificate,
        child,
        period_id: r.period_id,
        kind: r.kind.as_deref().map(|k| {
            if k == "FUNDED" {
                CertificateKind::Funded
            } else {
                CertificateKind::Accounting
            }
        }),
        balance,
    }))
}

/// Rule 1: issues a child's certificate, once ever. The child must live in a municipality
/// with a period on `today` and be of its eligible ages. When that period is already
/// credited, the certificate is decided and credited at once, under the period's lock.
pub async fn issue(
    conn: &mut PgConnection,
    context: &CallContext,
    child_id: &str,
    today: Date,
) -> Result<Certificate, ApiError> {
    let child = child(conn, child_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("children/{child_id}")))?;
    let period = periods::on_day(conn, &child.region_code, &child.municipality_code, today)
        .await?
        .ok_or(CertificateError::NoCurrentPeriod)?;
    // The period first, in the store's lock order.
    let period = periods::fetch(conn, &period.id, true)
        .await?
        .ok_or(CertificateError::NoCurrentPeriod)?;
    period.period.ensure_age_eligible(child.birth_date)?;
    let now = context.now();
    let certificate = Certificate {
        id: edu_kit::resource::new_id(),
        child_id: child.id.clone(),
        number: certificate_number(&child.region_code, now),
        state: CertificateState::Active,
        issue_time: now,
        version: 1,
    };
    // A second certificate for the child is an expected conflict (rule 1), decided from the
    // insert's result.
    let inserted = sqlx::query!(
        "INSERT INTO certificates.certificates (id, child_id, number, state, issue_time, update_time, version)
         VALUES ($1, $2, $3, $4, $5, $5, $6)
         ON CONFLICT (child_id) DO NOTHING",
        certificate.id,
        certificate.child_id,
        certificate.number,
        certificate.state.as_str(),
        now.to_sqlx(),
        certificate.version,
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Err(ApiError::already_exists(format!(
            "the certificate of children/{child_id}"
        )));
    }
    if period.credit_time.is_some() {
        let funded = periods::count_funded(conn, &period.id).await?;
        let kind = kind_within_quota(funded, period.period.quota);
        sqlx::query!(
            "INSERT INTO certificates.period_certificates (period_id, certificate_id, kind)
             VALUES ($1, $2, $3)",
            period.id,
            certificate.id,
            if kind == CertificateKind::Funded {
                "FUNDED"
            } else {
                "ACCOUNTING"
            },
        )
        .execute(&mut *conn)
        .await?;
        if kind == CertificateKind::Funded {
            let mut entries = ledger::load(conn, &certificate.id, &period.id).await?;
            let before = entries.entries().len();
            entries.credit(period.period.nominal)?;
            ledger::append(conn, &certificate.id, &period.id, &entries, before, now).await?;
        }
    }
    audit::record(
        conn,
        context,
        "certificate.issued",
        &format!("certificates/{}", certificate.id),
        json!({ "child": format!("children/{child_id}"), "number": certificate.number }),
    )
    .await?;
    Ok(certificate)
}

/// A printed number: the region and a time-ordered suffix, unique like the ID it follows.
fn certificate_number(region_code: &str, now: Timestamp) -> String {
    format!(
        "{}-{}-{}",
        region_code,
        now.strftime("%Y%m%d"),
        &edu_kit::resource::new_id().replace('-', "")[20..]
    )
}

/// Moves a certificate to `to` (suspend, resume, close); a repeat is a no-op.
pub async fn set_state(
    conn: &mut PgConnection,
    context: &CallContext,
    id: &str,
    to: CertificateState,
) -> Result<Certificate, ApiError> {
    let mut current = certificate(conn, id, true)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("certificates/{id}")))?;
    let transition = match (current.state, to) {
        (from, to) if from == to => Transition::Unchanged,
        (CertificateState::Closed, to) => {
            return Err(CertificateError::TransitionNotAllowed {
                from: "CLOSED",
                to: to.as_str(),
            }
            .into());
        }
        _ => Transition::Changed,
    };
    if transition == Transition::Changed {
        sqlx::query!(
            "UPDATE certificates.certificates SET state = $2, update_time = $3, version = version + 1
             WHERE id = $1",
            id,
            to.as_str(),
            context.now().to_sqlx(),
        )
        .execute(&mut *conn)
        .await?;
        audit::record(
            conn,
            context,
            "certificate.moved",
            &format!("certificates/{id}"),
            json!({ "state": { "from": current.state.as_str(), "to": to.as_str() } }),
        )
        .await?;
        current.state = to;
        current.version += 1;
    }
    Ok(current)
}

/// Whose children a listing shows.
#[derive(Debug, Clone)]
pub enum ChildScope {
    /// A municipality's (its operator).
    Municipality {
        /// Region.
        region_code: String,
        /// Municipality.
        municipality_code: String,
    },
    /// Those a parent consented for.
    Parent(String),
}

/// Lists children in registration order.
pub async fn list_children(
    conn: &mut PgConnection,
    scope: &ChildScope,
    size: usize,
    after: Option<edu_kit::paging::Cursor>,
) -> Result<edu_kit::paging::Page<Child>, ApiError> {
    let (region, municipality, parent) = match scope {
        ChildScope::Municipality {
            region_code,
            municipality_code,
        } => (
            Some(region_code.as_str()),
            Some(municipality_code.as_str()),
            None,
        ),
        ChildScope::Parent(subject) => (None, None, Some(subject.as_str())),
    };
    let (after_time, after_id) = edu_kit::paging::Cursor::split(after);
    let rows = sqlx::query_as!(
        ChildRow,
        "SELECT ch.id, ch.display_name, ch.identity_document, ch.birth_date, ch.region_code,
                ch.municipality_code, co.parent_subject, co.parent_name, co.give_time, ch.create_time
         FROM certificates.children ch JOIN certificates.consents co ON co.id = ch.consent_id
         WHERE ($1::text IS NULL OR (ch.region_code = $1 AND ch.municipality_code = $2))
           AND ($3::text IS NULL OR co.parent_subject = $3)
           AND ($4::timestamptz IS NULL OR (ch.create_time, ch.id) > ($4, $5::text))
         ORDER BY ch.create_time, ch.id
         LIMIT $6",
        region,
        municipality,
        parent,
        after_time,
        after_id,
        edu_kit::paging::overfetch_limit(size),
    )
    .fetch_all(&mut *conn)
    .await?;
    let children = rows.into_iter().map(ChildRow::into_domain).collect();
    Ok(edu_kit::paging::Page::from_overfetch(
        children,
        size,
        |c: &Child| edu_kit::paging::Cursor {
            time: c.create_time,
            id: c.id.clone(),
        },
    ))
}

/// Lists certificates of the children `scope` shows, in issue order.
pub async fn list_certificates(
    conn: &mut PgConnection,
    scope: &ChildScope,
    state: Option<CertificateState>,
    size: usize,
    after: Option<edu_kit::paging::Cursor>,
) -> Result<edu_kit::paging::Page<Certificate>, ApiError> {
    let (region, municipality, parent) = match scope {
        ChildScope::Municipality {
            region_code,
            municipality_code,
        } => (
            Some(region_code.as_str()),
            Some(municipality_code.as_str()),
            None,
        ),
        ChildScope::Parent(subject) => (None, None, Some(subject.as_str())),
    };
    let (after_time, after_id) = edu_kit::paging::Cursor::split(after);
    let rows = sqlx::query_as!(
        CertificateRow,
        "SELECT c.id, c.child_id, c.number, c.state, c.issue_time, c.version
         FROM certificates.certificates c
         JOIN certificates.children ch ON ch.id = c.child_id
         JOIN certificates.consents co ON co.id = ch.consent_id
         WHERE ($1::text IS NULL OR (ch.region_code = $1 AND ch.municipality_code = $2))
           AND ($3::text IS NULL OR co.parent_subject = $3)
           AND ($4::text IS NULL OR c.state = $4)
           AND ($5::timestamptz IS NULL OR (c.issue_time, c.id) > ($5, $6::text))
         ORDER BY c.issue_time, c.id
         LIMIT $7",
        region,
        municipality,
        parent,
        state.map(|s| s.as_str()),
        after_time,
        after_id,
        edu_kit::paging::overfetch_limit(size),
    )
    .fetch_all(&mut *conn)
    .await?;
    let certificates = rows
        .into_iter()
        .map(CertificateRow::into_domain)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(edu_kit::paging::Page::from_overfetch(
        certificates,
        size,
        |c: &Certificate| edu_kit::paging::Cursor {
            time: c.issue_time,
            id: c.id.clone(),
        },
    ))
}

/// One line of a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementLine {
    /// CREDIT, RESERVE, RELEASE or CHARGE.
    pub kind: String,
    /// Amount.
    pub amount: crate::domain::Money,
    /// The enrolment, when any.
    pub enrolment_id: Option<String>,
    /// The programme's title, when any.
    pub programme_title: Option<String>,
    /// The month charged.
    pub month: Option<Date>,
    /// Recorded.
    pub record_time: Timestamp,
}

/// A certificate's ledger in a period, with programme titles, oldest first.
pub async fn statement(
    conn: &mut PgConnection,
    certificate_id: &str,
    period_id: &str,
) -> Result<Vec<StatementLine>, ApiError> {
    let rows = sqlx::query!(
        r#"SELECT l.kind, l.amount, l.enrolment_id, p.title AS "title?", l.month, l.record_time
           FROM certificates.ledger l
           LEFT JOIN certificates.enrolments e ON e.id = l.enrolment_id
           LEFT JOIN certificates.programmes p
             ON p.provider_id = e.provider_id AND p.id = e.programme_id
           WHERE l.certificate_id = $1 AND l.period_id = $2
           ORDER BY l.id"#,
        certificate_id,
        period_id
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| StatementLine {
            kind: r.kind,
            amount: crate::domain::Money::from_kopecks(r.amount),
            enrolment_id: r.enrolment_id,
            programme_title: r.title,
            month: r.month.map(|m| m.to_jiff()),
            record_time: r.record_time.to_jiff(),
        })
        .collect())
}
