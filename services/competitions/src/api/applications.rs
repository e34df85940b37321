//! `ApplicationService`: applications drafted, changed, submitted and withdrawn by teams
//! (rules 2-4).

use edu_kit::auth::Caller;
use edu_kit::error::FieldProblems;
use edu_kit::idempotency::IdempotencyKey;
use edu_kit::paging::PageRequest;
use edu_kit::{ApiError, CallContext, resource};
use edu_proto::edu::competitions::v1 as pb;
use edu_proto::edu::competitions::v1::application_service_server::ApplicationService;
use tonic::{Request, Response, Status};

use super::access::{self, EXPERT, TEAM, is_organiser};
use super::errors::reason;
use super::{convert, respond};
use crate::domain::application::ApplicationContent;
use crate::domain::{Application, CompetitionError, Contest, Transition};
use crate::store::Store;
use crate::store::applications::{ApplicationFilter, ContentInput, NewApplication};

/// The application service.
#[derive(Debug, Clone)]
pub struct ApplicationsApi {
    store: Store,
}

/// What a caller wants to do with an application.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Intent {
    Read,
    Change,
}

/// Fields of an application that UpdateApplication may change.
const MUTABLE_FIELDS: [&str; 4] = ["nomination_id", "title", "summary", "description"];

impl ApplicationsApi {
    /// The service on `store`.
    pub fn new(store: Store) -> Self {
        ApplicationsApi { store }
    }

    /// Loads an application the caller may see: members of its team read and change it,
    /// organisers read it; to anyone else it does not exist.
    async fn authorised(
        &self,
        caller: &Caller,
        name: &str,
        field: &str,
        intent: Intent,
    ) -> Result<Application, ApiError> {
        let (contest_id, id) = resource::parse_child_name(name, "contests", "applications", field)?;
        let missing = || ApiError::not_found(format!("contests/{contest_id}/applications/{id}"));
        let app = self
            .store
            .application(&contest_id, &id)
            .await?
            .ok_or_else(missing)?;
        if access::membership(&self.store, caller, &app.team_id)
            .await?
            .is_some()
        {
            return Ok(app);
        }
        if intent == Intent::Read && self.is_assigned_expert(caller, &app).await? {
            return Ok(app);
        }
        match (is_organiser(caller), intent) {
            (true, Intent::Read) => Ok(app),
            (true, Intent::Change) => Err(ApiError::permission_denied(
                reason::NOT_TEAM_MEMBER,
                "only members of the applying team change its application",
            )),
            (false, _) => Err(missing()),
        }
    }

    /// Rule 5: an expert reads the applications assigned to them, and no other.
    async fn is_assigned_expert(
        &self,
        caller: &Caller,
        app: &Application,
    ) -> Result<bool, ApiError> {
        let Some(expert) = access::expert_self(&self.store, caller, &app.contest_id).await? else {
            return Ok(false);
        };
        let reviews = self.store.reviews_of(&app.contest_id, &app.id).await?;
        Ok(reviews.iter().any(|r| r.expert_id == expert.id))
    }

    async fn create(
        &self,
        request: Request<pb::CreateApplicationRequest>,
    ) -> Result<pb::Application, ApiError> {
        let context = CallContext::of(&request)?;
        let caller = context.caller()?;
        let body = request.get_ref();
        let draft = body.application.clone().unwrap_or_default();
        // Every malformed field at once, before anything is looked up.
        let mut problems = FieldProblems::new();
        let contest_id = problems.field(resource::parse_name(&body.parent, "contests", "parent"));
        let team_id = problems.field(resource::parse_name(
            &draft.team,
            "teams",
            "application.team",
        ));
        let id = problems.check("application_id", resource::id_or_new(&body.application_id));
        let mut content_problems = ApplicationContent::field_problems(
            &draft.nomination_id,
            &draft.title,
            &draft.summary,
            &draft.description,
        );
        if !problems.is_empty() || !content_problems.is_empty() {
            // A nomination the contest does not have is named with the rest, so that one
            // answer lists every problem (the contest is read only when it is visible).
            if let Some(contest_id) = &contest_id
                && let Some(contest) = self
                    .store
                    .contest(contest_id)
                    .await?
                    .filter(Contest::is_visible_beyond_organisers)
                && let Some(problem) =
                    ApplicationContent::nomination_problem(&contest, &draft.nomination_id)
            {
                content_problems.insert(0, problem);
            }
        }
        for problem in content_problems {
            problems.add(format!("application.{}", problem.field), problem.message);
        }
        problems.finish()?;
        let (Some(contest_id), Some(team_id), Some(id)) = (contest_id, team_id, id) else {
            return Err(ApiError::internal(&std::io::Error::other(
                "application fields fell through",
            )));
        };
        access::ensure_team_member(&self.store, caller, &team_id).await?;
        let key =
            IdempotencyKey::for_request(context, "CreateApplication", &body.request_id, body)?;
        let new = NewApplication {
            contest_id,
            id,
            team_id,
            content: ContentInput {
                nomination_id: draft.nomination_id,
                title: draft.title,
                summary: draft.summary,
                description: draft.description,
            },
        };
        self.store
            .create_application(context, key.as_ref(), new, convert::application)
            .await
    }

    async fn get(
        &self,
        request: Request<pb::GetApplicationRequest>,
    ) -> Result<pb::Application, ApiError> {
        let context = CallContext::of(&request)?;
        let app = self
            .authorised(
                context.caller()?,
                &request.get_ref().name,
                "name",
                Intent::Read,
            )
            .await?;
        Ok(convert::application(&app))
    }

    async fn list(
        &self,
        request: Request<pb::ListApplicationsRequest>,
    ) -> Result<pb::ListApplicationsResponse, ApiError> {
        let context = CallContext::of(&request)?;
        let caller = context.caller()?;
        let body = request.get_ref();
        let contest = match body.parent.as_str() {
            "contests/-" => None,
            parent => Some(resource::parse_name(parent, "contests", "parent")?),
        };
        let team = match body.team.as_str() {
            "" => None,
            team => Some(resource::parse_name(team, "teams", "team")?),
        };
        let state = convert::application_state_filter(body.state)?;
        let paging = PageRequest::parse(
            body.page_size,
            &body.page_token,
            &[
                "ListApplications",
                &body.parent,
                &body.team,
                &body.nomination_id,
                &body.state.to_string(),
            ],
        )?;
        let organiser = is_organiser(caller);
        let (team_person, expert) = (caller.has_role(TEAM), caller.has_role(EXPERT));
        if !organiser && !team_person && !expert {
            return Ok(pb::ListApplicationsResponse::default());
        }
        let subject = || Some(caller.subject().to_string());
        let filter = ApplicationFilter {
            contest,
            team,
            nomination: (!body.nomination_id.is_empty()).then(|| body.nomination_id.clone()),
            state,
            member: (!organiser && team_person).then(subject).flatten(),
            assigned_to: (!organiser && expert).then(subject).flatten(),
        };
        let page = self
            .store
            .list_applications(&filter, paging.size, paging.after.clone())
            .await?;
        Ok(pb::ListApplicationsResponse {
            applications: page.items.iter().map(convert::application).collect(),
            next_page_token: paging.next_token(page.next.as_ref()),
        })
    }

    async fn update(
        &self,
        request: Request<pb::UpdateApplicationRequest>,
    ) -> Result<pb::Application, ApiError> {
        let context = CallContext::of(&request)?;
        let body = request.get_ref();
        let changes = body.application.clone().unwrap_or_default();
        let paths = convert::mask_paths(body.update_mask.as_ref(), &MUTABLE_FIELDS)?;
        let app = self
            .authorised(
                context.caller()?,
                &changes.name,
                "application.name",
                Intent::Change,
            )
            .await?;
        let updated = self
            .store
            .update_application(
                context,
                &app.contest_id,
                &app.id,
                &changes.etag,
                |current| {
                    let mut input = ContentInput {
                        nomination_id: current.content.nomination_id.clone(),
                        title: current.content.title.clone(),
                        summary: current.content.summary.clone(),
                        description: current.content.description.clone(),
                    };
                    for path in &paths {
                        match path.as_str() {
                            "nomination_id" => input.nomination_id = changes.nomination_id.clone(),
                            "title" => input.title = changes.title.clone(),
                            "summary" => input.summary = changes.summary.clone(),
                            _ => input.description = changes.description.clone(),
                        }
                    }
                    input
                },
            )
            .await?;
        Ok(convert::application(&updated))
    }

    async fn submit(
        &self,
        request: Request<pb::SubmitApplicationRequest>,
    ) -> Result<pb::Application, ApiError> {
        let body = request.get_ref();
        let context = CallContext::of(&request)?;
        self.transition(
            context,
            &body.name,
            &body.etag,
            "application.submitted",
            |a, c, now| a.submit(c, now),
        )
        .await
    }

    async fn withdraw(
        &self,
        request: Request<pb::WithdrawApplicationRequest>,
    ) -> Result<pb::Application, ApiError> {
        let body = request.get_ref();
        let context = CallContext::of(&request)?;
        self.transition(
            context,
            &body.name,
            &body.etag,
            "application.withdrawn",
            |a, c, now| a.withdraw(c, now),
        )
        .await
    }

    /// A life-cycle step of an application, by a member of its team: `transition` decides
    /// (rules 2 and 4), `action` names it in the audit log.
    async fn transition(
        &self,
        context: &CallContext,
        name: &str,
        etag: &str,
        action: &'static str,
        transition: impl FnOnce(
            &mut Application,
            &Contest,
            jiff::Timestamp,
        ) -> Result<Transition, CompetitionError>,
    ) -> Result<pb::Application, ApiError> {
        let app = self
            .authorised(context.caller()?, name, "name", Intent::Change)
            .await?;
        let changed = self
            .store
            .transition_application(context, &app.contest_id, &app.id, etag, action, transition)
            .await?;
        Ok(convert::application(&changed))
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

    async fn update_application(
        &self,
        request: Request<pb::UpdateApplicationRequest>,
    ) -> Result<Response<pb::Application>, Status> {
        respond(self.update(request).await)
    }

    async fn submit_application(
        &self,
        request: Request<pb::SubmitApplicationRequest>,
    ) -> Result<Response<pb::Application>, Status> {
        respond(self.submit(request).await)
    }

    async fn withdraw_application(
        &self,
        request: Request<pb::WithdrawApplicationRequest>,
    ) -> Result<Response<pb::Application>, Status> {
        respond(self.withdraw(request).await)
    }
}
