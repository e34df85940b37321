//! `ProgrammeYearService`: programme years as data (deliverable 1).

use edu_kit::error::reason as kit_reason;
use edu_kit::idempotency::{self, IdempotencyKey};
use edu_kit::paging::PageRequest;
use edu_kit::{ApiError, CallContext};
use edu_proto::edu::partnerships::v1 as pb;
use edu_proto::edu::partnerships::v1::programme_year_service_server::ProgrammeYearService;
use tonic::{Request, Response, Status};

use super::access::Viewer;
use super::{convert, respond};
use crate::domain::year::parse_year_id;
use crate::store::{Store, years};

/// The programme year service.
#[derive(Debug, Clone)]
pub struct YearsApi {
    store: Store,
}

impl YearsApi {
    /// The service on `store`.
    pub fn new(store: Store) -> Self {
        YearsApi { store }
    }

    async fn create(
        &self,
        request: Request<pb::CreateProgrammeYearRequest>,
    ) -> Result<pb::ProgrammeYear, ApiError> {
        let context = CallContext::of(&request)?;
        Viewer::of(context.caller()?)?.require_ministry()?;
        let body = request.get_ref();
        let id = parse_year_id(&body.programme_year_id).map_err(|e| {
            ApiError::invalid_field(
                kit_reason::INVALID_FIELDS,
                "programme_year_id",
                e.to_string(),
            )
        })?;
        let draft = body.programme_year.clone().unwrap_or_default();
        let year = convert::year_spec(&id, &draft, None, &[], context.now())?;
        let key =
            IdempotencyKey::for_request(context, "CreateProgrammeYear", &body.request_id, body)?;
        let now = context.now();
        let mut tx = self.store.begin().await?;
        let created = idempotency::once(&mut tx, key.as_ref(), now, async |conn| {
            let record = years::create(conn, context, &year).await?;
            Ok(convert::year(&record, now))
        })
        .await?;
        tx.commit().await?;
        Ok(created)
    }

    async fn get(
        &self,
        request: Request<pb::GetProgrammeYearRequest>,
    ) -> Result<pb::ProgrammeYear, ApiError> {
        let context = CallContext::of(&request)?;
        Viewer::of(context.caller()?)?;
        let id = convert::year_id(&request.get_ref().name, "name")?;
        Ok(convert::year(&self.store.year(&id).await?, context.now()))
    }

    async fn list(
        &self,
        request: Request<pb::ListProgrammeYearsRequest>,
    ) -> Result<pb::ListProgrammeYearsResponse, ApiError> {
        let context = CallContext::of(&request)?;
        Viewer::of(context.caller()?)?;
        let body = request.get_ref();
        let paging = PageRequest::parse(body.page_size, &body.page_token, &["ListProgrammeYears"])?;
        let page = self
            .store
            .list_years(paging.size, paging.after.clone())
            .await?;
        Ok(pb::ListProgrammeYearsResponse {
            programme_years: page
                .items
                .iter()
                .map(|r| convert::year(r, context.now()))
                .collect(),
            next_page_token: paging.next_token(page.next.as_ref()),
        })
    }

    async fn update(
        &self,
        request: Request<pb::UpdateProgrammeYearRequest>,
    ) -> Result<pb::ProgrammeYear, ApiError> {
        let context = CallContext::of(&request)?;
        Viewer::of(context.caller()?)?.require_ministry()?;
        let body = request.get_ref();
        let changes = body.programme_year.clone().unwrap_or_default();
        let id = convert::year_id(&changes.name, "programme_year.name")?;
        let mask = convert::mask_paths(body.update_mask.as_ref(), &convert::YEAR_FIELDS)?;
        let now = context.now();
        let mut tx = self.store.begin().await?;
        let record = years::update(&mut tx, context, &id, &changes.etag, |stored| {
            // Everything but the display name is fixed once the window has opened.
            if let Some(fixed) = mask.iter().find(|m| *m != "display_name") {
                stored.ensure_changeable(now, fixed)?;
            }
            let next = convert::year_spec(&id, &changes, Some(stored), &mask, now)?;
            // A change cannot move the window into the past either.
            if let Some(fixed) = mask.iter().find(|m| *m != "display_name") {
                next.ensure_changeable(now, fixed)?;
            }
            Ok(next)
        })
        .await?;
        tx.commit().await?;
        Ok(convert::year(&record, now))
    }
}

#[tonic::async_trait]
impl ProgrammeYearService for YearsApi {
    async fn create_programme_year(
        &self,
        request: Request<pb::CreateProgrammeYearRequest>,
    ) -> Result<Response<pb::ProgrammeYear>, Status> {
        respond(self.create(request).await)
    }

    async fn get_programme_year(
        &self,
        request: Request<pb::GetProgrammeYearRequest>,
    ) -> Result<Response<pb::ProgrammeYear>, Status> {
        respond(self.get(request).await)
    }

    async fn list_programme_years(
        &self,
        request: Request<pb::ListProgrammeYearsRequest>,
    ) -> Result<Response<pb::ListProgrammeYearsResponse>, Status> {
        respond(self.list(request).await)
    }

    async fn update_programme_year(
        &self,
        request: Request<pb::UpdateProgrammeYearRequest>,
    ) -> Result<Response<pb::ProgrammeYear>, Status> {
        respond(self.update(request).await)
    }
}
