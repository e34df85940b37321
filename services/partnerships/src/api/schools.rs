//! `SchoolService`: the registry, the List of innovative schools, innovations, the
//! directory and the partner-finding view (deliverables 2 and 3).

use edu_kit::error::{FieldProblems, reason as kit_reason};
use edu_kit::idempotency::{self, IdempotencyKey};
use edu_kit::paging::PageRequest;
use edu_kit::{ApiError, CallContext, resource};
use edu_proto::edu::partnerships::v1 as pb;
use edu_proto::edu::partnerships::v1::school_service_server::SchoolService;
use tonic::{Request, Response, Status};

use super::access::Viewer;
use super::convert::{self, MAX_NAME_CHARS};
use super::respond;
use crate::domain::PartnershipError;
use crate::domain::directory;
use crate::store::schools::{
    self, DirectoryQuery, InnovationChange, NewInnovation, NewSchool, SchoolChange,
};
use crate::store::{Store, applications};

/// The school service.
#[derive(Debug, Clone)]
pub struct SchoolsApi {
    store: Store,
}

/// Whether `email` looks like an address: one `@`, a dot in the domain, no spaces.
fn is_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn new_school(id: String, from: &pb::School) -> Result<NewSchool, ApiError> {
    let mut problems = FieldProblems::new();
    let display_name = problems.text(
        "school.display_name",
        &from.display_name,
        MAX_NAME_CHARS,
        true,
    );
    if from.neispuo_code.len() != 7 || !from.neispuo_code.bytes().all(|b| b.is_ascii_digit()) {
        problems.add(
            "school.neispuo_code",
            "seven digits, the school's НЕИСПУО code",
        );
    }
    if !crate::domain::regions::is_bulgarian(&from.region_code) {
        problems.add("school.region_code", "a Bulgarian region, BG-01 to BG-28");
    }
    let municipality_code = problems.text(
        "school.municipality_code",
        &from.municipality_code,
        20,
        true,
    );
    let municipality_name = problems.text(
        "school.municipality_name",
        &from.municipality_name,
        MAX_NAME_CHARS,
        true,
    );
    if !is_email(from.official_email.trim()) {
        problems.add("school.official_email", "an e-mail address");
    }
    problems.finish()?;
    Ok(NewSchool {
        id,
        display_name,
        neispuo_code: from.neispuo_code.clone(),
        region_code: from.region_code.clone(),
        municipality_code,
        municipality_name,
        official_email: from.official_email.trim().to_string(),
    })
}

impl SchoolsApi {
    /// The service on `store`.
    pub fn new(store: Store) -> Self {
        SchoolsApi { store }
    }

    async fn create(
        &self,
        request: Request<pb::CreateSchoolRequest>,
    ) -> Result<pb::School, ApiError> {
        let context = CallContext::of(&request)?;
        Viewer::of(context.caller()?)?.require_ministry()?;
        let body = request.get_ref();
        let id = resource::id_or_new(&body.school_id).map_err(|e| {
            ApiError::invalid_field(kit_reason::INVALID_FIELDS, "school_id", e.to_string())
        })?;
        let school = new_school(id, &body.school.clone().unwrap_or_default())?;
        let key = IdempotencyKey::for_request(context, "CreateSchool", &body.request_id, body)?;
        let mut tx = self.store.begin().await?;
        let created = idempotency::once(&mut tx, key.as_ref(), context.now(), async |conn| {
            Ok(convert::school(
                &schools::create(conn, context, &school).await?,
            ))
        })
        .await?;
        tx.commit().await?;
        Ok(created)
    }

    async fn get(&self, request: Request<pb::GetSchoolRequest>) -> Result<pb::School, ApiError> {
        let context = CallContext::of(&request)?;
        Viewer::of(context.caller()?)?;
        let id = convert::school_id(&request.get_ref().name, "name")?;
        let school = self
            .store
            .school(&id)
            .await?
            .ok_or_else(|| ApiError::not_found(convert::school_name(&id)))?;
        Ok(convert::school(&school))
    }

    async fn list(
        &self,
        request: Request<pb::ListSchoolsRequest>,
    ) -> Result<pb::ListSchoolsResponse, ApiError> {
        let context = CallContext::of(&request)?;
        Viewer::of(context.caller()?)?;
        let body = request.get_ref();
        let region = convert::region_filter(&body.region_code, "region_code")?;
        let municipality =
            (!body.municipality_code.is_empty()).then(|| body.municipality_code.clone());
        let paging = PageRequest::parse(
            body.page_size,
            &body.page_token,
            &[
                "ListSchools",
                &body.region_code,
                &body.municipality_code,
                &body.innovative_only.to_string(),
            ],
        )?;
        let page = self
            .store
            .list_schools(
                region.as_deref(),
                municipality.as_deref(),
                body.innovative_only,
                paging.size,
                paging.after.clone(),
            )
            .await?;
        Ok(pb::ListSchoolsResponse {
            schools: page.items.iter().map(convert::school).collect(),
            next_page_token: paging.next_token(page.next.as_ref()),
        })
    }

    async fn update(
        &self,
        request: Request<pb::UpdateSchoolRequest>,
    ) -> Result<pb::School, ApiError> {
        let context = CallContext::of(&request)?;
        Viewer::of(context.caller()?)?.require_ministry()?;
        let body = request.get_ref();
        let from = body.school.clone().unwrap_or_default();
        let id = convert::school_id(&from.name, "school.name")?;
        let mask = convert::mask_paths(
            body.update_mask.as_ref(),
            &[
                "display_name",
                "municipality_code",
                "municipality_name",
                "official_email",
            ],
        )?;
        let mut problems = FieldProblems::new();
        let mut change = SchoolChange::default();
        for path in &mask {
            match path.as_str() {
                "display_name" => {
                    change.display_name = Some(problems.text(
                        "school.display_name",
                        &from.display_name,
                        MAX_NAME_CHARS,
                        true,
                    ))
                }
                "municipality_code" => {
                    change.municipality_code = Some(problems.text(
                        "school.municipality_code",
                        &from.municipality_code,
                        20,
                        true,
                    ))
                }
                "municipality_name" => {
                    change.municipality_name = Some(problems.text(
                        "school.municipality_name",
                        &from.municipality_name,
                        MAX_NAME_CHARS,
                        true,
                    ))
                }
                _ => {
                    if !is_email(from.official_email.trim()) {
                        problems.add("school.official_email", "an e-mail address");
                    }
                    change.official_email = Some(from.official_email.trim().to_string());
                }
            }
        }
        problems.finish()?;
        let mut tx = self.store.begin().await?;
        let school = schools::update(&mut tx, context, &id, &from.etag, &change).await?;
        tx.commit().await?;
        Ok(convert::school(&school))
    }

    async fn update_innovation(
        &self,
        request: Request<pb::UpdateInnovationRequest>,
    ) -> Result<pb::Innovation, ApiError> {
        let context = CallContext::of(&request)?;
        Viewer::of(context.caller()?)?.require_ministry()?;
        let body = request.get_ref();
        let from = body.innovation.clone().unwrap_or_default();
        let (school, id) = convert::innovation_id(&from.name, "innovation.name")?;
        let mask =
            convert::mask_paths(body.update_mask.as_ref(), &["area", "title", "description"])?;
        let mut problems = FieldProblems::new();
        let mut change = InnovationChange::default();
        for path in &mask {
            match path.as_str() {
                "area" => match convert::area_from(from.area) {
                    Some(area) => change.area = Some(area.to_string()),
                    None => problems.add("innovation.area", "one of the five areas"),
                },
                "title" => {
                    change.title =
                        Some(problems.text("innovation.title", &from.title, MAX_NAME_CHARS, true))
                }
                _ => {
                    change.description = Some(problems.text(
                        "innovation.description",
                        &from.description,
                        5000,
                        false,
                    ))
                }
            }
        }
        problems.finish()?;
        let mut tx = self.store.begin().await?;
        let innovation =
            schools::update_innovation(&mut tx, context, &school, &id, &from.etag, &change).await?;
        tx.commit().await?;
        Ok(convert::innovation(&innovation))
    }

    async fn delete_innovation(
        &self,
        request: Request<pb::DeleteInnovationRequest>,
    ) -> Result<(), ApiError> {
        let context = CallContext::of(&request)?;
        Viewer::of(context.caller()?)?.require_ministry()?;
        let body = request.get_ref();
        let (school, id) = convert::innovation_id(&body.name, "name")?;
        let mut tx = self.store.begin().await?;
        schools::delete_innovation(&mut tx, context, &school, &id, &body.etag).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn set_listed(
        &self,
        context: &CallContext,
        name: &str,
        basis: &str,
        etag: &str,
        innovative: bool,
    ) -> Result<pb::School, ApiError> {
        Viewer::of(context.caller()?)?.require_ministry()?;
        let id = convert::school_id(name, "name")?;
        let mut problems = FieldProblems::new();
        let basis = problems.text("basis", basis, 2000, true);
        problems.finish()?;
        let mut tx = self.store.begin().await?;
        let school =
            schools::set_innovative(&mut tx, context, &id, etag, innovative, &basis).await?;
        tx.commit().await?;
        Ok(convert::school(&school))
    }

    async fn create_innovation(
        &self,
        request: Request<pb::CreateInnovationRequest>,
    ) -> Result<pb::Innovation, ApiError> {
        let context = CallContext::of(&request)?;
        Viewer::of(context.caller()?)?.require_ministry()?;
        let body = request.get_ref();
        let school_id = convert::school_id(&body.parent, "parent")?;
        let id = resource::id_or_new(&body.innovation_id).map_err(|e| {
            ApiError::invalid_field(kit_reason::INVALID_FIELDS, "innovation_id", e.to_string())
        })?;
        let draft = body.innovation.clone().unwrap_or_default();
        let mut problems = FieldProblems::new();
        let area = convert::area_from(draft.area);
        if area.is_none() {
            problems.add("innovation.area", "one of the five areas");
        }
        let title = problems.text("innovation.title", &draft.title, MAX_NAME_CHARS, true);
        let description = problems.text("innovation.description", &draft.description, 5000, false);
        problems.finish()?;
        let new = NewInnovation {
            school_id,
            id,
            area: area.unwrap_or_default().to_string(),
            title,
            description,
        };
        let key = IdempotencyKey::for_request(context, "CreateInnovation", &body.request_id, body)?;
        let mut tx = self.store.begin().await?;
        let created = idempotency::once(&mut tx, key.as_ref(), context.now(), async |conn| {
            Ok(convert::innovation(
                &schools::create_innovation(conn, context, &new).await?,
            ))
        })
        .await?;
        tx.commit().await?;
        Ok(created)
    }

    async fn get_innovation(
        &self,
        request: Request<pb::GetInnovationRequest>,
    ) -> Result<pb::Innovation, ApiError> {
        let context = CallContext::of(&request)?;
        Viewer::of(context.caller()?)?;
        let name = &request.get_ref().name;
        let (school, id) = convert::innovation_id(name, "name")?;
        let innovation = self
            .store
            .innovation(&school, &id)
            .await?
            .ok_or_else(|| ApiError::not_found(name.clone()))?;
        Ok(convert::innovation(&innovation))
    }

    async fn list_innovations(
        &self,
        request: Request<pb::ListInnovationsRequest>,
    ) -> Result<pb::ListInnovationsResponse, ApiError> {
        let context = CallContext::of(&request)?;
        Viewer::of(context.caller()?)?;
        let body = request.get_ref();
        let school = if body.parent == "schools/-" {
            None
        } else {
            let id = convert::school_id(&body.parent, "parent")?;
            if self.store.school(&id).await?.is_none() {
                return Err(ApiError::not_found(body.parent.clone()));
            }
            Some(id)
        };
        let paging = PageRequest::parse(
            body.page_size,
            &body.page_token,
            &["ListInnovations", &body.parent],
        )?;
        let query = DirectoryQuery {
            school,
            ..DirectoryQuery::default()
        };
        let page = self
            .store
            .search_innovations(&query, paging.size, paging.after.clone())
            .await?;
        Ok(pb::ListInnovationsResponse {
            innovations: page.items.iter().map(convert::innovation).collect(),
            next_page_token: paging.next_token(page.next.as_ref()),
        })
    }

    async fn search(
        &self,
        request: Request<pb::SearchInnovationsRequest>,
    ) -> Result<pb::SearchInnovationsResponse, ApiError> {
        let context = CallContext::of(&request)?;
        Viewer::of(context.caller()?)?;
        let body = request.get_ref();
        if body.query.chars().count() > 500 {
            return Err(ApiError::invalid_field(
                kit_reason::INVALID_FIELDS,
                "query",
                "at most 500 characters",
            ));
        }
        let area = match body.area {
            0 => None,
            raw => Some(convert::area_from(raw).ok_or_else(|| {
                ApiError::invalid_field(kit_reason::INVALID_FIELDS, "area", "not an area")
            })?),
        };
        let region = convert::region_filter(&body.region_code, "region_code")?;
        let school = if body.school.is_empty() {
            None
        } else {
            Some(convert::school_id(&body.school, "school")?)
        };
        let paging = PageRequest::parse(
            body.page_size,
            &body.page_token,
            &[
                "SearchInnovations",
                &body.query,
                &body.area.to_string(),
                &body.region_code,
                &body.school,
            ],
        )?;
        let query = DirectoryQuery {
            words: directory::prefix_query(&body.query),
            area: area.map(str::to_string),
            region,
            school,
            listed_only: true,
        };
        let page = self
            .store
            .search_innovations(&query, paging.size, paging.after.clone())
            .await?;
        Ok(pb::SearchInnovationsResponse {
            innovations: page.items.iter().map(convert::innovation).collect(),
            next_page_token: paging.next_token(page.next.as_ref()),
        })
    }

    async fn find_partners(
        &self,
        request: Request<pb::FindPartnersRequest>,
    ) -> Result<pb::FindPartnersResponse, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = Viewer::of(context.caller()?)?;
        let body = request.get_ref();
        let school_id = convert::school_id(&body.school, "school")?;
        let year = convert::year_id(&body.year, "year")?;
        let kind = match body.kind {
            0 => None,
            k if k == pb::CandidateKind::Innovative as i32 => Some("INNOVATIVE"),
            k if k == pb::CandidateKind::InterestedNonInnovative as i32 => Some("INTERESTED"),
            _ => {
                return Err(ApiError::invalid_field(
                    kit_reason::INVALID_FIELDS,
                    "kind",
                    "not a candidate kind",
                ));
            }
        };
        let school = self
            .store
            .school(&school_id)
            .await?
            .ok_or_else(|| ApiError::not_found(body.school.clone()))?;
        if !(viewer.ministry
            || viewer.is_office_of(&school.region_code)
            || viewer.is_school(&school.id))
        {
            return Err(ApiError::permission_denied(
                super::errors::reason::SCOPE_REQUIRED,
                format!("you do not act for {} or its region", body.school),
            ));
        }
        self.store.year(&year).await?;
        if !school.innovative {
            return Err(PartnershipError::SchoolNotInnovative {
                school: body.school.clone(),
            }
            .into());
        }
        let mut conn = self.store.read().await?;
        let submitted = applications::submitted_modules(&mut conn, &year, &school.id).await?;
        conn.finish();
        if submitted.is_none() {
            return Err(PartnershipError::NotApplied {
                school: body.school.clone(),
            }
            .into());
        }
        let paging = PageRequest::parse(
            body.page_size,
            &body.page_token,
            &[
                "FindPartners",
                &body.school,
                &body.year,
                &body.kind.to_string(),
            ],
        )?;
        let page = self
            .store
            .find_partners(&year, &school.id, kind, paging.size, paging.after.clone())
            .await?;
        Ok(pb::FindPartnersResponse {
            candidates: page
                .items
                .iter()
                .map(|c| convert::candidate(&year, &school.id, c))
                .collect(),
            next_page_token: paging.next_token(page.next.as_ref()),
        })
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

    async fn update_innovation(
        &self,
        request: Request<pb::UpdateInnovationRequest>,
    ) -> Result<Response<pb::Innovation>, Status> {
        respond(self.update_innovation(request).await)
    }

    async fn delete_innovation(
        &self,
        request: Request<pb::DeleteInnovationRequest>,
    ) -> Result<Response<()>, Status> {
        respond(self.delete_innovation(request).await)
    }

    async fn add_school_to_innovative_list(
        &self,
        request: Request<pb::AddSchoolToInnovativeListRequest>,
    ) -> Result<Response<pb::School>, Status> {
        let body = request.get_ref();
        let result = match CallContext::of(&request) {
            Ok(context) => {
                self.set_listed(context, &body.name, &body.basis, &body.etag, true)
                    .await
            }
            Err(e) => Err(e),
        };
        respond(result)
    }

    async fn remove_school_from_innovative_list(
        &self,
        request: Request<pb::RemoveSchoolFromInnovativeListRequest>,
    ) -> Result<Response<pb::School>, Status> {
        let body = request.get_ref();
        let result = match CallContext::of(&request) {
            Ok(context) => {
                self.set_listed(context, &body.name, &body.basis, &body.etag, false)
                    .await
            }
            Err(e) => Err(e),
        };
        respond(result)
    }

    async fn create_innovation(
        &self,
        request: Request<pb::CreateInnovationRequest>,
    ) -> Result<Response<pb::Innovation>, Status> {
        respond(self.create_innovation(request).await)
    }

    async fn get_innovation(
        &self,
        request: Request<pb::GetInnovationRequest>,
    ) -> Result<Response<pb::Innovation>, Status> {
        respond(self.get_innovation(request).await)
    }

    async fn list_innovations(
        &self,
        request: Request<pb::ListInnovationsRequest>,
    ) -> Result<Response<pb::ListInnovationsResponse>, Status> {
        respond(self.list_innovations(request).await)
    }

    async fn search_innovations(
        &self,
        request: Request<pb::SearchInnovationsRequest>,
    ) -> Result<Response<pb::SearchInnovationsResponse>, Status> {
        respond(self.search(request).await)
    }

    async fn find_partners(
        &self,
        request: Request<pb::FindPartnersRequest>,
    ) -> Result<Response<pb::FindPartnersResponse>, Status> {
        respond(self.find_partners(request).await)
    }
}
