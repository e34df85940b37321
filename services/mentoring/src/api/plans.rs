//! `PlanService` (rule 7; choice 13; §5.1, §6.2): a pair's individual plan and its meeting
//! log. The mentor, the director and the appointed curator write the plan while the pair is
//! FORMING or ACTIVE, move its activities by `state` (accept a proposal, cancel with a
//! reason, record the result) and log the meetings of an ACTIVE pair, one at most for a
//! SPEED pair (`SINGLE_MEETING_FORM`); a mentee, or the guardian of a minor mentee, only
//! proposes activities (PROPOSED) and reads. Nothing is recorded for a SUSPENDED pair
//! (`PAIR_NOT_ACTIVE`) or a closed one (`PAIR_CLOSED`): the store's rules.
//!
//! Visibility as in [`super::agreements`], whose [`visible_pair`] this service shares: the
//! entry is [`Viewer::among_people`] (the regional centre and event consumers are refused
//! with `ROLE_REQUIRED`, a curator token of someone not appointed with
//! `CURATOR_NOT_APPOINTED`), and a pair the caller does not see does not exist
//! (`NOT_FOUND`), settled before the role. The texts of a pair with a redacted member come
//! empty with `redacted` set, as the store shows them.

use edu_kit::error::{FieldProblems, quote, reason as kit_reason};
use edu_kit::idempotency::IdempotencyKey;
use edu_kit::paging::PageRequest;
use edu_kit::{ApiError, CallContext, etag, wire};
use edu_proto::edu::mentoring::v1 as pb;
use edu_proto::edu::mentoring::v1::plan_service_server::PlanService;
use tonic::{Request, Response, Status};

use super::access::{self, CURATOR, DIRECTOR, Viewer};
use super::agreements::visible_pair;
use super::convert::{self, checked, past_day};
use super::{names, once, respond};
use crate::domain::plan::PlanActivityState;
use crate::store::Store;
use crate::store::pairs::Pair;
use crate::store::plans::{
    self, ActivityChange, ActivityDraft, ActivityFilter, Meeting, MeetingDraft, MeetingFormat,
    PlanActivity,
};

/// The plan service.
#[derive(Debug, Clone)]
pub struct PlansApi {
    store: Store,
}

/// Every plan activity state with its wire value.
const STATES: [(PlanActivityState, pb::PlanActivityState); 4] = [
    (PlanActivityState::Proposed, pb::PlanActivityState::Proposed),
    (PlanActivityState::Planned, pb::PlanActivityState::Planned),
    (PlanActivityState::Done, pb::PlanActivityState::Done),
    (
        PlanActivityState::Cancelled,
        pb::PlanActivityState::Cancelled,
    ),
];

/// Every meeting format with its wire value.
const FORMATS: [(MeetingFormat, pb::MeetingFormat); 2] = [
    (MeetingFormat::InPerson, pb::MeetingFormat::InPerson),
    (MeetingFormat::Online, pb::MeetingFormat::Online),
];

/// The fields `UpdatePlanActivity` changes.
const CHANGEABLE: [&str; 7] = [
    "title",
    "description",
    "due_date",
    "state",
    "result",
    "done_date",
    "cancel_reason",
];

/// The contract's text limits (`edu.api.v1.max_length`).
const TITLE_CHARS: usize = 300;
const TEXT_CHARS: usize = 2000;
const TOPIC_CHARS: usize = 300;
const NOTES_CHARS: usize = 5000;

/// A meeting's bounds in minutes.
const MEETING_MINUTES: std::ops::RangeInclusive<i32> = 1..=600;

impl PlansApi {
    /// The service on `store`.
    pub fn new(store: Store) -> Self {
        PlansApi { store }
    }

    /// The caller in the pair named by `parent`, with the pair, once they see it.
    async fn pair_of(
        &self,
        context: &CallContext,
        parent: &str,
    ) -> Result<(Viewer, [String; 2], Pair), ApiError> {
        let (institution, pair) = names::pair(parent, "parent")?;
        let viewer = Viewer::among_people(&self.store, context, &institution).await?;
        let shown = visible_pair(&self.store, &viewer, &pair).await?;
        Ok((viewer, [institution, pair], shown))
    }

    async fn create_activity(
        &self,
        request: Request<pb::CreatePlanActivityRequest>,
    ) -> Result<pb::PlanActivity, ApiError> {
        let context = CallContext::of(&request)?;
        let body = request.get_ref();
        let (viewer, [institution, pair], shown) = self.pair_of(context, &body.parent).await?;
        // A mentee or guardian adds a proposal (§6.2); the mentor and staff plan.
        let by_mentee = match part_in(&viewer, &shown) {
            PairPart::Staff | PairPart::Mentor => false,
            PairPart::Mentee => true,
            PairPart::Onlooker => return Err(role_required("add to the plan")),
        };
        let draft = body.plan_activity.clone().unwrap_or_default();
        let mut problems = FieldProblems::new();
        if body.plan_activity.is_none() {
            problems.add("plan_activity", "required");
        }
        let title = problems.text("plan_activity.title", &draft.title, TITLE_CHARS, true);
        let description = problems.text(
            "plan_activity.description",
            &draft.description,
            TEXT_CHARS,
            false,
        );
        let due_date = problems.field(wire::civil_date(
            draft.due_date.as_ref(),
            "plan_activity.due_date",
        ));
        problems.finish()?;
        let due_date = checked(due_date, "plan_activity.due_date")?;
        let key =
            IdempotencyKey::for_request(context, "CreatePlanActivity", &body.request_id, body)?;
        let created = once(&self.store, key.as_ref(), context.now(), async |conn| {
            let created = plans::create_activity(
                conn,
                context,
                &institution,
                &pair,
                &ActivityDraft {
                    id: String::new(),
                    title,
                    description,
                    due_date,
                },
                by_mentee,
            )
            .await?;
            Ok(activity(&created))
        })
        .await?;
        Ok(created)
    }

    async fn list_activities(
        &self,
        request: Request<pb::ListPlanActivitiesRequest>,
    ) -> Result<pb::ListPlanActivitiesResponse, ApiError> {
        let context = CallContext::of(&request)?;
        let body = request.get_ref();
        let (viewer, [_, pair], _) = self.pair_of(context, &body.parent).await?;
        let filter = ActivityFilter {
            state: convert::optional(body.state, "state", "a plan activity state", &STATES)?,
            overdue_only: body.overdue_only,
            only: None,
        };
        let paging = PageRequest::<String>::parse(
            body.page_size,
            &body.page_token,
            &[
                "ListPlanActivities",
                &body.parent,
                &body.state.to_string(),
                &body.overdue_only.to_string(),
            ],
        )?;
        let mut conn = self.store.read().await?;
        let page = plans::list_activities(
            &mut conn,
            &viewer.setting,
            &pair,
            &filter,
            paging.size,
            paging.after.clone(),
        )
        .await?;
        conn.finish();
        Ok(pb::ListPlanActivitiesResponse {
            plan_activities: page.items.iter().map(activity).collect(),
            next_page_token: paging.next_token(page.next.as_ref()),
        })
    }

    async fn update_activity(
        &self,
        request: Request<pb::UpdatePlanActivityRequest>,
    ) -> Result<pb::PlanActivity, ApiError> {
        let context = CallContext::of(&request)?;
        let body = request.get_ref();
        let Some(sent) = &body.plan_activity else {
            return Err(ApiError::invalid_field(
                kit_reason::INVALID_FIELDS,
                "plan_activity",
                "required",
            ));
        };
        let [institution, pair, id] =
            names::pair_child(&sent.name, "planActivities", "plan_activity.name")?;
        let viewer = Viewer::among_people(&self.store, context, &institution).await?;
        let shown = visible_pair(&self.store, &viewer, &pair).await?;
        match part_in(&viewer, &shown) {
            PairPart::Staff | PairPart::Mentor => {}
            PairPart::Mentee | PairPart::Onlooker => {
                // They see the plan: a missing activity is still NOT_FOUND to them.
                let mut conn = self.store.read().await?;
                plans::get_activity(&mut conn, &viewer.setting, &pair, &id).await?;
                conn.finish();
                return Err(role_required("change the plan"));
            }
        }
        let paths = wire::mask_paths(body.update_mask.as_ref(), &CHANGEABLE)?;
        let has = |path: &str| paths.iter().any(|p| p == path);
        let mut problems = FieldProblems::new();
        let mut change = ActivityChange::default();
        if has("title") {
            change.title =
                Some(problems.text("plan_activity.title", &sent.title, TITLE_CHARS, true));
        }
        if has("description") {
            change.description = Some(problems.text(
                "plan_activity.description",
                &sent.description,
                TEXT_CHARS,
                false,
            ));
        }
        if has("due_date") {
            change.due_date = problems.field(wire::civil_date(
                sent.due_date.as_ref(),
                "plan_activity.due_date",
            ));
        }
        if has("state") {
            change.state = problems.field(convert::required(
                sent.state,
                "plan_activity.state",
                "a plan activity state",
                &STATES,
            ));
        }
        // A result is recorded or corrected, never cleared: a DONE activity keeps one.
        if has("result") {
            change.result =
                Some(problems.text("plan_activity.result", &sent.result, TEXT_CHARS, true));
        }
        if has("done_date") {
            change.done_date = problems.field(wire::civil_date(
                sent.done_date.as_ref(),
                "plan_activity.done_date",
            ));
        }
        // A reason belongs to a cancellation: it comes with the move to CANCELLED.
        if has("cancel_reason") {
            change.cancel_reason = Some(problems.text(
                "plan_activity.cancel_reason",
                &sent.cancel_reason,
                TEXT_CHARS,
                true,
            ));
            if change.state != Some(PlanActivityState::Cancelled) {
                problems.add(
                    "plan_activity.cancel_reason",
                    "is given with `state` CANCELLED in the mask",
                );
            }
        }
        problems.finish()?;
        let mut tx = self.store.begin().await?;
        let changed = plans::update_activity(
            &mut tx,
            context,
            &institution,
            &pair,
            &id,
            &change,
            &sent.etag,
        )
        .await?;
        tx.commit().await?;
        Ok(activity(&changed))
    }

    async fn log_meeting(
        &self,
        request: Request<pb::CreateMeetingRequest>,
    ) -> Result<pb::Meeting, ApiError> {
        let context = CallContext::of(&request)?;
        let body = request.get_ref();
        let (viewer, [institution, pair], shown) = self.pair_of(context, &body.parent).await?;
        match part_in(&viewer, &shown) {
            PairPart::Staff | PairPart::Mentor => {}
            PairPart::Mentee | PairPart::Onlooker => {
                return Err(role_required("log a meeting"));
            }
        }
        let sent = body.meeting.clone().unwrap_or_default();
        let mut problems = FieldProblems::new();
        if body.meeting.is_none() {
            problems.add("meeting", "required");
        }
        let meet_date = past_day(
            &mut problems,
            sent.meet_date.as_ref(),
            "meeting.meet_date",
            viewer.setting.today,
        );
        let duration_minutes = match sent.duration_minutes {
            0 => None,
            minutes if MEETING_MINUTES.contains(&minutes) => Some(minutes),
            _ => {
                problems.add(
                    "meeting.duration_minutes",
                    "1 to 600 minutes, or 0 when not recorded",
                );
                None
            }
        };
        let format = problems.field(convert::required(
            sent.format,
            "meeting.format",
            "a meeting format",
            &FORMATS,
        ));
        let topic = problems.text("meeting.topic", &sent.topic, TOPIC_CHARS, true);
        let notes = problems.text("meeting.notes", &sent.notes, NOTES_CHARS, false);
        let plan_activity = if sent.plan_activity.is_empty() {
            None
        } else {
            problems.field(activity_of(&institution, &pair, &sent.plan_activity))
        };
        let absent_mentees: Vec<String> = sent
            .absent_mentees
            .iter()
            .enumerate()
            .filter_map(|(i, name)| {
                problems.field(names::participant_of(
                    &institution,
                    name,
                    &format!("meeting.absent_mentees[{i}]"),
                ))
            })
            .collect();
        problems.finish()?;
        let meet_date = checked(meet_date, "meeting.meet_date")?;
        let format = checked(format, "meeting.format")?;
        let key = IdempotencyKey::for_request(context, "CreateMeeting", &body.request_id, body)?;
        let logged = once(&self.store, key.as_ref(), context.now(), async |conn| {
            let logged = plans::create_meeting(
                conn,
                context,
                &institution,
                &pair,
                &MeetingDraft {
                    id: String::new(),
                    meet_date,
                    duration_minutes,
                    format,
                    topic,
                    notes,
                    plan_activity,
                    absent_mentees,
                },
            )
            .await?;
            Ok(meeting(&logged))
        })
        .await?;
        Ok(logged)
    }

    async fn meeting_log(
        &self,
        request: Request<pb::ListMeetingsRequest>,
    ) -> Result<pb::ListMeetingsResponse, ApiError> {
        let context = CallContext::of(&request)?;
        let body = request.get_ref();
        let (viewer, [_, pair], _) = self.pair_of(context, &body.parent).await?;
        let paging = PageRequest::<String>::parse(
            body.page_size,
            &body.page_token,
            &["ListMeetings", &body.parent],
        )?;
        let mut conn = self.store.read().await?;
        let page = plans::list_meetings(
            &mut conn,
            &viewer.setting,
            &pair,
            paging.size,
            paging.after.clone(),
        )
        .await?;
        conn.finish();
        Ok(pb::ListMeetingsResponse {
            meetings: page.items.iter().map(meeting).collect(),
            next_page_token: paging.next_token(page.next.as_ref()),
        })
    }
}

/// What the caller is to a pair they see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PairPart {
    /// The director or the appointed curator.
    Staff,
    /// The pair's mentor, or the guardian of a minor mentor.
    Mentor,
    /// A current mentee, or the guardian of a minor one.
    Mentee,
    /// Someone who sees the pair but has no part in its work now (a former mentee).
    Onlooker,
}

/// The caller's part in `pair`, which they see (the entry has refused everyone who sees
/// no pair).
fn part_in(viewer: &Viewer, pair: &Pair) -> PairPart {
    if viewer.is_staff() {
        return PairPart::Staff;
    }
    if viewer.acts_for(names::last_id(&pair.mentor_person.participant)) {
        return PairPart::Mentor;
    }
    if pair
        .mentee_people
        .iter()
        .any(|m| viewer.acts_for(names::last_id(&m.participant)))
    {
        return PairPart::Mentee;
    }
    PairPart::Onlooker
}

/// `ROLE_REQUIRED` for a caller who sees a pair but may not do `what` in its plan.
fn role_required(what: &str) -> ApiError {
    access::role_required(&format!(
        "only the director ({DIRECTOR}), the appointed curator ({CURATOR}) or the pair's mentor \
         may {what}"
    ))
}

/// The ID of a plan activity a meeting served: an activity of this pair by its name
/// (`INVALID_FIELDS` for one of another pair; the store checks that it exists).
fn activity_of(institution: &str, pair: &str, name: &str) -> Result<String, ApiError> {
    let field = "meeting.plan_activity";
    let [of_institution, of_pair, id] = names::pair_child(name, "planActivities", field)?;
    if of_institution != institution || of_pair != pair {
        return Err(ApiError::invalid_field(
            kit_reason::INVALID_FIELDS,
            field,
            format!("{} is not an activity of this pair", quote(name)),
        ));
    }
    Ok(id)
}

/// A plan activity on the wire.
fn activity(a: &PlanActivity) -> pb::PlanActivity {
    pb::PlanActivity {
        name: a.name.clone(),
        title: a.title.clone(),
        description: a.description.clone(),
        due_date: Some(wire::date(a.due_date)),
        state: convert::wire(a.state, &STATES),
        proposed_by_mentee: a.proposed_by_mentee,
        result: a.result.clone(),
        done_date: a.done_date.map(wire::date),
        overdue: a.overdue,
        cancel_reason: a.cancel_reason.clone(),
        redacted: a.redacted,
        create_time: Some(wire::timestamp(a.create_time)),
        update_time: Some(wire::timestamp(a.update_time)),
        etag: etag::of(a.version),
    }
}

/// A meeting on the wire.
fn meeting(m: &Meeting) -> pb::Meeting {
    pb::Meeting {
        name: m.name.clone(),
        meet_date: Some(wire::date(m.meet_date)),
        duration_minutes: m.duration_minutes.unwrap_or(0),
        format: convert::wire(m.format, &FORMATS),
        topic: m.topic.clone(),
        notes: m.notes.clone(),
        plan_activity: m.plan_activity.clone().unwrap_or_default(),
        absent_mentees: m.absent_mentees.clone(),
        redacted: m.redacted,
        create_time: Some(wire::timestamp(m.create_time)),
    }
}

#[tonic::async_trait]
impl PlanService for PlansApi {
    async fn create_plan_activity(
        &self,
        request: Request<pb::CreatePlanActivityRequest>,
    ) -> Result<Response<pb::PlanActivity>, Status> {
        respond(self.create_activity(request).await)
    }

    async fn list_plan_activities(
        &self,
        request: Request<pb::ListPlanActivitiesRequest>,
    ) -> Result<Response<pb::ListPlanActivitiesResponse>, Status> {
        respond(self.list_activities(request).await)
    }

    async fn update_plan_activity(
        &self,
        request: Request<pb::UpdatePlanActivityRequest>,
    ) -> Result<Response<pb::PlanActivity>, Status> {
        respond(self.update_activity(request).await)
    }

    async fn create_meeting(
        &self,
        request: Request<pb::CreateMeetingRequest>,
    ) -> Result<Response<pb::Meeting>, Status> {
        respond(self.log_meeting(request).await)
    }

    async fn list_meetings(
        &self,
        request: Request<pb::ListMeetingsRequest>,
    ) -> Result<Response<pb::ListMeetingsResponse>, Status> {
        respond(self.meeting_log(request).await)
    }
}
