//! `MonitoringService` (rule 10, §3.5, choice 14): the half-yearly rounds `…/2024-12` (due
//! 20 December) and `…/2025-05` (due 20 May) in the institution's zone, their
//! questionnaires and a result per pair.
//!
//! Who may call: the director and the appointed curator open, follow and submit the rounds
//! and read every questionnaire and result; a participant reads and answers only their own
//! questionnaires, a guardian those of their minor wards (staff may enter paper ones); the
//! regional centre reads the rounds of its region (dates, states, counts; never a person, so
//! never a questionnaire or result). Event consumers are `ROLE_REQUIRED` and a curator token
//! of someone not appointed `CURATOR_NOT_APPOINTED` in every method ([`super::access`]).
//! Visibility is settled before the role: outside the tenant everything is `NOT_FOUND`. A submitted round is judged `late` at the call's
//! instant (the request's `now`) by the store, which also emits `MONITORING_SUBMITTED`.
//! Respondents and mentors are shown as the store shows them: redacted after a revocation.

use edu_kit::error::FieldProblems;
use edu_kit::idempotency::IdempotencyKey;
use edu_kit::paging::PageRequest;
use edu_kit::{ApiError, CallContext, etag, wire};
use edu_proto::edu::mentoring::v1 as pb;
use edu_proto::edu::mentoring::v1::monitoring_service_server::MonitoringService;
use tonic::{Request, Response, Status};

use super::access::{self, CURATOR, DIRECTOR, REGIONAL_CENTRE, Viewer, role_required};
use super::convert::{self, checked, count};
use super::{names, once, respond};
use crate::domain::FieldError;
use crate::domain::consent::ActorKind;
use crate::domain::monitoring::MonitoringSeason;
use crate::store::monitoring::{
    self, AnswerDraft, PairAssessment, PairResultFilter, Question, QuestionKind,
    QuestionnaireFilter, RoundFilter,
};
use crate::store::{Scope, Store, institutions};

/// The seasons with their wire values.
const SEASONS: [(MonitoringSeason, pb::MonitoringSeason); 2] = [
    (MonitoringSeason::December, pb::MonitoringSeason::December),
    (MonitoringSeason::May, pb::MonitoringSeason::May),
];

/// Question kinds with their wire values.
const KINDS: [(QuestionKind, pb::QuestionKind); 2] = [
    (QuestionKind::Scale, pb::QuestionKind::Scale),
    (QuestionKind::Text, pb::QuestionKind::Text),
];

/// Assessments with their wire values.
const ASSESSMENTS: [(PairAssessment, pb::PairAssessment); 3] = [
    (PairAssessment::Effective, pb::PairAssessment::Effective),
    (
        PairAssessment::PartlyEffective,
        pb::PairAssessment::PartlyEffective,
    ),
    (
        PairAssessment::NotEffective,
        pb::PairAssessment::NotEffective,
    ),
];

/// Round states as the store filters them (`true` = SUBMITTED) with their wire values.
const ROUND_STATES: [(bool, pb::MonitoringRoundState); 2] = [
    (false, pb::MonitoringRoundState::Open),
    (true, pb::MonitoringRoundState::Submitted),
];

/// Questionnaire states as stored with their wire values.
const QUESTIONNAIRE_STATES: [(&str, pb::QuestionnaireState); 3] = [
    ("SENT", pb::QuestionnaireState::Sent),
    ("ANSWERED", pb::QuestionnaireState::Answered),
    ("WITHDRAWN", pb::QuestionnaireState::Withdrawn),
];

/// The contract's limits (`edu.api.v1.max_length`) the store does not check itself.
const QUESTION_TEXT_MAX: usize = 500;
const SUMMARY_MAX: usize = 5000;
const CONCLUSION_MAX: usize = 5000;

/// The monitoring service.
#[derive(Debug, Clone)]
pub struct MonitoringApi {
    store: Store,
}

impl MonitoringApi {
    /// The service on `store`.
    pub fn new(store: Store) -> Self {
        MonitoringApi { store }
    }

    /// The caller in `institution`, for every method but the rounds' list: event consumers
    /// are `ROLE_REQUIRED`, anyone else without standing there is told it does not exist,
    /// and a curator token of someone not appointed is `CURATOR_NOT_APPOINTED`.
    async fn viewer(&self, context: &CallContext, institution: &str) -> Result<Viewer, ApiError> {
        let viewer = Viewer::of(&self.store, context, institution).await?;
        viewer.require_reader()?;
        Ok(viewer)
    }

    async fn create_round(
        &self,
        request: Request<pb::CreateMonitoringRoundRequest>,
    ) -> Result<pb::MonitoringRound, ApiError> {
        let context = CallContext::of(&request)?;
        let body = request.get_ref();
        let institution = names::institution(&body.parent, "parent")?;
        let viewer = self.viewer(context, &institution).await?;
        viewer.require_staff()?;
        let draft = body.monitoring_round.clone().unwrap_or_default();
        let mut problems = FieldProblems::new();
        if body.monitoring_round.is_none() {
            problems.add("monitoring_round", "required");
        }
        let season = problems.field(convert::required(
            draft.season,
            "monitoring_round.season",
            "a season",
            &SEASONS,
        ));
        // From the year the institution was registered (in its zone) to next year.
        let registered = {
            let mut conn = self.store.read().await?;
            let found = institutions::get(&mut conn, &institution).await?;
            conn.finish();
            found.create_time
        };
        let first = crate::store::day_in(&viewer.setting.time_zone, registered)?.year();
        let last = viewer.setting.today.year().saturating_add(1);
        let year = i16::try_from(draft.year)
            .ok()
            .filter(|y| (first..=last).contains(y));
        if year.is_none() {
            problems.add(
                "monitoring_round.year",
                format!("a year from {first} (the institution's registration) to {last}"),
            );
        }
        let questions = questions(&mut problems, &draft.questions);
        problems.finish()?;
        let season = checked(season, "monitoring_round.season")?;
        let year = checked(year, "monitoring_round.year")?;
        let key =
            IdempotencyKey::for_request(context, "CreateMonitoringRound", &body.request_id, body)?;
        let created = once(&self.store, key.as_ref(), context.now(), async |conn| {
            let round =
                monitoring::create_round(conn, context, &institution, season, year, &questions)
                    .await?;
            Ok(round_to_wire(&round, true))
        })
        .await?;
        Ok(created)
    }

    async fn list_rounds(
        &self,
        request: Request<pb::ListMonitoringRoundsRequest>,
    ) -> Result<pb::ListMonitoringRoundsResponse, ApiError> {
        let context = CallContext::of(&request)?;
        let body = request.get_ref();
        let caller = context.caller()?;
        // `institutions/-` reads no one institution's standing: the roles are judged here.
        access::require_institution_role(caller)?;
        let mut problems = FieldProblems::new();
        let year = match body.year {
            0 => None,
            raw => {
                let year = i16::try_from(raw).ok().filter(|y| wire::YEARS.contains(y));
                if year.is_none() {
                    problems.add(
                        "year",
                        "a year between 2000 and 2100, or zero for every year",
                    );
                }
                year
            }
        };
        let season = problems
            .field(convert::optional(
                body.season,
                "season",
                "a season",
                &SEASONS,
            ))
            .flatten();
        let submitted = problems
            .field(convert::optional(
                body.state,
                "state",
                "a round state",
                &ROUND_STATES,
            ))
            .flatten();
        let institution = problems
            .field(names::institution_or_every(&body.parent, "parent"))
            .flatten();
        problems.finish()?;
        let filter = RoundFilter {
            year,
            season,
            submitted,
            late_only: body.late_only,
        };
        let paging = PageRequest::<(String, String)>::parse(
            body.page_size,
            &body.page_token,
            &[
                "ListMonitoringRounds",
                &body.parent,
                &body.year.to_string(),
                &body.season.to_string(),
                &body.state.to_string(),
                &body.late_only.to_string(),
            ],
        )?;
        // Whose rounds: one institution, or the regional centre's regions and the
        // institutions where the caller is staff. Only staff see the curator's summary, a
        // free text; the regional centre reads dates, states and counts.
        let mut regions: Vec<String> = vec![];
        let mut listed: Vec<String> = vec![];
        let mut staff_of: Vec<String> = vec![];
        match institution {
            Some(institution) => {
                let viewer = Viewer::of(&self.store, context, &institution).await?;
                if !viewer.is_regional_centre() {
                    viewer.require_staff()?;
                    staff_of.push(institution.clone());
                }
                listed.push(institution);
            }
            None => {
                let reach = access::reach(&self.store, context).await?;
                regions = reach.regions;
                for viewer in reach.viewers.into_iter().filter(Viewer::is_staff) {
                    // An institution of a listed region is in its region's pages.
                    if !regions.contains(&viewer.setting.region_code) {
                        listed.push(viewer.setting.id.clone());
                    }
                    staff_of.push(viewer.setting.id);
                }
                if staff_of.is_empty() && !caller.has_role(REGIONAL_CENTRE) {
                    return Err(role_required(&format!(
                        "`institutions/-` lists the rounds of the regional centre's region \
                         ({REGIONAL_CENTRE}) or of the institutions you run ({DIRECTOR}, \
                         {CURATOR})"
                    )));
                }
            }
        }
        let scopes = regions
            .iter()
            .map(|r| Scope::Region(r))
            .chain(listed.iter().map(|i| Scope::Institution(i)));
        // Each scope's page after the same cursor, merged in the listing's order: the
        // first `size` of the union are the first `size` of the whole.
        let mut conn = self.store.read().await?;
        let mut items = vec![];
        let mut more = false;
        for scope in scopes {
            let page = monitoring::list_rounds_page(
                &mut conn,
                scope,
                &filter,
                context.now(),
                paging.size,
                paging.after.clone(),
            )
            .await?;
            more |= page.next.is_some();
            items.extend(page.items);
        }
        items.sort_by(|a, b| {
            b.id.cmp(&a.id)
                .then_with(|| a.institution.cmp(&b.institution))
        });
        if items.len() > paging.size {
            items.truncate(paging.size);
            more = true;
        }
        let next = if more {
            items.last().map(|r| (r.institution.clone(), r.id.clone()))
        } else {
            None
        };
        conn.finish();
        Ok(pb::ListMonitoringRoundsResponse {
            monitoring_rounds: items
                .iter()
                .map(|r| round_to_wire(r, staff_of.contains(&r.institution)))
                .collect(),
            next_page_token: paging.next_token(next.as_ref()),
        })
    }

    async fn list_questionnaires(
        &self,
        request: Request<pb::ListQuestionnairesRequest>,
    ) -> Result<pb::ListQuestionnairesResponse, ApiError> {
        let context = CallContext::of(&request)?;
        let body = request.get_ref();
        let (institution, round) = names::round(&body.parent, "parent")?;
        // Standing first: a stranger learns nothing from how the other fields are judged.
        let viewer = self.viewer(context, &institution).await?;
        let mut problems = FieldProblems::new();
        let pair = if body.pair.is_empty() {
            None
        } else {
            problems.field(names::pair_of(&institution, &body.pair, "pair"))
        };
        let state = problems
            .field(convert::optional(
                body.state,
                "state",
                "a questionnaire state",
                &QUESTIONNAIRE_STATES,
            ))
            .flatten();
        problems.finish()?;
        let paging = PageRequest::<String>::parse(
            body.page_size,
            &body.page_token,
            &[
                "ListQuestionnaires",
                &body.parent,
                &body.pair,
                &body.state.to_string(),
            ],
        )?;
        let respondents = respondents_for(&viewer)?;
        let filter = QuestionnaireFilter {
            pair,
            state: state.map(str::to_string),
            respondent: None,
            respondents,
        };
        let mut conn = self.store.read().await?;
        let page = monitoring::list_questionnaires_page(
            &mut conn,
            &viewer.setting,
            &round,
            &filter,
            paging.size,
            paging.after.clone(),
        )
        .await?;
        conn.finish();
        Ok(pb::ListQuestionnairesResponse {
            questionnaires: page.items.iter().map(questionnaire_to_wire).collect(),
            next_page_token: paging.next_token(page.next.as_ref()),
        })
    }

    async fn submit_questionnaire(
        &self,
        request: Request<pb::SubmitQuestionnaireRequest>,
    ) -> Result<pb::Questionnaire, ApiError> {
        let context = CallContext::of(&request)?;
        let body = request.get_ref();
        let (institution, round, id) = names::round_child(&body.name, "questionnaires", "name")?;
        let viewer = self.viewer(context, &institution).await?;
        // Refused whatever the name, so the refusal says nothing of what exists.
        viewer.require_people_reader()?;
        let current = {
            let mut conn = self.store.read().await?;
            let mut found =
                monitoring::list_questionnaires(&mut conn, &viewer.setting, &round, Some(&id))
                    .await?;
            conn.finish();
            found.pop()
        };
        let respondent = current
            .as_ref()
            .map(|q| names::last_id(&q.respondent.participant).to_string())
            .filter(|r| viewer.sees_person(r))
            .ok_or_else(|| ApiError::not_found(body.name.clone()))?;
        let actor = viewer.actor()?;
        if actor != ActorKind::Staff && !viewer.acts_for(&respondent) {
            return Err(ApiError::not_found(body.name.clone()));
        }
        // Every answer is checked against the round by the store, which names each one.
        let answers: Vec<AnswerDraft> = body
            .answers
            .iter()
            .map(|a| AnswerDraft {
                question_id: a.question_id.clone(),
                score: (a.score != 0).then_some(a.score),
                text: (!a.text.is_empty()).then(|| a.text.clone()),
            })
            .collect();
        let key =
            IdempotencyKey::for_request(context, "SubmitQuestionnaire", &body.request_id, body)?;
        let answered = once(&self.store, key.as_ref(), context.now(), async |conn| {
            let answered = monitoring::submit_questionnaire(
                conn,
                context,
                &institution,
                &round,
                &id,
                &answers,
                actor,
                &body.etag,
            )
            .await?;
            Ok(questionnaire_to_wire(&answered))
        })
        .await?;
        Ok(answered)
    }

    async fn list_pair_results(
        &self,
        request: Request<pb::ListPairResultsRequest>,
    ) -> Result<pb::ListPairResultsResponse, ApiError> {
        let context = CallContext::of(&request)?;
        let body = request.get_ref();
        let (institution, round) = names::round(&body.parent, "parent")?;
        let mut problems = FieldProblems::new();
        let pair_type = problems
            .field(convert::pair_type_filter(body.pair_type, "pair_type"))
            .flatten();
        let assessment = problems
            .field(convert::optional(
                body.assessment,
                "assessment",
                "an assessment",
                &ASSESSMENTS,
            ))
            .flatten();
        problems.finish()?;
        let paging = PageRequest::<String>::parse(
            body.page_size,
            &body.page_token,
            &[
                "ListPairResults",
                &body.parent,
                &body.pair_type.to_string(),
                &body.assessment.to_string(),
                &body.unassessed_only.to_string(),
            ],
        )?;
        let viewer = self.viewer(context, &institution).await?;
        viewer.require_staff()?;
        let filter = PairResultFilter {
            pair_type,
            assessment,
            unassessed_only: body.unassessed_only,
        };
        let mut conn = self.store.read().await?;
        let page = monitoring::list_pair_results_page(
            &mut conn,
            &viewer.setting,
            &round,
            &filter,
            context.now(),
            paging.size,
            paging.after.clone(),
        )
        .await?;
        conn.finish();
        Ok(pb::ListPairResultsResponse {
            pair_results: page.items.iter().map(pair_result_to_wire).collect(),
            next_page_token: paging.next_token(page.next.as_ref()),
        })
    }

    async fn update_pair_result(
        &self,
        request: Request<pb::UpdatePairResultRequest>,
    ) -> Result<pb::PairResult, ApiError> {
        let context = CallContext::of(&request)?;
        let body = request.get_ref();
        let changes = body.pair_result.clone().unwrap_or_default();
        let (institution, round, id) =
            names::round_child(&changes.name, "pairResults", "pair_result.name")?;
        let mask = wire::mask_paths(body.update_mask.as_ref(), &["assessment", "conclusion"])?;
        let mut problems = FieldProblems::new();
        let mut assessment = None;
        let mut conclusion = None;
        for path in &mask {
            match path.as_str() {
                "assessment" => {
                    // The store keeps an assessment once given; it is changed, not cleared.
                    assessment = problems.field(convert::required(
                        changes.assessment,
                        "pair_result.assessment",
                        "an assessment",
                        &ASSESSMENTS,
                    ));
                }
                _ => {
                    conclusion = Some(problems.text(
                        "pair_result.conclusion",
                        &changes.conclusion,
                        CONCLUSION_MAX,
                        false,
                    ));
                }
            }
        }
        problems.finish()?;
        let viewer = self.viewer(context, &institution).await?;
        viewer.require_staff()?;
        let mut tx = self.store.begin().await?;
        monitoring::update_pair_result(
            &mut tx,
            context,
            &institution,
            &round,
            &id,
            assessment,
            conclusion.as_deref(),
            &changes.etag,
        )
        .await?;
        let updated =
            monitoring::get_pair_result(&mut tx, &viewer.setting, &round, &id, context.now())
                .await?;
        tx.commit().await?;
        Ok(pair_result_to_wire(&updated))
    }

    async fn submit_round(
        &self,
        request: Request<pb::SubmitMonitoringRoundRequest>,
    ) -> Result<pb::MonitoringRound, ApiError> {
        let context = CallContext::of(&request)?;
        let body = request.get_ref();
        let (institution, round) = names::round(&body.name, "name")?;
        let mut problems = FieldProblems::new();
        let summary = problems.text("summary", &body.summary, SUMMARY_MAX, false);
        problems.finish()?;
        let viewer = self.viewer(context, &institution).await?;
        viewer.require_staff()?;
        let key =
            IdempotencyKey::for_request(context, "SubmitMonitoringRound", &body.request_id, body)?;
        let submitted = once(&self.store, key.as_ref(), context.now(), async |conn| {
            let round =
                monitoring::submit_round(conn, context, &institution, &round, &summary, &body.etag)
                    .await?;
            Ok(round_to_wire(&round, true))
        })
        .await?;
        Ok(submitted)
    }
}

/// Whose questionnaires the caller lists: `None` for staff (every one), their own or their
/// wards' for a participant or guardian. The regional centre never reads one
/// (`ROLE_REQUIRED`).
fn respondents_for(viewer: &Viewer) -> Result<Option<Vec<String>>, ApiError> {
    viewer.require_people_reader()?;
    Ok(viewer.people())
}

/// The round's questions from the wire, each problem recorded under its field (the store's
/// rules on IDs, texts and count included).
fn questions(problems: &mut FieldProblems, wire: &[pb::Question]) -> Vec<Question> {
    let mut questions = Vec::with_capacity(wire.len());
    for (i, q) in wire.iter().enumerate() {
        let field = |f: &str| format!("monitoring_round.questions[{i}].{f}");
        let kind = problems.field(convert::required(
            q.kind,
            &field("kind"),
            "a question kind",
            &KINDS,
        ));
        let audience = problems
            .field(convert::side_filter(q.audience, &field("audience")))
            .flatten();
        if q.text.chars().count() > QUESTION_TEXT_MAX {
            problems.add(
                field("text"),
                format!("at most {QUESTION_TEXT_MAX} characters"),
            );
        }
        questions.push(Question {
            id: q.id.clone(),
            text: q.text.clone(),
            kind: kind.unwrap_or(QuestionKind::Scale),
            audience,
        });
    }
    let mut store_rules: Vec<FieldError> = vec![];
    monitoring::check_questions(&mut store_rules, &questions);
    for problem in store_rules {
        problems.add(problem.field, problem.message);
    }
    questions
}

/// A round on the wire; the curator's summary, a free text, only for the institution's
/// staff (the regional centre reads dates, states and counts).
fn round_to_wire(round: &monitoring::Round, with_summary: bool) -> pb::MonitoringRound {
    pb::MonitoringRound {
        name: round.name.clone(),
        season: convert::wire(round.season, &SEASONS),
        year: i32::from(round.year),
        questions: round
            .questions
            .iter()
            .map(|q| pb::Question {
                id: q.id.clone(),
                text: q.text.clone(),
                kind: convert::wire(q.kind, &KINDS),
                audience: q.audience.map_or(0, convert::side),
            })
            .collect(),
        due_date: Some(wire::date(round.due_date)),
        due_time: Some(wire::timestamp(round.due_time)),
        state: convert::wire(round.submitted, &ROUND_STATES),
        submit_time: round.submit_time.map(wire::timestamp),
        late: round.late,
        overdue: round.overdue,
        pairs: count(round.pairs),
        pairs_assessed: count(round.pairs_assessed),
        questionnaires: count(round.questionnaires),
        questionnaires_answered: count(round.questionnaires_answered),
        summary: if with_summary {
            round.summary.clone()
        } else {
            String::new()
        },
        region_code: round.region_code.clone(),
        create_time: Some(wire::timestamp(round.create_time)),
        update_time: Some(wire::timestamp(round.update_time)),
        etag: etag::of(round.version),
    }
}

/// A questionnaire on the wire; the store has emptied a redacted respondent's answers.
fn questionnaire_to_wire(q: &monitoring::Questionnaire) -> pb::Questionnaire {
    pb::Questionnaire {
        name: q.name.clone(),
        pair: q.pair.clone(),
        respondent: Some(convert::person(&q.respondent)),
        side: convert::side(q.side),
        state: convert::wire(q.state.as_str(), &QUESTIONNAIRE_STATES),
        answers: q
            .answers
            .iter()
            .map(|a| pb::Answer {
                question_id: a.question_id.clone(),
                score: a.score.unwrap_or(0),
                text: a.text.clone().unwrap_or_default(),
            })
            .collect(),
        answer_time: q.answer_time.map(wire::timestamp),
        answered_by: q.answered_by.map_or(0, convert::actor),
        redacted: q.respondent.redacted,
        create_time: Some(wire::timestamp(q.create_time)),
        etag: etag::of(q.version),
    }
}

/// A pair's result on the wire; the store has emptied a redacted pair's conclusion.
fn pair_result_to_wire(r: &monitoring::PairResult) -> pb::PairResult {
    pb::PairResult {
        name: r.name.clone(),
        pair: r.pair.clone(),
        pair_type: convert::pair_type(r.pair_type),
        form: convert::form(r.form),
        mentor_person: Some(convert::person(&r.mentor_person)),
        questionnaires: count(r.questionnaires),
        questionnaires_answered: count(r.questionnaires_answered),
        averages: r
            .averages
            .iter()
            .map(|a| pb::QuestionAverage {
                question_id: a.question_id.clone(),
                answers: count(a.answers),
                mean: a.mean,
            })
            .collect(),
        plan_activities: count(r.plan_activities),
        plan_activities_done: count(r.plan_activities_done),
        plan_activities_overdue: count(r.plan_activities_overdue),
        meetings: count(r.meetings),
        assessment: r.assessment.map_or(0, |a| convert::wire(a, &ASSESSMENTS)),
        conclusion: r.conclusion.clone(),
        redacted: r.redacted,
        update_time: Some(wire::timestamp(r.update_time)),
        etag: etag::of(r.version),
    }
}

#[tonic::async_trait]
impl MonitoringService for MonitoringApi {
    async fn create_monitoring_round(
        &self,
        request: Request<pb::CreateMonitoringRoundRequest>,
    ) -> Result<Response<pb::MonitoringRound>, Status> {
        respond(self.create_round(request).await)
    }

    async fn list_monitoring_rounds(
        &self,
        request: Request<pb::ListMonitoringRoundsRequest>,
    ) -> Result<Response<pb::ListMonitoringRoundsResponse>, Status> {
        respond(self.list_rounds(request).await)
    }

    async fn list_questionnaires(
        &self,
        request: Request<pb::ListQuestionnairesRequest>,
    ) -> Result<Response<pb::ListQuestionnairesResponse>, Status> {
        respond(self.list_questionnaires(request).await)
    }

    async fn submit_questionnaire(
        &self,
        request: Request<pb::SubmitQuestionnaireRequest>,
    ) -> Result<Response<pb::Questionnaire>, Status> {
        respond(self.submit_questionnaire(request).await)
    }

    async fn list_pair_results(
        &self,
        request: Request<pb::ListPairResultsRequest>,
    ) -> Result<Response<pb::ListPairResultsResponse>, Status> {
        respond(self.list_pair_results(request).await)
    }

    async fn update_pair_result(
        &self,
        request: Request<pb::UpdatePairResultRequest>,
    ) -> Result<Response<pb::PairResult>, Status> {
        respond(self.update_pair_result(request).await)
    }

    async fn submit_monitoring_round(
        &self,
        request: Request<pb::SubmitMonitoringRoundRequest>,
    ) -> Result<Response<pb::MonitoringRound>, Status> {
        respond(self.submit_round(request).await)
    }
}
