//! Pairs and groups (rules 3–5, 8; choice 1: one resource with a `kind`): formed with the
//! domain's checks under the members' locks, fixed by the director's order, activated
//! through the domain's check on what the store found, completed or cancelled.

use jiff::Timestamp;
use jiff::civil::Date;
use jiff_sqlx::ToSqlx;
use serde_json::json;
use sqlx::PgConnection;

use edu_kit::paging::Page;
use edu_kit::{ApiError, CallContext, audit, etag};

use super::events::{self, EventKind};
use super::institutions::{self, Setting};
use super::participants::{self, Lock};
use super::{lock_order, pair_name, parsed, participant_name};
use crate::domain::agreement::{AgreementEndReason, AgreementState};
use crate::domain::completion::{
    CompletionInitiator, CompletionReason, CompletionRequest, check_completion,
    ensure_complete_date,
};
use crate::domain::pairs::meetings::check_form_change;
use crate::domain::pairs::{
    ActivationFacts, AgreementOnFile, Candidate, MemberConsent, check_activation, check_forming,
};
use crate::domain::redaction::{PersonView, pair_redacted, shown_text};
use crate::domain::{MentoringError, ParticipantRole};
use crate::domain::{MentoringForm, PairKind, PairState, PairType, Transition};

/// A pair or group as asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairDraft {
    /// The ID; a new one when empty.
    pub id: String,
    /// The pair type.
    pub pair_type: PairType,
    /// The form.
    pub form: MentoringForm,
    /// The mentor's ID.
    pub mentor: String,
    /// The mentees' IDs.
    pub mentees: Vec<String>,
    /// The goal.
    pub goal: String,
}

/// The director's order fixing a pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectorOrder {
    /// Its number.
    pub number: String,
    /// Its date.
    pub date: Date,
}

/// A pair or group as shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    /// The ID.
    pub id: String,
    /// The resource name.
    pub name: String,
    /// The pair type.
    pub pair_type: PairType,
    /// The form.
    pub form: MentoringForm,
    /// PAIR or GROUP.
    pub kind: PairKind,
    /// The state.
    pub state: PairState,
    /// The mentor as shown.
    pub mentor_person: PersonView,
    /// The current mentees as shown.
    pub mentee_people: Vec<PersonView>,
    /// The goal; empty when the pair is redacted.
    pub goal: String,
    /// The director's order.
    pub order: Option<DirectorOrder>,
    /// When it became ACTIVE last.
    pub activate_time: Option<Timestamp>,
    /// When it was suspended, and by whose revocations (resource names).
    pub suspension: Option<(Timestamp, Vec<String>)>,
    /// How it was completed.
    pub completion: Option<(CompletionReason, CompletionInitiator)>,
    /// The mentees who left the group, in the order they left, with how their part ended
    /// (`None` for a mentee who left before completions were recorded).
    pub former_mentees: Vec<FormerMentee>,
    /// Whether a member is redacted: its texts are then empty.
    pub redacted: bool,
    /// Its version, for etags.
    pub version: i64,
    /// When the director's order was recorded.
    pub order_record_time: Option<Timestamp>,
    /// The signed agreement in force, if any.
    pub agreement: Option<AgreementInForce>,
    /// When it was first ACTIVE (the start of its first period at work).
    pub first_activate_time: Option<Timestamp>,
    /// The completion's explanation; empty when the pair is redacted.
    pub completion_explanation: String,
    /// The day it ended, when COMPLETED.
    pub complete_date: Option<Date>,
    /// When the completion was recorded.
    pub complete_time: Option<Timestamp>,
    /// Why it was cancelled; empty when the pair is redacted.
    pub cancel_reason: String,
    /// When it was formed.
    pub create_time: Timestamp,
    /// When it last changed.
    pub update_time: Timestamp,
}

/// The signed agreement in force of a pair, as its answer shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgreementInForce {
    /// Its resource name.
    pub name: String,
    /// Its last day in force, with every extension.
    pub end_date: Date,
}

/// A mentee who left a group, as shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormerMentee {
    /// The mentee as shown.
    pub person: PersonView,
    /// How their part ended: the reason, the initiator, the day (the explanation is stored
    /// with them but, as for the pair's own completion, not read here).
    pub completion: Option<(CompletionReason, CompletionInitiator, Date)>,
    /// Their completion's explanation; empty when the pair is redacted.
    pub explanation: String,
    /// When they left.
    pub left_time: Option<Timestamp>,
}

/// A change of a pair's form or goal (`UpdatePair` `form`, `goal`); `None` leaves it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PairChange {
    /// A new form, checked for fit again.
    pub form: Option<MentoringForm>,
    /// A new goal.
    pub goal: Option<String>,
}

/// The filters of `ListPairs`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PairFilter {
    /// This state only.
    pub state: Option<PairState>,
    /// This pair type only.
    pub pair_type: Option<PairType>,
    /// This form only.
    pub form: Option<MentoringForm>,
    /// Pairs only, or groups only.
    pub kind: Option<PairKind>,
    /// Only those with this member (mentor, current or former mentee), by participant ID.
    pub member: Option<String>,
    /// Only those with one of these members (any member row, current or former), by
    /// participant ID: what a participant or guardian may read. `None` for every pair.
    pub visible_to: Option<Vec<String>>,
    /// Only those whose agreement in force has expired.
    pub agreement_expired_only: bool,
}

/// Forms a pair or group (`CreatePair`): the members locked in ID order (mentees
/// `FOR UPDATE`, the mentor `FOR SHARE`), then the domain's checks on what was found, in
/// the contract's order, then the pair FORMING.
pub async fn create(
    conn: &mut PgConnection,
    context: &CallContext,
    institution: &str,
    draft: &PairDraft,
) -> Result<Pair, ApiError> {
    let setting = institutions::setting(conn, institution, context.now()).await?;
    let mut all: Vec<&str> = vec![draft.mentor.as_str()];
    all.extend(draft.mentees.iter().map(String::as_str));
    for id in lock_order(&all) {
        let mode = if draft.mentees.contains(&id) {
            Lock::Update
        } else {
            Lock::Share
        };
        participants::lock_one(conn, institution, &id, mode).await?;
    }
    let found = participants::facts(conn, institution, &all).await?;
    let names: Vec<String> = all
        .iter()
        .map(|id| participant_name(institution, id))
        .collect();
    let candidate = |i: usize, mentor: bool| -> Result<Candidate<'_>, ApiError> {
        let f = found
            .iter()
            .find(|f| f.id == all[i])
            .ok_or_else(|| ApiError::not_found(names[i].clone()))?;
        Ok(Candidate {
            participant: &names[i],
            role: f.role,
            consent_in_force: f.consent_in_force,
            in_bank: if mentor {
                f.in_mentor_bank
            } else {
                f.in_mentee_bank
            },
            trained: f.training_recorded,
            mentee_pair: if mentor {
                None
            } else {
                f.mentee_pair.as_deref()
            },
        })
    };
    let mentor = candidate(0, true)?;
    let mentees = (1..all.len())
        .map(|i| candidate(i, false))
        .collect::<Result<Vec<_>, _>>()?;
    let kind = check_forming(draft.pair_type, draft.form, &mentor, &mentees)?;
    let id = if draft.id.is_empty() {
        edu_kit::resource::new_id()
    } else {
        draft.id.clone()
    };
    let now = context.now();
    let inserted = sqlx::query!(
        "INSERT INTO mentoring.pairs
             (institution_id, id, pair_type, form, kind, goal, create_time, update_time)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
         ON CONFLICT DO NOTHING",
        institution,
        id,
        draft.pair_type.as_str(),
        draft.form.as_str(),
        kind.as_str(),
        draft.goal,
        now.to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    if inserted.rows_affected() == 0 {
        return Err(ApiError::already_exists(pair_name(institution, &id)));
    }
    let sides: Vec<String> = (0..all.len())
        .map(|i| if i == 0 { "MENTOR" } else { "MENTEE" }.to_string())
        .collect();
    let members: Vec<String> = all.iter().map(|m| (*m).to_string()).collect();
    sqlx::query!(
        "INSERT INTO mentoring.pair_members
             (institution_id, pair_id, participant_id, side, join_time)
         SELECT $1, $2, member, side, $5
         FROM unnest($3::text[], $4::text[]) AS m (member, side)",
        institution,
        id,
        &members,
        &sides,
        now.to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    audit::record(
        conn,
        context,
        "pair.created",
        &pair_name(institution, &id),
        json!({ "pair_type": draft.pair_type.as_str(), "form": draft.form.as_str(),
                "kind": kind.as_str(), "mentor": names[0], "mentees": &names[1..] }),
    )
    .await?;
    get(conn, &setting, &id).await
}

/// Records the director's order fixing a FORMING pair (`UpdatePair` `order`); a stale
/// `supplied_etag` is `ETAG_MISMATCH` (empty skips the check).
pub async fn record_order(
    conn: &mut PgConnection,
    context: &CallContext,
    institution: &str,
    id: &str,
    order: &DirectorOrder,
    supplied_etag: &str,
) -> Result<Pair, ApiError> {
    let setting = institutions::setting(conn, institution, context.now()).await?;
    if order.date > setting.today {
        return Err(MentoringError::invalid_field(
            "pair.order.order_date",
            "must not be after today",
        )
        .into());
    }
    let state = lock_pair(conn, institution, id).await?;
    check_etag(conn, institution, id, supplied_etag).await?;
    state.ensure_order_recordable()?;
    let now = context.now();
    sqlx::query!(
        "UPDATE mentoring.pairs
         SET order_number = $3, order_date = $4, order_record_time = $5, update_time = $5,
             version = version + 1
         WHERE institution_id = $1 AND id = $2",
        institution,
        id,
        order.number,
        order.date.to_sqlx(),
        now.to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    audit::record(
        conn,
        context,
        "pair.order_recorded",
        &pair_name(institution, id),
        json!({ "number": order.number, "date": order.date.to_string() }),
    )
    .await?;
    get(conn, &setting, id).await
}

/// Activates a FORMING pair or resumes a SUSPENDED one (`ActivatePair`): the members
/// locked `FOR SHARE` in ID order, then the pair, then the domain's check on their consents,
/// the agreement and the order. Emits `PAIR_ACTIVATED`. A stale `supplied_etag` is
/// `ETAG_MISMATCH` (empty skips the check).
pub async fn activate(
    conn: &mut PgConnection,
    context: &CallContext,
    institution: &str,
    id: &str,
    supplied_etag: &str,
) -> Result<Pair, ApiError> {
    let setting = institutions::setting(conn, institution, context.now()).await?;
    let members = current_members(conn, institution, id).await?;
    if members.is_empty() {
        return Err(ApiError::not_found(pair_name(institution, id)));
    }
    let ids: Vec<&str> = members.iter().map(|(m, _)| m.as_str()).collect();
    participants::lock(conn, institution, &ids, Lock::Share).await?;
    let state = lock_pair(conn, institution, id).await?;
    check_etag(conn, institution, id, supplied_etag).await?;
    if current_members(conn, institution, id).await? != members {
        return Err(ApiError::new(
            edu_kit::error::ErrorKind::Aborted,
            edu_kit::error::reason::CONCURRENT_CHANGE,
            "the pair's members changed; retry",
        ));
    }
    let found = participants::facts(conn, institution, &ids).await?;
    let names: Vec<String> = ids
        .iter()
        .map(|m| participant_name(institution, m))
        .collect();
    let consents: Vec<MemberConsent<'_>> = ids
        .iter()
        .zip(&names)
        .map(|(m, name)| MemberConsent {
            participant: name,
            in_force: found.iter().any(|f| &f.id == m && f.consent_in_force),
        })
        .collect();
    let agreement = sqlx::query!(
        "SELECT id, state, end_date FROM mentoring.agreements
         WHERE institution_id = $1 AND pair_id = $2
         ORDER BY (state = 'SIGNED') DESC, sign_date DESC, create_time DESC, id
         LIMIT 1",
        institution,
        id
    )
    .fetch_optional(&mut *conn)
    .await?;
    let agreement_name = agreement
        .as_ref()
        .map(|a| super::agreement_name(institution, id, &a.id));
    let on_file = match (&agreement, &agreement_name) {
        (Some(a), Some(name)) => Some(AgreementOnFile {
            name,
            state: parsed("agreement state", &a.state, AgreementState::parse)?,
            end_date: a.end_date.to_jiff(),
        }),
        _ => None,
    };
    let order_recorded = sqlx::query_scalar!(
        r#"SELECT order_number IS NOT NULL AS "recorded!" FROM mentoring.pairs
           WHERE institution_id = $1 AND id = $2"#,
        institution,
        id
    )
    .fetch_one(&mut *conn)
    .await?;
    check_activation(&ActivationFacts {
        state,
        members: &consents,
        agreement: on_file,
        order_recorded,
        today: setting.today,
    })?;
    let now = context.now();
    sqlx::query!(
        "UPDATE mentoring.pairs
         SET state = 'ACTIVE', activate_time = $3, suspend_time = NULL, suspended_by = '{}',
             update_time = $3, version = version + 1
         WHERE institution_id = $1 AND id = $2",
        institution,
        id,
        now.to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    let name = pair_name(institution, id);
    audit::record(
        conn,
        context,
        "pair.activated",
        &name,
        json!({ "from": state.as_str(), "to": "ACTIVE" }),
    )
    .await?;
    super::monitoring::join_open_rounds(conn, &setting, id, now).await?;
    events::record(
        conn,
        EventKind::PairActivated,
        &name,
        institution,
        &setting.region_code,
        now,
    )
    .await?;
    get(conn, &setting, id).await
}

/// A completion as asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompletionDraft {
    /// Why.
    pub reason: CompletionReason,
    /// On whose initiative.
    pub initiator: CompletionInitiator,
    /// The circumstances.
    pub explanation: String,
    /// The day it ended.
    pub complete_date: Date,
}

/// Completes an ACTIVE or SUSPENDED pair (`CompletePair`) through the domain's check; its
/// agreement in force ends (PROGRAMME_COMPLETED) and its pending petitions lapse. Emits
/// `PAIR_COMPLETED`. PLAN_COMPLETED needs the plan carried out, counted under the pair's
/// lock (plan changes lock the pair too).
pub async fn complete(
    conn: &mut PgConnection,
    context: &CallContext,
    institution: &str,
    id: &str,
    draft: &CompletionDraft,
    supplied_etag: &str,
) -> Result<Pair, ApiError> {
    let setting = institutions::setting(conn, institution, context.now()).await?;
    let locked = lock_for_work(conn, &setting, id).await?;
    let state = locked.state;
    etag::check(supplied_etag, locked.version, &pair_name(institution, id))?;
    check_complete_date(&setting, &locked, draft.complete_date)?;
    check_completion(
        state,
        &CompletionRequest {
            reason: draft.reason,
            initiator: draft.initiator,
            explanation: &draft.explanation,
            one_mentee: false,
        },
        super::plans::progress(conn, institution, id).await?,
    )?;
    close_as_completed(conn, context, &setting, id, state, draft).await?;
    get(conn, &setting, id).await
}

/// The domain's bounds of a completion day: not after today, not before the pair's first
/// activation (both in the institution's zone).
fn check_complete_date(setting: &Setting, locked: &Locked, day: Date) -> Result<(), ApiError> {
    let first = match locked.first_activation {
        Some(at) => Some(super::day_in(&setting.time_zone, at)?),
        None => None,
    };
    Ok(ensure_complete_date(day, first, setting.today)?)
}

/// Marks a locked pair COMPLETED, ends its agreement in force, audits and emits
/// `PAIR_COMPLETED` (for [`complete`] and an agreement's termination).
pub(crate) async fn close_as_completed(
    conn: &mut PgConnection,
    context: &CallContext,
    setting: &Setting,
    id: &str,
    from: PairState,
    draft: &CompletionDraft,
) -> Result<(), ApiError> {
    let institution = setting.id.as_str();
    let now = context.now();
    sqlx::query!(
        "UPDATE mentoring.pairs
         SET state = 'COMPLETED', suspend_time = NULL, completion_reason = $3,
             completion_initiator = $4, completion_explanation = $5, complete_date = $6,
             complete_time = $7, update_time = $7, version = version + 1
         WHERE institution_id = $1 AND id = $2",
        institution,
        id,
        draft.reason.as_str(),
        draft.initiator.as_str(),
        draft.explanation,
        draft.complete_date.to_sqlx(),
        now.to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    end_agreement_in_force(
        conn,
        institution,
        id,
        AgreementEndReason::ProgrammeCompleted,
        now,
    )
    .await?;
    super::petitions::lapse_pending(conn, institution, id, now).await?;
    let name = pair_name(institution, id);
    audit::record(
        conn,
        context,
        "pair.completed",
        &name,
        json!({ "from": from.as_str(), "reason": draft.reason.as_str(),
                "initiator": draft.initiator.as_str() }),
    )
    .await?;
    events::record(
        conn,
        EventKind::PairCompleted,
        &name,
        institution,
        &setting.region_code,
        now,
    )
    .await
}

/// Changes a pair's form or goal (`UpdatePair` `form`, `goal`) under the pair's lock: a
/// stale etag (`ETAG_MISMATCH`), then the domain's form change (FORMING or ACTIVE, the
/// members' roles fitting the type in the new form, a SPEED pair with at most one meeting);
/// a goal alone needs FORMING or ACTIVE too. The members' roles cannot change meanwhile: a
/// role change is refused for anyone in an open pair.
pub async fn update(
    conn: &mut PgConnection,
    context: &CallContext,
    institution: &str,
    id: &str,
    change: &PairChange,
    supplied_etag: &str,
) -> Result<Pair, ApiError> {
    let setting = institutions::setting(conn, institution, context.now()).await?;
    let locked = lock_for_work(conn, &setting, id).await?;
    etag::check(supplied_etag, locked.version, &pair_name(institution, id))?;
    if let Some(form) = change.form {
        let members = current_members(conn, institution, id).await?;
        let ids: Vec<&str> = members.iter().map(|(m, _)| m.as_str()).collect();
        let found = participants::facts(conn, institution, &ids).await?;
        let names: Vec<String> = ids
            .iter()
            .map(|m| participant_name(institution, m))
            .collect();
        let mut mentor = None;
        let mut mentees: Vec<(&str, ParticipantRole)> = vec![];
        for ((member, is_mentor), name) in members.iter().zip(&names) {
            let role = found
                .iter()
                .find(|f| &f.id == member)
                .map(|f| f.role)
                .ok_or_else(|| super::corrupt("pair member", member))?;
            if *is_mentor {
                mentor = Some((name.as_str(), role));
            } else {
                mentees.push((name.as_str(), role));
            }
        }
        let mentor = mentor.ok_or_else(|| super::corrupt("pair without a mentor", id))?;
        let meetings = sqlx::query_scalar!(
            r#"SELECT count(*) AS "n!" FROM mentoring.meetings
               WHERE institution_id = $1 AND pair_id = $2"#,
            institution,
            id
        )
        .fetch_one(&mut *conn)
        .await?;
        check_form_change(
            locked.state,
            locked.pair_type,
            form,
            mentor,
            &mentees,
            u32::try_from(meetings).unwrap_or(u32::MAX),
        )?;
    } else if change.goal.is_some() {
        locked.state.ensure_form_changeable()?;
    }
    let now = context.now();
    sqlx::query!(
        "UPDATE mentoring.pairs
         SET form = coalesce($3, form), goal = coalesce($4, goal), update_time = $5,
             version = version + 1
         WHERE institution_id = $1 AND id = $2",
        institution,
        id,
        change.form.map(MentoringForm::as_str),
        change.goal,
        now.to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    audit::record(
        conn,
        context,
        "pair.updated",
        &pair_name(institution, id),
        json!({ "form": change.form.map(MentoringForm::as_str),
                "goal": change.goal.is_some() }),
    )
    .await?;
    get(conn, &setting, id).await
}

/// One mentee leaves a group (`CompletePair` with `mentee`): the mentee locked
/// `FOR UPDATE` first (participants first; this frees them to be paired again), then the
/// group; a stale etag (`ETAG_MISMATCH`); `INVALID_FIELDS` (`mentee`) for a pair, or for
/// someone who is not a current mentee of the group; then the domain's completion rules
/// for one mentee (a reason of their own, an ACTIVE or SUSPENDED group). Their member row
/// gets `left_time` and the completion, their unanswered questionnaires of the group are
/// withdrawn, and the group goes on in its state (a group suspended by their revocation no
/// longer waits for them). The last mentee leaving completes the group instead, as
/// [`complete`] does (they stay its mentee, as in a completed pair).
pub async fn complete_mentee(
    conn: &mut PgConnection,
    context: &CallContext,
    institution: &str,
    id: &str,
    mentee: &str,
    draft: &CompletionDraft,
    supplied_etag: &str,
) -> Result<Pair, ApiError> {
    let setting = institutions::setting(conn, institution, context.now()).await?;
    let not_a_mentee = || -> ApiError {
        MentoringError::invalid_field("mentee", "not a current mentee of the group").into()
    };
    match participants::lock_one(conn, institution, mentee, Lock::Update).await {
        Ok(()) => {}
        Err(e) if e.kind == edu_kit::error::ErrorKind::NotFound => return Err(not_a_mentee()),
        Err(e) => return Err(e),
    }
    let locked = lock_for_work(conn, &setting, id).await?;
    etag::check(supplied_etag, locked.version, &pair_name(institution, id))?;
    if locked.kind != PairKind::Group {
        return Err(MentoringError::invalid_field(
            "mentee",
            "a pair has one mentee; complete the pair instead",
        )
        .into());
    }
    let members = current_members(conn, institution, id).await?;
    if !members.iter().any(|(m, mentor)| !mentor && m == mentee) {
        return Err(not_a_mentee());
    }
    check_complete_date(&setting, &locked, draft.complete_date)?;
    check_completion(
        locked.state,
        &CompletionRequest {
            reason: draft.reason,
            initiator: draft.initiator,
            explanation: &draft.explanation,
            one_mentee: true,
        },
        super::plans::progress(conn, institution, id).await?,
    )?;
    let remaining = members.iter().filter(|(_, mentor)| !mentor).count() - 1;
    if remaining == 0 {
        close_as_completed(conn, context, &setting, id, locked.state, draft).await?;
        return get(conn, &setting, id).await;
    }
    let now = context.now();
    sqlx::query!(
        "UPDATE mentoring.pair_members
         SET left_time = $4, completion_reason = $5, completion_initiator = $6,
             completion_explanation = $7, complete_date = $8
         WHERE institution_id = $1 AND pair_id = $2 AND participant_id = $3",
        institution,
        id,
        mentee,
        now.to_sqlx(),
        draft.reason.as_str(),
        draft.initiator.as_str(),
        draft.explanation,
        draft.complete_date.to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    let withdrawn = release_mentee(conn, institution, id, mentee, now).await?;
    audit::record(
        conn,
        context,
        "pair.mentee_left",
        &pair_name(institution, id),
        json!({ "mentee": participant_name(institution, mentee),
                "reason": draft.reason.as_str(), "initiator": draft.initiator.as_str(),
                "questionnaires_withdrawn": withdrawn }),
    )
    .await?;
    get(conn, &setting, id).await
}

/// What follows a mentee's leaving group `pair` at `now`, whether by completion or by a
/// unilateral termination of the agreement: they no longer hold the group suspended, and
/// their questionnaires still SENT in an open round are WITHDRAWN. Returns how many were
/// withdrawn, for the audit record.
pub(crate) async fn release_mentee(
    conn: &mut PgConnection,
    institution: &str,
    pair: &str,
    mentee: &str,
    now: Timestamp,
) -> Result<u64, ApiError> {
    sqlx::query!(
        "UPDATE mentoring.pairs
         SET suspended_by = array_remove(suspended_by, $3), update_time = $4,
             version = version + 1
         WHERE institution_id = $1 AND id = $2",
        institution,
        pair,
        mentee,
        now.to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    let withdrawn = sqlx::query!(
        "UPDATE mentoring.questionnaires q
         SET state = 'WITHDRAWN', update_time = $4, version = q.version + 1
         FROM mentoring.monitoring_rounds r
         WHERE q.institution_id = $1 AND q.pair_id = $2 AND q.participant_id = $3
           AND q.state = 'SENT'
           AND r.institution_id = q.institution_id AND r.id = q.round_id AND r.state = 'OPEN'",
        institution,
        pair,
        mentee,
        now.to_sqlx(),
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(withdrawn)
}

/// `ETAG_MISMATCH` unless `supplied` is empty or names the pair's version (the pair is
/// locked by the caller).
async fn check_etag(
    conn: &mut PgConnection,
    institution: &str,
    id: &str,
    supplied: &str,
) -> Result<(), ApiError> {
    let version = sqlx::query_scalar!(
        "SELECT version FROM mentoring.pairs WHERE institution_id = $1 AND id = $2",
        institution,
        id
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| ApiError::not_found(pair_name(institution, id)))?;
    etag::check(supplied, version, &pair_name(institution, id))
}

/// Cancels a FORMING pair (`CancelPair`); a CANCELLED one is answered unchanged. Its
/// agreement in force ends (PAIR_CANCELLED); the mentees are free again.
pub async fn cancel(
    conn: &mut PgConnection,
    context: &CallContext,
    institution: &str,
    id: &str,
    reason: &str,
    supplied_etag: &str,
) -> Result<Pair, ApiError> {
    let setting = institutions::setting(conn, institution, context.now()).await?;
    let state = lock_pair(conn, institution, id).await?;
    check_etag(conn, institution, id, supplied_etag).await?;
    if state.cancel()? == Transition::Changed {
        let now = context.now();
        sqlx::query!(
            "UPDATE mentoring.pairs
             SET state = 'CANCELLED', cancel_reason = $3, update_time = $4, version = version + 1
             WHERE institution_id = $1 AND id = $2",
            institution,
            id,
            reason,
            now.to_sqlx(),
        )
        .execute(&mut *conn)
        .await?;
        end_agreement_in_force(
            conn,
            institution,
            id,
            AgreementEndReason::PairCancelled,
            now,
        )
        .await?;
        super::petitions::lapse_pending(conn, institution, id, now).await?;
        audit::record(
            conn,
            context,
            "pair.cancelled",
            &pair_name(institution, id),
            json!({ "from": state.as_str() }),
        )
        .await?;
    }
    get(conn, &setting, id).await
}

/// Ends the pair's SIGNED agreement, if any, with `reason` (the pair is locked).
pub(crate) async fn end_agreement_in_force(
    conn: &mut PgConnection,
    institution: &str,
    pair: &str,
    reason: AgreementEndReason,
    now: Timestamp,
) -> Result<(), ApiError> {
    sqlx::query!(
        "UPDATE mentoring.agreements
         SET state = 'ENDED', end_reason = $3, end_time = $4, update_time = $4,
             version = version + 1
         WHERE institution_id = $1 AND pair_id = $2 AND state = 'SIGNED'",
        institution,
        pair,
        reason.as_str(),
        now.to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Locks a pair's row (after its members' rows, by the module doc's order) and answers its
/// state; `NOT_FOUND` when missing.
pub(crate) async fn lock_pair(
    conn: &mut PgConnection,
    institution: &str,
    id: &str,
) -> Result<PairState, ApiError> {
    let state = sqlx::query_scalar!(
        "SELECT state FROM mentoring.pairs WHERE institution_id = $1 AND id = $2 FOR UPDATE",
        institution,
        id
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| ApiError::not_found(pair_name(institution, id)))?;
    parsed("pair state", &state, PairState::parse)
}

/// The pair's current members, mentor first, then the mentees by ID, with their side
/// (`true` for the mentor).
pub(crate) async fn current_members(
    conn: &mut PgConnection,
    institution: &str,
    pair: &str,
) -> Result<Vec<(String, bool)>, ApiError> {
    let rows = sqlx::query!(
        r#"SELECT participant_id, side = 'MENTOR' AS "mentor!" FROM mentoring.pair_members
           WHERE institution_id = $1 AND pair_id = $2 AND left_time IS NULL
           ORDER BY side = 'MENTOR' DESC, participant_id"#,
        institution,
        pair
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.participant_id, r.mentor))
        .collect())
}

/// Every member a pair ever had, current or former (a mentee who left a group, a mentor
/// replaced by a granted petition), by participant ID, with their side (`true` for the
/// mentor) and whether they are a member still: who may read the pair, and which of them
/// petition as mentees. Empty when the pair does not exist.
pub async fn members_ever(
    conn: &mut PgConnection,
    institution: &str,
    pair: &str,
) -> Result<Vec<EverMember>, ApiError> {
    let rows = sqlx::query!(
        r#"SELECT participant_id, side = 'MENTOR' AS "mentor!", left_time IS NULL AS "current!"
           FROM mentoring.pair_members
           WHERE institution_id = $1 AND pair_id = $2
           ORDER BY side = 'MENTOR' DESC, participant_id"#,
        institution,
        pair
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| EverMember {
            id: r.participant_id,
            mentor: r.mentor,
            current: r.current,
        })
        .collect())
}

/// A member of a pair, current or former ([`members_ever`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EverMember {
    /// The participant's ID.
    pub id: String,
    /// Whether on the mentor's side.
    pub mentor: bool,
    /// Whether a member still.
    pub current: bool,
}

/// One pair as shown, its people through the one read of people.
pub async fn get(conn: &mut PgConnection, setting: &Setting, id: &str) -> Result<Pair, ApiError> {
    list_where(conn, setting, Some(id))
        .await?
        .pop()
        .ok_or_else(|| ApiError::not_found(pair_name(&setting.id, id)))
}

/// The institution's pairs and groups as shown, by ID (every one: for the store's own use
/// and tests; the API pages with [`list_page`]).
pub async fn list(conn: &mut PgConnection, setting: &Setting) -> Result<Vec<Pair>, ApiError> {
    list_where(conn, setting, None).await
}

/// A page of `ListPairs`: at most `size` pairs and groups after the pair `after`, oldest
/// first, then by ID, each as [`get`] shows it.
pub async fn list_page(
    conn: &mut PgConnection,
    setting: &Setting,
    filter: &PairFilter,
    size: usize,
    after: Option<String>,
) -> Result<Page<Pair, String>, ApiError> {
    let ids = sqlx::query_scalar!(
        "SELECT p.id FROM mentoring.pairs p
         WHERE p.institution_id = $1
           AND ($2::text IS NULL OR p.state = $2)
           AND ($3::text IS NULL OR p.pair_type = $3)
           AND ($4::text IS NULL OR p.form = $4)
           AND ($5::text IS NULL OR p.kind = $5)
           AND ($6::text IS NULL OR EXISTS (
                   SELECT 1 FROM mentoring.pair_members m
                   WHERE m.institution_id = p.institution_id AND m.pair_id = p.id
                     AND m.participant_id = $6))
           AND (NOT $7 OR EXISTS (
                   SELECT 1 FROM mentoring.agreements a
                   WHERE a.institution_id = p.institution_id AND a.pair_id = p.id
                     AND a.state = 'SIGNED' AND a.end_date < $8))
           AND ($9::text IS NULL OR (p.create_time, p.id) > (
                   SELECT q.create_time, q.id FROM mentoring.pairs q
                   WHERE q.institution_id = $1 AND q.id = $9))
           AND ($11::text[] IS NULL OR EXISTS (
                   SELECT 1 FROM mentoring.pair_members v
                   WHERE v.institution_id = p.institution_id AND v.pair_id = p.id
                     AND v.participant_id = ANY($11)))
         ORDER BY p.create_time, p.id
         LIMIT $10",
        setting.id,
        filter.state.map(PairState::as_str),
        filter.pair_type.map(PairType::as_str),
        filter.form.map(MentoringForm::as_str),
        filter.kind.map(PairKind::as_str),
        filter.member,
        filter.agreement_expired_only,
        setting.today.to_sqlx(),
        after,
        edu_kit::paging::overfetch_limit(size),
        filter.visible_to.as_deref(),
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut items = Vec::with_capacity(ids.len());
    for id in &ids {
        items.push(get(conn, setting, id).await?);
    }
    Ok(Page::from_overfetch(items, size, |p| p.id.clone()))
}

async fn list_where(
    conn: &mut PgConnection,
    setting: &Setting,
    only: Option<&str>,
) -> Result<Vec<Pair>, ApiError> {
    let institution = setting.id.as_str();
    let rows = sqlx::query!(
        r#"SELECT p.id, p.pair_type, p.form, p.kind, p.state, p.goal, p.order_number, p.order_date,
                  p.order_record_time, p.activate_time, p.suspend_time, p.suspended_by,
                  p.completion_reason, p.completion_initiator, p.completion_explanation,
                  p.complete_date, p.complete_time, p.cancel_reason, p.create_time,
                  p.update_time, p.version,
                  (SELECT min(pp.start_time) FROM mentoring.pair_periods pp
                   WHERE pp.institution_id = p.institution_id AND pp.pair_id = p.id)
                      AS first_activation,
                  a.id AS "agreement_id?", a.end_date AS "agreement_end_date?"
           FROM mentoring.pairs p
           LEFT JOIN mentoring.agreements a
                  ON a.institution_id = p.institution_id AND a.pair_id = p.id
                 AND a.state = 'SIGNED'
           WHERE p.institution_id = $1 AND ($2::text IS NULL OR p.id = $2)
           ORDER BY p.id"#,
        institution,
        only,
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut pairs = Vec::with_capacity(rows.len());
    for row in rows {
        let members = current_members(conn, institution, &row.id).await?;
        let ids: Vec<String> = members.iter().map(|(m, _)| m.clone()).collect();
        let mut people = participants::people(conn, institution, &ids, setting.today).await?;
        let former_rows = sqlx::query!(
            "SELECT participant_id, completion_reason, completion_initiator, complete_date,
                    completion_explanation, left_time
             FROM mentoring.pair_members
             WHERE institution_id = $1 AND pair_id = $2 AND left_time IS NOT NULL
               AND side = 'MENTEE'
             ORDER BY left_time, participant_id",
            institution,
            row.id
        )
        .fetch_all(&mut *conn)
        .await?;
        let former: Vec<String> = former_rows
            .iter()
            .map(|f| f.participant_id.clone())
            .collect();
        let former_people = participants::people(conn, institution, &former, setting.today).await?;
        let redacted = pair_redacted(people.iter().chain(&former_people).map(|p| p.redacted));
        let mut former_mentees = Vec::with_capacity(former_rows.len());
        for (f, person) in former_rows.iter().zip(&former_people) {
            let completion = match (
                &f.completion_reason,
                &f.completion_initiator,
                f.complete_date,
            ) {
                (Some(reason), Some(initiator), Some(day)) => Some((
                    parsed("completion reason", reason, CompletionReason::parse)?,
                    parsed(
                        "completion initiator",
                        initiator,
                        CompletionInitiator::parse,
                    )?,
                    day.to_jiff(),
                )),
                _ => None,
            };
            former_mentees.push(FormerMentee {
                person: person.clone(),
                completion,
                explanation: shown_text(
                    f.completion_explanation.as_deref().unwrap_or(""),
                    redacted,
                )
                .to_string(),
                left_time: f.left_time.map(|t| t.to_jiff()),
            });
        }
        if people.is_empty() {
            return Err(super::corrupt("pair without members", &row.id));
        }
        let mentor_person = people.remove(0);
        let completion = match (&row.completion_reason, &row.completion_initiator) {
            (Some(reason), Some(initiator)) => Some((
                parsed("completion reason", reason, CompletionReason::parse)?,
                parsed(
                    "completion initiator",
                    initiator,
                    CompletionInitiator::parse,
                )?,
            )),
            _ => None,
        };
        pairs.push(Pair {
            name: pair_name(institution, &row.id),
            pair_type: parsed("pair type", &row.pair_type, PairType::parse)?,
            form: parsed("form", &row.form, MentoringForm::parse)?,
            kind: parsed("pair kind", &row.kind, PairKind::parse)?,
            state: parsed("pair state", &row.state, PairState::parse)?,
            mentor_person,
            mentee_people: people,
            goal: shown_text(&row.goal, redacted).to_string(),
            order: row
                .order_number
                .zip(row.order_date)
                .map(|(number, date)| DirectorOrder {
                    number,
                    date: date.to_jiff(),
                }),
            activate_time: row.activate_time.map(|t| t.to_jiff()),
            suspension: row.suspend_time.map(|t| {
                (
                    t.to_jiff(),
                    row.suspended_by
                        .iter()
                        .map(|p| participant_name(institution, p))
                        .collect(),
                )
            }),
            completion,
            former_mentees,
            redacted,
            version: row.version,
            order_record_time: row.order_record_time.map(|t| t.to_jiff()),
            agreement: row
                .agreement_id
                .zip(row.agreement_end_date)
                .map(|(agreement, end)| AgreementInForce {
                    name: super::agreement_name(institution, &row.id, &agreement),
                    end_date: end.to_jiff(),
                }),
            first_activate_time: row.first_activation.map(|t| t.to_jiff()),
            completion_explanation: shown_text(&row.completion_explanation, redacted).to_string(),
            complete_date: row.complete_date.map(|d| d.to_jiff()),
            complete_time: row.complete_time.map(|t| t.to_jiff()),
            cancel_reason: shown_text(&row.cancel_reason, redacted).to_string(),
            create_time: row.create_time.to_jiff(),
            update_time: row.update_time.to_jiff(),
            id: row.id,
        });
    }
    Ok(pairs)
}

/// What the pair's sub-resources need to know of a pair, read under its lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Locked {
    pub state: PairState,
    pub form: MentoringForm,
    pub pair_type: PairType,
    pub kind: PairKind,
    /// The day it was formed, in the institution's zone.
    pub formed: Date,
    /// The first instant it was ever ACTIVE.
    pub first_activation: Option<Timestamp>,
    pub version: i64,
}

/// Locks a pair's row (after any participants', by the module doc's order) and reads what
/// its plan, meetings and petitions need; `NOT_FOUND` when missing.
pub(crate) async fn lock_for_work(
    conn: &mut PgConnection,
    setting: &Setting,
    id: &str,
) -> Result<Locked, ApiError> {
    let institution = setting.id.as_str();
    let row = sqlx::query!(
        r#"SELECT p.state, p.form, p.pair_type, p.kind, p.create_time, p.version,
                  (SELECT min(start_time) FROM mentoring.pair_periods pp
                   WHERE pp.institution_id = p.institution_id AND pp.pair_id = p.id)
                      AS first_activation
           FROM mentoring.pairs p WHERE p.institution_id = $1 AND p.id = $2 FOR UPDATE OF p"#,
        institution,
        id
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| ApiError::not_found(pair_name(institution, id)))?;
    Ok(Locked {
        state: parsed("pair state", &row.state, PairState::parse)?,
        form: parsed("form", &row.form, MentoringForm::parse)?,
        pair_type: parsed("pair type", &row.pair_type, PairType::parse)?,
        kind: parsed("pair kind", &row.kind, PairKind::parse)?,
        formed: super::day_in(&setting.time_zone, row.create_time.to_jiff())?,
        first_activation: row.first_activation.map(|t| t.to_jiff()),
        version: row.version,
    })
}

/// Whether the pair's texts are hidden: a member, current or former, is redacted (the
/// domain's [`pair_redacted`]).
pub(crate) async fn is_redacted(
    conn: &mut PgConnection,
    institution: &str,
    id: &str,
) -> Result<bool, ApiError> {
    let flags = sqlx::query_scalar!(
        r#"SELECT NOT EXISTS (SELECT 1 FROM mentoring.consents c
                              WHERE c.institution_id = m.institution_id
                                AND c.participant_id = m.participant_id
                                AND c.purpose = 'PERSONAL_DATA' AND c.state = 'GIVEN') AS "redacted!"
           FROM mentoring.pair_members m WHERE m.institution_id = $1 AND m.pair_id = $2"#,
        institution,
        id
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(pair_redacted(flags))
}
