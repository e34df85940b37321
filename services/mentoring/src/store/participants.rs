//! Participants (rule 1) with their bank entries and training (rule 2). A person is created
//! only together with their consent to PERSONAL_DATA (the deferred foreign key of the
//! migration holds it in the database too), and read only through [`fetch`], which shows a
//! person without a consent in force as the domain's redacted view.

use jiff::Timestamp;
use jiff::civil::Date;
use jiff_sqlx::ToSqlx;
use serde_json::json;
use sqlx::PgConnection;

use edu_kit::paging::Page;
use edu_kit::{ApiError, CallContext, audit, etag};

use super::consents::{self, ConsentDraft};
use super::institutions;
use super::{lock_order, pair_name, parsed, participant_name};
use crate::domain::MentoringError;
use crate::domain::MentoringForm;
use crate::domain::banks::{ensure_may_leave_bank, ensure_training_change, trained};
use crate::domain::consent::{ConsentState, ensure_birth_date_correction};
use crate::domain::redaction::{PersonName, PersonView};
use crate::domain::roles::{ParticipantRole, ensure_role_change_allowed};

/// An entry in the bank of mentors.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MentorProfile {
    /// What they can share.
    pub competences: Vec<String>,
    /// What they would like to work on.
    pub request: String,
    /// Their experience.
    pub experience: String,
    /// The forms they prefer.
    pub preferred_forms: Vec<MentoringForm>,
}

/// An entry in the bank of mentees.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MenteeProfile {
    /// What they ask for.
    pub request: String,
    /// What they want to learn.
    pub competences: Vec<String>,
    /// The forms they prefer.
    pub preferred_forms: Vec<MentoringForm>,
}

/// The mentors' training as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Training {
    /// The day it was completed.
    pub complete_date: Date,
    /// The programme.
    pub programme: String,
}

/// What is recorded about a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Personal {
    /// Their names.
    pub name: PersonName,
    /// Their birth date.
    pub birth_date: Date,
    /// The token subject they sign in with; empty when none.
    pub subject: String,
    /// Their position.
    pub position: String,
    /// Their phone.
    pub phone: String,
    /// Their e-mail.
    pub email: String,
    /// Their entry in the bank of mentors.
    pub mentor_profile: Option<MentorProfile>,
    /// Their entry in the bank of mentees.
    pub mentee_profile: Option<MenteeProfile>,
    /// Their training.
    pub training: Option<Training>,
}

/// A participant as shown: everything while their consent to PERSONAL_DATA is in force;
/// once it is revoked, only the resource name and role (`personal` is `None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Participant {
    /// The ID.
    pub id: String,
    /// The resource name.
    pub name: String,
    /// The role.
    pub role: ParticipantRole,
    /// What is recorded about them; `None` when redacted.
    pub personal: Option<Personal>,
    /// The person as other resources show them.
    pub person: PersonView,
    /// Whether in the bank of mentors and trained; false when redacted.
    pub trained: bool,
    /// Whether their consent to PERSONAL_DATA is revoked and no later one given.
    pub redacted: bool,
    /// When recorded.
    pub create_time: Timestamp,
    /// Its version, for etags.
    pub version: i64,
}

/// A participant as recorded with their consent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParticipantDraft {
    /// The ID; a new one when empty.
    pub id: String,
    /// The role.
    pub role: ParticipantRole,
    /// The personal data.
    pub personal: Personal,
}

/// A change of a participant; `None` leaves a field as it is.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ParticipantChange {
    /// A new role.
    pub role: Option<ParticipantRole>,
    /// Corrected names.
    pub name: Option<PersonName>,
    /// A corrected birth date.
    pub birth_date: Option<Date>,
    /// New contact data: position, phone, e-mail.
    pub contact: Option<(String, String, String)>,
    /// A new token subject (empty: the person no longer signs in); unique in the
    /// institution (`ALREADY_EXISTS`, `field` = `subject`).
    pub subject: Option<String>,
    /// The bank of mentors: `Some(None)` leaves it.
    pub mentor_profile: Option<Option<MentorProfile>>,
    /// The bank of mentees: `Some(None)` leaves it.
    pub mentee_profile: Option<Option<MenteeProfile>>,
    /// Training: `Some(None)` would clear it, which the domain refuses.
    pub training: Option<Option<Training>>,
}

/// What people are read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter<'a> {
    /// These IDs only; every participant when empty.
    pub ids: &'a [String],
    /// This role only.
    pub role: Option<ParticipantRole>,
}

impl<'a> Filter<'a> {
    /// These participants, of any role.
    pub fn ids(ids: &'a [String]) -> Self {
        Filter { ids, role: None }
    }
}

/// Which bank (`Bank`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Bank {
    /// The bank of mentors: participants with a mentor profile.
    Mentors,
    /// The bank of mentees: participants with a mentee profile.
    Mentees,
}

impl Bank {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Bank::Mentors => "MENTORS",
            Bank::Mentees => "MENTEES",
        }
    }
}

/// The filters of `ListParticipants`. A bank entry, training and pairing are personal data:
/// the bank, `trained_only` and `unpaired_only` filters never match a redacted person (their
/// entries are hidden), so a list never shows a redacted person's entries by inclusion.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ListFilter {
    /// This role only.
    pub role: Option<ParticipantRole>,
    /// This bank only.
    pub bank: Option<Bank>,
    /// Trained mentors only (in the bank of mentors with their training recorded).
    pub trained_only: bool,
    /// Only people who are no current mentee of a FORMING, ACTIVE or SUSPENDED pair.
    pub unpaired_only: bool,
    /// Only people whose consent to PERSONAL_DATA is in this state: GIVEN for those shown
    /// in full, REVOKED for the redacted ones.
    pub consent_state: Option<ConsentState>,
}

/// How a participant's row is locked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lock {
    /// `FOR SHARE`: read what must not change until the end of the transaction.
    Share,
    /// `FOR UPDATE`: change the person, or claim them (a mentee).
    Update,
}

/// The store's facts about a participant for the domain's checks (never shown).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// The ID.
    pub id: String,
    /// The role.
    pub role: ParticipantRole,
    /// Whether their consent to PERSONAL_DATA is in force.
    pub consent_in_force: bool,
    /// In the bank of mentors.
    pub in_mentor_bank: bool,
    /// In the bank of mentees.
    pub in_mentee_bank: bool,
    /// Training recorded.
    pub training_recorded: bool,
    /// The open pair they are a mentee of, by resource name.
    pub mentee_pair: Option<String>,
    /// The open pair they mentor, by resource name.
    pub mentor_pair: Option<String>,
    /// Any open pair they are in, by resource name.
    pub open_pair: Option<String>,
    /// Their birth date.
    pub birth_date: Date,
}

/// Records a person together with their consent to PERSONAL_DATA, in one transaction: the
/// consent is checked by the domain first (its give date, a guardian for a minor), so a
/// refused consent stores nothing about the person.
pub async fn create(
    conn: &mut PgConnection,
    context: &CallContext,
    institution: &str,
    draft: &ParticipantDraft,
    consent: &ConsentDraft,
) -> Result<Participant, ApiError> {
    let setting = institutions::setting(conn, institution, context.now()).await?;
    if consent.purpose != crate::domain::consent::ConsentPurpose::PersonalData {
        return Err(MentoringError::invalid_field(
            "consent.purpose",
            "a participant is recorded with their consent to PERSONAL_DATA",
        )
        .into());
    }
    consents::check_draft(&setting, draft.personal.birth_date, consent)?;
    let id = if draft.id.is_empty() {
        edu_kit::resource::new_id()
    } else {
        draft.id.clone()
    };
    let consent_id = edu_kit::resource::new_id();
    let now = context.now();
    let p = &draft.personal;
    let mentor = p.mentor_profile.clone().unwrap_or_default();
    let mentee = p.mentee_profile.clone().unwrap_or_default();
    let inserted = sqlx::query!(
        "INSERT INTO mentoring.participants
             (institution_id, id, role, subject, family_name, given_name, patronymic, birth_date,
              position, phone, email,
              mentor_profile, mentor_competences, mentor_request, mentor_experience, mentor_forms,
              mentee_profile, mentee_request, mentee_competences, mentee_forms,
              training_complete_date, training_programme, training_record_time,
              first_consent_id, create_time, update_time)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
                 $17, $18, $19, $20, $21, $22, CASE WHEN $21::date IS NULL THEN NULL ELSE $24::timestamptz END,
                 $23, $24, $24)
         ON CONFLICT DO NOTHING",
        institution,
        id,
        draft.role.as_str(),
        p.subject,
        p.name.family_name,
        p.name.given_name,
        p.name.patronymic,
        p.birth_date.to_sqlx(),
        p.position,
        p.phone,
        p.email,
        p.mentor_profile.is_some(),
        &mentor.competences,
        mentor.request,
        mentor.experience,
        &forms(&mentor.preferred_forms),
        p.mentee_profile.is_some(),
        mentee.request,
        &mentee.competences,
        &forms(&mentee.preferred_forms),
        p.training.as_ref().map(|t| t.complete_date.to_sqlx()),
        p.training.as_ref().map(|t| t.programme.clone()),
        consent_id,
        now.to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    if inserted.rows_affected() == 0 {
        return Err(
            ApiError::already_exists(participant_name(institution, &id)).with_metadata(
                "field",
                if p.subject.is_empty() {
                    "participant_id"
                } else {
                    "subject"
                },
            ),
        );
    }
    consents::insert(conn, context, &setting, &id, &consent_id, &p.name, consent).await?;
    audit::record(
        conn,
        context,
        "participant.created",
        &participant_name(institution, &id),
        json!({ "role": draft.role.as_str(),
                "mentor_bank": p.mentor_profile.is_some(),
                "mentee_bank": p.mentee_profile.is_some() }),
    )
    .await?;
    get(conn, institution, &id, setting.today).await
}

/// Changes a participant under their lock: a stale `supplied_etag` first (`ETAG_MISMATCH`;
/// empty skips the check), nothing about a redacted person
/// (`CONSENT_MISSING`); a role or a bank entry not under an open pair
/// (`PARTICIPANT_IN_PAIR`); training only added or replaced; a birth-date correction that
/// would make a minor of a person who consented alone (`GUARDIAN_CONSENT_REQUIRED`).
pub async fn update(
    conn: &mut PgConnection,
    context: &CallContext,
    institution: &str,
    id: &str,
    change: &ParticipantChange,
    supplied_etag: &str,
) -> Result<Participant, ApiError> {
    let setting = institutions::setting(conn, institution, context.now()).await?;
    lock(conn, institution, &[id], Lock::Update).await?;
    let name = participant_name(institution, id);
    etag::check(supplied_etag, version(conn, institution, id).await?, &name)?;
    let facts = one_fact(conn, institution, id).await?;
    if !facts.consent_in_force {
        return Err(MentoringError::ConsentMissing {
            participant: name,
            purpose: crate::domain::consent::ConsentPurpose::PersonalData,
        }
        .into());
    }
    if let Some(role) = change.role {
        ensure_role_change_allowed(facts.role, role, facts.open_pair.as_deref())?;
    }
    if let Some(None) = change.mentor_profile {
        ensure_may_leave_bank(facts.mentor_pair.as_deref())?;
    }
    if let Some(None) = change.mentee_profile {
        ensure_may_leave_bank(facts.mentee_pair.as_deref())?;
    }
    if let Some(training) = &change.training {
        let in_bank = match &change.mentor_profile {
            Some(profile) => profile.is_some(),
            None => facts.in_mentor_bank,
        };
        ensure_training_change(in_bank, training.is_none())?;
    }
    if let Some(birth_date) = change.birth_date {
        let (give_date, has_guardian) = consents::personal_data_in_force(conn, institution, id)
            .await?
            .ok_or_else(|| ApiError::not_found(name.clone()))?;
        ensure_birth_date_correction(birth_date, give_date, has_guardian)?;
    }
    let now = context.now();
    let role = change.role.map(|r| r.as_str().to_string());
    let (family, given, patronymic) = match &change.name {
        Some(n) => (
            Some(n.family_name.clone()),
            Some(n.given_name.clone()),
            Some(n.patronymic.clone()),
        ),
        None => (None, None, None),
    };
    let (position, phone, email) = match &change.contact {
        Some((a, b, c)) => (Some(a.clone()), Some(b.clone()), Some(c.clone())),
        None => (None, None, None),
    };
    let mentor = change.mentor_profile.clone().map(|p| p.unwrap_or_default());
    let mentee = change.mentee_profile.clone().map(|p| p.unwrap_or_default());
    let training = change.training.clone().flatten();
    sqlx::query!(
        "UPDATE mentoring.participants SET
             role = coalesce($3, role),
             family_name = coalesce($4, family_name),
             given_name = coalesce($5, given_name),
             patronymic = coalesce($6, patronymic),
             birth_date = coalesce($7, birth_date),
             position = coalesce($8, position),
             phone = coalesce($9, phone),
             email = coalesce($10, email),
             mentor_profile = coalesce($11, mentor_profile),
             mentor_competences = coalesce($12, mentor_competences),
             mentor_request = coalesce($13, mentor_request),
             mentor_experience = coalesce($14, mentor_experience),
             mentor_forms = coalesce($15, mentor_forms),
             mentee_profile = coalesce($16, mentee_profile),
             mentee_request = coalesce($17, mentee_request),
             mentee_competences = coalesce($18, mentee_competences),
             mentee_forms = coalesce($19, mentee_forms),
             training_complete_date = coalesce($20, training_complete_date),
             training_programme = coalesce($21, training_programme),
             training_record_time = CASE WHEN $20::date IS NULL THEN training_record_time ELSE $22::timestamptz END,
             subject = coalesce($23, subject),
             update_time = $22,
             version = version + 1
         WHERE institution_id = $1 AND id = $2",
        institution,
        id,
        role,
        family,
        given,
        patronymic,
        change.birth_date.map(|d| d.to_sqlx()),
        position,
        phone,
        email,
        change.mentor_profile.as_ref().map(Option::is_some),
        mentor.as_ref().map(|m| m.competences.clone()) as Option<Vec<String>>,
        mentor.as_ref().map(|m| m.request.clone()),
        mentor.as_ref().map(|m| m.experience.clone()),
        mentor.as_ref().map(|m| forms(&m.preferred_forms)) as Option<Vec<String>>,
        change.mentee_profile.as_ref().map(Option::is_some),
        mentee.as_ref().map(|m| m.request.clone()),
        mentee.as_ref().map(|m| m.competences.clone()) as Option<Vec<String>>,
        mentee.as_ref().map(|m| forms(&m.preferred_forms)) as Option<Vec<String>>,
        training.as_ref().map(|t| t.complete_date.to_sqlx()),
        training.as_ref().map(|t| t.programme.clone()),
        now.to_sqlx(),
        change.subject.as_deref(),
    )
    .execute(&mut *conn)
    .await
    .map_err(|e| subject_taken(e, &name))?;
    // What changed, by field name only: the values are personal.
    let mut changed = vec![];
    for (field, set) in [
        ("role", change.role.is_some()),
        ("name", change.name.is_some()),
        ("birth_date", change.birth_date.is_some()),
        ("contact", change.contact.is_some()),
        ("subject", change.subject.is_some()),
        ("mentor_profile", change.mentor_profile.is_some()),
        ("mentee_profile", change.mentee_profile.is_some()),
        ("mentor_training", change.training.is_some()),
    ] {
        if set {
            changed.push(field);
        }
    }
    audit::record(
        conn,
        context,
        "participant.updated",
        &name,
        json!({ "fields": changed, "role": role }),
    )
    .await?;
    get(conn, institution, id, setting.today).await
}

/// Locks participants' rows in ID order (the first step of every use case that depends on
/// them; see the module doc of [`super`]); `NOT_FOUND` naming the first one missing.
pub async fn lock(
    conn: &mut PgConnection,
    institution: &str,
    ids: &[&str],
    mode: Lock,
) -> Result<(), ApiError> {
    for id in lock_order(ids) {
        lock_one(conn, institution, &id, mode).await?;
    }
    Ok(())
}

/// Locks one participant's row (callers keep the ID order).
pub(crate) async fn lock_one(
    conn: &mut PgConnection,
    institution: &str,
    id: &str,
    mode: Lock,
) -> Result<(), ApiError> {
    let found = match mode {
        Lock::Share => sqlx::query_scalar!(
            "SELECT id FROM mentoring.participants WHERE institution_id = $1 AND id = $2 FOR SHARE",
            institution,
            id
        )
        .fetch_optional(&mut *conn)
        .await?
        .is_some(),
        Lock::Update => sqlx::query_scalar!(
            "SELECT id FROM mentoring.participants WHERE institution_id = $1 AND id = $2 FOR UPDATE",
            institution,
            id
        )
        .fetch_optional(&mut *conn)
        .await?
        .is_some(),
    };
    if found {
        Ok(())
    } else {
        Err(ApiError::not_found(participant_name(institution, id)))
    }
}

/// The facts the domain's checks need about these participants, in the order asked; those
/// not found are left out.
pub async fn facts(
    conn: &mut PgConnection,
    institution: &str,
    ids: &[&str],
) -> Result<Vec<Facts>, ApiError> {
    let wanted: Vec<String> = ids.iter().map(|id| (*id).to_string()).collect();
    let rows = sqlx::query!(
        r#"SELECT p.id, p.role, p.mentor_profile, p.mentee_profile, p.birth_date,
                  p.training_record_time IS NOT NULL AS "training_recorded!",
                  EXISTS (SELECT 1 FROM mentoring.consents c
                          WHERE c.institution_id = p.institution_id AND c.participant_id = p.id
                            AND c.purpose = 'PERSONAL_DATA' AND c.state = 'GIVEN') AS "consent_in_force!",
                  (SELECT m.pair_id FROM mentoring.pair_members m
                   WHERE m.institution_id = p.institution_id AND m.participant_id = p.id
                     AND m.side = 'MENTEE' AND m.pair_open AND m.left_time IS NULL
                   ORDER BY m.pair_id LIMIT 1) AS mentee_pair,
                  (SELECT m.pair_id FROM mentoring.pair_members m
                   WHERE m.institution_id = p.institution_id AND m.participant_id = p.id
                     AND m.side = 'MENTOR' AND m.pair_open AND m.left_time IS NULL
                   ORDER BY m.pair_id LIMIT 1) AS mentor_pair
           FROM mentoring.participants p
           WHERE p.institution_id = $1 AND p.id = ANY($2)"#,
        institution,
        &wanted,
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut found = Vec::with_capacity(rows.len());
    for id in &wanted {
        let Some(row) = rows.iter().find(|r| &r.id == id) else {
            continue;
        };
        let mentee_pair = row.mentee_pair.as_ref().map(|p| pair_name(institution, p));
        let mentor_pair = row.mentor_pair.as_ref().map(|p| pair_name(institution, p));
        found.push(Facts {
            id: row.id.clone(),
            role: parsed("role", &row.role, ParticipantRole::parse)?,
            consent_in_force: row.consent_in_force,
            in_mentor_bank: row.mentor_profile,
            in_mentee_bank: row.mentee_profile,
            training_recorded: row.training_recorded,
            open_pair: mentee_pair.clone().or_else(|| mentor_pair.clone()),
            mentee_pair,
            mentor_pair,
            birth_date: row.birth_date.to_jiff(),
        });
    }
    Ok(found)
}

/// The facts about one participant; `NOT_FOUND` when missing.
pub(crate) async fn one_fact(
    conn: &mut PgConnection,
    institution: &str,
    id: &str,
) -> Result<Facts, ApiError> {
    facts(conn, institution, &[id])
        .await?
        .pop()
        .ok_or_else(|| ApiError::not_found(participant_name(institution, id)))
}

/// The one read of people. Every use case and read that returns a person gets them here,
/// as shown on `today`: a person whose consent to PERSONAL_DATA is not in force shows only
/// their resource name and role (the domain's [`PersonView::redacted`]).
pub async fn fetch(
    conn: &mut PgConnection,
    institution: &str,
    filter: &Filter<'_>,
    today: Date,
) -> Result<Vec<Participant>, ApiError> {
    let rows = sqlx::query!(
        r#"SELECT p.id, p.role, p.subject, p.family_name, p.given_name, p.patronymic,
                  p.birth_date, p.position, p.phone, p.email,
                  p.mentor_profile, p.mentor_competences, p.mentor_request, p.mentor_experience,
                  p.mentor_forms, p.mentee_profile, p.mentee_request, p.mentee_competences,
                  p.mentee_forms, p.training_complete_date, p.training_programme,
                  p.create_time, p.version,
                  EXISTS (SELECT 1 FROM mentoring.consents c
                          WHERE c.institution_id = p.institution_id AND c.participant_id = p.id
                            AND c.purpose = 'PERSONAL_DATA' AND c.state = 'GIVEN') AS "consent_in_force!"
           FROM mentoring.participants p
           WHERE p.institution_id = $1
             AND (cardinality($2::text[]) = 0 OR p.id = ANY($2))
             AND ($3::text IS NULL OR p.role = $3)
           ORDER BY p.id"#,
        institution,
        filter.ids,
        filter.role.map(|r| r.as_str()),
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut shown = Vec::with_capacity(rows.len());
    for row in rows {
        let role = parsed("role", &row.role, ParticipantRole::parse)?;
        let name = participant_name(institution, &row.id);
        let redacted = !row.consent_in_force;
        let person_name = PersonName {
            family_name: row.family_name,
            given_name: row.given_name,
            patronymic: row.patronymic,
        };
        let birth_date = row.birth_date.to_jiff();
        let person = PersonView::new(&name, role, &person_name, birth_date, today, redacted);
        let personal = if redacted {
            None
        } else {
            let training = match (row.training_complete_date, row.training_programme) {
                (Some(day), Some(programme)) => Some(Training {
                    complete_date: day.to_jiff(),
                    programme,
                }),
                _ => None,
            };
            Some(Personal {
                name: person_name,
                birth_date,
                subject: row.subject,
                position: row.position,
                phone: row.phone,
                email: row.email,
                mentor_profile: row.mentor_profile.then(|| MentorProfile {
                    competences: row.mentor_competences.clone(),
                    request: row.mentor_request.clone(),
                    experience: row.mentor_experience.clone(),
                    preferred_forms: parse_forms(&row.mentor_forms),
                }),
                mentee_profile: row.mentee_profile.then(|| MenteeProfile {
                    request: row.mentee_request.clone(),
                    competences: row.mentee_competences.clone(),
                    preferred_forms: parse_forms(&row.mentee_forms),
                }),
                training,
            })
        };
        shown.push(Participant {
            id: row.id,
            name,
            role,
            trained: !redacted
                && trained(
                    row.mentor_profile,
                    personal.as_ref().is_some_and(|p| p.training.is_some()),
                ),
            personal,
            person,
            redacted,
            create_time: row.create_time.to_jiff(),
            version: row.version,
        });
    }
    Ok(shown)
}

/// The audit trail's action for a read of a participant's record.
pub const PARTICIPANT_READ: &str = "participant.read";

/// One participant as shown; `NOT_FOUND` when missing. Inside a call (GetParticipant, and
/// the calls that answer with a participant or read one to check it) the read is recorded
/// in the audit trail with the call's RPC and stated purpose, once per participant per call
/// ([`audit::read_in_call`]).
pub async fn get(
    conn: &mut PgConnection,
    institution: &str,
    id: &str,
    today: Date,
) -> Result<Participant, ApiError> {
    let ids = [id.to_string()];
    let shown = fetch(conn, institution, &Filter::ids(&ids), today)
        .await?
        .pop()
        .ok_or_else(|| ApiError::not_found(participant_name(institution, id)))?;
    audit::read_in_call(conn, PARTICIPANT_READ, std::slice::from_ref(&shown.name)).await?;
    Ok(shown)
}

/// The IDs of the participants of `institution` (only those `only` names, when set) born on
/// `birth_date` whose full name is `name` as the suite compares names
/// ([`edu_kit::names::normalise_parts`]): a child looked up by who they are
/// (GetChildRecords). A person whose consent to PERSONAL_DATA is not in force never matches
/// (a filter on a personal field never matches a redacted entry). The institution, the
/// caller's people and the birth date narrow the rows in the query (the index
/// `participants_by_birth_date`), so nothing outside the caller's reach is read; the names
/// are compared here, on what [`fetch`] shows, so that the rule is the kit's and no name is
/// sent to SQL. Nothing is recorded as read: the caller reads the ones it shows through
/// [`get`].
pub async fn matching(
    conn: &mut PgConnection,
    institution: &str,
    name: &PersonName,
    birth_date: Date,
    only: Option<&[String]>,
    today: Date,
) -> Result<Vec<String>, ApiError> {
    let ids = sqlx::query_scalar!(
        "SELECT p.id FROM mentoring.participants p
         WHERE p.institution_id = $1 AND p.birth_date = $2
           AND ($3::text[] IS NULL OR p.id = ANY($3))
           AND EXISTS (SELECT 1 FROM mentoring.consents c
                       WHERE c.institution_id = p.institution_id AND c.participant_id = p.id
                         AND c.purpose = 'PERSONAL_DATA' AND c.state = 'GIVEN')
         ORDER BY p.id",
        institution,
        birth_date.to_sqlx(),
        only,
    )
    .fetch_all(&mut *conn)
    .await?;
    if ids.is_empty() {
        // `fetch` reads everyone for no IDs.
        return Ok(ids);
    }
    let wanted = full_name_key(name);
    let found = fetch(conn, institution, &Filter::ids(&ids), today).await?;
    Ok(found
        .into_iter()
        .filter(|p| {
            p.personal
                .as_ref()
                .is_some_and(|personal| full_name_key(&personal.name) == wanted)
        })
        .map(|p| p.id)
        .collect())
}

fn full_name_key(name: &PersonName) -> String {
    edu_kit::names::normalise_parts(&name.family_name, &name.given_name, &name.patronymic)
}

/// The institution's participants as shown, by ID, optionally of one role.
pub async fn list(
    conn: &mut PgConnection,
    institution: &str,
    role: Option<ParticipantRole>,
    today: Date,
) -> Result<Vec<Participant>, ApiError> {
    fetch(conn, institution, &Filter { ids: &[], role }, today).await
}

/// A page of `ListParticipants`: at most `size` participants after the participant `after`
/// (the cursor is an ID, so a page token holds no personal data), in Russian alphabetical
/// order (`ru` ICU collation) of family name, given name and patronymic, then by ID; the
/// redacted ones last, by ID only (their hidden names never order anything). The page's
/// IDs are chosen here; the people are read through [`fetch`], the one read of people.
pub async fn list_page(
    conn: &mut PgConnection,
    institution: &str,
    filter: &ListFilter,
    today: Date,
    size: usize,
    after: Option<String>,
) -> Result<Page<Participant, String>, ApiError> {
    list_page_of(conn, institution, filter, None, today, size, after).await
}

/// [`list_page`] among the participants `only` names (`None`: everyone): what a participant
/// or guardian lists, only the records they may read, filtered and ordered as staff see
/// them. Inside a call, each participant of the page is recorded as read (see [`get`]).
pub async fn list_page_of(
    conn: &mut PgConnection,
    institution: &str,
    filter: &ListFilter,
    only: Option<&[String]>,
    today: Date,
    size: usize,
    after: Option<String>,
) -> Result<Page<Participant, String>, ApiError> {
    let ids = sqlx::query_scalar!(
        r#"WITH keyed AS (
               SELECT p.id, p.role, p.mentor_profile, p.mentee_profile,
                      p.training_record_time IS NOT NULL AS training_recorded,
                      NOT EXISTS (SELECT 1 FROM mentoring.consents c
                                  WHERE c.institution_id = p.institution_id
                                    AND c.participant_id = p.id
                                    AND c.purpose = 'PERSONAL_DATA' AND c.state = 'GIVEN')
                          AS redacted,
                      EXISTS (SELECT 1 FROM mentoring.pair_members m
                              WHERE m.institution_id = p.institution_id
                                AND m.participant_id = p.id AND m.side = 'MENTEE'
                                AND m.pair_open AND m.left_time IS NULL) AS paired,
                      p.family_name, p.given_name, p.patronymic
               FROM mentoring.participants p
               WHERE p.institution_id = $1),
           sorted AS (
               SELECT k.*,
                      (CASE WHEN k.redacted THEN '' ELSE k.family_name END) COLLATE "ru-x-icu" AS k1,
                      (CASE WHEN k.redacted THEN '' ELSE k.given_name END) COLLATE "ru-x-icu" AS k2,
                      (CASE WHEN k.redacted THEN '' ELSE k.patronymic END) COLLATE "ru-x-icu" AS k3,
                      k.id COLLATE "C" AS k4
               FROM keyed k)
           SELECT s.id AS "id!"
           FROM sorted s
           WHERE ($2::text IS NULL OR s.role = $2)
             AND ($3::text IS NULL OR NOT s.redacted)
             AND ($3::text IS DISTINCT FROM 'MENTORS' OR s.mentor_profile)
             AND ($3::text IS DISTINCT FROM 'MENTEES' OR s.mentee_profile)
             AND (NOT $4 OR (s.mentor_profile AND s.training_recorded AND NOT s.redacted))
             AND (NOT $5 OR (NOT s.paired AND NOT s.redacted))
             AND ($6::text IS NULL OR s.redacted = ($6 = 'REVOKED'))
             AND ($7::text IS NULL OR (s.redacted, s.k1, s.k2, s.k3, s.k4) >
                     (SELECT a.redacted, a.k1, a.k2, a.k3, a.k4 FROM sorted a WHERE a.id = $7))
             AND ($9::text[] IS NULL OR s.id = ANY($9))
           ORDER BY s.redacted, s.k1, s.k2, s.k3, s.k4
           LIMIT $8"#,
        institution,
        filter.role.map(ParticipantRole::as_str),
        filter.bank.map(Bank::as_str),
        filter.trained_only,
        filter.unpaired_only,
        filter.consent_state.map(ConsentState::as_str),
        after,
        edu_kit::paging::overfetch_limit(size),
        only,
    )
    .fetch_all(&mut *conn)
    .await?;
    let found = fetch(conn, institution, &Filter::ids(&ids), today).await?;
    let mut items = Vec::with_capacity(ids.len());
    for id in &ids {
        let shown = found
            .iter()
            .find(|p| &p.id == id)
            .cloned()
            .ok_or_else(|| super::corrupt("participant of a page", id))?;
        items.push(shown);
    }
    let page = Page::from_overfetch(items, size, |p| p.id.clone());
    // Inside a call (ListParticipants), each participant the page shows is a read.
    let shown: Vec<String> = page.items.iter().map(|p| p.name.clone()).collect();
    audit::read_in_call(conn, PARTICIPANT_READ, &shown).await?;
    Ok(page)
}

/// What a participant is linked to, as `Participant` shows it next to the person: none of
/// it is personal data (the proto keeps it when the person is redacted), except the
/// training's record time, which is shown with the training only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Links {
    /// The open pair or group they are a mentee of, by resource name.
    pub mentee_pair: Option<String>,
    /// How many open pairs and groups they mentor.
    pub mentored_pairs: i64,
    /// Their consent to PERSONAL_DATA in force, or the latest one, by resource name.
    pub consent: Option<String>,
    /// Whether a consent to PUBLICATION is in force.
    pub publication_consent: bool,
    /// When the training was recorded.
    pub training_record_time: Option<Timestamp>,
    /// When the record last changed.
    pub update_time: Timestamp,
}

/// The [`Links`] of these participants, by ID; those not found are left out.
pub async fn links(
    conn: &mut PgConnection,
    institution: &str,
    ids: &[String],
) -> Result<Vec<(String, Links)>, ApiError> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let rows = sqlx::query!(
        r#"SELECT p.id, p.update_time, p.training_record_time,
                  (SELECT m.pair_id FROM mentoring.pair_members m
                   WHERE m.institution_id = p.institution_id AND m.participant_id = p.id
                     AND m.side = 'MENTEE' AND m.pair_open AND m.left_time IS NULL
                   ORDER BY m.pair_id LIMIT 1) AS mentee_pair,
                  (SELECT count(*) FROM mentoring.pair_members m
                   WHERE m.institution_id = p.institution_id AND m.participant_id = p.id
                     AND m.side = 'MENTOR' AND m.pair_open) AS "mentored_pairs!",
                  (SELECT c.id FROM mentoring.consents c
                   WHERE c.institution_id = p.institution_id AND c.participant_id = p.id
                     AND c.purpose = 'PERSONAL_DATA'
                   ORDER BY c.state = 'GIVEN' DESC, c.create_time DESC, c.id DESC
                   LIMIT 1) AS consent,
                  EXISTS (SELECT 1 FROM mentoring.consents c
                          WHERE c.institution_id = p.institution_id AND c.participant_id = p.id
                            AND c.purpose = 'PUBLICATION' AND c.state = 'GIVEN')
                      AS "publication_consent!"
           FROM mentoring.participants p
           WHERE p.institution_id = $1 AND p.id = ANY($2)"#,
        institution,
        ids,
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let links = Links {
                mentee_pair: row.mentee_pair.map(|p| pair_name(institution, &p)),
                mentored_pairs: row.mentored_pairs,
                consent: row
                    .consent
                    .map(|c| super::consent_name(institution, &row.id, &c)),
                publication_consent: row.publication_consent,
                training_record_time: row.training_record_time.map(|t| t.to_jiff()),
                update_time: row.update_time.to_jiff(),
            };
            (row.id, links)
        })
        .collect())
}

/// The refusal of a token subject another participant of the institution signs in with
/// (the unique index holds it against concurrent changes too); other faults as they are.
fn subject_taken(error: sqlx::Error, participant: &str) -> ApiError {
    if let sqlx::Error::Database(db) = &error
        && db.constraint() == Some("participants_one_per_subject")
    {
        return ApiError::new(
            edu_kit::error::ErrorKind::AlreadyExists,
            edu_kit::error::reason::ALREADY_EXISTS,
            format!("another participant than {participant} signs in with this subject"),
        )
        .with_metadata("field", "subject");
    }
    error.into()
}

/// A participant's version, for the etag check (the row is locked by the caller).
async fn version(conn: &mut PgConnection, institution: &str, id: &str) -> Result<i64, ApiError> {
    sqlx::query_scalar!(
        "SELECT version FROM mentoring.participants WHERE institution_id = $1 AND id = $2",
        institution,
        id
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| ApiError::not_found(participant_name(institution, id)))
}

/// These people as other resources show them, in the order asked.
pub async fn people(
    conn: &mut PgConnection,
    institution: &str,
    ids: &[String],
    today: Date,
) -> Result<Vec<PersonView>, ApiError> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let found = fetch(conn, institution, &Filter::ids(ids), today).await?;
    ids.iter()
        .map(|id| {
            found
                .iter()
                .find(|p| &p.id == id)
                .map(|p| p.person.clone())
                .ok_or_else(|| ApiError::not_found(participant_name(institution, id)))
        })
        .collect()
}

fn forms(forms: &[MentoringForm]) -> Vec<String> {
    forms.iter().map(|f| f.as_str().to_string()).collect()
}

fn parse_forms(raw: &[String]) -> Vec<MentoringForm> {
    raw.iter().filter_map(|f| MentoringForm::parse(f)).collect()
}
