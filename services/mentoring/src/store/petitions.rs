//! Replacement petitions (rule 9, contract pair.proto): a mentee or their guardian (or the
//! staff recording a paper one) petitions the director to replace the mentor; the director
//! grants it, naming a new mentor checked as on forming, or rejects it. Every petition is
//! kept: the pair's list is the history of its mentors.
//!
//! Locks: a decision locks the new mentor `FOR SHARE` (participants first), then the pair,
//! then the petition, so of two decisions on one petition the second waits for the first
//! and then finds it decided (`TRANSITION_NOT_ALLOWED`).

use jiff::Timestamp;
use jiff_sqlx::ToSqlx;
use serde_json::json;
use sqlx::PgConnection;

use edu_kit::paging::Page;
use edu_kit::{ApiError, CallContext, audit, etag};

use super::institutions::{self, Setting};
use super::pairs::{self, DirectorOrder};
use super::participants::{self, Lock};
use super::{pair_name, parsed, participant_name};
use crate::domain::agreement::AgreementEndReason;
use crate::domain::consent::ActorKind;
use crate::domain::pairs::{Candidate, PairKind, PairState, PairWork, check_replacement_mentor};
use crate::domain::redaction::{PersonView, shown_text};
use crate::domain::{FieldError, MentoringError};

/// `institutions/{institution}/pairs/{pair}/replacementPetitions/{id}`.
pub fn petition_name(institution: &str, pair: &str, id: &str) -> String {
    format!("{}/replacementPetitions/{id}", pair_name(institution, pair))
}

/// Where a petition is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PetitionState {
    /// Waiting for the director.
    Pending,
    /// Granted: the mentor was replaced.
    Granted,
    /// Rejected, with the reason.
    Rejected,
    /// The pair was completed or cancelled before a decision.
    Lapsed,
}

impl PetitionState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            PetitionState::Pending => "PENDING",
            PetitionState::Granted => "GRANTED",
            PetitionState::Rejected => "REJECTED",
            PetitionState::Lapsed => "LAPSED",
        }
    }

    /// The state a stored name stands for.
    pub fn parse(raw: &str) -> Option<Self> {
        [
            PetitionState::Pending,
            PetitionState::Granted,
            PetitionState::Rejected,
            PetitionState::Lapsed,
        ]
        .into_iter()
        .find(|s| s.as_str() == raw)
    }
}

/// A petition as filed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PetitionDraft {
    /// The petitioning mentee's ID: required for a group; the pair's mentee when `None`.
    pub mentee: Option<String>,
    /// Why.
    pub reason: String,
    /// Who filed it.
    pub filed_by: ActorKind,
}

/// The director's decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Replace the mentor with `new_mentor` (an ID) by `order`.
    Grant {
        /// The new mentor's ID.
        new_mentor: String,
        /// The director's order replacing the mentor.
        order: DirectorOrder,
    },
    /// Keep the mentor, for `reason`.
    Reject {
        /// The director's reasons.
        reason: String,
    },
}

/// A petition as shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Petition {
    /// The ID.
    pub id: String,
    /// The resource name.
    pub name: String,
    /// The petitioning mentee as a person.
    pub petitioner: PersonView,
    /// Who filed it.
    pub filed_by: ActorKind,
    /// Why; empty when the pair is redacted.
    pub reason: String,
    /// The mentor when it was filed.
    pub mentor_person: PersonView,
    /// Where it is.
    pub state: PetitionState,
    /// For GRANTED, the new mentor.
    pub new_mentor_person: Option<PersonView>,
    /// For GRANTED, the order.
    pub order: Option<DirectorOrder>,
    /// The director's reasons; empty when the pair is redacted.
    pub decision_reason: String,
    /// When it was decided or lapsed.
    pub decide_time: Option<Timestamp>,
    /// Whether the pair is redacted.
    pub redacted: bool,
    /// When it was filed.
    pub create_time: Timestamp,
    /// Its version, for etags.
    pub version: i64,
}

/// Files a petition about an ACTIVE or SUSPENDED pair (`CreateReplacementPetition`):
/// PENDING; `ALREADY_EXISTS` naming the mentee's PENDING one in the pair.
pub async fn create(
    conn: &mut PgConnection,
    context: &CallContext,
    institution: &str,
    pair: &str,
    draft: &PetitionDraft,
) -> Result<Petition, ApiError> {
    let setting = institutions::setting(conn, institution, context.now()).await?;
    let locked = pairs::lock_for_work(conn, &setting, pair).await?;
    let members = pairs::current_members(conn, institution, pair).await?;
    let mentor = members
        .iter()
        .find(|(_, is_mentor)| *is_mentor)
        .map(|(m, _)| m.clone())
        .ok_or_else(|| super::corrupt("pair without a mentor", pair))?;
    let mentees: Vec<&String> = members
        .iter()
        .filter(|(_, is_mentor)| !is_mentor)
        .map(|(m, _)| m)
        .collect();
    let mut fields = vec![];
    if draft.reason.trim().is_empty() || draft.reason.chars().count() > 2000 {
        fields.push(FieldError::new(
            "replacement_petition.reason",
            "1 to 2 000 characters",
        ));
    }
    let mentee = match (&draft.mentee, locked.kind) {
        (Some(m), _) if mentees.contains(&m) => Some(m.clone()),
        (Some(_), _) => {
            fields.push(FieldError::new(
                "replacement_petition.mentee",
                "not a current mentee of the pair",
            ));
            None
        }
        (None, PairKind::Pair) => mentees.first().map(|m| (*m).clone()),
        (None, PairKind::Group) => {
            fields.push(FieldError::new(
                "replacement_petition.mentee",
                "a group's petition names its mentee",
            ));
            None
        }
    };
    if !fields.is_empty() {
        return Err(MentoringError::InvalidFields(fields).into());
    }
    let mentee = mentee.ok_or_else(|| super::corrupt("pair without a mentee", pair))?;
    locked.state.ensure_allows(PairWork::Petition)?;
    let pending = sqlx::query_scalar!(
        "SELECT id FROM mentoring.replacement_petitions
         WHERE institution_id = $1 AND pair_id = $2 AND mentee_id = $3 AND state = 'PENDING'",
        institution,
        pair,
        mentee
    )
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(existing) = pending {
        let name = petition_name(institution, pair, &existing);
        return Err(ApiError::already_exists(name.clone()).with_metadata("petition", name));
    }
    let id = edu_kit::resource::new_id();
    let now = context.now();
    sqlx::query!(
        "INSERT INTO mentoring.replacement_petitions
             (institution_id, id, pair_id, mentee_id, filed_by, reason, mentor_id, create_time,
              update_time)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
        institution,
        id,
        pair,
        mentee,
        draft.filed_by.as_str(),
        draft.reason,
        mentor,
        now.to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    let name = petition_name(institution, pair, &id);
    audit::record(
        conn,
        context,
        "replacement_petition.created",
        &name,
        json!({ "mentee": participant_name(institution, &mentee),
                "filed_by": draft.filed_by.as_str() }),
    )
    .await?;
    get(conn, &setting, pair, &id).await
}

/// The director decides a PENDING petition (`DecideReplacementPetition`). Granting
/// replaces the mentor in this transaction: the new mentor checked by the domain as on
/// forming, the old one kept as a former mentor, the agreement in force ended
/// (MENTOR_REPLACED), the pair back to FORMING with the decision's order as its order.
pub async fn decide(
    conn: &mut PgConnection,
    context: &CallContext,
    institution: &str,
    pair: &str,
    id: &str,
    decision: &Decision,
    supplied_etag: &str,
) -> Result<Petition, ApiError> {
    let setting = institutions::setting(conn, institution, context.now()).await?;
    let name = petition_name(institution, pair, id);
    let mut fields = vec![];
    match decision {
        Decision::Grant { new_mentor, order } => {
            if new_mentor.is_empty() {
                fields.push(FieldError::new(
                    "new_mentor",
                    "a grant names the new mentor",
                ));
            }
            if order.number.trim().is_empty() {
                fields.push(FieldError::new(
                    "order",
                    "a grant needs the director's order",
                ));
            }
            if order.date > setting.today {
                fields.push(FieldError::new(
                    "order.order_date",
                    "must not be after today",
                ));
            }
        }
        Decision::Reject { reason } => {
            if reason.trim().is_empty() || reason.chars().count() > 2000 {
                fields.push(FieldError::new("decision_reason", "1 to 2 000 characters"));
            }
        }
    }
    if !fields.is_empty() {
        return Err(MentoringError::InvalidFields(fields).into());
    }
    // Participants first: the new mentor, so that their consent, bank and training hold.
    if let Decision::Grant { new_mentor, .. } = decision {
        participants::lock(conn, institution, &[new_mentor.as_str()], Lock::Share).await?;
    }
    let locked = pairs::lock_for_work(conn, &setting, pair).await?;
    let row = sqlx::query!(
        "SELECT state, version FROM mentoring.replacement_petitions
         WHERE institution_id = $1 AND pair_id = $2 AND id = $3 FOR UPDATE",
        institution,
        pair,
        id
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| ApiError::not_found(name.clone()))?;
    etag::check(supplied_etag, row.version, &name)?;
    let state = parsed("petition state", &row.state, PetitionState::parse)?;
    if state != PetitionState::Pending {
        return Err(MentoringError::TransitionNotAllowed {
            resource: "replacement petition",
            state: state.as_str(),
        }
        .into());
    }
    let now = context.now();
    match decision {
        Decision::Reject { reason } => {
            sqlx::query!(
                "UPDATE mentoring.replacement_petitions
                 SET state = 'REJECTED', decision_reason = $4, decide_time = $5,
                     update_time = $5, version = version + 1
                 WHERE institution_id = $1 AND pair_id = $2 AND id = $3",
                institution,
                pair,
                id,
                reason,
                now.to_sqlx(),
            )
            .execute(&mut *conn)
            .await?;
            audit::record(
                conn,
                context,
                "replacement_petition.rejected",
                &name,
                json!({}),
            )
            .await?;
        }
        Decision::Grant { new_mentor, order } => {
            grant(conn, context, &setting, pair, &locked, new_mentor, now).await?;
            sqlx::query!(
                "UPDATE mentoring.replacement_petitions
                 SET state = 'GRANTED', new_mentor_id = $4, order_number = $5, order_date = $6,
                     decide_time = $7, update_time = $7, version = version + 1
                 WHERE institution_id = $1 AND pair_id = $2 AND id = $3",
                institution,
                pair,
                id,
                new_mentor,
                order.number,
                order.date.to_sqlx(),
                now.to_sqlx(),
            )
            .execute(&mut *conn)
            .await?;
            sqlx::query!(
                "UPDATE mentoring.pairs
                 SET state = 'FORMING', order_number = $3, order_date = $4, order_record_time = $5,
                     suspend_time = NULL, suspended_by = '{}', update_time = $5,
                     version = version + 1
                 WHERE institution_id = $1 AND id = $2",
                institution,
                pair,
                order.number,
                order.date.to_sqlx(),
                now.to_sqlx(),
            )
            .execute(&mut *conn)
            .await?;
            audit::record(
                conn,
                context,
                "replacement_petition.granted",
                &name,
                json!({ "new_mentor": participant_name(institution, new_mentor),
                        "order": order.number, "pair_from": locked.state.as_str() }),
            )
            .await?;
        }
    }
    get(conn, &setting, pair, id).await
}

/// Keeps the director's reasons for a grant, optional there (a rejection's are recorded by
/// [`decide`]), in the decision's transaction; the petition as shown.
pub async fn keep_grant_reason(
    conn: &mut PgConnection,
    setting: &Setting,
    pair: &str,
    id: &str,
    reason: &str,
) -> Result<Petition, ApiError> {
    sqlx::query!(
        "UPDATE mentoring.replacement_petitions SET decision_reason = $4
         WHERE institution_id = $1 AND pair_id = $2 AND id = $3 AND state = 'GRANTED'",
        setting.id,
        pair,
        id,
        reason,
    )
    .execute(&mut *conn)
    .await?;
    get(conn, setting, pair, id).await
}

/// The new mentor's checks and the members' change (the pair is locked).
async fn grant(
    conn: &mut PgConnection,
    _context: &CallContext,
    setting: &Setting,
    pair: &str,
    locked: &pairs::Locked,
    new_mentor: &str,
    now: Timestamp,
) -> Result<(), ApiError> {
    let institution = setting.id.as_str();
    locked.state.ensure_may_become(PairState::Forming)?;
    let members = pairs::current_members(conn, institution, pair).await?;
    if members.iter().any(|(m, _)| m == new_mentor) {
        return Err(MentoringError::InvalidFields(vec![FieldError::new(
            "new_mentor",
            "is the current mentor or a mentee of the pair",
        )])
        .into());
    }
    let mentee_ids: Vec<&str> = members
        .iter()
        .filter(|(_, is_mentor)| !is_mentor)
        .map(|(m, _)| m.as_str())
        .collect();
    let new_name = participant_name(institution, new_mentor);
    let found = participants::one_fact(conn, institution, new_mentor).await?;
    let mentee_facts = participants::facts(conn, institution, &mentee_ids).await?;
    let mentee_names: Vec<String> = mentee_facts
        .iter()
        .map(|f| participant_name(institution, &f.id))
        .collect();
    let mentees: Vec<(&str, _)> = mentee_facts
        .iter()
        .zip(&mentee_names)
        .map(|(f, n)| (n.as_str(), f.role))
        .collect();
    check_replacement_mentor(
        locked.pair_type,
        locked.form,
        &Candidate {
            participant: &new_name,
            role: found.role,
            consent_in_force: found.consent_in_force,
            in_bank: found.in_mentor_bank,
            trained: found.training_recorded,
            mentee_pair: None,
        },
        &mentees,
    )?;
    sqlx::query!(
        "UPDATE mentoring.pair_members SET left_time = $3
         WHERE institution_id = $1 AND pair_id = $2 AND side = 'MENTOR' AND left_time IS NULL",
        institution,
        pair,
        now.to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    // A former mentor of this pair granted again takes their place back.
    sqlx::query!(
        "INSERT INTO mentoring.pair_members
             (institution_id, pair_id, participant_id, side, join_time)
         VALUES ($1, $2, $3, 'MENTOR', $4)
         ON CONFLICT (institution_id, pair_id, participant_id)
         DO UPDATE SET left_time = NULL, join_time = EXCLUDED.join_time
         WHERE mentoring.pair_members.side = 'MENTOR'",
        institution,
        pair,
        new_mentor,
        now.to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    pairs::end_agreement_in_force(
        conn,
        institution,
        pair,
        AgreementEndReason::MentorReplaced,
        now,
    )
    .await
}

/// Lapses the pair's PENDING petitions (the pair is completed or cancelled, and locked).
pub(crate) async fn lapse_pending(
    conn: &mut PgConnection,
    institution: &str,
    pair: &str,
    now: Timestamp,
) -> Result<(), ApiError> {
    sqlx::query!(
        "UPDATE mentoring.replacement_petitions
         SET state = 'LAPSED', decide_time = $3, update_time = $3, version = version + 1
         WHERE institution_id = $1 AND pair_id = $2 AND state = 'PENDING'",
        institution,
        pair,
        now.to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// One petition as shown.
pub async fn get(
    conn: &mut PgConnection,
    setting: &Setting,
    pair: &str,
    id: &str,
) -> Result<Petition, ApiError> {
    list_where(conn, setting, Some(pair), None, Some(id))
        .await?
        .pop()
        .ok_or_else(|| ApiError::not_found(petition_name(&setting.id, pair, id)))
}

/// The petitions of a pair (or of every pair with `None`), oldest first, optionally of one
/// state: the history of the pairs' mentors and the director's queue.
pub async fn list(
    conn: &mut PgConnection,
    setting: &Setting,
    pair: Option<&str>,
    state: Option<PetitionState>,
) -> Result<Vec<Petition>, ApiError> {
    list_where(conn, setting, pair, state, None).await
}

/// The filters of `ListReplacementPetitions`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PetitionFilter {
    /// This state only (the director's queue: PENDING).
    pub state: Option<PetitionState>,
    /// Only the petitions of this mentee, by participant ID (what a mentee or guardian sees).
    pub mentee: Option<String>,
    /// Only the petitions of one of these mentees, by participant ID: what a participant
    /// or the guardian of several minors may read. `None` for every petition.
    pub mentees: Option<Vec<String>>,
}

/// A page of `ListReplacementPetitions` of one pair, or with `pair` `None` of every pair of
/// the institution (`pairs/-`): at most `size` after the petition `after`, oldest first
/// (creation, then ID), each as [`get`] shows it.
pub async fn list_page(
    conn: &mut PgConnection,
    setting: &Setting,
    pair: Option<&str>,
    filter: &PetitionFilter,
    size: usize,
    after: Option<String>,
) -> Result<Page<Petition, String>, ApiError> {
    if let Some(pair) = pair {
        pairs::get(conn, setting, pair).await?;
    }
    let rows = sqlx::query!(
        "SELECT r.id, r.pair_id FROM mentoring.replacement_petitions r
         WHERE r.institution_id = $1
           AND ($2::text IS NULL OR r.pair_id = $2)
           AND ($3::text IS NULL OR r.state = $3)
           AND ($4::text IS NULL OR r.mentee_id = $4)
           AND ($5::text IS NULL OR (r.create_time, r.id) > (
                   SELECT s.create_time, s.id FROM mentoring.replacement_petitions s
                   WHERE s.institution_id = $1 AND s.id = $5))
           AND ($7::text[] IS NULL OR r.mentee_id = ANY($7))
         ORDER BY r.create_time, r.id
         LIMIT $6",
        setting.id,
        pair,
        filter.state.map(PetitionState::as_str),
        filter.mentee,
        after,
        edu_kit::paging::overfetch_limit(size),
        filter.mentees.as_deref(),
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut items = Vec::with_capacity(rows.len());
    for row in &rows {
        items.push(get(conn, setting, &row.pair_id, &row.id).await?);
    }
    Ok(Page::from_overfetch(items, size, |p| p.id.clone()))
}

async fn list_where(
    conn: &mut PgConnection,
    setting: &Setting,
    pair: Option<&str>,
    state: Option<PetitionState>,
    only: Option<&str>,
) -> Result<Vec<Petition>, ApiError> {
    let institution = setting.id.as_str();
    let rows = sqlx::query!(
        "SELECT id, pair_id, mentee_id, filed_by, reason, mentor_id, state, new_mentor_id,
                order_number, order_date, decision_reason, decide_time, create_time, version
         FROM mentoring.replacement_petitions
         WHERE institution_id = $1 AND ($2::text IS NULL OR pair_id = $2)
           AND ($3::text IS NULL OR state = $3) AND ($4::text IS NULL OR id = $4)
         ORDER BY create_time, id",
        institution,
        pair,
        state.map(PetitionState::as_str),
        only,
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut shown = Vec::with_capacity(rows.len());
    for row in rows {
        let redacted = pairs::is_redacted(conn, institution, &row.pair_id).await?;
        let mut ids = vec![row.mentee_id.clone(), row.mentor_id.clone()];
        ids.extend(row.new_mentor_id.clone());
        let mut people = participants::people(conn, institution, &ids, setting.today).await?;
        let new_mentor_person = (people.len() == 3).then(|| people.remove(2));
        let mentor_person = people.remove(1);
        let petitioner = people.remove(0);
        shown.push(Petition {
            name: petition_name(institution, &row.pair_id, &row.id),
            petitioner,
            filed_by: parsed("actor", &row.filed_by, ActorKind::parse)?,
            reason: shown_text(&row.reason, redacted).to_string(),
            mentor_person,
            state: parsed("petition state", &row.state, PetitionState::parse)?,
            new_mentor_person,
            order: row.order_number.zip(row.order_date).map(
                |(number, date): (String, jiff_sqlx::Date)| DirectorOrder {
                    number,
                    date: date.to_jiff(),
                },
            ),
            decision_reason: shown_text(&row.decision_reason, redacted).to_string(),
            decide_time: row.decide_time.map(|t| t.to_jiff()),
            redacted,
            create_time: row.create_time.to_jiff(),
            version: row.version,
            id: row.id,
        });
    }
    Ok(shown)
}
