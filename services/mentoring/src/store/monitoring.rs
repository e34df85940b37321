//! Monitoring (rule 10, choice 14): a round per season and year (`2024-12` due 20
//! December, `2025-05` due 20 May in the institution's zone), a result per pair taking part
//! and a questionnaire per member who is not redacted; submitted with `late` judged by the
//! domain at the submission instant.
//!
//! Locks: opening a round locks the members of the ACTIVE pairs `FOR SHARE` (participants
//! first), so a concurrent revocation either commits before (the member gets no
//! questionnaire) or waits and then withdraws theirs. Answering locks the respondent
//! `FOR SHARE`, then the round `FOR SHARE`, then the questionnaire; submitting locks the
//! round `FOR UPDATE`, so no answer or assessment slips in after the submission.

use std::collections::HashMap;

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
use super::{Scope, corrupt, institution_name, pair_name, parsed, participant_name};
use crate::domain::consent::{ActorKind, ConsentPurpose};
use crate::domain::deadlines;
use crate::domain::monitoring::{
    MonitoringSeason, RoundId, check_submission, ensure_open, score_in_range,
};
use crate::domain::redaction::{PersonView, shown_text};
use crate::domain::{FieldError, MentoringError, MentoringForm, PairSide, PairType};

/// `institutions/{institution}/monitoringRounds/{round}`.
pub fn round_name(institution: &str, round: &str) -> String {
    format!("{}/monitoringRounds/{round}", institution_name(institution))
}

/// `…/monitoringRounds/{round}/pairResults/{id}`.
pub fn result_name(institution: &str, round: &str, id: &str) -> String {
    format!("{}/pairResults/{id}", round_name(institution, round))
}

/// `…/monitoringRounds/{round}/questionnaires/{id}`.
pub fn questionnaire_name(institution: &str, round: &str, id: &str) -> String {
    format!("{}/questionnaires/{id}", round_name(institution, round))
}

/// What a question asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QuestionKind {
    /// A score of 1 to 10.
    Scale,
    /// A text.
    Text,
}

impl QuestionKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            QuestionKind::Scale => "SCALE",
            QuestionKind::Text => "TEXT",
        }
    }

    /// The kind a stored name stands for.
    pub fn parse(raw: &str) -> Option<Self> {
        [QuestionKind::Scale, QuestionKind::Text]
            .into_iter()
            .find(|k| k.as_str() == raw)
    }
}

/// A question of a round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    /// Its ID, 1 to 40 lower-case letters, digits and underscores.
    pub id: String,
    /// Its text.
    pub text: String,
    /// Scale or text.
    pub kind: QuestionKind,
    /// The side it is for; both when `None`.
    pub audience: Option<PairSide>,
}

/// The standard questions of the contract, asked when a round names none.
pub fn standard_questions() -> Vec<Question> {
    let q = |id: &str, text: &str, kind, audience| Question {
        id: id.into(),
        text: text.into(),
        kind,
        audience,
    };
    vec![
        q(
            "satisfaction",
            "Насколько вы удовлетворены участием в программе наставничества?",
            QuestionKind::Scale,
            None,
        ),
        q(
            "meetings_regularity",
            "Насколько регулярными были встречи?",
            QuestionKind::Scale,
            None,
        ),
        q(
            "usefulness",
            "Насколько полезной была помощь наставника?",
            QuestionKind::Scale,
            Some(PairSide::Mentee),
        ),
        q(
            "progress",
            "Насколько наставляемый продвинулся к целям индивидуального плана?",
            QuestionKind::Scale,
            Some(PairSide::Mentor),
        ),
        q(
            "suggestions",
            "Ваши предложения по программе",
            QuestionKind::Text,
            None,
        ),
    ]
}

/// A round as shown.
#[derive(Debug, Clone, PartialEq)]
pub struct Round {
    /// Its ID, `2024-12`.
    pub id: String,
    /// The resource name.
    pub name: String,
    /// The institution's ID.
    pub institution: String,
    /// The institution's region, for the regional centre's view.
    pub region_code: String,
    /// The season.
    pub season: MonitoringSeason,
    /// The year of the due date.
    pub year: i16,
    /// Its questions.
    pub questions: Vec<Question>,
    /// The due day: 20 December or 20 May.
    pub due_date: Date,
    /// 00:00 of the day after, in the institution's zone.
    pub due_time: Timestamp,
    /// Whether SUBMITTED.
    pub submitted: bool,
    /// When submitted.
    pub submit_time: Option<Timestamp>,
    /// Submitted at or after `due_time`.
    pub late: bool,
    /// OPEN at or after `due_time`, at the call.
    pub overdue: bool,
    /// Pairs taking part.
    pub pairs: i64,
    /// Of those, assessed.
    pub pairs_assessed: i64,
    /// Questionnaires sent (withdrawn ones not counted, as the contract has it).
    pub questionnaires: i64,
    /// Of those, answered.
    pub questionnaires_answered: i64,
    /// The curator's summary.
    pub summary: String,
    /// When it was opened.
    pub create_time: Timestamp,
    /// When it last changed.
    pub update_time: Timestamp,
    /// Its version, for etags.
    pub version: i64,
}

/// Opens the round of `season` in `year` (`CreateMonitoringRound`): OPEN, with a result per
/// ACTIVE pair and a questionnaire per member not redacted; the standard questions when
/// `questions` is empty.
pub async fn create_round(
    conn: &mut PgConnection,
    context: &CallContext,
    institution: &str,
    season: MonitoringSeason,
    year: i16,
    questions: &[Question],
) -> Result<Round, ApiError> {
    let setting = institutions::setting(conn, institution, context.now()).await?;
    let questions = if questions.is_empty() {
        standard_questions()
    } else {
        questions.to_vec()
    };
    let registered = sqlx::query_scalar!(
        "SELECT create_time FROM mentoring.institutions WHERE id = $1",
        institution
    )
    .fetch_one(&mut *conn)
    .await?;
    let registered_year = super::day_in(&setting.time_zone, registered.to_jiff())?.year();
    let mut fields = vec![];
    if year < registered_year || year > setting.today.year().saturating_add(1) {
        fields.push(FieldError::new(
            "monitoring_round.year",
            "from the institution's registration to next year",
        ));
    }
    check_questions(&mut fields, &questions);
    if !fields.is_empty() {
        return Err(MentoringError::InvalidFields(fields).into());
    }
    let id = RoundId { year, season }.to_string();
    let name = round_name(institution, &id);
    // Participants first: the members of the ACTIVE pairs.
    let members = sqlx::query_scalar!(
        "SELECT DISTINCT m.participant_id FROM mentoring.pair_members m
         JOIN mentoring.pairs p ON p.institution_id = m.institution_id AND p.id = m.pair_id
         WHERE m.institution_id = $1 AND p.state = 'ACTIVE' AND m.left_time IS NULL",
        institution
    )
    .fetch_all(&mut *conn)
    .await?;
    let ids: Vec<&str> = members.iter().map(String::as_str).collect();
    participants::lock(conn, institution, &ids, Lock::Share).await?;
    let now = context.now();
    let inserted = sqlx::query!(
        "INSERT INTO mentoring.monitoring_rounds
             (institution_id, id, year, season, question_ids, question_texts, question_kinds,
              question_audiences, create_time, update_time)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)
         ON CONFLICT DO NOTHING",
        institution,
        id,
        year,
        season.as_str(),
        &questions.iter().map(|q| q.id.clone()).collect::<Vec<_>>(),
        &questions.iter().map(|q| q.text.clone()).collect::<Vec<_>>(),
        &questions
            .iter()
            .map(|q| q.kind.as_str().to_string())
            .collect::<Vec<_>>(),
        &questions
            .iter()
            .map(|q| q.audience.map(|a| a.as_str()).unwrap_or("").to_string())
            .collect::<Vec<_>>(),
        now.to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    if inserted.rows_affected() == 0 {
        return Err(ApiError::already_exists(name.clone()).with_metadata("monitoring_round", name));
    }
    let active = sqlx::query_scalar!(
        "SELECT id FROM mentoring.pairs WHERE institution_id = $1 AND state = 'ACTIVE' ORDER BY id",
        institution
    )
    .fetch_all(&mut *conn)
    .await?;
    for pair in &active {
        take_part(conn, institution, &id, pair, now).await?;
    }
    audit::record(
        conn,
        context,
        "monitoring_round.created",
        &name,
        json!({ "pairs": active.len(), "questions": questions.len() }),
    )
    .await?;
    get_round(conn, &setting, &id, now).await
}

/// A pair activated while rounds are OPEN joins them (called by the activation, which holds
/// the members' locks and the pair's).
pub(crate) async fn join_open_rounds(
    conn: &mut PgConnection,
    setting: &Setting,
    pair: &str,
    now: Timestamp,
) -> Result<(), ApiError> {
    let open = sqlx::query_scalar!(
        "SELECT id FROM mentoring.monitoring_rounds
         WHERE institution_id = $1 AND state = 'OPEN' ORDER BY id FOR SHARE",
        setting.id
    )
    .fetch_all(&mut *conn)
    .await?;
    for round in open {
        take_part(conn, &setting.id, &round, pair, now).await?;
    }
    Ok(())
}

/// The pair's result in the round and its members' questionnaires (those not redacted).
async fn take_part(
    conn: &mut PgConnection,
    institution: &str,
    round: &str,
    pair: &str,
    now: Timestamp,
) -> Result<(), ApiError> {
    sqlx::query!(
        "INSERT INTO mentoring.pair_results (institution_id, round_id, id, pair_id, update_time)
         VALUES ($1, $2, $3, $3, $4)
         ON CONFLICT DO NOTHING",
        institution,
        round,
        pair,
        now.to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "INSERT INTO mentoring.questionnaires
             (institution_id, round_id, id, pair_id, participant_id, side, create_time, update_time)
         SELECT m.institution_id, $2, m.pair_id || '-' || m.participant_id, m.pair_id,
                m.participant_id, m.side, $4, $4
         FROM mentoring.pair_members m
         WHERE m.institution_id = $1 AND m.pair_id = $3 AND m.left_time IS NULL
           AND EXISTS (SELECT 1 FROM mentoring.consents c
                       WHERE c.institution_id = m.institution_id AND c.participant_id = m.participant_id
                         AND c.purpose = 'PERSONAL_DATA' AND c.state = 'GIVEN')
         ON CONFLICT DO NOTHING",
        institution,
        round,
        pair,
        now.to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// An answer as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerDraft {
    /// The question's ID.
    pub question_id: String,
    /// The score of a scale question.
    pub score: Option<i32>,
    /// The text of a text question.
    pub text: Option<String>,
}

/// A questionnaire as shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Questionnaire {
    /// The ID.
    pub id: String,
    /// The resource name.
    pub name: String,
    /// The pair, by resource name.
    pub pair: String,
    /// The respondent as a person.
    pub respondent: PersonView,
    /// Their side.
    pub side: PairSide,
    /// SENT, ANSWERED or WITHDRAWN.
    pub state: String,
    /// The answers; empty when the respondent is redacted.
    pub answers: Vec<AnswerDraft>,
    /// Who answered.
    pub answered_by: Option<ActorKind>,
    /// When it was last answered.
    pub answer_time: Option<Timestamp>,
    /// When it was sent.
    pub create_time: Timestamp,
    /// Its version, for etags.
    pub version: i64,
}

/// Answers a questionnaire (`SubmitQuestionnaire`): ANSWERED, its answers replaced; never
/// for a respondent whose consent to PERSONAL_DATA is not in force (`CONSENT_MISSING`).
#[allow(clippy::too_many_arguments)]
pub async fn submit_questionnaire(
    conn: &mut PgConnection,
    context: &CallContext,
    institution: &str,
    round: &str,
    id: &str,
    answers: &[AnswerDraft],
    actor: ActorKind,
    supplied_etag: &str,
) -> Result<Questionnaire, ApiError> {
    let setting = institutions::setting(conn, institution, context.now()).await?;
    let name = questionnaire_name(institution, round, id);
    let respondent = sqlx::query_scalar!(
        "SELECT participant_id FROM mentoring.questionnaires
         WHERE institution_id = $1 AND round_id = $2 AND id = $3",
        institution,
        round,
        id
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| ApiError::not_found(name.clone()))?;
    participants::lock(conn, institution, &[respondent.as_str()], Lock::Share).await?;
    let stored = lock_round(conn, institution, round, false).await?;
    let row = sqlx::query!(
        "SELECT side, state, version FROM mentoring.questionnaires
         WHERE institution_id = $1 AND round_id = $2 AND id = $3 FOR UPDATE",
        institution,
        round,
        id
    )
    .fetch_one(&mut *conn)
    .await?;
    etag::check(supplied_etag, row.version, &name)?;
    let side = parsed("side", &row.side, PairSide::parse)?;
    let mut fields = vec![];
    for (i, answer) in answers.iter().enumerate() {
        let field = format!("answers[{i}]");
        let Some(question) = stored.questions.iter().find(|q| q.id == answer.question_id) else {
            fields.push(FieldError::new(field, "not a question of the round"));
            continue;
        };
        if question.audience.is_some_and(|a| a != side) {
            fields.push(FieldError::new(
                field,
                "not a question for the respondent's side",
            ));
        } else if answers[..i]
            .iter()
            .any(|a| a.question_id == answer.question_id)
        {
            fields.push(FieldError::new(field, "answered twice"));
        } else {
            match (question.kind, answer.score, answer.text.as_deref()) {
                (QuestionKind::Scale, Some(score), None) if score_in_range(score) => {}
                (QuestionKind::Scale, _, _) => {
                    fields.push(FieldError::new(field, "a score of 1 to 10 and no text"));
                }
                (QuestionKind::Text, None, Some(text))
                    if !text.trim().is_empty() && text.chars().count() <= 2000 => {}
                (QuestionKind::Text, _, _) => {
                    fields.push(FieldError::new(field, "a text of 1 to 2 000 characters"));
                }
            }
        }
    }
    if answers.is_empty() {
        fields.push(FieldError::new("answers", "no answer"));
    }
    if !fields.is_empty() {
        return Err(MentoringError::InvalidFields(fields).into());
    }
    ensure_open(stored.submit_time)?;
    if row.state == "WITHDRAWN" {
        return Err(MentoringError::TransitionNotAllowed {
            resource: "questionnaire",
            state: "WITHDRAWN",
        }
        .into());
    }
    // Answers are personal data: none are recorded about a person whose consent is not in
    // force (an ANSWERED questionnaire of a revoked person keeps its answers, hidden).
    if !participants::one_fact(conn, institution, &respondent)
        .await?
        .consent_in_force
    {
        return Err(MentoringError::ConsentMissing {
            participant: participant_name(institution, &respondent),
            purpose: ConsentPurpose::PersonalData,
        }
        .into());
    }
    let now = context.now();
    sqlx::query!(
        "DELETE FROM mentoring.answers WHERE institution_id = $1 AND round_id = $2 AND questionnaire_id = $3",
        institution,
        round,
        id
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "INSERT INTO mentoring.answers (institution_id, round_id, questionnaire_id, question_id, score, text)
         SELECT $1, $2, $3, q, s, t FROM unnest($4::text[], $5::int[], $6::text[]) AS a (q, s, t)",
        institution,
        round,
        id,
        &answers.iter().map(|a| a.question_id.clone()).collect::<Vec<_>>(),
        &answers.iter().map(|a| a.score).collect::<Vec<_>>() as &[Option<i32>],
        &answers.iter().map(|a| a.text.clone()).collect::<Vec<_>>() as &[Option<String>],
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "UPDATE mentoring.questionnaires
         SET state = 'ANSWERED', answer_time = $4, answered_by = $5, update_time = $4,
             version = version + 1
         WHERE institution_id = $1 AND round_id = $2 AND id = $3",
        institution,
        round,
        id,
        now.to_sqlx(),
        actor.as_str(),
    )
    .execute(&mut *conn)
    .await?;
    audit::record(
        conn,
        context,
        "questionnaire.answered",
        &name,
        json!({ "answered_by": actor.as_str(), "answers": answers.len() }),
    )
    .await?;
    list_questionnaires(conn, &setting, round, Some(id))
        .await?
        .pop()
        .ok_or_else(|| ApiError::not_found(name))
}

/// The curator's assessment of a pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PairAssessment {
    /// Effective.
    Effective,
    /// Partly effective.
    PartlyEffective,
    /// Not effective.
    NotEffective,
}

impl PairAssessment {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            PairAssessment::Effective => "EFFECTIVE",
            PairAssessment::PartlyEffective => "PARTLY_EFFECTIVE",
            PairAssessment::NotEffective => "NOT_EFFECTIVE",
        }
    }
    /// The assessment a stored name stands for.
    pub fn parse(raw: &str) -> Option<Self> {
        [
            PairAssessment::Effective,
            PairAssessment::PartlyEffective,
            PairAssessment::NotEffective,
        ]
        .into_iter()
        .find(|a| a.as_str() == raw)
    }
}

/// Assesses a pair in an OPEN round (`UpdatePairResult`); a conclusion about a redacted
/// pair is refused (`CONSENT_MISSING`), its assessment may still be set.
#[allow(clippy::too_many_arguments)]
pub async fn update_pair_result(
    conn: &mut PgConnection,
    context: &CallContext,
    institution: &str,
    round: &str,
    id: &str,
    assessment: Option<PairAssessment>,
    conclusion: Option<&str>,
    supplied_etag: &str,
) -> Result<(), ApiError> {
    let name = result_name(institution, round, id);
    if conclusion.is_some_and(|c| c.chars().count() > 5000) {
        return Err(MentoringError::InvalidFields(vec![FieldError::new(
            "pair_result.conclusion",
            "at most 5 000 characters",
        )])
        .into());
    }
    let stored = lock_round(conn, institution, round, false).await?;
    let row = sqlx::query!(
        "SELECT pair_id, version FROM mentoring.pair_results
         WHERE institution_id = $1 AND round_id = $2 AND id = $3 FOR UPDATE",
        institution,
        round,
        id
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| ApiError::not_found(name.clone()))?;
    etag::check(supplied_etag, row.version, &name)?;
    ensure_open(stored.submit_time)?;
    if conclusion.is_some_and(|c| !c.is_empty()) {
        let redacted_member = sqlx::query_scalar!(
            "SELECT m.participant_id FROM mentoring.pair_members m
             WHERE m.institution_id = $1 AND m.pair_id = $2
               AND NOT EXISTS (SELECT 1 FROM mentoring.consents c
                               WHERE c.institution_id = m.institution_id
                                 AND c.participant_id = m.participant_id
                                 AND c.purpose = 'PERSONAL_DATA' AND c.state = 'GIVEN')
             ORDER BY m.participant_id LIMIT 1",
            institution,
            row.pair_id
        )
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(member) = redacted_member {
            return Err(MentoringError::ConsentMissing {
                participant: participant_name(institution, &member),
                purpose: ConsentPurpose::PersonalData,
            }
            .into());
        }
    }
    sqlx::query!(
        "UPDATE mentoring.pair_results
         SET assessment = coalesce($4, assessment), conclusion = coalesce($5, conclusion),
             update_time = $6, version = version + 1
         WHERE institution_id = $1 AND round_id = $2 AND id = $3",
        institution,
        round,
        id,
        assessment.map(PairAssessment::as_str),
        conclusion,
        context.now().to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    audit::record(
        conn,
        context,
        "pair_result.updated",
        &name,
        json!({ "assessment": assessment.map(PairAssessment::as_str) }),
    )
    .await?;
    Ok(())
}

/// The mean of the scores given to one scale question of a round, in one pair.
#[derive(Debug, Clone, PartialEq)]
pub struct QuestionAverage {
    /// The question's ID.
    pub question_id: String,
    /// The scores given.
    pub answers: i64,
    /// Their mean; zero when none was given.
    pub mean: f64,
}

/// A pair's result in a round as shown (`PairResult`).
#[derive(Debug, Clone, PartialEq)]
pub struct PairResult {
    /// Its ID, the pair's.
    pub id: String,
    /// The resource name.
    pub name: String,
    /// The pair, by resource name.
    pub pair: String,
    /// The pair type.
    pub pair_type: PairType,
    /// The form.
    pub form: MentoringForm,
    /// The current mentor as shown (redacted after their revocation).
    pub mentor_person: PersonView,
    /// Questionnaires sent to its members, withdrawn ones not counted.
    pub questionnaires: i64,
    /// Of those, answered.
    pub questionnaires_answered: i64,
    /// The mean score of each scale question, in the order of the round's questions.
    pub averages: Vec<QuestionAverage>,
    /// Plan activities PLANNED or DONE as of the round's instant (the call while OPEN,
    /// the submission after).
    pub plan_activities: i64,
    /// Of those, DONE by that day.
    pub plan_activities_done: i64,
    /// Of those, past their due day and not done by that day.
    pub plan_activities_overdue: i64,
    /// Meetings logged by that instant.
    pub meetings: i64,
    /// The curator's assessment.
    pub assessment: Option<PairAssessment>,
    /// The curator's conclusion; empty when the pair is redacted.
    pub conclusion: String,
    /// Whether a member of the pair, current or former, is redacted.
    pub redacted: bool,
    /// When it last changed.
    pub update_time: Timestamp,
    /// Its version, for etags.
    pub version: i64,
}

/// The filters of `ListPairResults`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PairResultFilter {
    /// Results of pairs of this type only.
    pub pair_type: Option<PairType>,
    /// Results with this assessment only.
    pub assessment: Option<PairAssessment>,
    /// Only results without an assessment yet.
    pub unassessed_only: bool,
}

/// A page of `ListPairResults` of a round: at most `size` after the result `after`, by
/// pair type (in the contract's enum order), then by ID, each as [`get_pair_result`] shows
/// it at `now`; `NOT_FOUND` for a missing round.
#[allow(clippy::too_many_arguments)]
pub async fn list_pair_results_page(
    conn: &mut PgConnection,
    setting: &Setting,
    round: &str,
    filter: &PairResultFilter,
    now: Timestamp,
    size: usize,
    after: Option<String>,
) -> Result<Page<PairResult, String>, ApiError> {
    let institution = setting.id.as_str();
    let stored = read_round(conn, institution, round).await?;
    let type_order: Vec<String> = PairType::ALL
        .iter()
        .map(|t| t.as_str().to_string())
        .collect();
    let ids = sqlx::query_scalar!(
        "SELECT x.id FROM mentoring.pair_results x
         JOIN mentoring.pairs p ON p.institution_id = x.institution_id AND p.id = x.pair_id
         WHERE x.institution_id = $1 AND x.round_id = $2
           AND ($3::text IS NULL OR p.pair_type = $3)
           AND ($4::text IS NULL OR x.assessment = $4)
           AND (NOT $5 OR x.assessment IS NULL)
           AND ($6::text IS NULL OR (array_position($7::text[], p.pair_type), x.id) > (
                   SELECT array_position($7::text[], q.pair_type), a.id
                   FROM mentoring.pair_results a
                   JOIN mentoring.pairs q ON q.institution_id = a.institution_id AND q.id = a.pair_id
                   WHERE a.institution_id = $1 AND a.round_id = $2 AND a.id = $6))
         ORDER BY array_position($7::text[], p.pair_type), x.id
         LIMIT $8",
        institution,
        round,
        filter.pair_type.map(PairType::as_str),
        filter.assessment.map(PairAssessment::as_str),
        filter.unassessed_only,
        after,
        &type_order,
        edu_kit::paging::overfetch_limit(size),
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut items = Vec::with_capacity(ids.len());
    for id in &ids {
        items.push(pair_result(conn, setting, round, &stored, id, now).await?);
    }
    Ok(Page::from_overfetch(items, size, |r| r.id.clone()))
}

/// One pair's result in a round as shown at `now` (the round's figures are as of `now`
/// while it is OPEN, as of its submission after); `NOT_FOUND` for a missing round or result.
pub async fn get_pair_result(
    conn: &mut PgConnection,
    setting: &Setting,
    round: &str,
    id: &str,
    now: Timestamp,
) -> Result<PairResult, ApiError> {
    let stored = read_round(conn, &setting.id, round).await?;
    pair_result(conn, setting, round, &stored, id, now).await
}

async fn pair_result(
    conn: &mut PgConnection,
    setting: &Setting,
    round: &str,
    stored: &StoredRound,
    id: &str,
    now: Timestamp,
) -> Result<PairResult, ApiError> {
    let institution = setting.id.as_str();
    let name = result_name(institution, round, id);
    // A submitted round's figures are those of its submission.
    let instant = stored.submit_time.unwrap_or(now);
    let day = super::day_in(&setting.time_zone, instant)?;
    let row = sqlx::query!(
        r#"SELECT x.pair_id, x.assessment, x.conclusion, x.update_time, x.version,
                  p.pair_type, p.form,
                  (SELECT m.participant_id FROM mentoring.pair_members m
                   WHERE m.institution_id = x.institution_id AND m.pair_id = x.pair_id
                     AND m.side = 'MENTOR' AND m.left_time IS NULL) AS "mentor?",
                  (SELECT count(*) FROM mentoring.questionnaires q
                   WHERE q.institution_id = x.institution_id AND q.round_id = x.round_id
                     AND q.pair_id = x.pair_id AND q.state <> 'WITHDRAWN') AS "sent!",
                  (SELECT count(*) FROM mentoring.questionnaires q
                   WHERE q.institution_id = x.institution_id AND q.round_id = x.round_id
                     AND q.pair_id = x.pair_id AND q.state = 'ANSWERED') AS "answered!",
                  (SELECT count(*) FROM mentoring.plan_activities a
                   WHERE a.institution_id = x.institution_id AND a.pair_id = x.pair_id
                     AND a.state IN ('PLANNED', 'DONE') AND a.create_time <= $4) AS "planned!",
                  (SELECT count(*) FROM mentoring.plan_activities a
                   WHERE a.institution_id = x.institution_id AND a.pair_id = x.pair_id
                     AND a.state = 'DONE' AND a.create_time <= $4
                     AND a.done_date <= $5) AS "done!",
                  (SELECT count(*) FROM mentoring.plan_activities a
                   WHERE a.institution_id = x.institution_id AND a.pair_id = x.pair_id
                     AND a.state IN ('PLANNED', 'DONE') AND a.create_time <= $4
                     AND a.due_date < $5
                     AND (a.state = 'PLANNED' OR a.done_date > $5)) AS "overdue!",
                  (SELECT count(*) FROM mentoring.meetings mt
                   WHERE mt.institution_id = x.institution_id AND mt.pair_id = x.pair_id
                     AND mt.create_time <= $4) AS "meetings!"
           FROM mentoring.pair_results x
           JOIN mentoring.pairs p ON p.institution_id = x.institution_id AND p.id = x.pair_id
           WHERE x.institution_id = $1 AND x.round_id = $2 AND x.id = $3"#,
        institution,
        round,
        id,
        instant.to_sqlx(),
        day.to_sqlx(),
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| ApiError::not_found(name.clone()))?;
    let mentor = row
        .mentor
        .ok_or_else(|| corrupt("pair without a mentor", &row.pair_id))?;
    let mentor_person = participants::people(conn, institution, &[mentor], setting.today)
        .await?
        .pop()
        .ok_or_else(|| corrupt("pair result mentor", &row.pair_id))?;
    let redacted = super::pairs::is_redacted(conn, institution, &row.pair_id).await?;
    // Answers given before a revocation stay counted (the contract's questionnaires).
    let scores = sqlx::query!(
        r#"SELECT a.question_id, count(*) AS "answers!", avg(a.score)::float8 AS "mean!"
           FROM mentoring.answers a
           JOIN mentoring.questionnaires q
             ON q.institution_id = a.institution_id AND q.round_id = a.round_id
            AND q.id = a.questionnaire_id
           WHERE a.institution_id = $1 AND a.round_id = $2 AND q.pair_id = $3
             AND a.score IS NOT NULL
           GROUP BY a.question_id"#,
        institution,
        round,
        row.pair_id
    )
    .fetch_all(&mut *conn)
    .await?;
    let averages = stored
        .questions
        .iter()
        .filter(|q| q.kind == QuestionKind::Scale)
        .map(|q| {
            let found = scores.iter().find(|s| s.question_id == q.id);
            QuestionAverage {
                question_id: q.id.clone(),
                answers: found.map_or(0, |s| s.answers),
                mean: found.map_or(0.0, |s| s.mean),
            }
        })
        .collect();
    Ok(PairResult {
        id: id.to_string(),
        name,
        pair: pair_name(institution, &row.pair_id),
        pair_type: parsed("pair type", &row.pair_type, PairType::parse)?,
        form: parsed("form", &row.form, MentoringForm::parse)?,
        mentor_person,
        questionnaires: row.sent,
        questionnaires_answered: row.answered,
        averages,
        plan_activities: row.planned,
        plan_activities_done: row.done,
        plan_activities_overdue: row.overdue,
        meetings: row.meetings,
        assessment: match row.assessment.as_deref() {
            Some(raw) => Some(parsed("assessment", raw, PairAssessment::parse)?),
            None => None,
        },
        conclusion: shown_text(&row.conclusion, redacted).to_string(),
        redacted,
        update_time: row.update_time.to_jiff(),
        version: row.version,
    })
}

/// Submits an OPEN round (`SubmitMonitoringRound`): every pair assessed (the domain's
/// check), `late` judged by the domain at this instant in the institution's zone. Emits
/// `MONITORING_SUBMITTED`.
pub async fn submit_round(
    conn: &mut PgConnection,
    context: &CallContext,
    institution: &str,
    round: &str,
    summary: &str,
    supplied_etag: &str,
) -> Result<Round, ApiError> {
    let setting = institutions::setting(conn, institution, context.now()).await?;
    let name = round_name(institution, round);
    if summary.chars().count() > 5000 {
        return Err(MentoringError::InvalidFields(vec![FieldError::new(
            "summary",
            "at most 5 000 characters",
        )])
        .into());
    }
    let stored = lock_round(conn, institution, round, true).await?;
    etag::check(supplied_etag, stored.version, &name)?;
    let unassessed: Vec<String> = sqlx::query_scalar!(
        "SELECT id FROM mentoring.pair_results
         WHERE institution_id = $1 AND round_id = $2 AND assessment IS NULL ORDER BY id",
        institution,
        round
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|r| result_name(institution, round, &r))
    .collect();
    let refs: Vec<&str> = unassessed.iter().map(String::as_str).collect();
    check_submission(stored.submit_time, &refs)?;
    let now = context.now();
    let zone = zone(&setting)?;
    let late = deadlines::monitoring_round(stored.season, stored.year, now, &zone).is_late();
    sqlx::query!(
        "UPDATE mentoring.monitoring_rounds
         SET state = 'SUBMITTED', submit_time = $3, late = $4, summary = $5, update_time = $3,
             version = version + 1
         WHERE institution_id = $1 AND id = $2",
        institution,
        round,
        now.to_sqlx(),
        late,
        summary,
    )
    .execute(&mut *conn)
    .await?;
    audit::record(
        conn,
        context,
        "monitoring_round.submitted",
        &name,
        json!({ "late": late }),
    )
    .await?;
    events::record(
        conn,
        EventKind::MonitoringSubmitted,
        &name,
        institution,
        &setting.region_code,
        now,
    )
    .await?;
    get_round(conn, &setting, round, now).await
}

/// Withdraws the person's unanswered questionnaires of OPEN rounds (their consent to
/// PERSONAL_DATA was revoked; the person is locked). Answers given before stay counted.
pub(crate) async fn withdraw_of(
    conn: &mut PgConnection,
    institution: &str,
    participant: &str,
    now: Timestamp,
) -> Result<u64, ApiError> {
    let done = sqlx::query!(
        "UPDATE mentoring.questionnaires q
         SET state = 'WITHDRAWN', update_time = $3, version = q.version + 1
         FROM mentoring.monitoring_rounds r
         WHERE q.institution_id = $1 AND q.participant_id = $2 AND q.state = 'SENT'
           AND r.institution_id = q.institution_id AND r.id = q.round_id AND r.state = 'OPEN'",
        institution,
        participant,
        now.to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected())
}

struct StoredRound {
    season: MonitoringSeason,
    year: i16,
    questions: Vec<Question>,
    submit_time: Option<Timestamp>,
    version: i64,
}

/// The round as stored, without a lock (for reads); `NOT_FOUND` when missing.
async fn read_round(
    conn: &mut PgConnection,
    institution: &str,
    round: &str,
) -> Result<StoredRound, ApiError> {
    let row = sqlx::query_as!(
        RoundRow,
        "SELECT season, year, question_ids, question_texts, question_kinds, question_audiences,
                submit_time, version
         FROM mentoring.monitoring_rounds WHERE institution_id = $1 AND id = $2",
        institution,
        round
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| ApiError::not_found(round_name(institution, round)))?;
    stored_round(row)
}

async fn lock_round(
    conn: &mut PgConnection,
    institution: &str,
    round: &str,
    exclusive: bool,
) -> Result<StoredRound, ApiError> {
    let name = round_name(institution, round);
    // Two statements, as a lock strength cannot be a parameter.
    let row = if exclusive {
        sqlx::query_as!(
            RoundRow,
            "SELECT season, year, question_ids, question_texts, question_kinds, question_audiences,
                    submit_time, version
             FROM mentoring.monitoring_rounds WHERE institution_id = $1 AND id = $2 FOR UPDATE",
            institution,
            round
        )
        .fetch_optional(&mut *conn)
        .await?
    } else {
        sqlx::query_as!(
            RoundRow,
            "SELECT season, year, question_ids, question_texts, question_kinds, question_audiences,
                    submit_time, version
             FROM mentoring.monitoring_rounds WHERE institution_id = $1 AND id = $2 FOR SHARE",
            institution,
            round
        )
        .fetch_optional(&mut *conn)
        .await?
    }
    .ok_or_else(|| ApiError::not_found(name))?;
    stored_round(row)
}

fn stored_round(row: RoundRow) -> Result<StoredRound, ApiError> {
    Ok(StoredRound {
        season: parsed("season", &row.season, MonitoringSeason::parse)?,
        year: row.year,
        questions: questions_of(
            &row.question_ids,
            &row.question_texts,
            &row.question_kinds,
            &row.question_audiences,
        )?,
        submit_time: row.submit_time.map(|t| t.to_jiff()),
        version: row.version,
    })
}

struct RoundRow {
    season: String,
    year: i16,
    question_ids: Vec<String>,
    question_texts: Vec<String>,
    question_kinds: Vec<String>,
    question_audiences: Vec<String>,
    submit_time: Option<jiff_sqlx::Timestamp>,
    version: i64,
}

fn questions_of(
    ids: &[String],
    texts: &[String],
    kinds: &[String],
    audiences: &[String],
) -> Result<Vec<Question>, ApiError> {
    let mut questions = Vec::with_capacity(ids.len());
    for (i, id) in ids.iter().enumerate() {
        let audience = match audiences.get(i).map(String::as_str) {
            None | Some("") => None,
            Some(raw) => Some(parsed("side", raw, PairSide::parse)?),
        };
        questions.push(Question {
            id: id.clone(),
            text: texts.get(i).cloned().unwrap_or_default(),
            kind: parsed(
                "question kind",
                kinds.get(i).map(String::as_str).unwrap_or(""),
                QuestionKind::parse,
            )?,
            audience,
        });
    }
    Ok(questions)
}

/// The contract's rules for a round's questions (at most 30; IDs of 1 to 40 lower-case
/// letters, digits and underscores, each once; a text), each problem under its field; the
/// api runs them with its own checks so that a caller hears of every bad field at once.
pub fn check_questions(fields: &mut Vec<FieldError>, questions: &[Question]) {
    if questions.len() > 30 {
        fields.push(FieldError::new(
            "monitoring_round.questions",
            "at most 30 questions",
        ));
    }
    for (i, q) in questions.iter().enumerate() {
        let well_formed = (1..=40).contains(&q.id.len())
            && q.id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !well_formed || questions[..i].iter().any(|e| e.id == q.id) {
            fields.push(FieldError::new(
                format!("monitoring_round.questions[{i}].id"),
                "1 to 40 lower-case letters, digits and underscores, given once",
            ));
        }
        if q.text.trim().is_empty() {
            fields.push(FieldError::new(
                format!("monitoring_round.questions[{i}].text"),
                "a question needs its text",
            ));
        }
    }
}

fn zone(setting: &Setting) -> Result<TimeZone, ApiError> {
    TimeZone::get(&setting.time_zone).map_err(|_| corrupt("time zone", &setting.time_zone))
}

/// One round as shown at `now` (which judges `overdue`).
pub async fn get_round(
    conn: &mut PgConnection,
    setting: &Setting,
    round: &str,
    now: Timestamp,
) -> Result<Round, ApiError> {
    list_rounds_where(conn, setting, Some(round), Some(now))
        .await?
        .pop()
        .ok_or_else(|| ApiError::not_found(round_name(&setting.id, round)))
}

/// The institution's rounds, the latest due first; `now` judges `overdue`.
pub async fn list_rounds(
    conn: &mut PgConnection,
    setting: &Setting,
    now: Option<Timestamp>,
) -> Result<Vec<Round>, ApiError> {
    list_rounds_where(conn, setting, None, now).await
}

/// The filters of `ListMonitoringRounds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RoundFilter {
    /// Rounds of this year only.
    pub year: Option<i16>,
    /// Rounds of this season only.
    pub season: Option<MonitoringSeason>,
    /// SUBMITTED ones (`true`) or OPEN ones (`false`) only.
    pub submitted: Option<bool>,
    /// Only rounds submitted late, or overdue at the call.
    pub late_only: bool,
}

/// A page of `ListMonitoringRounds` of one institution, or of every institution of a region
/// (`institutions/-` for the regional centre): at most `size` after the round `after`
/// (institution ID, round ID), the latest due first, then by name, each as [`get_round`]
/// shows it at `now` (which judges `overdue`, and `late_only` through the domain).
pub async fn list_rounds_page(
    conn: &mut PgConnection,
    scope: Scope<'_>,
    filter: &RoundFilter,
    now: Timestamp,
    size: usize,
    after: Option<(String, String)>,
) -> Result<Page<Round, (String, String)>, ApiError> {
    let (institution, region) = scope.parameters(conn).await?;
    let mut settings: HashMap<String, Setting> = HashMap::new();
    let mut items: Vec<(String, Round)> = vec![];
    let mut from = after;
    loop {
        let (after_institution, after_round) = from.clone().unzip();
        let keys = sqlx::query!(
            "SELECT r.institution_id, r.id FROM mentoring.monitoring_rounds r
             JOIN mentoring.institutions i ON i.id = r.institution_id
             WHERE ($1::text IS NULL OR r.institution_id = $1)
               AND ($2::text IS NULL OR i.region_code = $2)
               AND ($3::smallint IS NULL OR r.year = $3)
               AND ($4::text IS NULL OR r.season = $4)
               AND ($5::bool IS NULL OR (r.state = 'SUBMITTED') = $5)
               AND ($7::text IS NULL OR r.id < $7 OR (r.id = $7 AND r.institution_id > $6))
             ORDER BY r.id DESC, r.institution_id
             LIMIT $8",
            institution,
            region,
            filter.year,
            filter.season.map(MonitoringSeason::as_str),
            filter.submitted,
            after_institution,
            after_round,
            edu_kit::paging::overfetch_limit(size),
        )
        .fetch_all(&mut *conn)
        .await?;
        let exhausted = keys.len() <= size;
        for key in keys {
            from = Some((key.institution_id.clone(), key.id.clone()));
            if !settings.contains_key(&key.institution_id) {
                let setting = institutions::setting(conn, &key.institution_id, now).await?;
                settings.insert(key.institution_id.clone(), setting);
            }
            let setting = &settings[&key.institution_id];
            let round = list_rounds_where(conn, setting, Some(&key.id), Some(now))
                .await?
                .pop()
                .ok_or_else(|| ApiError::not_found(round_name(&key.institution_id, &key.id)))?;
            if !filter.late_only || round.late || round.overdue {
                items.push((key.institution_id, round));
                if items.len() > size {
                    break;
                }
            }
        }
        if items.len() > size || exhausted {
            break;
        }
    }
    let page = Page::from_overfetch(items, size, |(institution, round)| {
        (institution.clone(), round.id.clone())
    });
    Ok(Page {
        items: page.items.into_iter().map(|(_, round)| round).collect(),
        next: page.next,
    })
}

async fn list_rounds_where(
    conn: &mut PgConnection,
    setting: &Setting,
    only: Option<&str>,
    now: Option<Timestamp>,
) -> Result<Vec<Round>, ApiError> {
    let institution = setting.id.as_str();
    let rows = sqlx::query!(
        r#"SELECT r.id, r.season, r.year, r.question_ids, r.question_texts, r.question_kinds,
                  r.question_audiences, r.submit_time, r.late, r.summary, r.create_time,
                  r.update_time, r.version,
                  (SELECT count(*) FROM mentoring.pair_results x
                   WHERE x.institution_id = r.institution_id AND x.round_id = r.id) AS "pairs!",
                  (SELECT count(*) FROM mentoring.pair_results x
                   WHERE x.institution_id = r.institution_id AND x.round_id = r.id
                     AND x.assessment IS NOT NULL) AS "assessed!",
                  (SELECT count(*) FROM mentoring.questionnaires q
                   WHERE q.institution_id = r.institution_id AND q.round_id = r.id
                     AND q.state <> 'WITHDRAWN') AS "sent!",
                  (SELECT count(*) FROM mentoring.questionnaires q
                   WHERE q.institution_id = r.institution_id AND q.round_id = r.id
                     AND q.state = 'ANSWERED') AS "answered!"
           FROM mentoring.monitoring_rounds r
           WHERE r.institution_id = $1 AND ($2::text IS NULL OR r.id = $2)
           ORDER BY r.id DESC"#,
        institution,
        only
    )
    .fetch_all(&mut *conn)
    .await?;
    let zone = zone(setting)?;
    let now = now.unwrap_or_else(Timestamp::now);
    let mut rounds = Vec::with_capacity(rows.len());
    for row in rows {
        let season = parsed("season", &row.season, MonitoringSeason::parse)?;
        let due_date = deadlines::monitoring_due_day(season, row.year);
        let submit_time = row.submit_time.map(|t| t.to_jiff());
        rounds.push(Round {
            name: round_name(institution, &row.id),
            institution: institution.to_string(),
            region_code: setting.region_code.clone(),
            season,
            year: row.year,
            questions: questions_of(
                &row.question_ids,
                &row.question_texts,
                &row.question_kinds,
                &row.question_audiences,
            )?,
            due_date,
            due_time: deadlines::due_instant(due_date, &zone),
            submitted: submit_time.is_some(),
            submit_time,
            late: row.late,
            overdue: submit_time.is_none() && deadlines::is_overdue(due_date, now, &zone),
            pairs: row.pairs,
            pairs_assessed: row.assessed,
            questionnaires: row.sent,
            questionnaires_answered: row.answered,
            summary: row.summary,
            create_time: row.create_time.to_jiff(),
            update_time: row.update_time.to_jiff(),
            version: row.version,
            id: row.id,
        });
    }
    Ok(rounds)
}

/// The filters of `ListQuestionnaires`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QuestionnaireFilter {
    /// The questionnaires of this pair only, by ID.
    pub pair: Option<String>,
    /// In this state only: SENT, ANSWERED or WITHDRAWN.
    pub state: Option<String>,
    /// Those of this respondent only, by participant ID (what a participant or guardian
    /// may answer).
    pub respondent: Option<String>,
    /// Those of these respondents only, by participant ID (a guardian's wards).
    pub respondents: Option<Vec<String>>,
}

/// A page of `ListQuestionnaires` of a round: at most `size` after the questionnaire
/// `after`, by pair, mentor first, then by ID, each as [`list_questionnaires`] shows it;
/// `NOT_FOUND` for a missing round.
pub async fn list_questionnaires_page(
    conn: &mut PgConnection,
    setting: &Setting,
    round: &str,
    filter: &QuestionnaireFilter,
    size: usize,
    after: Option<String>,
) -> Result<Page<Questionnaire, String>, ApiError> {
    let institution = setting.id.as_str();
    let found = sqlx::query_scalar!(
        r#"SELECT 1 AS "found!" FROM mentoring.monitoring_rounds
           WHERE institution_id = $1 AND id = $2"#,
        institution,
        round
    )
    .fetch_optional(&mut *conn)
    .await?;
    if found.is_none() {
        return Err(ApiError::not_found(round_name(institution, round)));
    }
    let ids = sqlx::query_scalar!(
        "SELECT q.id FROM mentoring.questionnaires q
         WHERE q.institution_id = $1 AND q.round_id = $2
           AND ($3::text IS NULL OR q.pair_id = $3)
           AND ($4::text IS NULL OR q.state = $4)
           AND ($5::text IS NULL OR q.participant_id = $5)
           AND ($6::text IS NULL OR (q.pair_id, q.side <> 'MENTOR', q.id) > (
                   SELECT a.pair_id, a.side <> 'MENTOR', a.id FROM mentoring.questionnaires a
                   WHERE a.institution_id = $1 AND a.round_id = $2 AND a.id = $6))
           AND ($8::text[] IS NULL OR q.participant_id = ANY($8))
         ORDER BY q.pair_id, q.side <> 'MENTOR', q.id
         LIMIT $7",
        institution,
        round,
        filter.pair,
        filter.state,
        filter.respondent,
        after,
        edu_kit::paging::overfetch_limit(size),
        filter.respondents.as_deref(),
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut items = Vec::with_capacity(ids.len());
    for id in &ids {
        let shown = list_questionnaires(conn, setting, round, Some(id))
            .await?
            .pop()
            .ok_or_else(|| ApiError::not_found(questionnaire_name(institution, round, id)))?;
        items.push(shown);
    }
    Ok(Page::from_overfetch(items, size, |q| q.id.clone()))
}

/// The questionnaires of a round by pair, mentor first, then by ID; the answers of a
/// redacted respondent are empty.
pub async fn list_questionnaires(
    conn: &mut PgConnection,
    setting: &Setting,
    round: &str,
    only: Option<&str>,
) -> Result<Vec<Questionnaire>, ApiError> {
    let institution = setting.id.as_str();
    let rows = sqlx::query!(
        "SELECT id, pair_id, participant_id, side, state, answered_by, answer_time, create_time,
                version
         FROM mentoring.questionnaires
         WHERE institution_id = $1 AND round_id = $2 AND ($3::text IS NULL OR id = $3)
         ORDER BY pair_id, side = 'MENTOR' DESC, id",
        institution,
        round,
        only
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut shown = Vec::with_capacity(rows.len());
    for row in rows {
        let respondent = participants::people(
            conn,
            institution,
            std::slice::from_ref(&row.participant_id),
            setting.today,
        )
        .await?
        .pop()
        .ok_or_else(|| corrupt("questionnaire respondent", &row.participant_id))?;
        // In the order of the round's questions, as the contract shows them.
        let answers = sqlx::query!(
            "SELECT a.question_id, a.score, a.text FROM mentoring.answers a
             JOIN mentoring.monitoring_rounds r
               ON r.institution_id = a.institution_id AND r.id = a.round_id
             WHERE a.institution_id = $1 AND a.round_id = $2 AND a.questionnaire_id = $3
             ORDER BY array_position(r.question_ids, a.question_id), a.question_id",
            institution,
            round,
            row.id
        )
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .map(|a| AnswerDraft {
            question_id: a.question_id,
            score: a.score,
            text: a
                .text
                .map(|t| shown_text(&t, respondent.redacted).to_string()),
        })
        .collect();
        shown.push(Questionnaire {
            name: questionnaire_name(institution, round, &row.id),
            pair: pair_name(institution, &row.pair_id),
            answers: if respondent.redacted { vec![] } else { answers },
            respondent,
            side: parsed("side", &row.side, PairSide::parse)?,
            state: row.state,
            answered_by: match row.answered_by.as_deref() {
                Some(raw) => Some(parsed("actor", raw, ActorKind::parse)?),
                None => None,
            },
            answer_time: row.answer_time.map(|t| t.to_jiff()),
            create_time: row.create_time.to_jiff(),
            version: row.version,
            id: row.id,
        });
    }
    Ok(shown)
}
