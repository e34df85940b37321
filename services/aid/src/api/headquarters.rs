//! `HeadquartersService`: each region's headquarters and its action plan of dated
//! activities (rule 1). Every caller with a role of this package reads every headquarters
//! and activity (the plan is the campaign's public face); only the regional staff of a
//! region change its headquarters and activities.

use edu_kit::error::{FieldProblems, reason as kit_reason};
use edu_kit::idempotency::{self, IdempotencyKey};
use edu_kit::paging::PageRequest;
use edu_kit::{ApiError, CallContext, etag, resource};
use edu_proto::edu::aid::v1 as pb;
use edu_proto::edu::aid::v1::headquarters_service_server::HeadquartersService;
use jiff::civil::Date;
use tonic::{Request, Response, Status};

use super::access::{Viewer, role_required};
use super::convert::{self, MAX_NAME_CHARS};
use super::respond;
use crate::store::headquarters::{
    self as hq_store, Activity, ActivityCursor, ActivityFilter, ActivityKind, ActivitySpec,
    ActivityState, Headquarters, PlanError, PlanState,
};
use crate::store::{Store, campaigns};

/// Reasons of the headquarters service, beyond the kit's and the service's shared ones.
pub mod reason {
    pub use crate::api::errors::reason::DATE_OUT_OF_RANGE;

    use edu_kit::error::Reason;

    /// Approving a plan without a PLANNED or HELD activity.
    pub const ACTION_PLAN_EMPTY: Reason = Reason::new(
        "ACTION_PLAN_EMPTY",
        "В плане мероприятий нет ни одного запланированного или проведённого мероприятия; утверждать нечего.",
    );
    /// Changing an activity that is HELD or CANCELLED.
    pub const ACTIVITY_CLOSED: Reason = Reason::new(
        "ACTIVITY_CLOSED",
        "Мероприятие уже проведено или отменено; изменить его нельзя.",
    );
    /// Recording an outcome before the activity's first day.
    pub const ACTIVITY_NOT_DUE: Reason = Reason::new(
        "ACTIVITY_NOT_DUE",
        "Мероприятие ещё не началось; его итоги записывают с первого дня.",
    );
}

/// Longest contacts, approval basis and cancel reason.
const MAX_NOTE_CHARS: usize = 2000;
/// Longest description and outcome summary.
const MAX_TEXT_CHARS: usize = 5000;
/// Fields of an activity that UpdateActivity may change.
const ACTIVITY_FIELDS: [&str; 6] = [
    "kind",
    "title",
    "start_date",
    "end_date",
    "place",
    "description",
];

impl From<PlanError> for ApiError {
    fn from(error: PlanError) -> Self {
        let message = error.to_string();
        match error {
            PlanError::PlanEmpty => {
                ApiError::failed_precondition(reason::ACTION_PLAN_EMPTY, message)
            }
            PlanError::ActivityClosed { state } => {
                ApiError::failed_precondition(reason::ACTIVITY_CLOSED, message)
                    .with_metadata("state", state.as_str())
            }
            PlanError::NotDue { start_date } => {
                ApiError::failed_precondition(reason::ACTIVITY_NOT_DUE, message)
                    .with_metadata("start_date", start_date.to_string())
                    .in_russian(format!(
                        "Мероприятие начинается {}; его итоги записывают с этого дня.",
                        start_date.strftime("%d.%m.%Y")
                    ))
            }
            PlanError::TransitionNotAllowed { from, to } => {
                ApiError::transition_not_allowed(from.as_str(), to.as_str())
                    .with_metadata("state", from.as_str())
                    .in_russian(format!(
                        "Мероприятие в состоянии {from}; перевести его в {to} нельзя."
                    ))
            }
            PlanError::Span { field, problem } => ApiError::invalid_field(
                kit_reason::INVALID_FIELDS,
                format!("activity.{}", field.as_str()),
                problem,
            ),
            PlanError::DateOutOfRange {
                field,
                date: _,
                latest,
            } => ApiError::invalid_field(
                reason::DATE_OUT_OF_RANGE,
                format!("activity.{}", field.as_str()),
                format!("after the campaign's last day, {latest}"),
            )
            .with_metadata("latest", latest.to_string())
            .in_russian(format!(
                "Дата позже последнего дня акции ({}).",
                latest.strftime("%d.%m.%Y")
            )),
        }
    }
}

fn kind_of(raw: i32) -> Option<ActivityKind> {
    match pb::ActivityKind::try_from(raw).ok()? {
        pb::ActivityKind::Unspecified => None,
        pb::ActivityKind::Meeting => Some(ActivityKind::Meeting),
        pb::ActivityKind::Raid => Some(ActivityKind::Raid),
        pb::ActivityKind::CharityAction => Some(ActivityKind::CharityAction),
        pb::ActivityKind::SchoolFair => Some(ActivityKind::SchoolFair),
        pb::ActivityKind::RemoteSettlementFair => Some(ActivityKind::RemoteSettlementFair),
        pb::ActivityKind::PriceMonitoring => Some(ActivityKind::PriceMonitoring),
        pb::ActivityKind::InformationEvent => Some(ActivityKind::InformationEvent),
    }
}

fn kind_pb(k: ActivityKind) -> pb::ActivityKind {
    match k {
        ActivityKind::Meeting => pb::ActivityKind::Meeting,
        ActivityKind::Raid => pb::ActivityKind::Raid,
        ActivityKind::CharityAction => pb::ActivityKind::CharityAction,
        ActivityKind::SchoolFair => pb::ActivityKind::SchoolFair,
        ActivityKind::RemoteSettlementFair => pb::ActivityKind::RemoteSettlementFair,
        ActivityKind::PriceMonitoring => pb::ActivityKind::PriceMonitoring,
        ActivityKind::InformationEvent => pb::ActivityKind::InformationEvent,
    }
}

fn state_of(raw: i32) -> Option<ActivityState> {
    match pb::ActivityState::try_from(raw).ok()? {
        pb::ActivityState::Unspecified => None,
        pb::ActivityState::Planned => Some(ActivityState::Planned),
        pb::ActivityState::Held => Some(ActivityState::Held),
        pb::ActivityState::Cancelled => Some(ActivityState::Cancelled),
    }
}

fn state_pb(s: ActivityState) -> pb::ActivityState {
    match s {
        ActivityState::Planned => pb::ActivityState::Planned,
        ActivityState::Held => pb::ActivityState::Held,
        ActivityState::Cancelled => pb::ActivityState::Cancelled,
    }
}

fn plan_state_pb(s: PlanState) -> pb::ActionPlanState {
    match s {
        PlanState::Draft => pb::ActionPlanState::Draft,
        PlanState::Approved => pb::ActionPlanState::Approved,
    }
}

fn count(n: i64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn headquarters_pb(h: &Headquarters) -> pb::Headquarters {
    pb::Headquarters {
        name: h.name(),
        region_code: h.region_code.clone(),
        display_name: h.display_name.clone(),
        chair: h.chair.clone(),
        contacts: h.contacts.clone(),
        plan_state: plan_state_pb(h.plan_state) as i32,
        plan_approval_basis: h.plan_approval_basis.clone(),
        plan_approve_time: h.plan_approve_time.map(convert::timestamp),
        activities_planned: count(h.activities),
        activities_held: count(h.activities_held),
        create_time: Some(convert::timestamp(h.create_time)),
        update_time: Some(convert::timestamp(h.update_time)),
        etag: etag::of(h.version),
    }
}

fn activity_pb(a: &Activity) -> pb::Activity {
    pb::Activity {
        name: a.name(),
        kind: kind_pb(a.kind) as i32,
        title: a.title.clone(),
        start_date: Some(convert::date(a.start_date)),
        end_date: a.end_date.map(convert::date),
        place: a.place.clone(),
        description: a.description.clone(),
        state: state_pb(a.state) as i32,
        outcome: a.outcome.as_ref().map(|o| pb::ActivityOutcome {
            summary: o.summary.clone(),
            participants: o.participants,
            children_reached: o.children_reached,
            record_time: Some(convert::timestamp(o.record_time)),
        }),
        cancel_reason: a.cancel_reason.clone(),
        added_after_approval: a.added_after_approval,
        region_code: a.region_code.clone(),
        create_time: Some(convert::timestamp(a.create_time)),
        update_time: Some(convert::timestamp(a.update_time)),
        etag: etag::of(a.version),
    }
}

/// An optional date of a request: unset (or all zero) is `None`.
fn optional_date(
    d: Option<&edu_proto::google::r#type::Date>,
    field: &str,
) -> Result<Option<Date>, ApiError> {
    match d {
        None => Ok(None),
        Some(d) if d.year == 0 && d.month == 0 && d.day == 0 => Ok(None),
        Some(d) => edu_kit::wire::civil_date(Some(d), field).map(Some),
    }
}

/// An activity's plan from the request's message, every field checked under `activity.`;
/// for an update, `base` is the stored activity and only the fields of `mask` change.
fn activity_spec(
    from: &pb::Activity,
    base: Option<&Activity>,
    mask: &[String],
) -> Result<ActivitySpec, ApiError> {
    let take = |field: &str| base.is_none() || mask.iter().any(|m| m == field);
    let mut problems = FieldProblems::new();
    let mut spec = base.map(ActivitySpec::of).unwrap_or_else(|| ActivitySpec {
        kind: ActivityKind::Meeting,
        title: String::new(),
        start_date: jiff::civil::date(2000, 1, 1),
        end_date: None,
        place: String::new(),
        description: String::new(),
    });
    if take("kind") {
        match kind_of(from.kind) {
            Some(kind) => spec.kind = kind,
            None => problems.add("activity.kind", "required: the kind of activity"),
        }
    }
    if take("title") {
        spec.title = problems.text("activity.title", &from.title, MAX_NAME_CHARS, true);
    }
    if take("start_date")
        && let Some(start) = problems.field(edu_kit::wire::civil_date(
            from.start_date.as_ref(),
            "activity.start_date",
        ))
    {
        spec.start_date = start;
    }
    if take("end_date") {
        spec.end_date = problems
            .field(optional_date(from.end_date.as_ref(), "activity.end_date"))
            .flatten();
    }
    if take("place") {
        spec.place = problems.text("activity.place", &from.place, MAX_NAME_CHARS, false);
    }
    if take("description") {
        spec.description = problems.text(
            "activity.description",
            &from.description,
            MAX_TEXT_CHARS,
            false,
        );
    }
    problems.finish()?;
    Ok(spec)
}

/// The caller must be regional staff of some region to change anything: `ROLE_REQUIRED`
/// before any lookup otherwise.
fn changer(context: &CallContext) -> Result<Viewer, ApiError> {
    let viewer = Viewer::of(context.caller()?)?;
    if viewer.regional.is_empty() {
        return Err(role_required());
    }
    Ok(viewer)
}

/// The IDs of an activity's name: campaign, headquarters, activity.
fn activity_ids(name: &str, field: &str) -> Result<[String; 3], ApiError> {
    resource::parse_nested(name, ["campaigns", "headquarters", "activities"], field)
}

/// The headquarters service.
#[derive(Debug, Clone)]
pub struct HeadquartersApi {
    store: Store,
}

impl HeadquartersApi {
    /// The service on `store`.
    pub fn new(store: Store) -> Self {
        HeadquartersApi { store }
    }

    async fn list_headquarters_page(
        &self,
        request: Request<pb::ListHeadquartersRequest>,
    ) -> Result<pb::ListHeadquartersResponse, ApiError> {
        let context = CallContext::of(&request)?;
        Viewer::of(context.caller()?)?;
        let body = request.get_ref();
        let campaign_id = convert::campaign_id(&body.parent, "parent")?;
        let paging = PageRequest::<String>::parse(
            body.page_size,
            &body.page_token,
            &["ListHeadquarters", &body.parent],
        )?;
        self.store.campaign(&campaign_id).await?;
        let page = self
            .store
            .list_headquarters(&campaign_id, paging.size, paging.after.clone())
            .await?;
        Ok(pb::ListHeadquartersResponse {
            headquarters: page.items.iter().map(headquarters_pb).collect(),
            next_page_token: paging.next_token(page.next.as_ref()),
        })
    }

    async fn update_headquarters_fields(
        &self,
        request: Request<pb::UpdateHeadquartersRequest>,
    ) -> Result<pb::Headquarters, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = changer(context)?;
        let body = request.get_ref();
        let from = body.headquarters.clone().unwrap_or_default();
        let (campaign_id, id) =
            convert::campaign_child(&from.name, "headquarters", "headquarters.name")?;
        let mask = convert::mask_paths(
            body.update_mask.as_ref(),
            &["display_name", "chair", "contacts"],
        )?;
        let changes = |field: &str| mask.iter().any(|m| m == field);
        let mut problems = FieldProblems::new();
        let display_name = changes("display_name").then(|| {
            problems.text(
                "headquarters.display_name",
                &from.display_name,
                MAX_NAME_CHARS,
                true,
            )
        });
        let chair = changes("chair")
            .then(|| problems.text("headquarters.chair", &from.chair, MAX_NAME_CHARS, false));
        let contacts = changes("contacts").then(|| {
            problems.text(
                "headquarters.contacts",
                &from.contacts,
                MAX_NOTE_CHARS,
                false,
            )
        });
        problems.finish()?;
        let mut tx = self.store.begin().await?;
        let held = hq_store::lock_headquarters(&mut tx, &campaign_id, &id, true)
            .await?
            .ok_or_else(|| ApiError::not_found(from.name.clone()))?;
        viewer.require_regional(&held.region_code, false)?;
        etag::check(&from.etag, held.version, &held.name())?;
        let updated = hq_store::update_headquarters(
            &mut tx,
            context,
            &held,
            display_name.as_deref(),
            chair.as_deref(),
            contacts.as_deref(),
        )
        .await?;
        tx.commit().await?;
        Ok(headquarters_pb(&updated))
    }

    async fn approve(
        &self,
        request: Request<pb::ApproveActionPlanRequest>,
    ) -> Result<pb::Headquarters, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = changer(context)?;
        let body = request.get_ref();
        let (campaign_id, id) = convert::campaign_child(&body.name, "headquarters", "name")?;
        let mut problems = FieldProblems::new();
        let basis = problems.text("basis", &body.basis, MAX_NOTE_CHARS, true);
        problems.finish()?;
        let mut tx = self.store.begin().await?;
        let held = hq_store::lock_headquarters(&mut tx, &campaign_id, &id, true)
            .await?
            .ok_or_else(|| ApiError::not_found(body.name.clone()))?;
        viewer.require_regional(&held.region_code, false)?;
        // A repeat (a retry with the etag read before the approval) changes nothing.
        if held.plan_state == PlanState::Approved {
            return Ok(headquarters_pb(&held));
        }
        etag::check(&body.etag, held.version, &held.name())?;
        hq_store::ensure_plan_not_empty(hq_store::live_activities(&mut tx, &held).await?)?;
        let approved = hq_store::approve_plan(&mut tx, context, &held, &basis).await?;
        tx.commit().await?;
        Ok(headquarters_pb(&approved))
    }

    async fn create(
        &self,
        request: Request<pb::CreateActivityRequest>,
    ) -> Result<pb::Activity, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = changer(context)?;
        let body = request.get_ref();
        let (campaign_id, hq_id) = convert::campaign_child(&body.parent, "headquarters", "parent")?;
        let spec = activity_spec(&body.activity.clone().unwrap_or_default(), None, &[])?;
        let key = IdempotencyKey::for_request(context, "CreateActivity", &body.request_id, body)?;
        let now = context.now();
        let mut tx = self.store.begin().await?;
        let created = idempotency::once(&mut tx, key.as_ref(), now, async |conn| {
            let missing = || ApiError::not_found(body.parent.clone());
            if !hq_store::hold_campaign(conn, &campaign_id).await? {
                return Err(missing());
            }
            let campaign = campaigns::get(conn, &campaign_id, false).await?;
            let held = hq_store::lock_headquarters(conn, &campaign_id, &hq_id, false)
                .await?
                .ok_or_else(missing)?;
            viewer.require_regional(&held.region_code, false)?;
            campaign.ensure_not_ended(now)?;
            hq_store::check_dates(spec.start_date, spec.end_date, campaign.end_date)?;
            Ok(activity_pb(
                &hq_store::create_activity(conn, context, &held, &spec).await?,
            ))
        })
        .await?;
        tx.commit().await?;
        Ok(created)
    }

    async fn list(
        &self,
        request: Request<pb::ListActivitiesRequest>,
    ) -> Result<pb::ListActivitiesResponse, ApiError> {
        let context = CallContext::of(&request)?;
        Viewer::of(context.caller()?)?;
        let body = request.get_ref();
        let (campaign_id, headquarters) = match body.parent.strip_suffix("/headquarters/-") {
            Some(campaign) => (convert::campaign_id(campaign, "parent")?, None),
            None => {
                let (campaign, hq) =
                    convert::campaign_child(&body.parent, "headquarters", "parent")?;
                (campaign, Some(hq))
            }
        };
        let from_date = optional_date(body.from_date.as_ref(), "from_date")?;
        let filter = ActivityFilter {
            headquarters,
            kind: convert::enum_filter(body.kind, "kind", kind_of)?,
            state: convert::enum_filter(body.state, "state", state_of)?,
            from_date,
        };
        let from_text = from_date.map(|d| d.to_string()).unwrap_or_default();
        let paging = PageRequest::<ActivityCursor>::parse(
            body.page_size,
            &body.page_token,
            &[
                "ListActivities",
                &body.parent,
                &body.kind.to_string(),
                &body.state.to_string(),
                &from_text,
            ],
        )?;
        self.store.campaign(&campaign_id).await?;
        if let Some(hq) = &filter.headquarters
            && self.store.headquarters(&campaign_id, hq).await?.is_none()
        {
            return Err(ApiError::not_found(body.parent.clone()));
        }
        let page = self
            .store
            .list_activities(&campaign_id, &filter, paging.size, paging.after.clone())
            .await?;
        Ok(pb::ListActivitiesResponse {
            activities: page.items.iter().map(activity_pb).collect(),
            next_page_token: paging.next_token(page.next.as_ref()),
        })
    }

    async fn update(
        &self,
        request: Request<pb::UpdateActivityRequest>,
    ) -> Result<pb::Activity, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = changer(context)?;
        let body = request.get_ref();
        let from = body.activity.clone().unwrap_or_default();
        let [campaign_id, hq_id, id] = activity_ids(&from.name, "activity.name")?;
        let mask = convert::mask_paths(body.update_mask.as_ref(), &ACTIVITY_FIELDS)?;
        let now = context.now();
        let mut tx = self.store.begin().await?;
        let held = hq_store::fetch_activity(&mut tx, &campaign_id, &hq_id, &id, true)
            .await?
            .ok_or_else(|| ApiError::not_found(from.name.clone()))?;
        viewer.require_regional(&held.region_code, false)?;
        etag::check(&from.etag, held.version, &held.name())?;
        held.state.ensure_changeable()?;
        let spec = activity_spec(&from, Some(&held), &mask)?;
        let campaign = campaigns::get(&mut tx, &campaign_id, false).await?;
        campaign.ensure_not_ended(now)?;
        if mask.iter().any(|m| m == "start_date" || m == "end_date") {
            hq_store::check_dates(spec.start_date, spec.end_date, campaign.end_date)?;
        }
        let updated = hq_store::update_activity(&mut tx, context, &held, &spec).await?;
        tx.commit().await?;
        Ok(activity_pb(&updated))
    }

    async fn record(
        &self,
        request: Request<pb::RecordActivityOutcomeRequest>,
    ) -> Result<pb::Activity, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = changer(context)?;
        let body = request.get_ref();
        let [campaign_id, hq_id, id] = activity_ids(&body.name, "name")?;
        let mut problems = FieldProblems::new();
        let outcome = body.outcome.clone().unwrap_or_default();
        let summary = problems.text("outcome.summary", &outcome.summary, MAX_TEXT_CHARS, true);
        if outcome.participants < 0 {
            problems.add(
                "outcome.participants",
                "not negative; zero when not counted",
            );
        }
        if outcome.children_reached < 0 {
            problems.add(
                "outcome.children_reached",
                "not negative; zero when not counted",
            );
        }
        problems.finish()?;
        let now = context.now();
        let mut tx = self.store.begin().await?;
        let held = hq_store::fetch_activity(&mut tx, &campaign_id, &hq_id, &id, true)
            .await?
            .ok_or_else(|| ApiError::not_found(body.name.clone()))?;
        viewer.require_regional(&held.region_code, false)?;
        etag::check(&body.etag, held.version, &held.name())?;
        held.state.ensure_may_hold()?;
        let campaign = campaigns::get(&mut tx, &campaign_id, false).await?;
        hq_store::ensure_due(held.start_date, campaign.today(now))?;
        let recorded = hq_store::record_outcome(
            &mut tx,
            context,
            &held,
            &summary,
            outcome.participants,
            outcome.children_reached,
        )
        .await?;
        tx.commit().await?;
        Ok(activity_pb(&recorded))
    }

    async fn cancel(
        &self,
        request: Request<pb::CancelActivityRequest>,
    ) -> Result<pb::Activity, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = changer(context)?;
        let body = request.get_ref();
        let [campaign_id, hq_id, id] = activity_ids(&body.name, "name")?;
        let mut problems = FieldProblems::new();
        let why = problems.text("reason", &body.reason, MAX_NOTE_CHARS, true);
        problems.finish()?;
        let mut tx = self.store.begin().await?;
        let held = hq_store::fetch_activity(&mut tx, &campaign_id, &hq_id, &id, true)
            .await?
            .ok_or_else(|| ApiError::not_found(body.name.clone()))?;
        viewer.require_regional(&held.region_code, false)?;
        // A CANCELLED activity is returned as it is, whatever etag a retry carries.
        if !held.state.needs_cancelling()? {
            return Ok(activity_pb(&held));
        }
        etag::check(&body.etag, held.version, &held.name())?;
        let cancelled = hq_store::cancel_activity(&mut tx, context, &held, &why).await?;
        tx.commit().await?;
        Ok(activity_pb(&cancelled))
    }
}

#[tonic::async_trait]
impl HeadquartersService for HeadquartersApi {
    async fn list_headquarters(
        &self,
        request: Request<pb::ListHeadquartersRequest>,
    ) -> Result<Response<pb::ListHeadquartersResponse>, Status> {
        respond(self.list_headquarters_page(request).await)
    }

    async fn update_headquarters(
        &self,
        request: Request<pb::UpdateHeadquartersRequest>,
    ) -> Result<Response<pb::Headquarters>, Status> {
        respond(self.update_headquarters_fields(request).await)
    }

    async fn approve_action_plan(
        &self,
        request: Request<pb::ApproveActionPlanRequest>,
    ) -> Result<Response<pb::Headquarters>, Status> {
        respond(self.approve(request).await)
    }

    async fn create_activity(
        &self,
        request: Request<pb::CreateActivityRequest>,
    ) -> Result<Response<pb::Activity>, Status> {
        respond(self.create(request).await)
    }

    async fn list_activities(
        &self,
        request: Request<pb::ListActivitiesRequest>,
    ) -> Result<Response<pb::ListActivitiesResponse>, Status> {
        respond(self.list(request).await)
    }

    async fn update_activity(
        &self,
        request: Request<pb::UpdateActivityRequest>,
    ) -> Result<Response<pb::Activity>, Status> {
        respond(self.update(request).await)
    }

    async fn record_activity_outcome(
        &self,
        request: Request<pb::RecordActivityOutcomeRequest>,
    ) -> Result<Response<pb::Activity>, Status> {
        respond(self.record(request).await)
    }

    async fn cancel_activity(
        &self,
        request: Request<pb::CancelActivityRequest>,
    ) -> Result<Response<pb::Activity>, Status> {
        respond(self.cancel(request).await)
    }
}
