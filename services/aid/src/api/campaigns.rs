//! `CampaignService`: campaigns as data (rule 1).

use edu_kit::idempotency::{self, IdempotencyKey};
use edu_kit::paging::PageRequest;
use edu_kit::{ApiError, CallContext, resource};
use edu_proto::edu::aid::v1 as pb;
use edu_proto::edu::aid::v1::campaign_service_server::CampaignService;
use tonic::{Request, Response, Status};

use super::access::Viewer;
use super::{convert, respond};
use crate::domain::AidError;
use crate::domain::campaign::CampaignPhase;
use crate::store::{Store, campaigns};

/// The campaign service.
#[derive(Debug, Clone)]
pub struct CampaignsApi {
    store: Store,
}

impl CampaignsApi {
    /// The service on `store`.
    pub fn new(store: Store) -> Self {
        CampaignsApi { store }
    }

    async fn create(
        &self,
        request: Request<pb::CreateCampaignRequest>,
    ) -> Result<pb::Campaign, ApiError> {
        let context = CallContext::of(&request)?;
        Viewer::of(context.caller()?)?.require_coordinator()?;
        let body = request.get_ref();
        let id = resource::parse_id(&body.campaign_id).map_err(|e| {
            ApiError::invalid_field(
                edu_kit::error::reason::INVALID_FIELDS,
                "campaign_id",
                e.to_string(),
            )
        })?;
        let now = context.now();
        let spec = convert::campaign_spec(
            &id,
            &body.campaign.clone().unwrap_or_default(),
            None,
            &[],
            now,
        )?;
        let key = IdempotencyKey::for_request(context, "CreateCampaign", &body.request_id, body)?;
        let mut tx = self.store.begin().await?;
        let created = idempotency::once(&mut tx, key.as_ref(), now, async |conn| {
            Ok(convert::campaign(
                &campaigns::create(conn, context, &spec).await?,
                now,
            ))
        })
        .await?;
        tx.commit().await?;
        Ok(created)
    }

    async fn get(
        &self,
        request: Request<pb::GetCampaignRequest>,
    ) -> Result<pb::Campaign, ApiError> {
        let context = CallContext::of(&request)?;
        Viewer::of(context.caller()?)?;
        let id = convert::campaign_id(&request.get_ref().name, "name")?;
        Ok(convert::campaign(
            &self.store.campaign(&id).await?,
            context.now(),
        ))
    }

    async fn list(
        &self,
        request: Request<pb::ListCampaignsRequest>,
    ) -> Result<pb::ListCampaignsResponse, ApiError> {
        let context = CallContext::of(&request)?;
        Viewer::of(context.caller()?)?;
        let body = request.get_ref();
        let region = convert::region_filter(&body.region_code, "region_code")?;
        let phase = convert::enum_filter(body.phase, "phase", |raw| match raw {
            r if r == pb::CampaignPhase::Upcoming as i32 => Some("UPCOMING"),
            r if r == pb::CampaignPhase::Running as i32 => Some("RUNNING"),
            r if r == pb::CampaignPhase::Ended as i32 => Some("ENDED"),
            _ => None,
        })?;
        let paging = PageRequest::parse(
            body.page_size,
            &body.page_token,
            &["ListCampaigns", &body.region_code, &body.phase.to_string()],
        )?;
        let now = context.now();
        let page = self
            .store
            .list_campaigns(
                region.as_deref(),
                phase,
                now,
                paging.size,
                paging.after.clone(),
            )
            .await?;
        Ok(pb::ListCampaignsResponse {
            campaigns: page
                .items
                .iter()
                .map(|c| convert::campaign(c, now))
                .collect(),
            next_page_token: paging.next_token(page.next.as_ref()),
        })
    }

    async fn update(
        &self,
        request: Request<pb::UpdateCampaignRequest>,
    ) -> Result<pb::Campaign, ApiError> {
        let context = CallContext::of(&request)?;
        Viewer::of(context.caller()?)?.require_coordinator()?;
        let body = request.get_ref();
        let changes = body.campaign.clone().unwrap_or_default();
        let id = convert::campaign_id(&changes.name, "campaign.name")?;
        let mask = convert::mask_paths(body.update_mask.as_ref(), &convert::CAMPAIGN_FIELDS)?;
        let now = context.now();
        let mut tx = self.store.begin().await?;
        let updated = campaigns::update(&mut tx, context, &id, &changes.etag, |stored| {
            let phase = stored.phase(now);
            const BEFORE_START: [&str; 3] = ["time_zone", "start_date", "school_start_date"];
            if phase != CampaignPhase::Upcoming
                && let Some(field) = mask.iter().find(|m| BEFORE_START.contains(&m.as_str()))
            {
                return Err(AidError::CampaignStarted {
                    field: field.clone(),
                    started: stored.starts_at(),
                }
                .into());
            }
            if phase == CampaignPhase::Ended && mask.iter().any(|m| m != "display_name") {
                return Err(AidError::CampaignEnded {
                    ended: stored.ends_at(),
                }
                .into());
            }
            let next = convert::campaign_spec(&id, &changes, Some(stored), &mask, now)?;
            if mask.iter().any(|m| m == "end_date") && next.end_date < stored.today(now) {
                return Err(ApiError::invalid_field(
                    edu_kit::error::reason::INVALID_FIELDS,
                    "campaign.end_date",
                    "not before today in the campaign's zone",
                ));
            }
            Ok(next)
        })
        .await?;
        tx.commit().await?;
        Ok(convert::campaign(&updated, now))
    }
}

#[tonic::async_trait]
impl CampaignService for CampaignsApi {
    async fn create_campaign(
        &self,
        request: Request<pb::CreateCampaignRequest>,
    ) -> Result<Response<pb::Campaign>, Status> {
        respond(self.create(request).await)
    }

    async fn get_campaign(
        &self,
        request: Request<pb::GetCampaignRequest>,
    ) -> Result<Response<pb::Campaign>, Status> {
        respond(self.get(request).await)
    }

    async fn list_campaigns(
        &self,
        request: Request<pb::ListCampaignsRequest>,
    ) -> Result<Response<pb::ListCampaignsResponse>, Status> {
        respond(self.list(request).await)
    }

    async fn update_campaign(
        &self,
        request: Request<pb::UpdateCampaignRequest>,
    ) -> Result<Response<pb::Campaign>, Status> {
        respond(self.update(request).await)
    }
}
