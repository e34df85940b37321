//! Consents (rule 1; App. 2): given with a receipt the person keeps, revoked with another.
//! Revoking a consent to PERSONAL_DATA suspends the person's ACTIVE pairs and groups in
//! the same transaction, is audited and emits `CONSENT_REVOKED`; from then on every read
//! shows the person redacted ([`super::participants::fetch`]).

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff_sqlx::ToSqlx;
use serde_json::json;
use sqlx::PgConnection;

use edu_kit::paging::Page;
use edu_kit::{ApiError, CallContext, audit, etag};

use super::events::{self, EventKind};
use super::institutions::{self, Setting};
use super::participants::{self, Lock};
use super::{consent_name, corrupt, pair_name, parsed, participant_name};
use crate::domain::consent::{
    ActorKind, ConsentPurpose, ConsentState, GuardianRelation, ensure_give_date,
    ensure_guardian_for_minor, ensure_may_record, ensure_may_revoke, is_minor,
};
use crate::domain::receipt::{
    self, ConsentReceiptText, GuardianLine, Receipt, RevocationReceiptText,
};
use crate::domain::redaction::{PersonName, PersonView};
use crate::domain::{PairState, Transition};

/// The parent or legal representative who gives a minor's consent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guardian {
    /// Their names.
    pub name: PersonName,
    /// How they are related to the subject.
    pub relation: GuardianRelation,
    /// The token subject they sign in with; empty when none.
    pub subject: String,
}

/// A consent as recorded from the signed form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentDraft {
    /// What it is for.
    pub purpose: ConsentPurpose,
    /// Who gave it for the subject.
    pub guardian: Option<Guardian>,
    /// The day on the form.
    pub give_date: Date,
    /// The document it was given in.
    pub document: String,
}

/// A receipt as shown: the text is empty while the person is redacted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShownReceipt {
    /// Its number.
    pub number: String,
    /// Its text; empty when the subject is redacted.
    pub text: String,
    /// The SHA-256 of the text as issued.
    pub sha256: String,
    /// When it was issued.
    pub issue_time: Timestamp,
}

/// A consent as shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    /// Its ID.
    pub id: String,
    /// Its resource name.
    pub name: String,
    /// The subject as shown.
    pub subject_person: PersonView,
    /// What it is for.
    pub purpose: ConsentPurpose,
    /// GIVEN or REVOKED.
    pub state: ConsentState,
    /// The guardian as recorded; `None` when none or when redacted.
    pub guardian: Option<Guardian>,
    /// Whether a guardian gave it (kept when redacted: no name in it).
    pub given_by_guardian: bool,
    /// The day on the form.
    pub give_date: Date,
    /// The document it was given in.
    pub document: String,
    /// Whether the subject was under 18 on the give date; false when redacted.
    pub minor: bool,
    /// The revocation statement as recorded; empty while given and when redacted.
    pub revocation_statement: String,
    /// The receipt.
    pub receipt: ShownReceipt,
    /// When recorded.
    pub create_time: Timestamp,
    /// When revoked.
    pub revoke_time: Option<Timestamp>,
    /// Who revoked it.
    pub revoked_by: Option<ActorKind>,
    /// The revocation's receipt.
    pub revocation_receipt: Option<ShownReceipt>,
    /// Whether the subject is redacted.
    pub redacted: bool,
    /// Its version, for etags.
    pub version: i64,
}

/// The checks of a consent's draft against the subject's birth date: a give date between
/// birth and today, a guardian for a minor (`GUARDIAN_CONSENT_REQUIRED`).
pub(crate) fn check_draft(
    setting: &Setting,
    birth_date: Date,
    draft: &ConsentDraft,
) -> Result<(), ApiError> {
    ensure_give_date(birth_date, draft.give_date, setting.today)?;
    ensure_guardian_for_minor(birth_date, draft.give_date, draft.guardian.is_some())?;
    Ok(())
}

/// Records a new consent of an existing participant (`CreateConsent`): under the person's
/// lock, a consent to PUBLICATION only with one to PERSONAL_DATA in force
/// (`CONSENT_MISSING`), one in force per purpose (`ALREADY_EXISTS`). A new consent to
/// PERSONAL_DATA is how a redacted person becomes visible again.
pub async fn give(
    conn: &mut PgConnection,
    context: &CallContext,
    institution: &str,
    participant: &str,
    draft: &ConsentDraft,
) -> Result<Consent, ApiError> {
    let setting = institutions::setting(conn, institution, context.now()).await?;
    participants::lock(conn, institution, &[participant], Lock::Update).await?;
    let facts = participants::one_fact(conn, institution, participant).await?;
    ensure_may_record(
        draft.purpose,
        &participant_name(institution, participant),
        facts.consent_in_force,
    )?;
    check_draft(&setting, facts.birth_date, draft)?;
    let existing = sqlx::query_scalar!(
        "SELECT id FROM mentoring.consents
         WHERE institution_id = $1 AND participant_id = $2 AND purpose = $3 AND state = 'GIVEN'",
        institution,
        participant,
        draft.purpose.as_str(),
    )
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(existing) = existing {
        return Err(
            ApiError::already_exists(consent_name(institution, participant, &existing))
                .with_metadata("consent", consent_name(institution, participant, &existing)),
        );
    }
    let name = sqlx::query!(
        "SELECT family_name, given_name, patronymic FROM mentoring.participants
         WHERE institution_id = $1 AND id = $2",
        institution,
        participant
    )
    .fetch_one(&mut *conn)
    .await?;
    let id = edu_kit::resource::new_id();
    let person = PersonName {
        family_name: name.family_name,
        given_name: name.given_name,
        patronymic: name.patronymic,
    };
    insert(conn, context, &setting, participant, &id, &person, draft).await?;
    get(conn, &setting, participant, &id).await
}

/// Writes a consent with its receipt (for [`give`] and for a participant's creation).
pub(crate) async fn insert(
    conn: &mut PgConnection,
    context: &CallContext,
    setting: &Setting,
    participant: &str,
    id: &str,
    subject: &PersonName,
    draft: &ConsentDraft,
) -> Result<(), ApiError> {
    let now = context.now();
    let number = next_receipt_number(conn, setting, now).await?;
    let guardian_display = draft.guardian.as_ref().map(|g| g.name.display_name());
    let text = ConsentReceiptText {
        number: &number,
        institution: &setting.display_name,
        subject: &subject.display_name(),
        guardian: draft
            .guardian
            .as_ref()
            .zip(guardian_display.as_deref())
            .map(|(g, display_name)| GuardianLine {
                display_name,
                relation: g.relation,
            }),
        purpose: draft.purpose,
        give_date: draft.give_date,
        document: &draft.document,
    }
    .render();
    let receipt = Receipt::new(number, text);
    let g = draft.guardian.as_ref();
    sqlx::query!(
        "INSERT INTO mentoring.consents
             (institution_id, id, participant_id, purpose,
              guardian_family_name, guardian_given_name, guardian_patronymic, guardian_relation,
              guardian_subject, give_date, document,
              receipt_number, receipt_issue_time, receipt_text, receipt_sha256,
              create_time, update_time)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $13, $13)",
        setting.id,
        id,
        participant,
        draft.purpose.as_str(),
        g.map(|g| g.name.family_name.clone()),
        g.map(|g| g.name.given_name.clone()),
        g.map(|g| g.name.patronymic.clone()),
        g.map(|g| g.relation.as_str()),
        g.map(|g| g.subject.clone()),
        draft.give_date.to_sqlx(),
        draft.document,
        receipt.number,
        now.to_sqlx(),
        receipt.text,
        receipt.sha256,
    )
    .execute(&mut *conn)
    .await?;
    audit::record(
        conn,
        context,
        "consent.given",
        &consent_name(&setting.id, participant, id),
        json!({ "purpose": draft.purpose.as_str(),
                "by_guardian": draft.guardian.is_some(),
                "receipt": receipt.number }),
    )
    .await?;
    Ok(())
}

/// Revokes a consent (`RevokeConsent`). In one transaction, under the person's lock: who
/// may revoke (`GUARDIAN_REQUIRED` for a minor alone), REVOKED with its receipt, and for
/// PERSONAL_DATA the person's ACTIVE pairs and groups SUSPENDED (a SUSPENDED one records
/// this member too); audited, `CONSENT_REVOKED` emitted. Revoking a REVOKED consent answers
/// it unchanged. A stale `supplied_etag` is refused first (`ETAG_MISMATCH`; empty skips the
/// check).
#[allow(clippy::too_many_arguments)]
pub async fn revoke(
    conn: &mut PgConnection,
    context: &CallContext,
    institution: &str,
    participant: &str,
    id: &str,
    actor: ActorKind,
    statement: &str,
    supplied_etag: &str,
) -> Result<Consent, ApiError> {
    let setting = institutions::setting(conn, institution, context.now()).await?;
    let name = consent_name(institution, participant, id);
    // Participants first, then the consent, then the pairs: the module doc's lock order.
    participants::lock(conn, institution, &[participant], Lock::Update).await?;
    let row = sqlx::query!(
        "SELECT c.purpose, c.state, c.receipt_number, c.guardian_family_name, c.guardian_given_name,
                c.guardian_patronymic, c.guardian_relation,
                p.family_name, p.given_name, p.patronymic, p.birth_date
         FROM mentoring.consents c
         JOIN mentoring.participants p
           ON p.institution_id = c.institution_id AND p.id = c.participant_id
         WHERE c.institution_id = $1 AND c.participant_id = $2 AND c.id = $3
         FOR UPDATE OF c",
        institution,
        participant,
        id
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| ApiError::not_found(name.clone()))?;
    let version = sqlx::query_scalar!(
        "SELECT version FROM mentoring.consents WHERE institution_id = $1 AND id = $2",
        institution,
        id
    )
    .fetch_one(&mut *conn)
    .await?;
    etag::check(supplied_etag, version, &name)?;
    let purpose = parsed("consent purpose", &row.purpose, ConsentPurpose::parse)?;
    let state = parsed("consent state", &row.state, ConsentState::parse)?;
    ensure_may_revoke(actor, row.birth_date.to_jiff(), setting.today)?;
    if state.revoke() == Transition::Unchanged {
        return get(conn, &setting, participant, id).await;
    }
    let now = context.now();
    let mut suspended = vec![];
    let mut withdrawn = 0;
    if purpose == ConsentPurpose::PersonalData {
        suspended = suspend_pairs_of(conn, institution, participant, now).await?;
        withdrawn = super::monitoring::withdraw_of(conn, institution, participant, now).await?;
    }
    let flagged = super::publications::flag_featuring(conn, institution, participant, now).await?;
    let number = next_receipt_number(conn, &setting, now).await?;
    let subject = PersonName {
        family_name: row.family_name,
        given_name: row.given_name,
        patronymic: row.patronymic,
    };
    let guardian_name = row.guardian_family_name.map(|family_name| PersonName {
        family_name,
        given_name: row.guardian_given_name.unwrap_or_default(),
        patronymic: row.guardian_patronymic.unwrap_or_default(),
    });
    let guardian_display = guardian_name.as_ref().map(PersonName::display_name);
    let relation = match row.guardian_relation.as_deref() {
        Some(raw) => Some(parsed("guardian relation", raw, GuardianRelation::parse)?),
        None => None,
    };
    let zone =
        TimeZone::get(&setting.time_zone).map_err(|_| corrupt("time zone", &setting.time_zone))?;
    let text = RevocationReceiptText {
        number: &number,
        institution: &setting.display_name,
        subject: &subject.display_name(),
        guardian: guardian_display
            .as_deref()
            .zip(relation)
            .map(|(display_name, relation)| GuardianLine {
                display_name,
                relation,
            }),
        purpose,
        consent_number: &row.receipt_number,
        revoke_time: now,
        zone,
        revoked_by: actor,
        statement,
    }
    .render();
    let receipt = Receipt::new(number, text);
    sqlx::query!(
        "UPDATE mentoring.consents
         SET state = 'REVOKED', revoke_time = $4, revoked_by = $5, revocation_statement = $6,
             revocation_receipt_number = $7, revocation_receipt_text = $8,
             revocation_receipt_sha256 = $9, update_time = $4, version = version + 1
         WHERE institution_id = $1 AND participant_id = $2 AND id = $3",
        institution,
        participant,
        id,
        now.to_sqlx(),
        actor.as_str(),
        statement,
        receipt.number,
        receipt.text,
        receipt.sha256,
    )
    .execute(&mut *conn)
    .await?;
    audit::record(
        conn,
        context,
        "consent.revoked",
        &name,
        json!({ "purpose": purpose.as_str(),
                "revoked_by": actor.as_str(),
                "receipt": receipt.number,
                "suspended_pairs": suspended,
                "withdrawn_questionnaires": withdrawn,
                "flagged_publications": flagged }),
    )
    .await?;
    events::record(
        conn,
        EventKind::ConsentRevoked,
        &name,
        institution,
        &setting.region_code,
        now,
    )
    .await?;
    get(conn, &setting, participant, id).await
}

/// Suspends the ACTIVE pairs and groups the person is a current member of, locked in ID
/// order after the person; a SUSPENDED one records the person among those who suspended
/// it. Answers the suspended pairs' names.
async fn suspend_pairs_of(
    conn: &mut PgConnection,
    institution: &str,
    participant: &str,
    now: Timestamp,
) -> Result<Vec<String>, ApiError> {
    let pairs = sqlx::query!(
        "SELECT p.id, p.state FROM mentoring.pairs p
         WHERE p.institution_id = $1 AND p.open
           AND EXISTS (SELECT 1 FROM mentoring.pair_members m
                       WHERE m.institution_id = p.institution_id AND m.pair_id = p.id
                         AND m.participant_id = $2 AND m.left_time IS NULL)
         ORDER BY p.id
         FOR UPDATE",
        institution,
        participant
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut suspended = vec![];
    for pair in pairs {
        let state = parsed("pair state", &pair.state, PairState::parse)?;
        let suspends = state.on_revocation() == Transition::Changed;
        if suspends || state == PairState::Suspended {
            sqlx::query!(
                "UPDATE mentoring.pairs
                 SET state = 'SUSPENDED', suspend_time = coalesce(suspend_time, $3),
                     suspended_by = array_append(suspended_by, $4),
                     update_time = $3, version = version + 1
                 WHERE institution_id = $1 AND id = $2",
                institution,
                pair.id,
                now.to_sqlx(),
                participant,
            )
            .execute(&mut *conn)
            .await?;
        }
        if suspends {
            suspended.push(pair_name(institution, &pair.id));
        }
    }
    Ok(suspended)
}

/// The next receipt number of the institution in the year of `now` in its zone, counted
/// without gaps (the year's row stays locked to the end of the transaction).
async fn next_receipt_number(
    conn: &mut PgConnection,
    setting: &Setting,
    now: Timestamp,
) -> Result<String, ApiError> {
    let zone =
        TimeZone::get(&setting.time_zone).map_err(|_| corrupt("time zone", &setting.time_zone))?;
    let year = receipt::issue_year(now, &zone);
    let serial = sqlx::query_scalar!(
        "INSERT INTO mentoring.receipt_serials (institution_id, year, last_serial)
         VALUES ($1, $2, 1)
         ON CONFLICT (institution_id, year)
         DO UPDATE SET last_serial = mentoring.receipt_serials.last_serial + 1
         RETURNING last_serial",
        setting.id,
        year,
    )
    .fetch_one(&mut *conn)
    .await?;
    let serial =
        u32::try_from(serial).map_err(|_| corrupt("receipt serial", &serial.to_string()))?;
    Ok(receipt::number(&setting.id, year, serial))
}

/// The give date of the person's consent to PERSONAL_DATA in force and whether a guardian
/// gave it; `None` when none is in force.
pub(crate) async fn personal_data_in_force(
    conn: &mut PgConnection,
    institution: &str,
    participant: &str,
) -> Result<Option<(Date, bool)>, ApiError> {
    let row = sqlx::query!(
        r#"SELECT give_date, guardian_relation IS NOT NULL AS "by_guardian!"
           FROM mentoring.consents
           WHERE institution_id = $1 AND participant_id = $2 AND purpose = 'PERSONAL_DATA'
             AND state = 'GIVEN'"#,
        institution,
        participant
    )
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|r| (r.give_date.to_jiff(), r.by_guardian)))
}

/// The token subject of the guardian consent `id` of `participant` names (empty when none,
/// or when they do not sign in), read even while the subject is redacted, to decide whether
/// a signed-in guardian may revoke it; never shown. `NOT_FOUND` when the participant has no
/// such consent.
pub async fn named_guardian(
    conn: &mut PgConnection,
    institution: &str,
    participant: &str,
    id: &str,
) -> Result<String, ApiError> {
    sqlx::query_scalar!(
        "SELECT guardian_subject FROM mentoring.consents
         WHERE institution_id = $1 AND participant_id = $2 AND id = $3",
        institution,
        participant,
        id
    )
    .fetch_optional(&mut *conn)
    .await?
    .map(Option::unwrap_or_default)
    .ok_or_else(|| ApiError::not_found(consent_name(institution, participant, id)))
}

/// One consent as shown.
pub async fn get(
    conn: &mut PgConnection,
    setting: &Setting,
    participant: &str,
    id: &str,
) -> Result<Consent, ApiError> {
    list(conn, setting, participant)
        .await?
        .into_iter()
        .find(|c| c.id == id)
        .ok_or_else(|| ApiError::not_found(consent_name(&setting.id, participant, id)))
}

/// The filters of `ListConsents`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ConsentFilter {
    /// This purpose only.
    pub purpose: Option<ConsentPurpose>,
    /// This state only.
    pub state: Option<ConsentState>,
}

/// A page of `ListConsents` of one participant, or with `participant` `None` of every
/// participant of the institution (`participants/-`): at most `size` after the consent
/// `after`, the latest given first (give date, then creation, then ID, each descending),
/// each as [`get`] shows it (the subject through the one read of people).
pub async fn list_page(
    conn: &mut PgConnection,
    setting: &Setting,
    participant: Option<&str>,
    filter: &ConsentFilter,
    size: usize,
    after: Option<String>,
) -> Result<Page<Consent, String>, ApiError> {
    list_page_of(conn, setting, participant, None, filter, size, after).await
}

/// [`list_page`] among the consents of the participants `only` names (`None`: everyone's):
/// what a participant or guardian lists with `participants/-`.
pub async fn list_page_of(
    conn: &mut PgConnection,
    setting: &Setting,
    participant: Option<&str>,
    only: Option<&[String]>,
    filter: &ConsentFilter,
    size: usize,
    after: Option<String>,
) -> Result<Page<Consent, String>, ApiError> {
    if let Some(participant) = participant {
        participants::get(conn, &setting.id, participant, setting.today).await?;
    }
    let rows = sqlx::query!(
        "SELECT c.id, c.participant_id FROM mentoring.consents c
         WHERE c.institution_id = $1
           AND ($2::text IS NULL OR c.participant_id = $2)
           AND ($3::text IS NULL OR c.purpose = $3)
           AND ($4::text IS NULL OR c.state = $4)
           AND ($5::text IS NULL OR (c.give_date, c.create_time, c.id) < (
                   SELECT d.give_date, d.create_time, d.id FROM mentoring.consents d
                   WHERE d.institution_id = $1 AND d.id = $5))
           AND ($7::text[] IS NULL OR c.participant_id = ANY($7))
         ORDER BY c.give_date DESC, c.create_time DESC, c.id DESC
         LIMIT $6",
        setting.id,
        participant,
        filter.purpose.map(ConsentPurpose::as_str),
        filter.state.map(ConsentState::as_str),
        after,
        edu_kit::paging::overfetch_limit(size),
        only,
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut items = Vec::with_capacity(rows.len());
    for row in &rows {
        items.push(get(conn, setting, &row.participant_id, &row.id).await?);
    }
    Ok(Page::from_overfetch(items, size, |c| c.id.clone()))
}

/// A participant's consents as shown, oldest first: the subject through the one read of
/// people, receipts' texts and the guardian's names hidden while the subject is redacted.
pub async fn list(
    conn: &mut PgConnection,
    setting: &Setting,
    participant: &str,
) -> Result<Vec<Consent>, ApiError> {
    let subject = participants::get(conn, &setting.id, participant, setting.today).await?;
    let redacted = subject.redacted;
    let rows = sqlx::query!(
        "SELECT id, purpose, state, guardian_family_name, guardian_given_name, guardian_patronymic,
                guardian_relation, guardian_subject, give_date, document, receipt_number,
                receipt_issue_time, receipt_text, receipt_sha256, create_time, revoke_time,
                revoked_by, revocation_statement, revocation_receipt_number,
                revocation_receipt_text, revocation_receipt_sha256, version
         FROM mentoring.consents
         WHERE institution_id = $1 AND participant_id = $2
         ORDER BY create_time, id",
        setting.id,
        participant
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut shown = Vec::with_capacity(rows.len());
    for row in rows {
        let relation = match row.guardian_relation.as_deref() {
            Some(raw) => Some(parsed("guardian relation", raw, GuardianRelation::parse)?),
            None => None,
        };
        let guardian = match (&row.guardian_family_name, relation) {
            (Some(family_name), Some(relation)) if !redacted => Some(Guardian {
                name: PersonName {
                    family_name: family_name.clone(),
                    given_name: row.guardian_given_name.clone().unwrap_or_default(),
                    patronymic: row.guardian_patronymic.clone().unwrap_or_default(),
                },
                relation,
                subject: row.guardian_subject.clone().unwrap_or_default(),
            }),
            _ => None,
        };
        let revocation_receipt = match (
            row.revocation_receipt_number,
            row.revocation_receipt_text,
            row.revocation_receipt_sha256,
            row.revoke_time,
        ) {
            (Some(number), Some(text), Some(sha256), Some(issued)) => Some(ShownReceipt {
                number,
                text: if redacted { String::new() } else { text },
                sha256,
                issue_time: issued.to_jiff(),
            }),
            _ => None,
        };
        let give_date = row.give_date.to_jiff();
        let minor = subject
            .personal
            .as_ref()
            .is_some_and(|p| is_minor(p.birth_date, give_date));
        let revoked_by = match row.revoked_by.as_deref() {
            Some(raw) => Some(parsed("actor", raw, ActorKind::parse)?),
            None => None,
        };
        shown.push(Consent {
            name: consent_name(&setting.id, participant, &row.id),
            id: row.id,
            subject_person: subject.person.clone(),
            purpose: parsed("consent purpose", &row.purpose, ConsentPurpose::parse)?,
            state: parsed("consent state", &row.state, ConsentState::parse)?,
            guardian,
            given_by_guardian: relation.is_some(),
            give_date,
            document: row.document,
            minor,
            revocation_statement: if redacted {
                String::new()
            } else {
                row.revocation_statement
            },
            receipt: ShownReceipt {
                number: row.receipt_number,
                text: if redacted {
                    String::new()
                } else {
                    row.receipt_text
                },
                sha256: row.receipt_sha256,
                issue_time: row.receipt_issue_time.to_jiff(),
            },
            create_time: row.create_time.to_jiff(),
            revoke_time: row.revoke_time.map(|t| t.to_jiff()),
            revoked_by,
            revocation_receipt,
            redacted,
            version: row.version,
        });
    }
    Ok(shown)
}
