//! `ApplicationService`: applications to a year (rule 1) and interest declarations
//! (rule 3). A school acts only for itself; offices and the ministry read.

use edu_kit::error::{FieldProblems, reason as kit_reason};
use edu_kit::idempotency::{self, IdempotencyKey};
use edu_kit::paging::PageRequest;
use edu_kit::{ApiError, CallContext, resource};
use edu_proto::edu::partnerships::v1 as pb;
use edu_proto::edu::partnerships::v1::application_service_server::ApplicationService;
use tonic::{Request, Response, Status};

use super::access::Viewer;
use super::errors::reason;
use super::{convert, respond};
use crate::store::applications::{
    self, ApplicationFilter, InterestFilter, NewApplication, NewInterest,
};
use crate::store::{Store, Visibility};

/// The application service.
#[derive(Debug, Clone)]
pub struct ApplicationsApi {
    store: Store,
}

impl ApplicationsApi {
    /// The service on `store`.
    pub fn new(store: Store) -> Self {
        ApplicationsApi { store }
    }

    async fn create(
        &self,
        request: Request<pb::CreateApplicationRequest>,
    ) -> Result<pb::Application, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = Viewer::of(context.caller()?)?;
        let body = request.get_ref();
        let year_id = convert::year_id(&body.parent, "parent")?;
        let draft = body.application.clone().unwrap_or_default();
        let school = convert::school_id(&draft.school, "application.school")?;
        viewer.require_school(&school)?;
        let mut problems = FieldProblems::new();
        let motivation = problems.text("application.motivation", &draft.motivation, 5000, false);
        if draft.modules.is_empty() {
            problems.add("application.modules", "at least one module");
        }
        problems.finish()?;
        let year = self.store.year(&year_id).await?;
        year.year.ensure_window_open(context.now())?;
        let mut modules: Vec<u8> = Vec::new();
        for (i, m) in draft.modules.iter().enumerate() {
            let offered = u8::try_from(*m)
                .ok()
                .filter(|n| year.year.modules.iter().any(|o| o.number == *n));
            match offered {
                Some(n) if !modules.contains(&n) => modules.push(n),
                Some(_) => {
                    return Err(ApiError::invalid_field(
                        kit_reason::INVALID_FIELDS,
                        format!("application.modules[{i}]"),
                        "listed twice",
                    ));
                }
                None => {
                    return Err(ApiError::invalid_field(
                        reason::MODULE_NOT_OFFERED,
                        format!("application.modules[{i}]"),
                        format!("the year does not offer module {m}"),
                    ));
                }
            }
        }
        modules.sort_unstable();
        let new = NewApplication {
            id: resource::new_id(),
            school_id: school,
            modules,
            motivation,
        };
        let key =
            IdempotencyKey::for_request(context, "CreateApplication", &body.request_id, body)?;
        let mut tx = self.store.begin().await?;
        let created = idempotency::once(&mut tx, key.as_ref(), context.now(), async |conn| {
            Ok(convert::application(
                &applications::create(conn, context, &year, &new).await?,
            ))
        })
        .await?;
        tx.commit().await?;
        Ok(created)
    }

    async fn get(
        &self,
        request: Request<pb::GetApplicationRequest>,
    ) -> Result<pb::Application, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = Viewer::of(context.caller()?)?;
        let name = &request.get_ref().name;
        let (year, id) = convert::year_child(name, "applications", "name")?;
        self.store
            .application(&year, &id)
            .await?
            .filter(|a| viewer.oversees(&a.school_id, &a.region_code))
            .map(|a| convert::application(&a))
            .ok_or_else(|| ApiError::not_found(name.clone()))
    }

    async fn list(
        &self,
        request: Request<pb::ListApplicationsRequest>,
    ) -> Result<pb::ListApplicationsResponse, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = Viewer::of(context.caller()?)?;
        let body = request.get_ref();
        let filter = ApplicationFilter {
            year: convert::year_filter(&body.parent, "parent")?,
            school: optional_school(&body.school, "school")?,
            region: convert::region_filter(&body.region_code, "region_code")?,
            module: match body.module {
                0 => None,
                m => Some(u8::try_from(m).map_err(|_| {
                    ApiError::invalid_field(kit_reason::INVALID_FIELDS, "module", "1 to 99")
                })?),
            },
            state: convert::enum_filter(body.state, "state", |raw| match raw {
                r if r == pb::ApplicationState::Submitted as i32 => Some("SUBMITTED".to_string()),
                r if r == pb::ApplicationState::Withdrawn as i32 => Some("WITHDRAWN".to_string()),
                _ => None,
            })?,
        };
        let paging = PageRequest::parse(
            body.page_size,
            &body.page_token,
            &[
                "ListApplications",
                &body.parent,
                &body.school,
                &body.region_code,
                &body.module.to_string(),
                &body.state.to_string(),
            ],
        )?;
        let page = self
            .store
            .list_applications(
                &visibility(&viewer),
                &filter,
                paging.size,
                paging.after.clone(),
            )
            .await?;
        Ok(pb::ListApplicationsResponse {
            applications: page.items.iter().map(convert::application).collect(),
            next_page_token: paging.next_token(page.next.as_ref()),
        })
    }

    async fn withdraw(
        &self,
        request: Request<pb::WithdrawApplicationRequest>,
    ) -> Result<pb::Application, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = Viewer::of(context.caller()?)?;
        let body = request.get_ref();
        let (year, id) = convert::year_child(&body.name, "applications", "name")?;
        let current = self
            .store
            .application(&year, &id)
            .await?
            .filter(|a| viewer.oversees(&a.school_id, &a.region_code))
            .ok_or_else(|| ApiError::not_found(body.name.clone()))?;
        viewer.require_school(&current.school_id)?;
        let mut tx = self.store.begin().await?;
        let withdrawn = applications::withdraw(&mut tx, context, &year, &id, &body.etag).await?;
        tx.commit().await?;
        Ok(convert::application(&withdrawn))
    }

    async fn create_interest(
        &self,
        request: Request<pb::CreateInterestRequest>,
    ) -> Result<pb::Interest, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = Viewer::of(context.caller()?)?;
        let body = request.get_ref();
        let year_id = convert::year_id(&body.parent, "parent")?;
        let draft = body.interest.clone().unwrap_or_default();
        let school = convert::school_id(&draft.school, "interest.school")?;
        viewer.require_school(&school)?;
        let (innovation_school, innovation) =
            convert::innovation_id(&draft.innovation, "interest.innovation")?;
        let mut problems = FieldProblems::new();
        let note = problems.text("interest.note", &draft.note, 2000, false);
        problems.finish()?;
        let year = self.store.year(&year_id).await?;
        let new = NewInterest {
            id: resource::new_id(),
            school_id: school,
            innovation_school_id: innovation_school,
            innovation_id: innovation,
            note,
        };
        let key = IdempotencyKey::for_request(context, "CreateInterest", &body.request_id, body)?;
        let mut tx = self.store.begin().await?;
        let created = idempotency::once(&mut tx, key.as_ref(), context.now(), async |conn| {
            Ok(convert::interest(
                &applications::declare(conn, context, &year, &new).await?,
            ))
        })
        .await?;
        tx.commit().await?;
        Ok(created)
    }

    /// An interest the caller may read: the declaring school, the innovation's school,
    /// the office of either, the ministry.
    async fn readable_interest(
        &self,
        viewer: &Viewer,
        name: &str,
    ) -> Result<applications::Interest, ApiError> {
        let (year, id) = convert::year_child(name, "interests", "name")?;
        let interest = self
            .store
            .interest(&year, &id)
            .await?
            .ok_or_else(|| ApiError::not_found(name.to_string()))?;
        let mut sees = viewer.ministry
            || viewer.is_school(&interest.school_id)
            || viewer.is_school(&interest.innovation_school_id);
        if !sees && !viewer.regions.is_empty() {
            for school in [&interest.school_id, &interest.innovation_school_id] {
                if let Some(s) = self.store.school(school).await?
                    && viewer.is_office_of(&s.region_code)
                {
                    sees = true;
                }
            }
        }
        if sees {
            Ok(interest)
        } else {
            Err(ApiError::not_found(name.to_string()))
        }
    }

    async fn get_interest(
        &self,
        request: Request<pb::GetInterestRequest>,
    ) -> Result<pb::Interest, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = Viewer::of(context.caller()?)?;
        let interest = self
            .readable_interest(&viewer, &request.get_ref().name)
            .await?;
        Ok(convert::interest(&interest))
    }

    async fn list_interests(
        &self,
        request: Request<pb::ListInterestsRequest>,
    ) -> Result<pb::ListInterestsResponse, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = Viewer::of(context.caller()?)?;
        let body = request.get_ref();
        let filter = InterestFilter {
            year: convert::year_filter(&body.parent, "parent")?,
            school: optional_school(&body.school, "school")?,
            innovative_school: optional_school(&body.innovative_school, "innovative_school")?,
            innovation: if body.innovation.is_empty() {
                None
            } else {
                Some(convert::innovation_id(&body.innovation, "innovation")?)
            },
            state: convert::enum_filter(body.state, "state", |raw| match raw {
                r if r == pb::InterestState::Declared as i32 => Some("DECLARED".to_string()),
                r if r == pb::InterestState::Withdrawn as i32 => Some("WITHDRAWN".to_string()),
                _ => None,
            })?,
        };
        let paging = PageRequest::parse(
            body.page_size,
            &body.page_token,
            &[
                "ListInterests",
                &body.parent,
                &body.school,
                &body.innovative_school,
                &body.innovation,
                &body.state.to_string(),
            ],
        )?;
        let page = self
            .store
            .list_interests(
                &visibility(&viewer),
                &filter,
                paging.size,
                paging.after.clone(),
            )
            .await?;
        Ok(pb::ListInterestsResponse {
            interests: page.items.iter().map(convert::interest).collect(),
            next_page_token: paging.next_token(page.next.as_ref()),
        })
    }

    async fn withdraw_interest(
        &self,
        request: Request<pb::WithdrawInterestRequest>,
    ) -> Result<pb::Interest, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = Viewer::of(context.caller()?)?;
        let body = request.get_ref();
        let interest = self.readable_interest(&viewer, &body.name).await?;
        viewer.require_school(&interest.school_id)?;
        let mut tx = self.store.begin().await?;
        let withdrawn = applications::withdraw_interest(
            &mut tx,
            context,
            &interest.year_id,
            &interest.id,
            &body.etag,
        )
        .await?;
        tx.commit().await?;
        Ok(convert::interest(&withdrawn))
    }
}

/// What a viewer sees in listings.
pub fn visibility(viewer: &Viewer) -> Visibility {
    Visibility {
        all: viewer.ministry,
        regions: viewer.regions.clone(),
        schools: viewer.schools.clone(),
    }
}

/// An optional school filter.
pub fn optional_school(raw: &str, field: &str) -> Result<Option<String>, ApiError> {
    if raw.is_empty() {
        Ok(None)
    } else {
        convert::school_id(raw, field).map(Some)
    }
}

#[tonic::async_trait]
impl ApplicationService for ApplicationsApi {
    async fn create_application(
        &self,
        request: Request<pb::CreateApplicationRequest>,
    ) -> Result<Response<pb::Application>, Status> {
        respond(self.create(request).await)
    }

    async fn get_application(
        &self,
        request: Request<pb::GetApplicationRequest>,
    ) -> Result<Response<pb::Application>, Status> {
        respond(self.get(request).await)
    }

    async fn list_applications(
        &self,
        request: Request<pb::ListApplicationsRequest>,
    ) -> Result<Response<pb::ListApplicationsResponse>, Status> {
        respond(self.list(request).await)
    }

    async fn withdraw_application(
        &self,
        request: Request<pb::WithdrawApplicationRequest>,
    ) -> Result<Response<pb::Application>, Status> {
        respond(self.withdraw(request).await)
    }

    async fn create_interest(
        &self,
        request: Request<pb::CreateInterestRequest>,
    ) -> Result<Response<pb::Interest>, Status> {
        respond(self.create_interest(request).await)
    }

    async fn get_interest(
        &self,
        request: Request<pb::GetInterestRequest>,
    ) -> Result<Response<pb::Interest>, Status> {
        respond(self.get_interest(request).await)
    }

    async fn list_interests(
        &self,
        request: Request<pb::ListInterestsRequest>,
    ) -> Result<Response<pb::ListInterestsResponse>, Status> {
        respond(self.list_interests(request).await)
    }

    async fn withdraw_interest(
        &self,
        request: Request<pb::WithdrawInterestRequest>,
    ) -> Result<Response<pb::Interest>, Status> {
        respond(self.withdraw_interest(request).await)
    }
}
