//! `SchoolService`: the schools that list children.

use edu_kit::error::FieldProblems;
use edu_kit::idempotency::{self, IdempotencyKey};
use edu_kit::paging::PageRequest;
use edu_kit::{ApiError, CallContext, etag, resource};
use edu_proto::edu::aid::v1 as pb;
use edu_proto::edu::aid::v1::school_service_server::SchoolService;
use tonic::{Request, Response, Status};

use super::access::Viewer;
use super::convert::{self, MAX_NAME_CHARS};
use super::respond;
use crate::store::schools::{self, School};
use crate::store::{Store, Visibility};

/// The school service.
#[derive(Debug, Clone)]
pub struct SchoolsApi {
    store: Store,
}

fn school_pb(s: &School) -> pb::School {
    pb::School {
        name: format!("schools/{}", s.id),
        display_name: s.display_name.clone(),
        region_code: s.region_code.clone(),
        locality: s.locality.clone(),
        bin: s.bin.clone().unwrap_or_default(),
        create_time: Some(convert::timestamp(s.create_time)),
        update_time: Some(convert::timestamp(s.update_time)),
        etag: etag::of(s.version),
    }
}

impl SchoolsApi {
    /// The service on `store`.
    pub fn new(store: Store) -> Self {
        SchoolsApi { store }
    }

    /// Who reads school `s`: its staff, its region's staff, the coordinator.
    fn sees(viewer: &Viewer, s: &School) -> bool {
        viewer.coordinator || viewer.is_regional(&s.region_code) || viewer.is_school(&s.id)
    }

    async fn create(
        &self,
        request: Request<pb::CreateSchoolRequest>,
    ) -> Result<pb::School, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = Viewer::of(context.caller()?)?;
        let body = request.get_ref();
        let from = body.school.clone().unwrap_or_default();
        let mut problems = FieldProblems::new();
        let id = problems.check("school_id", resource::id_or_new(&body.school_id));
        let display_name = problems.text(
            "school.display_name",
            &from.display_name,
            MAX_NAME_CHARS,
            true,
        );
        let locality = problems.text("school.locality", &from.locality, MAX_NAME_CHARS, true);
        if let Some(problem) = convert::region_problem(&from.region_code) {
            problems.add("school.region_code", problem);
        }
        if !from.bin.is_empty()
            && (from.bin.len() != 12 || !from.bin.bytes().all(|b| b.is_ascii_digit()))
        {
            problems.add("school.bin", "twelve digits");
        }
        problems.finish()?;
        viewer.require_regional(&from.region_code, true)?;
        let school = School {
            id: id.unwrap_or_default(),
            display_name,
            region_code: from.region_code.clone(),
            locality,
            bin: (!from.bin.is_empty()).then(|| from.bin.clone()),
            create_time: context.now(),
            update_time: context.now(),
            version: 1,
        };
        let key = IdempotencyKey::for_request(context, "CreateSchool", &body.request_id, body)?;
        let mut tx = self.store.begin().await?;
        let created = idempotency::once(&mut tx, key.as_ref(), context.now(), async |conn| {
            Ok(school_pb(&schools::create(conn, context, &school).await?))
        })
        .await?;
        tx.commit().await?;
        Ok(created)
    }

    async fn get(&self, request: Request<pb::GetSchoolRequest>) -> Result<pb::School, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = Viewer::of(context.caller()?)?;
        let name = &request.get_ref().name;
        let id = convert::school_id(name, "name")?;
        self.store
            .school(&id)
            .await?
            .filter(|s| Self::sees(&viewer, s))
            .map(|s| school_pb(&s))
            .ok_or_else(|| ApiError::not_found(name.clone()))
    }

    async fn list(
        &self,
        request: Request<pb::ListSchoolsRequest>,
    ) -> Result<pb::ListSchoolsResponse, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = Viewer::of(context.caller()?)?;
        let body = request.get_ref();
        let region = convert::region_filter(&body.region_code, "region_code")?;
        let paging = PageRequest::parse(
            body.page_size,
            &body.page_token,
            &["ListSchools", &body.region_code],
        )?;
        let vis = Visibility {
            all: viewer.coordinator,
            regions: viewer.regional.clone(),
            schools: viewer.schools.clone(),
        };
        let page = self
            .store
            .list_schools(&vis, region.as_deref(), paging.size, paging.after.clone())
            .await?;
        Ok(pb::ListSchoolsResponse {
            schools: page.items.iter().map(school_pb).collect(),
            next_page_token: paging.next_token(page.next.as_ref()),
        })
    }

    async fn update(
        &self,
        request: Request<pb::UpdateSchoolRequest>,
    ) -> Result<pb::School, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = Viewer::of(context.caller()?)?;
        let body = request.get_ref();
        let from = body.school.clone().unwrap_or_default();
        let id = convert::school_id(&from.name, "school.name")?;
        let mask = convert::mask_paths(body.update_mask.as_ref(), &["display_name", "locality"])?;
        let current = self
            .store
            .school(&id)
            .await?
            .filter(|s| Self::sees(&viewer, s))
            .ok_or_else(|| ApiError::not_found(from.name.clone()))?;
        viewer.require_regional(&current.region_code, true)?;
        let mut problems = FieldProblems::new();
        let display_name = mask.iter().any(|m| m == "display_name").then(|| {
            problems.text(
                "school.display_name",
                &from.display_name,
                MAX_NAME_CHARS,
                true,
            )
        });
        let locality = mask
            .iter()
            .any(|m| m == "locality")
            .then(|| problems.text("school.locality", &from.locality, MAX_NAME_CHARS, true));
        problems.finish()?;
        let mut tx = self.store.begin().await?;
        let updated = schools::update(
            &mut tx,
            context,
            &id,
            &from.etag,
            display_name.as_deref(),
            locality.as_deref(),
        )
        .await?;
        tx.commit().await?;
        Ok(school_pb(&updated))
    }
}

#[tonic::async_trait]
impl SchoolService for SchoolsApi {
    async fn create_school(
        &self,
        request: Request<pb::CreateSchoolRequest>,
    ) -> Result<Response<pb::School>, Status> {
        respond(self.create(request).await)
    }

    async fn get_school(
        &self,
        request: Request<pb::GetSchoolRequest>,
    ) -> Result<Response<pb::School>, Status> {
        respond(self.get(request).await)
    }

    async fn list_schools(
        &self,
        request: Request<pb::ListSchoolsRequest>,
    ) -> Result<Response<pb::ListSchoolsResponse>, Status> {
        respond(self.list(request).await)
    }

    async fn update_school(
        &self,
        request: Request<pb::UpdateSchoolRequest>,
    ) -> Result<Response<pb::School>, Status> {
        respond(self.update(request).await)
    }
}
