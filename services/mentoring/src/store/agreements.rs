//! Agreements (rule 6; App. 3; choice 10): recorded once signed by the pair's members (or a
//! minor's representative), extended by mutual agreement, violations recorded, terminated
//! by agreement or unilaterally after three violations of the other party. Lock order:
//! the members, then the pair, then the agreement.

use jiff::Timestamp;
use jiff::civil::Date;
use jiff_sqlx::ToSqlx;
use serde_json::json;
use sqlx::PgConnection;

use edu_kit::paging::Page;
use edu_kit::{ApiError, CallContext, audit, etag};

use super::institutions::{self, Setting};
use super::pairs::{self, CompletionDraft};
use super::participants::{self, Lock};
use super::{agreement_name, parsed, participant_name};
use crate::domain::agreement::{
    AgreementEndReason, AgreementState, Term, Termination, check_termination, ensure_day_in_term,
    ensure_tasks,
};
use crate::domain::completion::CompletionReason;
use crate::domain::consent::{ConsentPurpose, GuardianRelation};
use crate::domain::redaction::{PersonView, pair_redacted, shown_text};
use crate::domain::{MentoringError, PairSide, PairState};

/// A representative who signed for a party.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Representative {
    /// The party's participant ID.
    pub participant: String,
    /// The representative's names in one line.
    pub name: String,
    /// How they are related.
    pub relation: GuardianRelation,
}

/// An agreement as signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgreementDraft {
    /// The tasks.
    pub tasks: Vec<String>,
    /// Its months.
    pub duration_months: u32,
    /// The day the parties signed.
    pub sign_date: Date,
    /// Representatives who signed for parties.
    pub representatives: Vec<Representative>,
}

/// A termination as asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TerminationDraft<'a> {
    /// By agreement of the parties.
    Mutual,
    /// By one side against `violator` of the other side.
    Unilateral {
        /// The terminating side.
        by: PairSide,
        /// The other party's participant ID.
        violator: &'a str,
    },
}

/// An extension as agreed by the parties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtensionDraft {
    /// The months added.
    pub months: u32,
    /// The supplementary agreement it rests on.
    pub basis: String,
    /// The day the parties agreed.
    pub agree_date: Date,
}

/// A violation as reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViolationDraft {
    /// The party who violated the agreement, by participant ID.
    pub violator: String,
    /// What happened.
    pub description: String,
    /// The day it happened.
    pub occur_date: Date,
}

/// How a party signed and whether they still are one, as shown (aligned with
/// [`Agreement::parties`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartyTerms {
    /// The representative who signed for a minor party, with their relation; `None` for an
    /// adult, and for a redacted party (the representative's name is theirs to hide).
    pub representative: Option<(String, GuardianRelation)>,
    /// Whether the party, a mentee of a group, has left it: the agreement no longer binds
    /// them.
    pub left: bool,
}

/// An extension as shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtensionShown {
    /// The months added.
    pub months: u32,
    /// The supplementary agreement it rests on.
    pub basis: String,
    /// The day the parties agreed.
    pub agree_date: Date,
    /// When it was recorded.
    pub record_time: Timestamp,
}

/// A violation as shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViolationShown {
    /// The violator's resource name.
    pub violator: String,
    /// Their side.
    pub violator_side: PairSide,
    /// What happened; empty when the pair is redacted.
    pub description: String,
    /// The day it happened.
    pub occur_date: Date,
    /// When it was recorded.
    pub record_time: Timestamp,
}

/// An agreement as shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agreement {
    /// The ID.
    pub id: String,
    /// The resource name.
    pub name: String,
    /// The parties as shown, with their side.
    pub parties: Vec<(PersonView, PairSide)>,
    /// Each party's representative and whether they left, in the order of `parties`.
    pub party_terms: Vec<PartyTerms>,
    /// The tasks; empty when the pair is redacted.
    pub tasks: Vec<String>,
    /// SIGNED or ENDED.
    pub state: AgreementState,
    /// The term.
    pub term: Term,
    /// The last day in force.
    pub end_date: Date,
    /// The extensions, oldest first.
    pub extensions: Vec<ExtensionShown>,
    /// The violations recorded, oldest first.
    pub violations: Vec<ViolationShown>,
    /// Why it ended, once ENDED.
    pub end_reason: Option<AgreementEndReason>,
    /// For a unilateral termination, the side that terminated.
    pub terminated_by: Option<PairSide>,
    /// The explanation given when it was terminated; empty when the pair is redacted.
    pub end_explanation: String,
    /// When it ended.
    pub end_time: Option<Timestamp>,
    /// Whether the pair is redacted.
    pub redacted: bool,
    /// When it was recorded.
    pub create_time: Timestamp,
    /// When it last changed.
    pub update_time: Timestamp,
    /// Its version, for etags.
    pub version: i64,
}

/// The filters of `ListAgreements`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AgreementFilter {
    /// This state only.
    pub state: Option<AgreementState>,
    /// Only SIGNED agreements that have expired.
    pub expired_only: bool,
    /// Only agreements of pairs one of these participants is or was a member of (by ID):
    /// what a mentor, a mentee or a guardian sees of `pairs/-`; `None` for every pair.
    pub members: Option<Vec<String>>,
}

/// Records a signed agreement of an open pair (`CreateAgreement`): every member's consent
/// in force (`CONSENT_MISSING`), one in force per pair (`ALREADY_EXISTS`), tasks and months
/// by the domain.
pub async fn create(
    conn: &mut PgConnection,
    context: &CallContext,
    institution: &str,
    pair: &str,
    draft: &AgreementDraft,
) -> Result<Agreement, ApiError> {
    let setting = institutions::setting(conn, institution, context.now()).await?;
    let tasks: Vec<&str> = draft.tasks.iter().map(String::as_str).collect();
    ensure_tasks(&tasks)?;
    let term = Term::signed(draft.sign_date, draft.duration_months)?;
    if draft.sign_date > setting.today {
        return Err(MentoringError::invalid_field(
            "agreement.sign_date",
            "must not be after today",
        )
        .into());
    }
    let members = pairs::current_members(conn, institution, pair).await?;
    let ids: Vec<&str> = members.iter().map(|(m, _)| m.as_str()).collect();
    participants::lock(conn, institution, &ids, Lock::Share).await?;
    let locked = pairs::lock_for_work(conn, &setting, pair).await?;
    if draft.sign_date < locked.formed {
        return Err(MentoringError::invalid_field(
            "agreement.sign_date",
            "must not be before the pair was formed",
        )
        .into());
    }
    let state = locked.state;
    if state.is_closed() {
        return Err(MentoringError::PairClosed { state }.into());
    }
    let facts = participants::facts(conn, institution, &ids).await?;
    if let Some(missing) = ids
        .iter()
        .find(|m| !facts.iter().any(|f| &f.id == *m && f.consent_in_force))
    {
        return Err(MentoringError::ConsentMissing {
            participant: participant_name(institution, missing),
            purpose: ConsentPurpose::PersonalData,
        }
        .into());
    }
    if let Some(existing) = signed_of(conn, institution, pair).await? {
        let name = agreement_name(institution, pair, &existing);
        return Err(ApiError::already_exists(name.clone()).with_metadata("agreement", name));
    }
    let id = edu_kit::resource::new_id();
    let now = context.now();
    sqlx::query!(
        "INSERT INTO mentoring.agreements
             (institution_id, id, pair_id, tasks, duration_months, sign_date, end_date,
              create_time, update_time)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
        institution,
        id,
        pair,
        &draft.tasks,
        i32::try_from(term.duration_months).unwrap_or(i32::MAX),
        term.sign_date.to_sqlx(),
        term.end_date().to_sqlx(),
        now.to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    for (member, mentor) in &members {
        let representative = draft
            .representatives
            .iter()
            .find(|r| &r.participant == member);
        sqlx::query!(
            "INSERT INTO mentoring.agreement_parties
                 (institution_id, agreement_id, participant_id, side, representative_name,
                  representative_relation)
             VALUES ($1, $2, $3, $4, $5, $6)",
            institution,
            id,
            member,
            if *mentor { "MENTOR" } else { "MENTEE" },
            representative.map(|r| r.name.clone()).unwrap_or_default(),
            representative.map(|r| r.relation.as_str()),
        )
        .execute(&mut *conn)
        .await?;
    }
    let name = agreement_name(institution, pair, &id);
    audit::record(
        conn,
        context,
        "agreement.created",
        &name,
        json!({ "months": term.duration_months, "sign_date": term.sign_date.to_string() }),
    )
    .await?;
    get(conn, &setting, pair, &id).await
}

/// Extends a SIGNED agreement by `months` (`ExtendAgreement`), by the domain's term rules;
/// a stale `supplied_etag` first (`ETAG_MISMATCH`; empty skips the check).
pub async fn extend(
    conn: &mut PgConnection,
    context: &CallContext,
    institution: &str,
    pair: &str,
    id: &str,
    extension: &ExtensionDraft,
    supplied_etag: &str,
) -> Result<Agreement, ApiError> {
    let (months, basis, agree_date) = (
        extension.months,
        extension.basis.as_str(),
        extension.agree_date,
    );
    let setting = institutions::setting(conn, institution, context.now()).await?;
    pairs::lock_pair(conn, institution, pair).await?;
    let (state, term) = lock_agreement(conn, institution, pair, id).await?;
    check_etag(conn, institution, pair, id, supplied_etag).await?;
    state.ensure_signed()?;
    ensure_day_in_term(
        "extension.agree_date",
        agree_date,
        term.sign_date,
        setting.today,
    )?;
    if basis.trim().is_empty() {
        return Err(MentoringError::invalid_field("extension.basis", "is required").into());
    }
    let extended = term.extend(months)?;
    let now = context.now();
    let months_i32 = i32::try_from(months).unwrap_or(i32::MAX);
    sqlx::query!(
        "INSERT INTO mentoring.agreement_extensions
             (institution_id, agreement_id, seq, months, basis, agree_date, record_time)
         SELECT $1, $2, coalesce(max(seq), 0) + 1, $3, $4, $5, $6
         FROM mentoring.agreement_extensions WHERE institution_id = $1 AND agreement_id = $2",
        institution,
        id,
        months_i32,
        basis,
        agree_date.to_sqlx(),
        now.to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "UPDATE mentoring.agreements
         SET extension_months = $3, end_date = $4, update_time = $5, version = version + 1
         WHERE institution_id = $1 AND id = $2",
        institution,
        id,
        i32::try_from(extended.extension_months).unwrap_or(i32::MAX),
        extended.end_date().to_sqlx(),
        now.to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    audit::record(
        conn,
        context,
        "agreement.extended",
        &agreement_name(institution, pair, id),
        json!({ "months": months, "total_months": extended.total_months() }),
    )
    .await?;
    get(conn, &setting, pair, id).await
}

/// Records a violation by a current party of a SIGNED agreement; the agreement's version
/// moves, and a stale `supplied_etag` is `ETAG_MISMATCH` (empty skips the check).
pub async fn record_violation(
    conn: &mut PgConnection,
    context: &CallContext,
    institution: &str,
    pair: &str,
    id: &str,
    violation: &ViolationDraft,
    supplied_etag: &str,
) -> Result<Agreement, ApiError> {
    let (violator, description, occur_date) = (
        violation.violator.as_str(),
        violation.description.as_str(),
        violation.occur_date,
    );
    let setting = institutions::setting(conn, institution, context.now()).await?;
    participants::lock(conn, institution, &[violator], Lock::Share).await?;
    pairs::lock_pair(conn, institution, pair).await?;
    let (state, term) = lock_agreement(conn, institution, pair, id).await?;
    check_etag(conn, institution, pair, id, supplied_etag).await?;
    state.ensure_signed()?;
    let side = current_parties(conn, institution, pair, id)
        .await?
        .into_iter()
        .find(|(party, _)| party == violator)
        .map(|(_, side)| side)
        .ok_or_else(|| {
            ApiError::from(MentoringError::invalid_field(
                "violation.violator",
                "is not a current party of the agreement",
            ))
        })?;
    if description.trim().is_empty() {
        return Err(MentoringError::invalid_field("violation.description", "is required").into());
    }
    ensure_day_in_term(
        "violation.occur_date",
        occur_date,
        term.sign_date,
        setting.today,
    )?;
    let facts = participants::one_fact(conn, institution, violator).await?;
    if !facts.consent_in_force {
        return Err(MentoringError::ConsentMissing {
            participant: participant_name(institution, violator),
            purpose: ConsentPurpose::PersonalData,
        }
        .into());
    }
    let now = context.now();
    sqlx::query!(
        "INSERT INTO mentoring.agreement_violations
             (institution_id, agreement_id, seq, violator_id, violator_side, description,
              occur_date, record_time)
         SELECT $1, $2, coalesce(max(seq), 0) + 1, $3, $4, $5, $6, $7
         FROM mentoring.agreement_violations WHERE institution_id = $1 AND agreement_id = $2",
        institution,
        id,
        violator,
        side.as_str(),
        description,
        occur_date.to_sqlx(),
        now.to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    touch(conn, institution, id, now).await?;
    audit::record(
        conn,
        context,
        "agreement.violation_recorded",
        &agreement_name(institution, pair, id),
        json!({ "violator": participant_name(institution, violator), "side": side.as_str() }),
    )
    .await?;
    get(conn, &setting, pair, id).await
}

/// A termination with everything `TerminateAgreement` may say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TerminationRequest<'a> {
    /// Mutual, or unilateral by one side against a party of the other.
    pub termination: TerminationDraft<'a>,
    /// For a unilateral termination, the mentee whose relation with the mentor ends, by
    /// ID: the violator when the mentor terminates; the terminating mentee otherwise, who
    /// may be left out for a pair (its only current mentee).
    pub mentee: Option<&'a str>,
    /// Why, as stated.
    pub explanation: &'a str,
    /// The day it ends; today when `None`.
    pub end_date: Option<Date>,
    /// The agreement's etag as the caller saw it; empty skips the check.
    pub supplied_etag: &'a str,
}

/// Terminates a SIGNED agreement (`TerminateAgreement`) by the domain's check, a stale
/// `supplied_etag` refused first (`ETAG_MISMATCH`); the pair, if
/// ACTIVE or SUSPENDED, completes with AGREEMENT_TERMINATED and the initiator the domain
/// answers (`PAIR_COMPLETED`). The day it ends is today, and a unilateral termination
/// ends the relation with the pair's only mentee: [`terminate_as`] says more.
#[allow(clippy::too_many_arguments)]
pub async fn terminate(
    conn: &mut PgConnection,
    context: &CallContext,
    institution: &str,
    pair: &str,
    id: &str,
    termination: TerminationDraft<'_>,
    explanation: &str,
    supplied_etag: &str,
) -> Result<Agreement, ApiError> {
    terminate_as(
        conn,
        context,
        institution,
        pair,
        id,
        &TerminationRequest {
            termination,
            mentee: match termination {
                TerminationDraft::Unilateral {
                    by: PairSide::Mentor,
                    violator,
                } => Some(violator),
                _ => None,
            },
            explanation,
            end_date: None,
            supplied_etag,
        },
    )
    .await
}

/// Terminates a SIGNED agreement (`TerminateAgreement`). The mentee whose relation ends
/// in a unilateral termination is locked first (participants first: they may leave the
/// group), then the pair, then the agreement; a stale etag (`ETAG_MISMATCH`); the day
/// between the signature and today and the parties named being current parties of the
/// right sides (`INVALID_FIELDS`); then the domain's check (`TRANSITION_NOT_ALLOWED`,
/// `VIOLATIONS_NOT_SYSTEMATIC`). A unilateral termination while other mentees of a group
/// remain parties ends only that mentee's relation: they leave the agreement and the
/// group, which goes on. Otherwise the agreement ENDS (its last day no later than the day
/// it ends) and an ACTIVE or SUSPENDED pair completes with AGREEMENT_TERMINATED on that
/// day (`PAIR_COMPLETED`); a FORMING one stays FORMING without an agreement.
pub async fn terminate_as(
    conn: &mut PgConnection,
    context: &CallContext,
    institution: &str,
    pair: &str,
    id: &str,
    request: &TerminationRequest<'_>,
) -> Result<Agreement, ApiError> {
    let setting = institutions::setting(conn, institution, context.now()).await?;
    let not_a_mentee = || -> ApiError {
        MentoringError::invalid_field("mentee", "is not a current mentee party of the agreement")
            .into()
    };
    // The mentee whose relation ends, known before any lock so that they are locked first.
    let leaving = match request.termination {
        TerminationDraft::Mutual => None,
        TerminationDraft::Unilateral {
            by: PairSide::Mentor,
            violator,
        } => {
            if request.mentee.is_some_and(|m| m != violator) {
                return Err(MentoringError::invalid_field(
                    "mentee",
                    "the mentor terminates against the mentee whose relation ends",
                )
                .into());
            }
            Some(violator.to_string())
        }
        TerminationDraft::Unilateral {
            by: PairSide::Mentee,
            ..
        } => match request.mentee {
            Some(mentee) => Some(mentee.to_string()),
            None => {
                let mentees: Vec<String> = pairs::current_members(conn, institution, pair)
                    .await?
                    .into_iter()
                    .filter(|(_, mentor)| !mentor)
                    .map(|(m, _)| m)
                    .collect();
                match mentees.as_slice() {
                    [only] => Some(only.clone()),
                    _ => {
                        return Err(MentoringError::invalid_field(
                            "mentee",
                            "a group's mentee terminating must be named",
                        )
                        .into());
                    }
                }
            }
        },
    };
    if let Some(mentee) = &leaving {
        match participants::lock_one(conn, institution, mentee, Lock::Update).await {
            Ok(()) => {}
            Err(e) if e.kind == edu_kit::error::ErrorKind::NotFound => {
                return Err(not_a_mentee());
            }
            Err(e) => return Err(e),
        }
    }
    let locked = pairs::lock_for_work(conn, &setting, pair).await?;
    let (state, term) = lock_agreement(conn, institution, pair, id).await?;
    check_etag(conn, institution, pair, id, request.supplied_etag).await?;
    let end_day = request.end_date.unwrap_or(setting.today);
    ensure_day_in_term("end_date", end_day, term.sign_date, setting.today)?;
    let parties = current_parties(conn, institution, pair, id).await?;
    let violator_name;
    let asked = match request.termination {
        TerminationDraft::Mutual => Termination::Mutual,
        TerminationDraft::Unilateral { by, violator } => {
            if let Some(mentee) = &leaving
                && !parties
                    .iter()
                    .any(|(p, side)| p == mentee && *side == PairSide::Mentee)
            {
                return Err(not_a_mentee());
            }
            if !parties
                .iter()
                .any(|(p, side)| p == violator && *side == by.other())
            {
                return Err(MentoringError::invalid_field(
                    "violator",
                    "is not a current party of the other side",
                )
                .into());
            }
            let violations = sqlx::query_scalar!(
                r#"SELECT count(*) AS "n!" FROM mentoring.agreement_violations
                   WHERE institution_id = $1 AND agreement_id = $2 AND violator_id = $3"#,
                institution,
                id,
                violator
            )
            .fetch_one(&mut *conn)
            .await?;
            violator_name = participant_name(institution, violator);
            Termination::Unilateral {
                by,
                violator: &violator_name,
                violations: u32::try_from(violations).unwrap_or(u32::MAX),
            }
        }
    };
    let initiator = check_termination(state, asked)?;
    let now = context.now();
    let by = match request.termination {
        TerminationDraft::Unilateral { by, .. } => Some(by.as_str()),
        TerminationDraft::Mutual => None,
    };
    let others_remain = leaving.as_ref().is_some_and(|mentee| {
        parties
            .iter()
            .any(|(p, side)| *side == PairSide::Mentee && p != mentee)
    });
    if let (Some(mentee), true) = (&leaving, others_remain) {
        leave(conn, context, &setting, pair, id, mentee, by, now).await?;
        return get(conn, &setting, pair, id).await;
    }
    sqlx::query!(
        "UPDATE mentoring.agreements
         SET state = 'ENDED', end_reason = $3, terminated_by = $4, end_explanation = $5,
             end_date = LEAST(end_date, $7), end_time = $6, update_time = $6,
             version = version + 1
         WHERE institution_id = $1 AND id = $2",
        institution,
        id,
        asked.end_reason().as_str(),
        by,
        request.explanation,
        now.to_sqlx(),
        end_day.to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    audit::record(
        conn,
        context,
        "agreement.terminated",
        &agreement_name(institution, pair, id),
        json!({ "mode": asked.mode(), "by": by, "end_date": end_day.to_string() }),
    )
    .await?;
    if locked.state.may_become(PairState::Completed) {
        pairs::close_as_completed(
            conn,
            context,
            &setting,
            pair,
            locked.state,
            &CompletionDraft {
                reason: CompletionReason::AgreementTerminated,
                initiator,
                explanation: request.explanation.to_string(),
                complete_date: end_day,
            },
        )
        .await?;
    }
    get(conn, &setting, pair, id).await
}

/// One mentee of a group leaves after a unilateral termination of their relation with the
/// mentor (locked: the mentee, the pair, the agreement): no longer a party, no longer a
/// member, their open questionnaires of the group withdrawn; the agreement stays SIGNED for
/// the others. Their member row keeps no completion: the schema records completions of
/// `CompletePair`'s own reasons only.
#[allow(clippy::too_many_arguments)]
async fn leave(
    conn: &mut PgConnection,
    context: &CallContext,
    setting: &Setting,
    pair: &str,
    id: &str,
    mentee: &str,
    by: Option<&str>,
    now: Timestamp,
) -> Result<(), ApiError> {
    let institution = setting.id.as_str();
    sqlx::query!(
        "UPDATE mentoring.agreement_parties SET left_party = true
         WHERE institution_id = $1 AND agreement_id = $2 AND participant_id = $3",
        institution,
        id,
        mentee
    )
    .execute(&mut *conn)
    .await?;
    touch(conn, institution, id, now).await?;
    sqlx::query!(
        "UPDATE mentoring.pair_members SET left_time = $4
         WHERE institution_id = $1 AND pair_id = $2 AND participant_id = $3
           AND left_time IS NULL",
        institution,
        pair,
        mentee,
        now.to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    let withdrawn = super::pairs::release_mentee(conn, institution, pair, mentee, now).await?;
    audit::record(
        conn,
        context,
        "agreement.party_left",
        &agreement_name(institution, pair, id),
        json!({ "mentee": participant_name(institution, mentee), "by": by,
                "questionnaires_withdrawn": withdrawn }),
    )
    .await?;
    Ok(())
}

/// Agreement `id` changed at `now` in a row of its own (a violation, a party leaving): its
/// update time and version move on, so that its etag names the change.
async fn touch(
    conn: &mut PgConnection,
    institution: &str,
    id: &str,
    now: Timestamp,
) -> Result<(), ApiError> {
    sqlx::query!(
        "UPDATE mentoring.agreements SET update_time = $3, version = version + 1
         WHERE institution_id = $1 AND id = $2",
        institution,
        id,
        now.to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The agreement's current parties with their sides: not left the agreement, and still
/// members of the pair (a mentee who left the group by `CompletePair` is no party any
/// more).
async fn current_parties(
    conn: &mut PgConnection,
    institution: &str,
    pair: &str,
    id: &str,
) -> Result<Vec<(String, PairSide)>, ApiError> {
    let rows = sqlx::query!(
        "SELECT ap.participant_id, ap.side FROM mentoring.agreement_parties ap
         WHERE ap.institution_id = $1 AND ap.agreement_id = $2 AND NOT ap.left_party
           AND NOT EXISTS (
               SELECT 1 FROM mentoring.pair_members m
               WHERE m.institution_id = ap.institution_id AND m.pair_id = $3
                 AND m.participant_id = ap.participant_id AND m.left_time IS NOT NULL)
         ORDER BY ap.side = 'MENTOR' DESC, ap.participant_id",
        institution,
        id,
        pair
    )
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(|r| Ok((r.participant_id, parsed("side", &r.side, PairSide::parse)?)))
        .collect()
}

async fn signed_of(
    conn: &mut PgConnection,
    institution: &str,
    pair: &str,
) -> Result<Option<String>, ApiError> {
    Ok(sqlx::query_scalar!(
        "SELECT id FROM mentoring.agreements
         WHERE institution_id = $1 AND pair_id = $2 AND state = 'SIGNED'",
        institution,
        pair
    )
    .fetch_optional(&mut *conn)
    .await?)
}

/// A page of `ListAgreements` of one pair, or with `pair` `None` of every pair of the
/// institution (`pairs/-`, narrowed to the pairs of `filter.members` when set): at most
/// `size` after the agreement `after`, the latest signed first (sign date, then creation,
/// then ID, each descending), each as [`get`] shows it.
pub async fn list_page(
    conn: &mut PgConnection,
    setting: &Setting,
    pair: Option<&str>,
    filter: &AgreementFilter,
    size: usize,
    after: Option<String>,
) -> Result<Page<Agreement, String>, ApiError> {
    if let Some(pair) = pair {
        pairs::get(conn, setting, pair).await?;
    }
    let rows = sqlx::query!(
        "SELECT a.id, a.pair_id FROM mentoring.agreements a
         WHERE a.institution_id = $1
           AND ($2::text IS NULL OR a.pair_id = $2)
           AND ($3::text IS NULL OR a.state = $3)
           AND (NOT $4 OR (a.state = 'SIGNED' AND a.end_date < $5))
           AND ($6::text IS NULL OR (a.sign_date, a.create_time, a.id) < (
                   SELECT b.sign_date, b.create_time, b.id FROM mentoring.agreements b
                   WHERE b.institution_id = $1 AND b.id = $6))
           AND ($8::text[] IS NULL OR EXISTS (
                   SELECT 1 FROM mentoring.pair_members m
                   WHERE m.institution_id = a.institution_id AND m.pair_id = a.pair_id
                     AND m.participant_id = ANY($8)))
         ORDER BY a.sign_date DESC, a.create_time DESC, a.id DESC
         LIMIT $7",
        setting.id,
        pair,
        filter.state.map(AgreementState::as_str),
        filter.expired_only,
        setting.today.to_sqlx(),
        after,
        edu_kit::paging::overfetch_limit(size),
        filter.members.as_deref(),
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut items = Vec::with_capacity(rows.len());
    for row in &rows {
        items.push(get(conn, setting, &row.pair_id, &row.id).await?);
    }
    Ok(Page::from_overfetch(items, size, |a| a.id.clone()))
}

/// `ETAG_MISMATCH` unless `supplied` is empty or names the agreement's version (locked by
/// the caller).
async fn check_etag(
    conn: &mut PgConnection,
    institution: &str,
    pair: &str,
    id: &str,
    supplied: &str,
) -> Result<(), ApiError> {
    let version = sqlx::query_scalar!(
        "SELECT version FROM mentoring.agreements
         WHERE institution_id = $1 AND pair_id = $2 AND id = $3",
        institution,
        pair,
        id
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| ApiError::not_found(agreement_name(institution, pair, id)))?;
    etag::check(supplied, version, &agreement_name(institution, pair, id))
}

async fn lock_agreement(
    conn: &mut PgConnection,
    institution: &str,
    pair: &str,
    id: &str,
) -> Result<(AgreementState, Term), ApiError> {
    let row = sqlx::query!(
        "SELECT state, sign_date, duration_months, extension_months FROM mentoring.agreements
         WHERE institution_id = $1 AND pair_id = $2 AND id = $3 FOR UPDATE",
        institution,
        pair,
        id
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| ApiError::not_found(agreement_name(institution, pair, id)))?;
    Ok((
        parsed("agreement state", &row.state, AgreementState::parse)?,
        Term {
            sign_date: row.sign_date.to_jiff(),
            duration_months: u32::try_from(row.duration_months).unwrap_or(0),
            extension_months: u32::try_from(row.extension_months).unwrap_or(0),
        },
    ))
}

/// One agreement as shown.
pub async fn get(
    conn: &mut PgConnection,
    setting: &Setting,
    pair: &str,
    id: &str,
) -> Result<Agreement, ApiError> {
    list(conn, setting, pair)
        .await?
        .into_iter()
        .find(|a| a.id == id)
        .ok_or_else(|| ApiError::not_found(agreement_name(&setting.id, pair, id)))
}

/// A pair's agreements as shown, the latest signed first; the parties through the one read
/// of people (a redacted party's representative hidden with them), the tasks, violation
/// descriptions and explanation hidden when the pair is redacted.
pub async fn list(
    conn: &mut PgConnection,
    setting: &Setting,
    pair: &str,
) -> Result<Vec<Agreement>, ApiError> {
    let institution = setting.id.as_str();
    let pair_shown = pairs::get(conn, setting, pair).await?;
    let rows = sqlx::query!(
        "SELECT id, tasks, state, sign_date, duration_months, extension_months, end_date,
                end_reason, terminated_by, end_explanation, end_time, create_time, update_time,
                version
         FROM mentoring.agreements WHERE institution_id = $1 AND pair_id = $2
         ORDER BY sign_date DESC, create_time DESC, id",
        institution,
        pair
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut shown = Vec::with_capacity(rows.len());
    for row in rows {
        let parties = sqlx::query!(
            r#"SELECT ap.participant_id, ap.side, ap.representative_name,
                      ap.representative_relation,
                      ap.left_party OR EXISTS (
                          SELECT 1 FROM mentoring.pair_members m
                          WHERE m.institution_id = ap.institution_id AND m.pair_id = $3
                            AND m.participant_id = ap.participant_id
                            AND m.left_time IS NOT NULL) AS "left!"
               FROM mentoring.agreement_parties ap
               WHERE ap.institution_id = $1 AND ap.agreement_id = $2
               ORDER BY ap.side = 'MENTOR' DESC, ap.participant_id"#,
            institution,
            row.id,
            pair
        )
        .fetch_all(&mut *conn)
        .await?;
        let ids: Vec<String> = parties.iter().map(|p| p.participant_id.clone()).collect();
        let people = participants::people(conn, institution, &ids, setting.today).await?;
        let redacted = pair_shown.redacted || pair_redacted(people.iter().map(|p| p.redacted));
        let mut with_sides = Vec::with_capacity(people.len());
        let mut party_terms = Vec::with_capacity(people.len());
        for (person, party) in people.into_iter().zip(&parties) {
            let representative = match &party.representative_relation {
                Some(relation) if !person.redacted => Some((
                    party.representative_name.clone(),
                    parsed("guardian relation", relation, GuardianRelation::parse)?,
                )),
                _ => None,
            };
            party_terms.push(PartyTerms {
                representative,
                left: party.left,
            });
            with_sides.push((person, parsed("side", &party.side, PairSide::parse)?));
        }
        let extensions = sqlx::query!(
            "SELECT months, basis, agree_date, record_time FROM mentoring.agreement_extensions
             WHERE institution_id = $1 AND agreement_id = $2 ORDER BY seq",
            institution,
            row.id
        )
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .map(|e| ExtensionShown {
            months: u32::try_from(e.months).unwrap_or(0),
            basis: e.basis,
            agree_date: e.agree_date.to_jiff(),
            record_time: e.record_time.to_jiff(),
        })
        .collect();
        let violation_rows = sqlx::query!(
            "SELECT violator_id, violator_side, description, occur_date, record_time
             FROM mentoring.agreement_violations
             WHERE institution_id = $1 AND agreement_id = $2 ORDER BY seq",
            institution,
            row.id
        )
        .fetch_all(&mut *conn)
        .await?;
        let mut violations = Vec::with_capacity(violation_rows.len());
        for v in violation_rows {
            violations.push(ViolationShown {
                violator: participant_name(institution, &v.violator_id),
                violator_side: parsed("side", &v.violator_side, PairSide::parse)?,
                description: shown_text(&v.description, redacted).to_string(),
                occur_date: v.occur_date.to_jiff(),
                record_time: v.record_time.to_jiff(),
            });
        }
        shown.push(Agreement {
            name: agreement_name(institution, pair, &row.id),
            parties: with_sides,
            party_terms,
            tasks: row
                .tasks
                .iter()
                .map(|t| shown_text(t, redacted).to_string())
                .filter(|t| !t.is_empty())
                .collect(),
            state: parsed("agreement state", &row.state, AgreementState::parse)?,
            term: Term {
                sign_date: row.sign_date.to_jiff(),
                duration_months: u32::try_from(row.duration_months).unwrap_or(0),
                extension_months: u32::try_from(row.extension_months).unwrap_or(0),
            },
            end_date: row.end_date.to_jiff(),
            extensions,
            violations,
            end_reason: row
                .end_reason
                .as_deref()
                .map(|r| parsed("agreement end reason", r, AgreementEndReason::parse))
                .transpose()?,
            terminated_by: row
                .terminated_by
                .as_deref()
                .map(|b| parsed("side", b, PairSide::parse))
                .transpose()?,
            end_explanation: shown_text(&row.end_explanation, redacted).to_string(),
            end_time: row.end_time.map(|t| t.to_jiff()),
            redacted,
            create_time: row.create_time.to_jiff(),
            update_time: row.update_time.to_jiff(),
            version: row.version,
            id: row.id,
        });
    }
    Ok(shown)
}
