//! `AppealService`: citizens' appeals (rule 5), recorded and answered by hotline and
//! reception operators and regional staff of their region, and by the national coordinator
//! in every region. Another region's appeal does not exist for operators and regional staff.
//! The applicant's name and contact are returned to these callers only, and no error text
//! or log line repeats them.

use edu_kit::error::FieldProblems;
use edu_kit::idempotency::{self, IdempotencyKey};
use edu_kit::paging::PageRequest;
use edu_kit::{ApiError, CallContext, etag};
use edu_proto::edu::aid::v1 as pb;
use edu_proto::edu::aid::v1::appeal_service_server::AppealService;
use jiff::{SignedDuration, Timestamp};
use sqlx::PgConnection;
use tonic::{Request, Response, Status};

use super::access::{Viewer, role_required, scope_required};
use super::convert::{self, MAX_NAME_CHARS};
use super::respond;
use crate::domain::appeal::{self, AppealCategory, AppealChannel, AppealError, AppealState};
use crate::domain::campaign::Campaign;
use crate::store::appeals::{self, Appeal, AppealFilter, NewAppeal};
use crate::store::{Store, Visibility, campaigns};

/// Reasons of the appeal service, beyond the kit's and the service's shared ones.
pub mod reason {
    use edu_kit::error::Reason;

    /// Routing an appeal that is ANSWERED or REDIRECTED.
    pub const APPEAL_CLOSED: Reason = Reason::new(
        "APPEAL_CLOSED",
        "Обращение закрыто: на него дан ответ или оно перенаправлено; его категория и ответственный больше не меняются.",
    );
}

/// Longest summary, first response and answer.
const MAX_TEXT_CHARS: usize = 5000;
/// Longest reason for a redirection.
const MAX_REASON_CHARS: usize = 2000;

impl From<AppealError> for ApiError {
    fn from(error: AppealError) -> Self {
        match error {
            AppealError::TransitionNotAllowed { from, to } => {
                ApiError::transition_not_allowed(from.as_str(), to.as_str())
                    .with_metadata("state", from.as_str())
                    .in_russian(format!(
                        "Обращение в состоянии {from}; перевести его в {to} нельзя. Обращение идёт так: OPEN → IN_PROGRESS → ANSWERED или REDIRECTED."
                    ))
            }
            AppealError::Closed { state } => {
                ApiError::failed_precondition(reason::APPEAL_CLOSED, error.to_string())
                    .with_metadata("state", state.as_str())
            }
        }
    }
}

fn channel_of(raw: i32) -> Option<AppealChannel> {
    match pb::AppealChannel::try_from(raw).ok()? {
        pb::AppealChannel::Unspecified => None,
        pb::AppealChannel::Hotline => Some(AppealChannel::Hotline),
        pb::AppealChannel::TrustPhone => Some(AppealChannel::TrustPhone),
        pb::AppealChannel::PublicReception => Some(AppealChannel::PublicReception),
        pb::AppealChannel::Written => Some(AppealChannel::Written),
    }
}

fn channel_pb(c: AppealChannel) -> pb::AppealChannel {
    match c {
        AppealChannel::Hotline => pb::AppealChannel::Hotline,
        AppealChannel::TrustPhone => pb::AppealChannel::TrustPhone,
        AppealChannel::PublicReception => pb::AppealChannel::PublicReception,
        AppealChannel::Written => pb::AppealChannel::Written,
    }
}

fn category_of(raw: i32) -> Option<AppealCategory> {
    match pb::AppealCategory::try_from(raw).ok()? {
        pb::AppealCategory::Unspecified => None,
        pb::AppealCategory::RequestForHelp => Some(AppealCategory::RequestForHelp),
        pb::AppealCategory::ChildOutOfSchool => Some(AppealCategory::ChildOutOfSchool),
        pb::AppealCategory::Prices => Some(AppealCategory::Prices),
        pb::AppealCategory::Complaint => Some(AppealCategory::Complaint),
        pb::AppealCategory::OfferOfHelp => Some(AppealCategory::OfferOfHelp),
        pb::AppealCategory::Question => Some(AppealCategory::Question),
        pb::AppealCategory::Other => Some(AppealCategory::Other),
    }
}

fn category_pb(c: AppealCategory) -> pb::AppealCategory {
    match c {
        AppealCategory::RequestForHelp => pb::AppealCategory::RequestForHelp,
        AppealCategory::ChildOutOfSchool => pb::AppealCategory::ChildOutOfSchool,
        AppealCategory::Prices => pb::AppealCategory::Prices,
        AppealCategory::Complaint => pb::AppealCategory::Complaint,
        AppealCategory::OfferOfHelp => pb::AppealCategory::OfferOfHelp,
        AppealCategory::Question => pb::AppealCategory::Question,
        AppealCategory::Other => pb::AppealCategory::Other,
    }
}

fn state_of(raw: i32) -> Option<AppealState> {
    match pb::AppealState::try_from(raw).ok()? {
        pb::AppealState::Unspecified => None,
        pb::AppealState::Open => Some(AppealState::Open),
        pb::AppealState::InProgress => Some(AppealState::InProgress),
        pb::AppealState::Answered => Some(AppealState::Answered),
        pb::AppealState::Redirected => Some(AppealState::Redirected),
    }
}

fn state_pb(s: AppealState) -> pb::AppealState {
    match s {
        AppealState::Open => pb::AppealState::Open,
        AppealState::InProgress => pb::AppealState::InProgress,
        AppealState::Answered => pb::AppealState::Answered,
        AppealState::Redirected => pb::AppealState::Redirected,
    }
}

/// An appeal as the API shows it at `now`, judged against the campaign's `target`.
fn appeal_pb(a: &Appeal, target: SignedDuration, now: Timestamp) -> pb::Appeal {
    pb::Appeal {
        name: a.name(),
        number: a.number.clone(),
        channel: channel_pb(a.channel) as i32,
        category: category_pb(a.category) as i32,
        region_code: a.region_code.clone(),
        responsible_person: a.responsible_person.clone(),
        applicant_name: a.applicant_name.clone(),
        applicant_contact: a.applicant_contact.clone(),
        summary: a.summary.clone(),
        state: state_pb(a.state) as i32,
        create_time: Some(convert::timestamp(a.create_time)),
        response_due_time: Some(convert::timestamp(appeal::response_due(
            a.create_time,
            target,
        ))),
        first_response_time: a.first_response_time.map(convert::timestamp),
        time_to_first_response: appeal::time_to_first_response(
            a.create_time,
            a.first_response_time,
        )
        .map(convert::duration),
        overdue: appeal::is_overdue(a.create_time, a.first_response_time, target, now),
        responded_late: appeal::responded_late(a.create_time, a.first_response_time, target),
        first_response: a.first_response.clone(),
        answer: a.answer.clone(),
        redirected_to: a.redirected_to.clone(),
        redirect_reason: a.redirect_reason.clone(),
        close_time: a.close_time.map(convert::timestamp),
        update_time: Some(convert::timestamp(a.update_time)),
        etag: etag::of(a.version),
    }
}

/// The appeals the caller handles: every region's for the coordinator, their regions' for
/// operators and regional staff; `ROLE_REQUIRED` for everyone else.
fn handled(viewer: &Viewer) -> Result<Visibility, ApiError> {
    if viewer.coordinator {
        return Ok(Visibility {
            all: true,
            ..Visibility::default()
        });
    }
    let mut regions: Vec<String> = viewer
        .operator
        .iter()
        .chain(&viewer.regional)
        .cloned()
        .collect();
    regions.sort();
    regions.dedup();
    if regions.is_empty() {
        return Err(role_required());
    }
    Ok(Visibility {
        all: false,
        regions,
        schools: Vec::new(),
    })
}

fn sees(vis: &Visibility, region: &str) -> bool {
    vis.all || vis.regions.iter().any(|r| r == region)
}

/// The fields CreateAppeal takes, each checked under `appeal.`.
fn new_appeal(from: &pb::Appeal) -> Result<NewAppeal, ApiError> {
    let mut problems = FieldProblems::new();
    let channel = channel_of(from.channel);
    if channel.is_none() {
        problems.add("appeal.channel", "required: how the appeal came in");
    }
    let category = category_of(from.category);
    if category.is_none() {
        problems.add("appeal.category", "required: what the appeal is about");
    }
    if from.region_code.is_empty() {
        problems.add(
            "appeal.region_code",
            "required: the region, for example KZ-75",
        );
    } else if let Some(problem) = convert::region_problem(&from.region_code) {
        problems.add("appeal.region_code", problem);
    }
    let responsible_person = problems.text(
        "appeal.responsible_person",
        &from.responsible_person,
        MAX_NAME_CHARS,
        true,
    );
    let applicant_name = problems.text(
        "appeal.applicant_name",
        &from.applicant_name,
        MAX_NAME_CHARS,
        false,
    );
    let applicant_contact = problems.text(
        "appeal.applicant_contact",
        &from.applicant_contact,
        MAX_NAME_CHARS,
        false,
    );
    let summary = problems.text("appeal.summary", &from.summary, MAX_TEXT_CHARS, true);
    problems.finish()?;
    match (channel, category) {
        (Some(channel), Some(category)) => Ok(NewAppeal {
            channel,
            category,
            region_code: from.region_code.clone(),
            responsible_person,
            applicant_name,
            applicant_contact,
            summary,
        }),
        // `finish` refused both already.
        _ => Err(ApiError::invalid_field(
            edu_kit::error::reason::INVALID_FIELDS,
            "appeal",
            "channel and category are required",
        )),
    }
}

/// The appeal service.
#[derive(Debug, Clone)]
pub struct AppealsApi {
    store: Store,
}

impl AppealsApi {
    /// The service on `store`.
    pub fn new(store: Store) -> Self {
        AppealsApi { store }
    }

    /// An appeal the caller handles, locked for a change, with its campaign; `NOT_FOUND`
    /// when it does not exist or is another region's; `ABORTED` for a stale `etag`.
    async fn held(
        conn: &mut PgConnection,
        vis: &Visibility,
        campaign_id: &str,
        id: &str,
        supplied_etag: &str,
    ) -> Result<(Appeal, Campaign), ApiError> {
        let resource = appeals::name(campaign_id, id);
        let campaign = campaigns::fetch(conn, campaign_id, false)
            .await?
            .ok_or_else(|| ApiError::not_found(resource.clone()))?;
        let held = appeals::fetch(conn, campaign_id, id, true)
            .await?
            .filter(|a| sees(vis, &a.region_code))
            .ok_or_else(|| ApiError::not_found(resource.clone()))?;
        etag::check(supplied_etag, held.version, &resource)?;
        Ok((held, campaign))
    }

    async fn create(
        &self,
        request: Request<pb::CreateAppealRequest>,
    ) -> Result<pb::Appeal, ApiError> {
        let context = CallContext::of(&request)?;
        let vis = handled(&Viewer::of(context.caller()?)?)?;
        let body = request.get_ref();
        let campaign_id = convert::campaign_id(&body.parent, "parent")?;
        let new = new_appeal(&body.appeal.clone().unwrap_or_default())?;
        if !sees(&vis, &new.region_code) {
            return Err(scope_required(&format!("the region {}", new.region_code)));
        }
        let key = IdempotencyKey::for_request(context, "CreateAppeal", &body.request_id, body)?;
        let now = context.now();
        let mut tx = self.store.begin().await?;
        let created = idempotency::once(&mut tx, key.as_ref(), now, async |conn| {
            let (created, campaign) = appeals::create(conn, context, &campaign_id, &new).await?;
            Ok(appeal_pb(&created, campaign.appeal_response_target, now))
        })
        .await?;
        tx.commit().await?;
        Ok(created)
    }

    async fn get(&self, request: Request<pb::GetAppealRequest>) -> Result<pb::Appeal, ApiError> {
        let context = CallContext::of(&request)?;
        let vis = handled(&Viewer::of(context.caller()?)?)?;
        let name = &request.get_ref().name;
        let (campaign_id, id) = convert::campaign_child(name, "appeals", "name")?;
        self.store
            .appeal(&campaign_id, &id)
            .await?
            .filter(|(a, _)| sees(&vis, &a.region_code))
            .map(|(a, c)| appeal_pb(&a, c.appeal_response_target, context.now()))
            .ok_or_else(|| ApiError::not_found(name.clone()))
    }

    async fn list(
        &self,
        request: Request<pb::ListAppealsRequest>,
    ) -> Result<pb::ListAppealsResponse, ApiError> {
        let context = CallContext::of(&request)?;
        let vis = handled(&Viewer::of(context.caller()?)?)?;
        let body = request.get_ref();
        let campaign_id = convert::campaign_id(&body.parent, "parent")?;
        let now = context.now();
        let filter = AppealFilter {
            region: convert::region_filter(&body.region_code, "region_code")?,
            state: convert::enum_filter(body.state, "state", state_of)?,
            category: convert::enum_filter(body.category, "category", category_of)?,
            number: (!body.number.is_empty()).then(|| body.number.clone()),
            overdue_at: body.overdue_only.then_some(now),
            responded_late: body.responded_late_only,
        };
        let paging = PageRequest::parse(
            body.page_size,
            &body.page_token,
            &[
                "ListAppeals",
                &body.parent,
                &body.region_code,
                &body.state.to_string(),
                &body.category.to_string(),
                &body.overdue_only.to_string(),
                &body.responded_late_only.to_string(),
                &body.number,
            ],
        )?;
        let campaign = self.store.campaign(&campaign_id).await?;
        let target = campaign.appeal_response_target;
        let page = self
            .store
            .list_appeals(
                &campaign_id,
                &vis,
                &filter,
                target,
                paging.size,
                paging.after.clone(),
            )
            .await?;
        Ok(pb::ListAppealsResponse {
            appeals: page
                .items
                .iter()
                .map(|a| appeal_pb(a, target, now))
                .collect(),
            next_page_token: paging.next_token(page.next.as_ref()),
        })
    }

    async fn update(
        &self,
        request: Request<pb::UpdateAppealRequest>,
    ) -> Result<pb::Appeal, ApiError> {
        let context = CallContext::of(&request)?;
        let vis = handled(&Viewer::of(context.caller()?)?)?;
        let body = request.get_ref();
        let from = body.appeal.clone().unwrap_or_default();
        let (campaign_id, id) = convert::campaign_child(&from.name, "appeals", "appeal.name")?;
        let mask = convert::mask_paths(
            body.update_mask.as_ref(),
            &["category", "responsible_person"],
        )?;
        let changes = |field: &str| mask.iter().any(|m| m == field);
        let mut problems = FieldProblems::new();
        let category = if changes("category") {
            let parsed = category_of(from.category);
            if parsed.is_none() {
                problems.add("appeal.category", "required: what the appeal is about");
            }
            parsed
        } else {
            None
        };
        let responsible = changes("responsible_person").then(|| {
            problems.text(
                "appeal.responsible_person",
                &from.responsible_person,
                MAX_NAME_CHARS,
                true,
            )
        });
        problems.finish()?;
        let now = context.now();
        let mut tx = self.store.begin().await?;
        let (held, campaign) = Self::held(&mut tx, &vis, &campaign_id, &id, &from.etag).await?;
        held.state.ensure_routable()?;
        let routed =
            appeals::route(&mut tx, context, &held, category, responsible.as_deref()).await?;
        tx.commit().await?;
        Ok(appeal_pb(&routed, campaign.appeal_response_target, now))
    }

    async fn start(
        &self,
        request: Request<pb::StartAppealRequest>,
    ) -> Result<pb::Appeal, ApiError> {
        let context = CallContext::of(&request)?;
        let vis = handled(&Viewer::of(context.caller()?)?)?;
        let body = request.get_ref();
        let (campaign_id, id) = convert::campaign_child(&body.name, "appeals", "name")?;
        let mut problems = FieldProblems::new();
        let text = problems.text("first_response", &body.first_response, MAX_TEXT_CHARS, true);
        problems.finish()?;
        let key = IdempotencyKey::for_request(context, "StartAppeal", &body.request_id, body)?;
        let now = context.now();
        let mut tx = self.store.begin().await?;
        let started = idempotency::once(&mut tx, key.as_ref(), now, async |conn| {
            let (held, campaign) = Self::held(conn, &vis, &campaign_id, &id, &body.etag).await?;
            held.state.ensure_may_become(AppealState::InProgress)?;
            let started = appeals::start(conn, context, &held, &text).await?;
            Ok(appeal_pb(&started, campaign.appeal_response_target, now))
        })
        .await?;
        tx.commit().await?;
        Ok(started)
    }

    async fn answer(
        &self,
        request: Request<pb::AnswerAppealRequest>,
    ) -> Result<pb::Appeal, ApiError> {
        let context = CallContext::of(&request)?;
        let vis = handled(&Viewer::of(context.caller()?)?)?;
        let body = request.get_ref();
        let (campaign_id, id) = convert::campaign_child(&body.name, "appeals", "name")?;
        let mut problems = FieldProblems::new();
        let text = problems.text("answer", &body.answer, MAX_TEXT_CHARS, true);
        problems.finish()?;
        let key = IdempotencyKey::for_request(context, "AnswerAppeal", &body.request_id, body)?;
        let now = context.now();
        let mut tx = self.store.begin().await?;
        let answered = idempotency::once(&mut tx, key.as_ref(), now, async |conn| {
            let (held, campaign) = Self::held(conn, &vis, &campaign_id, &id, &body.etag).await?;
            held.state.ensure_may_become(AppealState::Answered)?;
            let answered = appeals::answer(conn, context, &held, &text).await?;
            Ok(appeal_pb(&answered, campaign.appeal_response_target, now))
        })
        .await?;
        tx.commit().await?;
        Ok(answered)
    }

    async fn redirect(
        &self,
        request: Request<pb::RedirectAppealRequest>,
    ) -> Result<pb::Appeal, ApiError> {
        let context = CallContext::of(&request)?;
        let vis = handled(&Viewer::of(context.caller()?)?)?;
        let body = request.get_ref();
        let (campaign_id, id) = convert::campaign_child(&body.name, "appeals", "name")?;
        let mut problems = FieldProblems::new();
        let to = problems.text("redirected_to", &body.redirected_to, MAX_NAME_CHARS, true);
        let why = problems.text("reason", &body.reason, MAX_REASON_CHARS, true);
        problems.finish()?;
        let key = IdempotencyKey::for_request(context, "RedirectAppeal", &body.request_id, body)?;
        let now = context.now();
        let mut tx = self.store.begin().await?;
        let redirected = idempotency::once(&mut tx, key.as_ref(), now, async |conn| {
            let (held, campaign) = Self::held(conn, &vis, &campaign_id, &id, &body.etag).await?;
            held.state.ensure_may_become(AppealState::Redirected)?;
            let redirected = appeals::redirect(conn, context, &held, &to, &why).await?;
            Ok(appeal_pb(&redirected, campaign.appeal_response_target, now))
        })
        .await?;
        tx.commit().await?;
        Ok(redirected)
    }
}

#[tonic::async_trait]
impl AppealService for AppealsApi {
    async fn create_appeal(
        &self,
        request: Request<pb::CreateAppealRequest>,
    ) -> Result<Response<pb::Appeal>, Status> {
        respond(self.create(request).await)
    }

    async fn get_appeal(
        &self,
        request: Request<pb::GetAppealRequest>,
    ) -> Result<Response<pb::Appeal>, Status> {
        respond(self.get(request).await)
    }

    async fn list_appeals(
        &self,
        request: Request<pb::ListAppealsRequest>,
    ) -> Result<Response<pb::ListAppealsResponse>, Status> {
        respond(self.list(request).await)
    }

    async fn update_appeal(
        &self,
        request: Request<pb::UpdateAppealRequest>,
    ) -> Result<Response<pb::Appeal>, Status> {
        respond(self.update(request).await)
    }

    async fn start_appeal(
        &self,
        request: Request<pb::StartAppealRequest>,
    ) -> Result<Response<pb::Appeal>, Status> {
        respond(self.start(request).await)
    }

    async fn answer_appeal(
        &self,
        request: Request<pb::AnswerAppealRequest>,
    ) -> Result<Response<pb::Appeal>, Status> {
        respond(self.answer(request).await)
    }

    async fn redirect_appeal(
        &self,
        request: Request<pb::RedirectAppealRequest>,
    ) -> Result<Response<pb::Appeal>, Status> {
        respond(self.redirect(request).await)
    }
}
