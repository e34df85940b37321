//! `CatalogueService`: the public catalogue of winning practices and their replication
//! (rules 8-10).
//!
//! Anyone reads and searches the catalogue, without a token. A region's people (the team
//! role with a scope covering the region) ask to replicate a practice for their region and
//! move the replication along. Every signed-in caller sees that a replication exists, where
//! it is and its plan; the contact (personal data) only the organiser, the replicating
//! region's people and the practice's own team see.

use std::collections::BTreeMap;

use edu_kit::auth::Caller;
use edu_kit::error::reason as kit_reason;
use edu_kit::idempotency::IdempotencyKey;
use edu_kit::paging::PageRequest;
use edu_kit::region::RegionCode;
use edu_kit::{ApiError, CallContext, etag, resource};
use edu_proto::edu::competitions::v1 as pb;
use edu_proto::edu::competitions::v1::catalogue_service_server::CatalogueService;
use tonic::{Request, Response, Status};

use super::access::{self, TEAM, is_organiser};
use super::errors::reason;
use super::{convert, respond};
use crate::domain::replication::{ReplicationRequest, ReplicationState, check_decline_reason};
use crate::store::Store;
use crate::store::catalogue::{
    Practice, PracticeQuery, Replication, ReplicationFilter, replication_name,
};

/// The catalogue service.
#[derive(Debug, Clone)]
pub struct CatalogueApi {
    store: Store,
}

impl CatalogueApi {
    /// The service on `store`.
    pub fn new(store: Store) -> Self {
        CatalogueApi { store }
    }

    async fn get_practice(
        &self,
        request: Request<pb::GetPracticeRequest>,
    ) -> Result<pb::Practice, ApiError> {
        let name = &request.get_ref().name;
        let id = resource::parse_name(name, "practices", "name")?;
        let practice = self
            .store
            .practice(&id)
            .await?
            .ok_or_else(|| ApiError::not_found(name.clone()))?;
        Ok(practice_pb(&practice))
    }

    async fn search(
        &self,
        request: Request<pb::SearchPracticesRequest>,
    ) -> Result<pb::SearchPracticesResponse, ApiError> {
        let body = request.get_ref();
        let optional = |s: &str| (!s.is_empty()).then(|| s.to_string());
        let contest_id = match body.contest.as_str() {
            "" => None,
            contest => Some(resource::parse_name(contest, "contests", "contest")?),
        };
        let paging = PageRequest::parse(
            body.page_size,
            &body.page_token,
            &[
                "SearchPractices",
                &body.query,
                &body.nomination_id,
                &body.region_code,
                &body.contest,
                &body.year.to_string(),
            ],
        )?;
        let query = PracticeQuery {
            words: body.query.clone(),
            nomination_id: optional(&body.nomination_id),
            region_code: optional(&body.region_code),
            contest_id,
            year: (body.year != 0).then_some(body.year),
        };
        let page = self
            .store
            .search_practices(&query, paging.size, paging.after.clone())
            .await?;
        Ok(pb::SearchPracticesResponse {
            practices: page.items.iter().map(|(p, _)| practice_pb(p)).collect(),
            next_page_token: paging.next_token(page.next.as_ref()),
        })
    }

    async fn create_replication(
        &self,
        request: Request<pb::CreateReplicationRequest>,
    ) -> Result<pb::Replication, ApiError> {
        let context = CallContext::of(&request)?;
        let caller = context.caller()?;
        caller.require_role(TEAM)?;
        let body = request.get_ref();
        let practice_id = resource::parse_name(&body.parent, "practices", "parent")?;
        let draft = body.replication.clone().unwrap_or_default();
        let region = RegionCode::parse(&draft.region_code).map_err(|e| {
            ApiError::invalid_field(
                kit_reason::INVALID_FIELDS,
                "replication.region_code",
                e.to_string(),
            )
        })?;
        let replication_request =
            ReplicationRequest::parse(&draft.contact_name, &draft.contact_details, &draft.plan)
                .map_err(|e| ApiError::from(e.within("replication")))?;
        if !caller.covers_region(&region) {
            return Err(ApiError::permission_denied(
                reason::SCOPE_REQUIRED,
                format!("your scopes do not cover {region}"),
            ));
        }
        let key =
            IdempotencyKey::for_request(context, "CreateReplication", &body.request_id, body)?;
        self.store
            .create_replication(
                context,
                key.as_ref(),
                &practice_id,
                resource::new_id(),
                region.as_str(),
                replication_request,
                |r| replication_pb(r, true),
            )
            .await
    }

    /// Whether `caller` sees the contact of replications of `practice_id` in `region`.
    async fn sees_contact(
        &self,
        caller: &Caller,
        practice_id: &str,
        region: &str,
        teams: &mut BTreeMap<String, bool>,
    ) -> Result<bool, ApiError> {
        if is_organiser(caller) {
            return Ok(true);
        }
        if caller.has_role(TEAM)
            && RegionCode::parse(region).is_ok_and(|r| caller.covers_region(&r))
        {
            return Ok(true);
        }
        if let Some(known) = teams.get(practice_id) {
            return Ok(*known);
        }
        let member = match self.store.practice(practice_id).await? {
            Some(practice) => match self
                .store
                .application(&practice.contest_id, &practice.application_id)
                .await?
            {
                Some(app) => access::membership(&self.store, caller, &app.team_id)
                    .await?
                    .is_some(),
                None => false,
            },
            None => false,
        };
        teams.insert(practice_id.to_string(), member);
        Ok(member)
    }

    async fn get_replication(
        &self,
        request: Request<pb::GetReplicationRequest>,
    ) -> Result<pb::Replication, ApiError> {
        let context = CallContext::of(&request)?;
        let caller = context.caller()?;
        let name = &request.get_ref().name;
        let (practice_id, id) =
            resource::parse_child_name(name, "practices", "replications", "name")?;
        let replication = self
            .store
            .replication(&practice_id, &id)
            .await?
            .ok_or_else(|| ApiError::not_found(name.clone()))?;
        let full = self
            .sees_contact(
                caller,
                &practice_id,
                &replication.region_code,
                &mut BTreeMap::new(),
            )
            .await?;
        Ok(replication_pb(&replication, full))
    }

    async fn list_replications(
        &self,
        request: Request<pb::ListReplicationsRequest>,
    ) -> Result<pb::ListReplicationsResponse, ApiError> {
        let context = CallContext::of(&request)?;
        let caller = context.caller()?;
        let body = request.get_ref();
        let practice_id = match body.parent.as_str() {
            "practices/-" => None,
            parent => Some(resource::parse_name(parent, "practices", "parent")?),
        };
        let state = replication_state_filter(body.state)?;
        let paging = PageRequest::parse(
            body.page_size,
            &body.page_token,
            &["ListReplications", &body.parent, &body.state.to_string()],
        )?;
        let filter = ReplicationFilter { practice_id, state };
        let page = self
            .store
            .list_replications(&filter, paging.size, paging.after.clone())
            .await?;
        let mut teams = BTreeMap::new();
        let mut replications = Vec::with_capacity(page.items.len());
        for r in &page.items {
            let full = self
                .sees_contact(caller, &r.practice_id, &r.region_code, &mut teams)
                .await?;
            replications.push(replication_pb(r, full));
        }
        Ok(pb::ListReplicationsResponse {
            replications,
            next_page_token: paging.next_token(page.next.as_ref()),
        })
    }

    /// A move of a replication by its region's people (rule 10); a decline carries its
    /// reason.
    async fn move_by<T>(
        &self,
        request: &Request<T>,
        name: &str,
        etag: &str,
        to: ReplicationState,
        decline_reason: Option<&str>,
    ) -> Result<pb::Replication, ApiError> {
        let context = CallContext::of(request)?;
        let decline_reason = decline_reason.map(check_decline_reason).transpose()?;
        let caller = context.caller()?;
        caller.require_role(TEAM)?;
        let (practice_id, id) =
            resource::parse_child_name(name, "practices", "replications", "name")?;
        let current = self
            .store
            .replication(&practice_id, &id)
            .await?
            .ok_or_else(|| ApiError::not_found(name.to_string()))?;
        let region = RegionCode::parse(&current.region_code)
            .map_err(|e| ApiError::internal(&std::io::Error::other(e.to_string())))?;
        if !caller.covers_region(&region) {
            return Err(ApiError::permission_denied(
                reason::SCOPE_REQUIRED,
                format!("only {region}'s people move its replication"),
            ));
        }
        let moved = self
            .store
            .move_replication(context, &practice_id, &id, etag, to, decline_reason)
            .await?;
        Ok(replication_pb(&moved, true))
    }
}

fn practice_pb(p: &Practice) -> pb::Practice {
    pb::Practice {
        name: format!("practices/{}", p.id),
        title: p.title.clone(),
        summary: p.summary.clone(),
        description: p.description.clone(),
        application: format!(
            "contests/{}/applications/{}",
            p.contest_id, p.application_id
        ),
        contest: format!("contests/{}", p.contest_id),
        nomination_id: p.nomination_id.clone(),
        nomination_title: p.nomination_title.clone(),
        region_code: p.region_code.clone(),
        team_display_name: p.team_display_name.clone(),
        year: p.year,
        replication_count: i32::try_from(p.replication_count).unwrap_or(i32::MAX),
        implemented_region_count: i32::try_from(p.implemented_region_count).unwrap_or(i32::MAX),
        publish_time: Some(convert::timestamp(p.publish_time)),
    }
}

fn replication_pb(r: &Replication, with_contact: bool) -> pb::Replication {
    let contact = |value: &str| {
        if with_contact {
            value.to_string()
        } else {
            String::new()
        }
    };
    pb::Replication {
        name: replication_name(&r.practice_id, &r.id),
        region_code: r.region_code.clone(),
        contact_name: contact(&r.request.contact_name),
        contact_details: contact(&r.request.contact_details),
        plan: r.request.plan.clone(),
        state: match r.state {
            ReplicationState::Requested => pb::ReplicationState::Requested,
            ReplicationState::InProgress => pb::ReplicationState::InProgress,
            ReplicationState::Implemented => pb::ReplicationState::Implemented,
            ReplicationState::Declined => pb::ReplicationState::Declined,
        } as i32,
        decline_reason: r.decline_reason.clone(),
        create_time: Some(convert::timestamp(r.create_time)),
        update_time: Some(convert::timestamp(r.update_time)),
        etag: etag::of(r.version),
    }
}

fn replication_state_filter(raw: i32) -> Result<Option<ReplicationState>, ApiError> {
    match pb::ReplicationState::try_from(raw) {
        Ok(pb::ReplicationState::Unspecified) => Ok(None),
        Ok(pb::ReplicationState::Requested) => Ok(Some(ReplicationState::Requested)),
        Ok(pb::ReplicationState::InProgress) => Ok(Some(ReplicationState::InProgress)),
        Ok(pb::ReplicationState::Implemented) => Ok(Some(ReplicationState::Implemented)),
        Ok(pb::ReplicationState::Declined) => Ok(Some(ReplicationState::Declined)),
        Err(_) => Err(ApiError::invalid_field(
            kit_reason::INVALID_FIELDS,
            "state",
            format!("{raw} is not a replication state"),
        )),
    }
}

#[tonic::async_trait]
impl CatalogueService for CatalogueApi {
    async fn get_practice(
        &self,
        request: Request<pb::GetPracticeRequest>,
    ) -> Result<Response<pb::Practice>, Status> {
        respond(self.get_practice(request).await)
    }

    async fn search_practices(
        &self,
        request: Request<pb::SearchPracticesRequest>,
    ) -> Result<Response<pb::SearchPracticesResponse>, Status> {
        respond(self.search(request).await)
    }

    async fn create_replication(
        &self,
        request: Request<pb::CreateReplicationRequest>,
    ) -> Result<Response<pb::Replication>, Status> {
        respond(self.create_replication(request).await)
    }

    async fn get_replication(
        &self,
        request: Request<pb::GetReplicationRequest>,
    ) -> Result<Response<pb::Replication>, Status> {
        respond(self.get_replication(request).await)
    }

    async fn list_replications(
        &self,
        request: Request<pb::ListReplicationsRequest>,
    ) -> Result<Response<pb::ListReplicationsResponse>, Status> {
        respond(self.list_replications(request).await)
    }

    async fn start_replication(
        &self,
        request: Request<pb::StartReplicationRequest>,
    ) -> Result<Response<pb::Replication>, Status> {
        let body = request.get_ref();
        let to = ReplicationState::InProgress;
        respond(
            self.move_by(&request, &body.name, &body.etag, to, None)
                .await,
        )
    }

    async fn complete_replication(
        &self,
        request: Request<pb::CompleteReplicationRequest>,
    ) -> Result<Response<pb::Replication>, Status> {
        let body = request.get_ref();
        let to = ReplicationState::Implemented;
        respond(
            self.move_by(&request, &body.name, &body.etag, to, None)
                .await,
        )
    }

    async fn decline_replication(
        &self,
        request: Request<pb::DeclineReplicationRequest>,
    ) -> Result<Response<pb::Replication>, Status> {
        let body = request.get_ref();
        let to = ReplicationState::Declined;
        let reason = Some(body.reason.as_str());
        respond(
            self.move_by(&request, &body.name, &body.etag, to, reason)
                .await,
        )
    }
}
