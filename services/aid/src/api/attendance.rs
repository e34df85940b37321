//! `AttendanceService`: attendance checks from the school start date (rule 7), recorded
//! and followed up by the staff of the child's school and of its region; to anyone else a
//! check does not exist. A child found not attending stays AWAITING its follow-up. Checks
//! name the child only by resource name; no refusal carries a name or an IIN.

use edu_kit::error::{FieldProblems, reason as kit_reason};
use edu_kit::idempotency::{self, IdempotencyKey};
use edu_kit::paging::PageRequest;
use edu_kit::{ApiError, CallContext, etag};
use edu_proto::edu::aid::v1 as pb;
use edu_proto::edu::aid::v1::attendance_service_server::AttendanceService;
use tonic::{Request, Response, Status};

use super::access::Viewer;
use super::prices::date_out_of_range;
use super::{convert, respond};
use crate::store::attendance::{
    self, Check, CheckFilter, FollowUpState, NewCheck, Outcome, REASONS,
};
use crate::store::{Store, campaigns, children};

/// Reasons of the attendance service. It has none of its own: it answers with the kit's
/// (`INVALID_FIELDS`, `ROLE_REQUIRED`, `NOT_FOUND`, `PAGE_TOKEN_INVALID`,
/// `REQUEST_ID_REUSED`, `TRANSITION_NOT_ALLOWED`, `ETAG_MISMATCH`) and the service's shared
/// ones (`CHILD_MERGED`, `CHILD_REMOVED`, `DATE_OUT_OF_RANGE`).
pub mod reason {}

/// Longest note, action and result.
const MAX_TEXT_CHARS: usize = 2000;

const PB_REASONS: [pb::AbsenceReason; 7] = [
    pb::AbsenceReason::LacksClothesOrSupplies,
    pb::AbsenceReason::Illness,
    pb::AbsenceReason::FamilyMoved,
    pb::AbsenceReason::FamilyCircumstances,
    pb::AbsenceReason::ChildWorking,
    pb::AbsenceReason::WhereaboutsUnknown,
    pb::AbsenceReason::Other,
];

fn reason_of(raw: i32) -> Option<&'static str> {
    PB_REASONS
        .iter()
        .position(|r| *r as i32 == raw)
        .map(|p| REASONS[p])
}

fn reason_pb(stored: &str) -> i32 {
    REASONS
        .iter()
        .position(|r| *r == stored)
        .map(|p| PB_REASONS[p] as i32)
        .unwrap_or(0)
}

fn outcome_of(raw: i32) -> Option<Outcome> {
    match pb::AttendanceOutcome::try_from(raw).ok()? {
        pb::AttendanceOutcome::Unspecified => None,
        pb::AttendanceOutcome::Attends => Some(Outcome::Attends),
        pb::AttendanceOutcome::DoesNotAttend => Some(Outcome::DoesNotAttend),
    }
}

fn outcome_pb(o: Outcome) -> pb::AttendanceOutcome {
    match o {
        Outcome::Attends => pb::AttendanceOutcome::Attends,
        Outcome::DoesNotAttend => pb::AttendanceOutcome::DoesNotAttend,
    }
}

fn state_of(raw: i32) -> Option<FollowUpState> {
    match pb::FollowUpState::try_from(raw).ok()? {
        pb::FollowUpState::Unspecified => None,
        pb::FollowUpState::NotNeeded => Some(FollowUpState::NotNeeded),
        pb::FollowUpState::Awaiting => Some(FollowUpState::Awaiting),
        pb::FollowUpState::Done => Some(FollowUpState::Done),
    }
}

fn state_pb(s: FollowUpState) -> pb::FollowUpState {
    match s {
        FollowUpState::NotNeeded => pb::FollowUpState::NotNeeded,
        FollowUpState::Awaiting => pb::FollowUpState::Awaiting,
        FollowUpState::Done => pb::FollowUpState::Done,
    }
}

fn check_pb(k: &Check) -> pb::AttendanceCheck {
    pb::AttendanceCheck {
        name: k.name(),
        check_date: Some(convert::date(k.check_date)),
        outcome: outcome_pb(k.outcome) as i32,
        absence_reason: k.absence_reason.map(reason_pb).unwrap_or(0),
        absence_note: k.absence_note.clone(),
        follow_up_state: state_pb(k.follow_up_state) as i32,
        follow_up: k.follow_up.as_ref().map(|f| pb::AttendanceFollowUp {
            action: f.action.clone(),
            result: f.result.clone(),
            follow_up_date: Some(convert::date(f.date)),
            actor: f.actor.clone(),
            record_time: Some(convert::timestamp(f.record_time)),
        }),
        school: format!("schools/{}", k.school_id),
        region_code: k.region_code.clone(),
        create_time: Some(convert::timestamp(k.create_time)),
        update_time: Some(convert::timestamp(k.update_time)),
        etag: etag::of(k.version),
    }
}

/// The check's fields, each checked under `attendance_check.`.
fn new_check(from: &pb::AttendanceCheck) -> Result<NewCheck, ApiError> {
    let mut problems = FieldProblems::new();
    let outcome = outcome_of(from.outcome);
    if outcome.is_none() {
        problems.add("attendance_check.outcome", "required: what the check found");
    }
    let absence_reason = reason_of(from.absence_reason);
    if from.absence_reason != 0 && absence_reason.is_none() {
        problems.add(
            "attendance_check.absence_reason",
            "not a value of this enum",
        );
    }
    match outcome {
        Some(Outcome::DoesNotAttend) if absence_reason.is_none() && from.absence_reason == 0 => {
            problems.add(
                "attendance_check.absence_reason",
                "required when the child does not attend",
            );
        }
        Some(Outcome::Attends) if from.absence_reason != 0 => {
            problems.add(
                "attendance_check.absence_reason",
                "must be unset when the child attends",
            );
        }
        _ => {}
    }
    let absence_note = problems.text(
        "attendance_check.absence_note",
        &from.absence_note,
        MAX_TEXT_CHARS,
        false,
    );
    if absence_reason == Some("OTHER") && absence_note.trim().is_empty() {
        problems.add(
            "attendance_check.absence_note",
            "required with the reason OTHER: what keeps the child from school",
        );
    }
    let check_date = problems.field(edu_kit::wire::civil_date(
        from.check_date.as_ref(),
        "attendance_check.check_date",
    ));
    problems.finish()?;
    match (outcome, check_date) {
        (Some(outcome), Some(check_date)) => Ok(NewCheck {
            check_date,
            outcome,
            absence_reason: if outcome == Outcome::DoesNotAttend {
                absence_reason
            } else {
                None
            },
            absence_note,
        }),
        _ => Err(ApiError::invalid_field(
            kit_reason::INVALID_FIELDS,
            "attendance_check",
            "outcome and check date are required",
        )),
    }
}

/// The attendance service.
#[derive(Debug, Clone)]
pub struct AttendanceApi {
    store: Store,
}

impl AttendanceApi {
    /// The service on `store`.
    pub fn new(store: Store) -> Self {
        AttendanceApi { store }
    }

    async fn record(
        &self,
        request: Request<pb::RecordAttendanceCheckRequest>,
    ) -> Result<pb::AttendanceCheck, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = Viewer::of(context.caller()?)?;
        viewer.require_staff()?;
        let body = request.get_ref();
        let (campaign_id, child_id) = convert::campaign_child(&body.parent, "children", "parent")?;
        let new = new_check(&body.attendance_check.clone().unwrap_or_default())?;
        let key =
            IdempotencyKey::for_request(context, "RecordAttendanceCheck", &body.request_id, body)?;
        let now = context.now();
        let parent = body.parent.clone();
        let mut tx = self.store.begin().await?;
        let recorded = idempotency::once(&mut tx, key.as_ref(), now, async |conn| {
            let campaign = campaigns::fetch(conn, &campaign_id, false)
                .await?
                .ok_or_else(|| ApiError::not_found(parent.clone()))?;
            let locked = children::lock(conn, &campaign_id, &child_id)
                .await?
                .filter(|l| viewer.sees_children_of(&l.child.school_id, &l.child.region_code))
                .ok_or_else(|| ApiError::not_found(parent.clone()))?;
            locked.child.ensure_active()?;
            let (earliest, latest) = (campaign.school_start_date, campaign.today(now));
            if new.check_date < earliest || new.check_date > latest {
                return Err(date_out_of_range(
                    "attendance_check.check_date",
                    earliest,
                    latest,
                ));
            }
            let created = attendance::create(conn, context, &campaign_id, &child_id, &new).await?;
            Ok(check_pb(&created))
        })
        .await?;
        tx.commit().await?;
        Ok(recorded)
    }

    async fn list(
        &self,
        request: Request<pb::ListAttendanceChecksRequest>,
    ) -> Result<pb::ListAttendanceChecksResponse, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = Viewer::of(context.caller()?)?;
        viewer.require_staff()?;
        let body = request.get_ref();
        let (campaign_id, child) = match body.parent.strip_suffix("/children/-") {
            Some(campaign) => (convert::campaign_id(campaign, "parent")?, None),
            None => {
                let (c, id) = convert::campaign_child(&body.parent, "children", "parent")?;
                (c, Some(id))
            }
        };
        let filter = CheckFilter {
            child,
            school: if body.school.is_empty() {
                None
            } else {
                Some(convert::school_id(&body.school, "school")?)
            },
            region: convert::region_filter(&body.region_code, "region_code")?,
            outcome: convert::enum_filter(body.outcome, "outcome", outcome_of)?,
            follow_up_state: convert::enum_filter(
                body.follow_up_state,
                "follow_up_state",
                state_of,
            )?,
        };
        let paging = PageRequest::parse(
            body.page_size,
            &body.page_token,
            &[
                "ListAttendanceChecks",
                &body.parent,
                &body.school,
                &body.region_code,
                &body.outcome.to_string(),
                &body.follow_up_state.to_string(),
            ],
        )?;
        let mut conn = self.store.read().await?;
        campaigns::fetch(&mut conn, &campaign_id, false)
            .await?
            .ok_or_else(|| ApiError::not_found(body.parent.clone()))?;
        if let Some(id) = &filter.child {
            children::fetch(&mut conn, &campaign_id, id)
                .await?
                .filter(|c| viewer.sees_children_of(&c.school_id, &c.region_code))
                .ok_or_else(|| ApiError::not_found(body.parent.clone()))?;
        }
        let page = attendance::list(
            &mut conn,
            &campaign_id,
            &viewer.children(),
            &filter,
            paging.size,
            paging.after.clone(),
        )
        .await?;
        conn.finish();
        Ok(pb::ListAttendanceChecksResponse {
            attendance_checks: page.items.iter().map(check_pb).collect(),
            next_page_token: paging.next_token(page.next.as_ref()),
        })
    }

    async fn follow_up(
        &self,
        request: Request<pb::RecordAttendanceFollowUpRequest>,
    ) -> Result<pb::AttendanceCheck, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = Viewer::of(context.caller()?)?;
        viewer.require_staff()?;
        let body = request.get_ref();
        let [campaign_id, child_id, id] = edu_kit::resource::parse_nested(
            &body.name,
            ["campaigns", "children", "attendanceChecks"],
            "name",
        )?;
        let from = body.follow_up.clone().unwrap_or_default();
        let mut problems = FieldProblems::new();
        let action = problems.text("follow_up.action", &from.action, MAX_TEXT_CHARS, true);
        let result = problems.text("follow_up.result", &from.result, MAX_TEXT_CHARS, false);
        let date = problems.field(edu_kit::wire::civil_date(
            from.follow_up_date.as_ref(),
            "follow_up.follow_up_date",
        ));
        problems.finish()?;
        let Some(date) = date else {
            return Err(ApiError::invalid_field(
                kit_reason::INVALID_FIELDS,
                "follow_up.follow_up_date",
                "required",
            ));
        };
        let now = context.now();
        let mut tx = self.store.begin().await?;
        let campaign = campaigns::fetch(&mut tx, &campaign_id, false)
            .await?
            .ok_or_else(|| ApiError::not_found(body.name.clone()))?;
        let check = attendance::fetch(&mut tx, &campaign_id, &child_id, &id, true)
            .await?
            .filter(|k| viewer.sees_children_of(&k.school_id, &k.region_code))
            .ok_or_else(|| ApiError::not_found(body.name.clone()))?;
        etag::check(&body.etag, check.version, &body.name)?;
        if check.follow_up_state != FollowUpState::Awaiting {
            return Err(ApiError::transition_not_allowed(
                check.follow_up_state.as_str(),
                FollowUpState::Done.as_str(),
            )
            .with_metadata("follow_up_state", check.follow_up_state.as_str()));
        }
        let (earliest, latest) = (check.check_date, campaign.today(now));
        if date < earliest || date > latest {
            return Err(date_out_of_range(
                "follow_up.follow_up_date",
                earliest,
                latest,
            ));
        }
        let done = attendance::follow_up(&mut tx, context, &check, &action, &result, date).await?;
        tx.commit().await?;
        Ok(check_pb(&done))
    }
}

#[tonic::async_trait]
impl AttendanceService for AttendanceApi {
    async fn record_attendance_check(
        &self,
        request: Request<pb::RecordAttendanceCheckRequest>,
    ) -> Result<Response<pb::AttendanceCheck>, Status> {
        respond(self.record(request).await)
    }

    async fn list_attendance_checks(
        &self,
        request: Request<pb::ListAttendanceChecksRequest>,
    ) -> Result<Response<pb::ListAttendanceChecksResponse>, Status> {
        respond(self.list(request).await)
    }

    async fn record_attendance_follow_up(
        &self,
        request: Request<pb::RecordAttendanceFollowUpRequest>,
    ) -> Result<Response<pb::AttendanceCheck>, Status> {
        respond(self.follow_up(request).await)
    }
}
