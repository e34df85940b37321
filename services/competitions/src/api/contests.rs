//! `ContestService`: contests and their life cycle (rule 1).

use edu_kit::idempotency::IdempotencyKey;
use edu_kit::paging::PageRequest;
use edu_kit::{ApiError, CallContext, resource};
use edu_proto::edu::competitions::v1 as pb;
use edu_proto::edu::competitions::v1::contest_service_server::ContestService;
use tonic::{Request, Response, Status};

use super::access::{ORGANISER, is_organiser};
use super::{convert, respond};
use crate::domain::{CompetitionError, Contest, ContestSpec, Transition};
use crate::store::Store;
use crate::store::contests::ContestFilter;

/// The contest service.
#[derive(Debug, Clone)]
pub struct ContestsApi {
    store: Store,
}

impl ContestsApi {
    /// The service on `store`.
    pub fn new(store: Store) -> Self {
        ContestsApi { store }
    }

    async fn create(
        &self,
        request: Request<pb::CreateContestRequest>,
    ) -> Result<pb::Contest, ApiError> {
        let context = CallContext::of(&request)?;
        context.caller()?.require_role(ORGANISER)?;
        let body = request.get_ref();
        let draft = body.contest.clone().unwrap_or_default();
        let id = resource::id_or_new(&body.contest_id).map_err(|e| {
            ApiError::invalid_field(
                edu_kit::error::reason::INVALID_FIELDS,
                "contest_id",
                e.to_string(),
            )
        })?;
        let spec = ContestSpec::parse(convert::new_contest_spec(&draft))
            .map_err(|e| e.within("contest"))?;
        let key = IdempotencyKey::for_request(context, "CreateContest", &body.request_id, body)?;
        let contest = Contest::draft(id, spec, context.now());
        self.store
            .create_contest(context, key.as_ref(), contest, convert::contest)
            .await
    }

    async fn get(&self, request: Request<pb::GetContestRequest>) -> Result<pb::Contest, ApiError> {
        let context = CallContext::of(&request)?;
        let caller = context.caller()?;
        let id = resource::parse_name(&request.get_ref().name, "contests", "name")?;
        let contest = self
            .store
            .contest(&id)
            .await?
            .filter(|c| c.is_visible_beyond_organisers() || is_organiser(caller))
            .ok_or_else(|| ApiError::not_found(format!("contests/{id}")))?;
        Ok(convert::contest(&contest))
    }

    async fn list(
        &self,
        request: Request<pb::ListContestsRequest>,
    ) -> Result<pb::ListContestsResponse, ApiError> {
        let context = CallContext::of(&request)?;
        let caller = context.caller()?;
        let body = request.get_ref();
        let state = convert::contest_state_filter(body.state)?;
        let paging = PageRequest::parse(
            body.page_size,
            &body.page_token,
            &["ListContests", &body.state.to_string()],
        )?;
        let filter = ContestFilter {
            state,
            include_drafts: is_organiser(caller),
        };
        let page = self
            .store
            .list_contests(&filter, paging.size, paging.after.clone())
            .await?;
        Ok(pb::ListContestsResponse {
            contests: page.items.iter().map(convert::contest).collect(),
            next_page_token: paging.next_token(page.next.as_ref()),
        })
    }

    async fn update(
        &self,
        request: Request<pb::UpdateContestRequest>,
    ) -> Result<pb::Contest, ApiError> {
        let context = CallContext::of(&request)?;
        context.caller()?.require_role(ORGANISER)?;
        let body = request.get_ref();
        let changes = body.contest.clone().unwrap_or_default();
        let id = resource::parse_name(&changes.name, "contests", "contest.name")?;
        let fields = convert::spec_fields(body.update_mask.as_ref())?;
        let contest = self
            .store
            .update_contest(context, &id, &changes.etag, |current| {
                ContestSpec::parse(convert::merged_spec(current, &changes, &fields))
                    .map_err(|e| e.within("contest").into())
            })
            .await?;
        Ok(convert::contest(&contest))
    }

    async fn open(
        &self,
        request: Request<pb::OpenContestRequest>,
    ) -> Result<pb::Contest, ApiError> {
        let body = request.get_ref();
        let context = CallContext::of(&request)?;
        self.transition(
            context,
            &body.name,
            &body.etag,
            "contest.opened",
            |c, now| c.open(now),
        )
        .await
    }

    async fn close(
        &self,
        request: Request<pb::CloseContestRequest>,
    ) -> Result<pb::Contest, ApiError> {
        let body = request.get_ref();
        let context = CallContext::of(&request)?;
        self.transition(
            context,
            &body.name,
            &body.etag,
            "contest.closed",
            |c, now| c.close(now),
        )
        .await
    }

    async fn cancel(
        &self,
        request: Request<pb::CancelContestRequest>,
    ) -> Result<pb::Contest, ApiError> {
        let body = request.get_ref();
        let context = CallContext::of(&request)?;
        let reason = body.reason.as_str();
        self.transition(
            context,
            &body.name,
            &body.etag,
            "contest.cancelled",
            |c, now| c.cancel(reason, now),
        )
        .await
    }

    /// A life-cycle step of a contest, by the organiser: `transition` decides (rule 1),
    /// `action` names it in the audit log.
    async fn transition(
        &self,
        context: &CallContext,
        name: &str,
        etag: &str,
        action: &'static str,
        transition: impl FnOnce(&mut Contest, jiff::Timestamp) -> Result<Transition, CompetitionError>,
    ) -> Result<pb::Contest, ApiError> {
        context.caller()?.require_role(ORGANISER)?;
        let id = resource::parse_name(name, "contests", "name")?;
        let contest = self
            .store
            .transition_contest(context, &id, etag, action, transition)
            .await?;
        Ok(convert::contest(&contest))
    }
}

#[tonic::async_trait]
impl ContestService for ContestsApi {
    async fn create_contest(
        &self,
        request: Request<pb::CreateContestRequest>,
    ) -> Result<Response<pb::Contest>, Status> {
        respond(self.create(request).await)
    }

    async fn get_contest(
        &self,
        request: Request<pb::GetContestRequest>,
    ) -> Result<Response<pb::Contest>, Status> {
        respond(self.get(request).await)
    }

    async fn list_contests(
        &self,
        request: Request<pb::ListContestsRequest>,
    ) -> Result<Response<pb::ListContestsResponse>, Status> {
        respond(self.list(request).await)
    }

    async fn update_contest(
        &self,
        request: Request<pb::UpdateContestRequest>,
    ) -> Result<Response<pb::Contest>, Status> {
        respond(self.update(request).await)
    }

    async fn open_contest(
        &self,
        request: Request<pb::OpenContestRequest>,
    ) -> Result<Response<pb::Contest>, Status> {
        respond(self.open(request).await)
    }

    async fn close_contest(
        &self,
        request: Request<pb::CloseContestRequest>,
    ) -> Result<Response<pb::Contest>, Status> {
        respond(self.close(request).await)
    }

    async fn cancel_contest(
        &self,
        request: Request<pb::CancelContestRequest>,
    ) -> Result<Response<pb::Contest>, Status> {
        respond(self.cancel(request).await)
    }
}
