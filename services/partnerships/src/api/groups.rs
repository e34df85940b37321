//! `GroupService`: groups of four (rule 5), their mobilities and annexes (rules 7, 8).

use edu_kit::error::{FieldProblems, quote, reason as kit_reason};
use edu_kit::idempotency::{self, IdempotencyKey};
use edu_kit::paging::PageRequest;
use edu_kit::{ApiError, CallContext, wire};
use edu_proto::edu::partnerships::v1 as pb;
use edu_proto::edu::partnerships::v1::group_service_server::GroupService;
use tonic::{Request, Response, Status};

use super::access::Viewer;
use super::applications::visibility;
use super::{convert, respond};
use crate::store::Store;
use crate::store::groups::{self, Group, GroupFilter, MobilityChange, MobilityFilter};

/// The group service.
#[derive(Debug, Clone)]
pub struct GroupsApi {
    store: Store,
}

/// `years/{year}/groups/{group}/mobilities/{mobility}` (or `…/groups/{group}` when
/// `mobility` is false): the IDs.
fn parse_group_path(name: &str, field: &str, mobility: bool) -> Result<Vec<String>, ApiError> {
    let parts: Vec<&str> = name.split('/').collect();
    let shape_ok = match parts.as_slice() {
        ["years", y, "groups", g] => {
            !mobility && convert::year_id(&format!("years/{y}"), field).is_ok() && !g.is_empty()
        }
        ["years", y, "groups", g, "mobilities", m] => {
            mobility
                && convert::year_id(&format!("years/{y}"), field).is_ok()
                && !g.is_empty()
                && !m.is_empty()
        }
        _ => false,
    };
    if !shape_ok || name.len() > 300 {
        let form = if mobility {
            "years/{year}/groups/{group}/mobilities/{mobility}"
        } else {
            "years/{year}/groups/{group}"
        };
        return Err(ApiError::invalid_field(
            kit_reason::INVALID_FIELDS,
            field,
            format!("expected {form}, got {}", quote(name)),
        ));
    }
    Ok(parts
        .iter()
        .skip(1)
        .step_by(2)
        .map(|s| s.to_string())
        .collect())
}

impl GroupsApi {
    /// The service on `store`.
    pub fn new(store: Store) -> Self {
        GroupsApi { store }
    }

    fn sees(viewer: &Viewer, g: &Group) -> bool {
        viewer.ministry
            || g.region_codes.iter().any(|r| viewer.is_office_of(r))
            || g.schools().iter().any(|s| viewer.is_school(s))
    }

    async fn readable(&self, viewer: &Viewer, year: &str, id: &str) -> Result<Group, ApiError> {
        self.store
            .group(year, id)
            .await?
            .filter(|g| Self::sees(viewer, g))
            .ok_or_else(|| ApiError::not_found(groups::name(year, id)))
    }

    async fn get(&self, request: Request<pb::GetGroupRequest>) -> Result<pb::Group, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = Viewer::of(context.caller()?)?;
        let ids = parse_group_path(&request.get_ref().name, "name", false)?;
        Ok(convert::group(
            &self.readable(&viewer, &ids[0], &ids[1]).await?,
        ))
    }

    async fn list(
        &self,
        request: Request<pb::ListGroupsRequest>,
    ) -> Result<pb::ListGroupsResponse, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = Viewer::of(context.caller()?)?;
        let body = request.get_ref();
        let filter = GroupFilter {
            year: convert::year_filter(&body.parent, "parent")?,
            region: convert::region_filter(&body.region_code, "region_code")?,
            state: convert::enum_filter(body.state, "state", |raw| match raw {
                r if r == pb::GroupState::Formed as i32 => Some("FORMED".to_string()),
                r if r == pb::GroupState::Approved as i32 => Some("APPROVED".to_string()),
                _ => None,
            })?,
        };
        let paging = PageRequest::parse(
            body.page_size,
            &body.page_token,
            &[
                "ListGroups",
                &body.parent,
                &body.region_code,
                &body.state.to_string(),
            ],
        )?;
        let page = self
            .store
            .list_groups(
                &visibility(&viewer),
                &filter,
                paging.size,
                paging.after.clone(),
            )
            .await?;
        Ok(pb::ListGroupsResponse {
            groups: page.items.iter().map(convert::group).collect(),
            next_page_token: paging.next_token(page.next.as_ref()),
        })
    }

    async fn approve(
        &self,
        request: Request<pb::ApproveGroupRequest>,
    ) -> Result<pb::Group, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = Viewer::of(context.caller()?)?;
        let body = request.get_ref();
        let ids = parse_group_path(&body.name, "name", false)?;
        self.readable(&viewer, &ids[0], &ids[1]).await?;
        viewer.require_ministry()?;
        let mut tx = self.store.begin().await?;
        let group = groups::approve(&mut tx, context, &ids[0], &ids[1], &body.etag).await?;
        tx.commit().await?;
        Ok(convert::group(&group))
    }

    async fn get_mobility(
        &self,
        request: Request<pb::GetMobilityRequest>,
    ) -> Result<pb::Mobility, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = Viewer::of(context.caller()?)?;
        let name = &request.get_ref().name;
        let ids = parse_group_path(name, "name", true)?;
        self.readable(&viewer, &ids[0], &ids[1])
            .await
            .map_err(|_| ApiError::not_found(name.clone()))?;
        let m = self
            .store
            .mobility(&ids[0], &ids[1], &ids[2], context.now())
            .await?
            .ok_or_else(|| ApiError::not_found(name.clone()))?;
        Ok(convert::mobility(&m))
    }

    async fn list_mobilities(
        &self,
        request: Request<pb::ListMobilitiesRequest>,
    ) -> Result<pb::ListMobilitiesResponse, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = Viewer::of(context.caller()?)?;
        let body = request.get_ref();
        let ids = parse_group_path(&body.parent, "parent", false)?;
        let group = if ids[1] == "-" {
            None
        } else {
            self.readable(&viewer, &ids[0], &ids[1]).await?;
            Some(ids[1].clone())
        };
        let state = convert::enum_filter(body.state, "state", |raw| {
            [
                crate::domain::mobility::MobilityState::Planning,
                crate::domain::mobility::MobilityState::AnnexFiled,
                crate::domain::mobility::MobilityState::Held,
                crate::domain::mobility::MobilityState::AnnexMissed,
            ]
            .into_iter()
            .find(|s| convert::mobility_state(*s) as i32 == raw)
        })?;
        let paging = PageRequest::parse(
            body.page_size,
            &body.page_token,
            &["ListMobilities", &body.parent, &body.state.to_string()],
        )?;
        let filter = MobilityFilter {
            year: ids[0].clone(),
            group,
        };
        let page = self
            .store
            .list_mobilities(
                &visibility(&viewer),
                &filter,
                context.now(),
                paging.size,
                paging.after.clone(),
            )
            .await?;
        Ok(pb::ListMobilitiesResponse {
            mobilities: page
                .items
                .iter()
                .filter(|m| state.is_none_or(|s| m.state == s))
                .map(convert::mobility)
                .collect(),
            next_page_token: paging.next_token(page.next.as_ref()),
        })
    }

    /// The mobility's IDs, after checking that the caller sees its group.
    async fn hosted_ids(&self, viewer: &Viewer, name: &str) -> Result<Vec<String>, ApiError> {
        let ids = parse_group_path(name, "name", true)?;
        self.readable(viewer, &ids[0], &ids[1])
            .await
            .map_err(|_| ApiError::not_found(name.to_string()))?;
        Ok(ids)
    }

    async fn update_mobility(
        &self,
        request: Request<pb::UpdateMobilityRequest>,
    ) -> Result<pb::Mobility, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = Viewer::of(context.caller()?)?;
        let body = request.get_ref();
        let changes = body.mobility.clone().unwrap_or_default();
        let mask = convert::mask_paths(
            body.update_mask.as_ref(),
            &["start_date", "end_date", "programme"],
        )?;
        let ids = parse_group_path(&changes.name, "mobility.name", true)?;
        self.readable(&viewer, &ids[0], &ids[1])
            .await
            .map_err(|_| ApiError::not_found(changes.name.clone()))?;
        let mut problems = FieldProblems::new();
        let mut change = MobilityChange::default();
        for path in &mask {
            match path.as_str() {
                "start_date" => {
                    change.start_date = Some(match &changes.start_date {
                        None => None,
                        d => problems.field(wire::civil_date(d.as_ref(), "mobility.start_date")),
                    })
                }
                "end_date" => {
                    change.end_date = Some(match &changes.end_date {
                        None => None,
                        d => problems.field(wire::civil_date(d.as_ref(), "mobility.end_date")),
                    })
                }
                _ => {
                    change.programme =
                        Some(problems.text("mobility.programme", &changes.programme, 20_000, false))
                }
            }
        }
        problems.finish()?;
        let mut tx = self.store.begin().await?;
        let m = groups::update_mobility(
            &mut tx,
            context,
            &ids[0],
            &ids[1],
            &ids[2],
            &viewer.schools,
            &changes.etag,
            &change,
        )
        .await?;
        tx.commit().await?;
        Ok(convert::mobility(&m))
    }

    async fn file_annex(
        &self,
        request: Request<pb::FileAnnexRequest>,
    ) -> Result<pb::Mobility, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = Viewer::of(context.caller()?)?;
        let body = request.get_ref();
        let ids = self.hosted_ids(&viewer, &body.name).await?;
        let key = IdempotencyKey::for_request(context, "FileAnnex", &body.request_id, body)?;
        let mut tx = self.store.begin().await?;
        let filed = idempotency::once(&mut tx, key.as_ref(), context.now(), async |conn| {
            Ok(convert::mobility(
                &groups::file_annex(
                    conn,
                    context,
                    &ids[0],
                    &ids[1],
                    &ids[2],
                    &viewer.schools,
                    &body.etag,
                )
                .await?,
            ))
        })
        .await?;
        tx.commit().await?;
        Ok(filed)
    }

    async fn mark_held(
        &self,
        request: Request<pb::MarkMobilityHeldRequest>,
    ) -> Result<pb::Mobility, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = Viewer::of(context.caller()?)?;
        let body = request.get_ref();
        let ids = self.hosted_ids(&viewer, &body.name).await?;
        let mut problems = FieldProblems::new();
        let report = problems.text("report", &body.report, 5000, false);
        problems.finish()?;
        let mut tx = self.store.begin().await?;
        let m = groups::mark_held(
            &mut tx,
            context,
            &ids[0],
            &ids[1],
            &ids[2],
            &viewer.schools,
            &body.etag,
            &report,
        )
        .await?;
        tx.commit().await?;
        Ok(convert::mobility(&m))
    }
}

#[tonic::async_trait]
impl GroupService for GroupsApi {
    async fn get_group(
        &self,
        request: Request<pb::GetGroupRequest>,
    ) -> Result<Response<pb::Group>, Status> {
        respond(self.get(request).await)
    }

    async fn list_groups(
        &self,
        request: Request<pb::ListGroupsRequest>,
    ) -> Result<Response<pb::ListGroupsResponse>, Status> {
        respond(self.list(request).await)
    }

    async fn approve_group(
        &self,
        request: Request<pb::ApproveGroupRequest>,
    ) -> Result<Response<pb::Group>, Status> {
        respond(self.approve(request).await)
    }

    async fn get_mobility(
        &self,
        request: Request<pb::GetMobilityRequest>,
    ) -> Result<Response<pb::Mobility>, Status> {
        respond(self.get_mobility(request).await)
    }

    async fn list_mobilities(
        &self,
        request: Request<pb::ListMobilitiesRequest>,
    ) -> Result<Response<pb::ListMobilitiesResponse>, Status> {
        respond(self.list_mobilities(request).await)
    }

    async fn update_mobility(
        &self,
        request: Request<pb::UpdateMobilityRequest>,
    ) -> Result<Response<pb::Mobility>, Status> {
        respond(self.update_mobility(request).await)
    }

    async fn file_annex(
        &self,
        request: Request<pb::FileAnnexRequest>,
    ) -> Result<Response<pb::Mobility>, Status> {
        respond(self.file_annex(request).await)
    }

    async fn mark_mobility_held(
        &self,
        request: Request<pb::MarkMobilityHeldRequest>,
    ) -> Result<Response<pb::Mobility>, Status> {
        respond(self.mark_held(request).await)
    }
}
