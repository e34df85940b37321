//! `TeamService`: regional and municipal teams and their members (rule 3).

use edu_kit::error::reason as kit_reason;
use edu_kit::idempotency::IdempotencyKey;
use edu_kit::paging::PageRequest;
use edu_kit::region::RegionCode;
use edu_kit::{ApiError, CallContext, resource};
use edu_proto::edu::competitions::v1 as pb;
use edu_proto::edu::competitions::v1::team_service_server::TeamService;
use tonic::{Request, Response, Status};

use super::access::{self, TEAM, is_organiser};
use super::{convert, respond};
use crate::domain::team::MAX_NAME_CHARS;
use crate::domain::{MemberSpec, Team, TeamMember, TeamMemberRole, TeamSpec};
use crate::store::Store;
use crate::store::teams::TeamFilter;

/// The team service.
#[derive(Debug, Clone)]
pub struct TeamsApi {
    store: Store,
}

impl TeamsApi {
    /// The service on `store`.
    pub fn new(store: Store) -> Self {
        TeamsApi { store }
    }

    async fn create(&self, request: Request<pb::CreateTeamRequest>) -> Result<pb::Team, ApiError> {
        let context = CallContext::of(&request)?;
        let caller = context.caller()?;
        let body = request.get_ref();
        let team = body.team.clone().unwrap_or_default();
        let id = resource::id_or_new(&body.team_id).map_err(|e| {
            ApiError::invalid_field(kit_reason::INVALID_FIELDS, "team_id", e.to_string())
        })?;
        let spec = TeamSpec::parse(
            &team.display_name,
            convert::team_level_from(team.level),
            &team.region_code,
            &team.municipality_code,
            &team.municipality_name,
        )
        .map_err(|e| e.within("team"))?;
        access::ensure_may_register(caller, &spec)?;
        let key = IdempotencyKey::for_request(context, "CreateTeam", &body.request_id, body)?;
        let now = context.now();
        let lead = TeamMember {
            team_id: id.clone(),
            id: resource::id_or_new("").unwrap_or_default(),
            subject: caller.subject().to_string(),
            display_name: caller
                .display_name()
                .unwrap_or(caller.subject())
                .chars()
                .take(MAX_NAME_CHARS)
                .collect(),
            position: String::new(),
            role: TeamMemberRole::Lead,
            create_time: now,
        };
        let team = Team {
            id,
            spec,
            member_count: 1,
            create_time: now,
            update_time: now,
            version: 1,
        };
        self.store
            .create_team(context, key.as_ref(), team, lead, convert::team)
            .await
    }

    async fn get(&self, request: Request<pb::GetTeamRequest>) -> Result<pb::Team, ApiError> {
        let context = CallContext::of(&request)?;
        let id = resource::parse_name(&request.get_ref().name, "teams", "name")?;
        access::ensure_may_read_team(&self.store, context.caller()?, &id).await?;
        let team = self
            .store
            .team(&id)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("teams/{id}")))?;
        Ok(convert::team(&team))
    }

    async fn list(
        &self,
        request: Request<pb::ListTeamsRequest>,
    ) -> Result<pb::ListTeamsResponse, ApiError> {
        let context = CallContext::of(&request)?;
        let caller = context.caller()?;
        let body = request.get_ref();
        let region = match body.region_code.as_str() {
            "" => None,
            raw => Some(
                RegionCode::parse(raw)
                    .map_err(|e| {
                        ApiError::invalid_field(
                            kit_reason::INVALID_FIELDS,
                            "region_code",
                            e.to_string(),
                        )
                    })?
                    .to_string(),
            ),
        };
        if !is_organiser(caller) && !caller.has_role(TEAM) {
            return Ok(pb::ListTeamsResponse::default());
        }
        let paging = PageRequest::parse(
            body.page_size,
            &body.page_token,
            &["ListTeams", region.as_deref().unwrap_or("")],
        )?;
        let filter = TeamFilter {
            member: (!is_organiser(caller)).then(|| caller.subject().to_string()),
            region,
        };
        let page = self
            .store
            .list_teams(&filter, paging.size, paging.after.clone())
            .await?;
        Ok(pb::ListTeamsResponse {
            teams: page.items.iter().map(convert::team).collect(),
            next_page_token: paging.next_token(page.next.as_ref()),
        })
    }

    async fn update(&self, request: Request<pb::UpdateTeamRequest>) -> Result<pb::Team, ApiError> {
        let context = CallContext::of(&request)?;
        let body = request.get_ref();
        let changes = body.team.clone().unwrap_or_default();
        let id = resource::parse_name(&changes.name, "teams", "team.name")?;
        let paths = body
            .update_mask
            .as_ref()
            .map(|m| m.paths.clone())
            .unwrap_or_default();
        if paths != ["display_name"] {
            return Err(ApiError::invalid_field(
                kit_reason::INVALID_FIELDS,
                "update_mask",
                "only display_name can change; level, region and municipality are immutable",
            ));
        }
        let display_name = changes.display_name.trim();
        if display_name.is_empty() || display_name.chars().count() > MAX_NAME_CHARS {
            return Err(ApiError::invalid_field(
                kit_reason::INVALID_FIELDS,
                "team.display_name",
                format!("must be 1 to {MAX_NAME_CHARS} characters"),
            ));
        }
        access::ensure_team_lead(&self.store, context.caller()?, &id).await?;
        let team = self
            .store
            .rename_team(context, &id, &changes.etag, display_name)
            .await?;
        Ok(convert::team(&team))
    }

    async fn create_member(
        &self,
        request: Request<pb::CreateTeamMemberRequest>,
    ) -> Result<pb::TeamMember, ApiError> {
        let context = CallContext::of(&request)?;
        let body = request.get_ref();
        let team_id = resource::parse_name(&body.parent, "teams", "parent")?;
        let member = body.member.clone().unwrap_or_default();
        let role = convert::member_role_from(member.role);
        let spec = MemberSpec::parse(
            &member.subject,
            &member.display_name,
            &member.position,
            role,
        )
        .map_err(|e| e.within("member"))?;
        access::ensure_team_lead(&self.store, context.caller()?, &team_id).await?;
        let key = IdempotencyKey::for_request(context, "CreateTeamMember", &body.request_id, body)?;
        let member = TeamMember {
            team_id,
            id: resource::id_or_new("").unwrap_or_default(),
            subject: spec.subject,
            display_name: spec.display_name,
            position: spec.position,
            role: spec.role,
            create_time: context.now(),
        };
        self.store
            .add_member(context, key.as_ref(), member, convert::member)
            .await
    }

    async fn list_members(
        &self,
        request: Request<pb::ListTeamMembersRequest>,
    ) -> Result<pb::ListTeamMembersResponse, ApiError> {
        let context = CallContext::of(&request)?;
        let body = request.get_ref();
        let team_id = resource::parse_name(&body.parent, "teams", "parent")?;
        access::ensure_may_read_team(&self.store, context.caller()?, &team_id).await?;
        let paging = PageRequest::parse(
            body.page_size,
            &body.page_token,
            &["ListTeamMembers", &team_id],
        )?;
        let page = self
            .store
            .list_members(&team_id, paging.size, paging.after.clone())
            .await?;
        Ok(pb::ListTeamMembersResponse {
            members: page.items.iter().map(convert::member).collect(),
            next_page_token: paging.next_token(page.next.as_ref()),
        })
    }

    async fn delete_member(
        &self,
        request: Request<pb::DeleteTeamMemberRequest>,
    ) -> Result<(), ApiError> {
        let context = CallContext::of(&request)?;
        let (team_id, member_id) =
            resource::parse_child_name(&request.get_ref().name, "teams", "members", "name")?;
        access::ensure_team_lead(&self.store, context.caller()?, &team_id).await?;
        self.store
            .remove_member(context, &team_id, &member_id)
            .await
    }
}

#[tonic::async_trait]
impl TeamService for TeamsApi {
    async fn create_team(
        &self,
        request: Request<pb::CreateTeamRequest>,
    ) -> Result<Response<pb::Team>, Status> {
        respond(self.create(request).await)
    }

    async fn get_team(
        &self,
        request: Request<pb::GetTeamRequest>,
    ) -> Result<Response<pb::Team>, Status> {
        respond(self.get(request).await)
    }

    async fn list_teams(
        &self,
        request: Request<pb::ListTeamsRequest>,
    ) -> Result<Response<pb::ListTeamsResponse>, Status> {
        respond(self.list(request).await)
    }

    async fn update_team(
        &self,
        request: Request<pb::UpdateTeamRequest>,
    ) -> Result<Response<pb::Team>, Status> {
        respond(self.update(request).await)
    }

    async fn create_team_member(
        &self,
        request: Request<pb::CreateTeamMemberRequest>,
    ) -> Result<Response<pb::TeamMember>, Status> {
        respond(self.create_member(request).await)
    }

    async fn list_team_members(
        &self,
        request: Request<pb::ListTeamMembersRequest>,
    ) -> Result<Response<pb::ListTeamMembersResponse>, Status> {
        respond(self.list_members(request).await)
    }

    async fn delete_team_member(
        &self,
        request: Request<pb::DeleteTeamMemberRequest>,
    ) -> Result<Response<()>, Status> {
        respond(self.delete_member(request).await)
    }
}
