//! `ReviewService`: experts, assignments without conflicts of interest, and reviews against
//! the rubric (rules 5 and 6).
//!
//! Who sees a review: the organiser; the expert who writes it; and, once the results are
//! announced, the applying team, which reads completed reviews without the expert's name
//! (reviews stay blind). To anyone else it does not exist.

use edu_kit::auth::Caller;
use edu_kit::error::reason as kit_reason;
use edu_kit::idempotency::IdempotencyKey;
use edu_kit::paging::PageRequest;
use edu_kit::{ApiError, CallContext, etag, resource};
use edu_proto::edu::competitions::v1 as pb;
use edu_proto::edu::competitions::v1::review_service_server::ReviewService;
use tonic::{Request, Response, Status};

use super::access::{self, ORGANISER, TEAM, is_organiser};
use super::errors::reason;
use super::{convert, respond};
use crate::domain::expert::Expert;
use crate::domain::{ContestState, Review, ReviewState};
use crate::store::Store;
use crate::store::reviews::{AutoAssigned, ReviewFilter, Workload};

/// The review service.
#[derive(Debug, Clone)]
pub struct ReviewsApi {
    store: Store,
}

/// How much of a review a caller sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum View {
    /// Everything: the organiser and the reviewing expert.
    Full,
    /// Without the expert: the applying team, after the announcement.
    Blind,
}

/// Fields UpdateReview may change.
const MUTABLE_FIELDS: [&str; 2] = ["scores", "feedback"];

impl ReviewsApi {
    /// The service on `store`.
    pub fn new(store: Store) -> Self {
        ReviewsApi { store }
    }

    /// What `caller` may see of `review`; `None` when it does not exist for them.
    async fn view(&self, caller: &Caller, review: &Review) -> Result<Option<View>, ApiError> {
        if is_organiser(caller) {
            return Ok(Some(View::Full));
        }
        if let Some(expert) = access::expert_self(&self.store, caller, &review.contest_id).await?
            && expert.id == review.expert_id
        {
            return Ok(Some(View::Full));
        }
        if review.state != ReviewState::Completed || !caller.has_role(TEAM) {
            return Ok(None);
        }
        let announced = self
            .store
            .contest(&review.contest_id)
            .await?
            .is_some_and(|c| c.state == ContestState::Announced);
        let Some(application) = self
            .store
            .application(&review.contest_id, &review.application_id)
            .await?
        else {
            return Ok(None);
        };
        let member = access::membership(&self.store, caller, &application.team_id)
            .await?
            .is_some();
        Ok((announced && member).then_some(View::Blind))
    }

    /// Loads a review `caller` may see, with how much of it.
    async fn visible(&self, caller: &Caller, name: &str) -> Result<(Review, View), ApiError> {
        let [contest_id, application_id, id] =
            resource::parse_nested(name, ["contests", "applications", "reviews"], "name")?;
        let missing = || ApiError::not_found(name.to_string());
        let review = self
            .store
            .review(&contest_id, &application_id, &id)
            .await?
            .ok_or_else(missing)?;
        let view = self.view(caller, &review).await?.ok_or_else(missing)?;
        Ok((review, view))
    }

    /// Loads a review that `caller` writes: only its expert does.
    async fn own(&self, caller: &Caller, name: &str) -> Result<Review, ApiError> {
        let (review, view) = self.visible(caller, name).await?;
        let expert = access::expert_self(&self.store, caller, &review.contest_id).await?;
        match expert {
            Some(expert) if expert.id == review.expert_id => Ok(review),
            _ if view == View::Full => Err(ApiError::permission_denied(
                reason::NOT_AN_EXPERT,
                "only the assigned expert writes a review",
            )),
            _ => Err(ApiError::not_found(name.to_string())),
        }
    }

    async fn create_expert(
        &self,
        request: Request<pb::CreateExpertRequest>,
    ) -> Result<pb::Expert, ApiError> {
        let context = CallContext::of(&request)?;
        context.caller()?.require_role(ORGANISER)?;
        let body = request.get_ref();
        let contest_id = resource::parse_name(&body.parent, "contests", "parent")?;
        let draft = body.expert.clone().unwrap_or_default();
        let key = IdempotencyKey::for_request(context, "CreateExpert", &body.request_id, body)?;
        let now = context.now();
        self.store
            .create_expert(
                context,
                key.as_ref(),
                &contest_id,
                |contest| {
                    Expert::register(
                        contest,
                        resource::new_id(),
                        &draft.subject,
                        &draft.display_name,
                        &draft.region_code,
                        &draft.organisation,
                        &draft.nomination_ids,
                        now,
                    )
                },
                expert_pb,
            )
            .await
    }

    async fn get_expert(
        &self,
        request: Request<pb::GetExpertRequest>,
    ) -> Result<pb::Expert, ApiError> {
        let context = CallContext::of(&request)?;
        let caller = context.caller()?;
        let name = &request.get_ref().name;
        let (contest_id, id) = resource::parse_child_name(name, "contests", "experts", "name")?;
        let expert = self
            .store
            .expert(&contest_id, &id)
            .await?
            .filter(|e| {
                is_organiser(caller)
                    || (caller.has_role(access::EXPERT) && e.subject == caller.subject())
            })
            .ok_or_else(|| ApiError::not_found(name.clone()))?;
        Ok(expert_pb(&expert))
    }

    async fn list_experts(
        &self,
        request: Request<pb::ListExpertsRequest>,
    ) -> Result<pb::ListExpertsResponse, ApiError> {
        let context = CallContext::of(&request)?;
        context.caller()?.require_role(ORGANISER)?;
        let body = request.get_ref();
        let contest_id = resource::parse_name(&body.parent, "contests", "parent")?;
        let paging = PageRequest::parse(
            body.page_size,
            &body.page_token,
            &["ListExperts", &body.parent],
        )?;
        let page = self
            .store
            .list_experts(&contest_id, paging.size, paging.after.clone())
            .await?;
        Ok(pb::ListExpertsResponse {
            experts: page.items.iter().map(expert_pb).collect(),
            next_page_token: paging.next_token(page.next.as_ref()),
        })
    }

    async fn delete_expert(
        &self,
        request: Request<pb::DeleteExpertRequest>,
    ) -> Result<(), ApiError> {
        let context = CallContext::of(&request)?;
        context.caller()?.require_role(ORGANISER)?;
        let (contest_id, id) =
            resource::parse_child_name(&request.get_ref().name, "contests", "experts", "name")?;
        self.store.delete_expert(context, &contest_id, &id).await
    }

    async fn create_review(
        &self,
        request: Request<pb::CreateReviewRequest>,
    ) -> Result<pb::Review, ApiError> {
        let context = CallContext::of(&request)?;
        context.caller()?.require_role(ORGANISER)?;
        let body = request.get_ref();
        let (contest_id, application_id) =
            resource::parse_child_name(&body.parent, "contests", "applications", "parent")?;
        let expert = body
            .review
            .as_ref()
            .map(|r| r.expert.as_str())
            .unwrap_or("");
        let (expert_contest, expert_id) =
            resource::parse_child_name(expert, "contests", "experts", "review.expert")?;
        if expert_contest != contest_id {
            return Err(ApiError::invalid_field(
                kit_reason::INVALID_FIELDS,
                "review.expert",
                "the expert must be of the application's contest",
            ));
        }
        let key = IdempotencyKey::for_request(context, "CreateReview", &body.request_id, body)?;
        self.store
            .create_review(
                context,
                key.as_ref(),
                &contest_id,
                &application_id,
                &expert_id,
                resource::new_id(),
                |r| review_pb(r, View::Full),
            )
            .await
    }

    async fn auto_assign(
        &self,
        request: Request<pb::AutoAssignExpertsRequest>,
    ) -> Result<pb::AutoAssignExpertsResponse, ApiError> {
        let context = CallContext::of(&request)?;
        context.caller()?.require_role(ORGANISER)?;
        let body = request.get_ref();
        let contest_id = resource::parse_name(&body.parent, "contests", "parent")?;
        let key =
            IdempotencyKey::for_request(context, "AutoAssignExperts", &body.request_id, body)?;
        self.store
            .auto_assign(context, key.as_ref(), &contest_id, |done: &AutoAssigned| {
                pb::AutoAssignExpertsResponse {
                    created_reviews: done
                        .created
                        .iter()
                        .map(|r| review_pb(r, View::Full))
                        .collect(),
                    understaffed_applications: done
                        .understaffed
                        .iter()
                        .map(|a| format!("contests/{contest_id}/applications/{a}"))
                        .collect(),
                }
            })
            .await
    }

    async fn get_review(
        &self,
        request: Request<pb::GetReviewRequest>,
    ) -> Result<pb::Review, ApiError> {
        let context = CallContext::of(&request)?;
        let (review, view) = self
            .visible(context.caller()?, &request.get_ref().name)
            .await?;
        Ok(review_pb(&review, view))
    }

    async fn list_reviews(
        &self,
        request: Request<pb::ListReviewsRequest>,
    ) -> Result<pb::ListReviewsResponse, ApiError> {
        let context = CallContext::of(&request)?;
        let caller = context.caller()?;
        let body = request.get_ref();
        let (contest_id, application_id) = match body.parent.strip_suffix("/applications/-") {
            Some(contest) => (resource::parse_name(contest, "contests", "parent")?, None),
            None => {
                let (contest, application) =
                    resource::parse_child_name(&body.parent, "contests", "applications", "parent")?;
                (contest, Some(application))
            }
        };
        let expert_id = match body.expert.as_str() {
            "" => None,
            expert => Some(resource::parse_child_name(expert, "contests", "experts", "expert")?.1),
        };
        let state = review_state_filter(body.state)?;
        let paging = PageRequest::parse(
            body.page_size,
            &body.page_token,
            &[
                "ListReviews",
                &body.parent,
                &body.expert,
                &body.state.to_string(),
            ],
        )?;
        let mut filter = ReviewFilter {
            contest_id: contest_id.clone(),
            application_id,
            expert_id,
            state,
            ..Default::default()
        };
        let view = if is_organiser(caller) {
            View::Full
        } else if access::expert_self(&self.store, caller, &contest_id)
            .await?
            .is_some()
        {
            filter.expert_subject = Some(caller.subject().into());
            View::Full
        } else if caller.has_role(TEAM) {
            filter.team_member = Some(caller.subject().into());
            View::Blind
        } else {
            return Ok(pb::ListReviewsResponse::default());
        };
        let page = self
            .store
            .list_reviews(&filter, paging.size, paging.after.clone())
            .await?;
        Ok(pb::ListReviewsResponse {
            reviews: page.items.iter().map(|r| review_pb(r, view)).collect(),
            next_page_token: paging.next_token(page.next.as_ref()),
        })
    }

    async fn update_review(
        &self,
        request: Request<pb::UpdateReviewRequest>,
    ) -> Result<pb::Review, ApiError> {
        let context = CallContext::of(&request)?;
        let body = request.get_ref();
        let changes = body.review.clone().unwrap_or_default();
        let paths = convert::mask_paths(body.update_mask.as_ref(), &MUTABLE_FIELDS)?;
        let review = self.own(context.caller()?, &changes.name).await?;
        let sent: Vec<(String, i32)> = changes
            .scores
            .iter()
            .map(|s| (s.criterion_id.clone(), s.score))
            .collect();
        let updated = self
            .store
            .change_review(
                context,
                &review.contest_id,
                &review.application_id,
                &review.id,
                &changes.etag,
                "review.saved",
                |review, contest, now| {
                    let scores = if paths.iter().any(|p| p == "scores") {
                        sent
                    } else {
                        review
                            .scores
                            .iter()
                            .map(|(c, s)| (c.clone(), i32::from(*s)))
                            .collect()
                    };
                    let feedback = if paths.iter().any(|p| p == "feedback") {
                        changes.feedback.clone()
                    } else {
                        review.feedback.clone()
                    };
                    review
                        .save(&contest.spec.criteria, &scores, &feedback, now)
                        .map_err(|e| e.within("review"))
                },
            )
            .await?;
        Ok(review_pb(&updated, View::Full))
    }

    async fn complete_review(
        &self,
        request: Request<pb::CompleteReviewRequest>,
    ) -> Result<pb::Review, ApiError> {
        let context = CallContext::of(&request)?;
        let body = request.get_ref();
        let review = self.own(context.caller()?, &body.name).await?;
        let completed = self
            .store
            .change_review(
                context,
                &review.contest_id,
                &review.application_id,
                &review.id,
                &body.etag,
                "review.completed",
                |review, contest, now| review.complete(&contest.spec.criteria, now),
            )
            .await?;
        Ok(review_pb(&completed, View::Full))
    }

    async fn delete_review(
        &self,
        request: Request<pb::DeleteReviewRequest>,
    ) -> Result<(), ApiError> {
        let context = CallContext::of(&request)?;
        context.caller()?.require_role(ORGANISER)?;
        let [contest_id, application_id, id] = resource::parse_nested(
            &request.get_ref().name,
            ["contests", "applications", "reviews"],
            "name",
        )?;
        self.store
            .delete_review(context, &contest_id, &application_id, &id)
            .await
    }

    async fn workloads(
        &self,
        request: Request<pb::ListExpertWorkloadsRequest>,
    ) -> Result<pb::ListExpertWorkloadsResponse, ApiError> {
        let context = CallContext::of(&request)?;
        context.caller()?.require_role(ORGANISER)?;
        let body = request.get_ref();
        let contest_id = resource::parse_name(&body.parent, "contests", "parent")?;
        let paging = PageRequest::parse(
            body.page_size,
            &body.page_token,
            &["ListExpertWorkloads", &body.parent],
        )?;
        let page = self
            .store
            .workloads(&contest_id, paging.size, paging.after.clone())
            .await?;
        Ok(pb::ListExpertWorkloadsResponse {
            workloads: page
                .items
                .iter()
                .map(|w: &Workload| pb::ExpertWorkload {
                    expert: format!("contests/{contest_id}/experts/{}", w.expert_id),
                    assigned: i32::try_from(w.assigned).unwrap_or(i32::MAX),
                    completed: i32::try_from(w.completed).unwrap_or(i32::MAX),
                })
                .collect(),
            next_page_token: paging.next_token(page.next.as_ref()),
        })
    }
}

fn expert_pb(e: &Expert) -> pb::Expert {
    pb::Expert {
        name: format!("contests/{}/experts/{}", e.contest_id, e.id),
        subject: e.subject.clone(),
        display_name: e.display_name.clone(),
        region_code: e.region_code.clone(),
        organisation: e.organisation.clone(),
        nomination_ids: e.nomination_ids.iter().cloned().collect(),
        create_time: Some(convert::timestamp(e.create_time)),
    }
}

fn review_pb(r: &Review, view: View) -> pb::Review {
    pb::Review {
        name: crate::store::reviews::name(&r.contest_id, &r.application_id, &r.id),
        expert: match view {
            View::Full => format!("contests/{}/experts/{}", r.contest_id, r.expert_id),
            View::Blind => String::new(),
        },
        state: match r.state {
            ReviewState::Assigned => pb::ReviewState::Assigned,
            ReviewState::InProgress => pb::ReviewState::InProgress,
            ReviewState::Completed => pb::ReviewState::Completed,
        } as i32,
        scores: r
            .scores
            .iter()
            .map(|(c, s)| pb::CriterionScore {
                criterion_id: c.clone(),
                score: i32::from(*s),
            })
            .collect(),
        feedback: r.feedback.clone(),
        weighted_score: r.weighted_score.unwrap_or_default(),
        create_time: Some(convert::timestamp(r.create_time)),
        update_time: Some(convert::timestamp(r.update_time)),
        complete_time: r.complete_time.map(convert::timestamp),
        etag: match view {
            View::Full => etag::of(r.version),
            View::Blind => String::new(),
        },
    }
}

fn review_state_filter(raw: i32) -> Result<Option<ReviewState>, ApiError> {
    match pb::ReviewState::try_from(raw) {
        Ok(pb::ReviewState::Unspecified) => Ok(None),
        Ok(pb::ReviewState::Assigned) => Ok(Some(ReviewState::Assigned)),
        Ok(pb::ReviewState::InProgress) => Ok(Some(ReviewState::InProgress)),
        Ok(pb::ReviewState::Completed) => Ok(Some(ReviewState::Completed)),
        Err(_) => Err(ApiError::invalid_field(
            kit_reason::INVALID_FIELDS,
            "state",
            format!("{raw} is not a review state"),
        )),
    }
}

#[tonic::async_trait]
impl ReviewService for ReviewsApi {
    async fn create_expert(
        &self,
        request: Request<pb::CreateExpertRequest>,
    ) -> Result<Response<pb::Expert>, Status> {
        respond(self.create_expert(request).await)
    }

    async fn get_expert(
        &self,
        request: Request<pb::GetExpertRequest>,
    ) -> Result<Response<pb::Expert>, Status> {
        respond(self.get_expert(request).await)
    }

    async fn list_experts(
        &self,
        request: Request<pb::ListExpertsRequest>,
    ) -> Result<Response<pb::ListExpertsResponse>, Status> {
        respond(self.list_experts(request).await)
    }

    async fn delete_expert(
        &self,
        request: Request<pb::DeleteExpertRequest>,
    ) -> Result<Response<()>, Status> {
        respond(self.delete_expert(request).await)
    }

    async fn create_review(
        &self,
        request: Request<pb::CreateReviewRequest>,
    ) -> Result<Response<pb::Review>, Status> {
        respond(self.create_review(request).await)
    }

    async fn auto_assign_experts(
        &self,
        request: Request<pb::AutoAssignExpertsRequest>,
    ) -> Result<Response<pb::AutoAssignExpertsResponse>, Status> {
        respond(self.auto_assign(request).await)
    }

    async fn get_review(
        &self,
        request: Request<pb::GetReviewRequest>,
    ) -> Result<Response<pb::Review>, Status> {
        respond(self.get_review(request).await)
    }

    async fn list_reviews(
        &self,
        request: Request<pb::ListReviewsRequest>,
    ) -> Result<Response<pb::ListReviewsResponse>, Status> {
        respond(self.list_reviews(request).await)
    }

    async fn update_review(
        &self,
        request: Request<pb::UpdateReviewRequest>,
    ) -> Result<Response<pb::Review>, Status> {
        respond(self.update_review(request).await)
    }

    async fn complete_review(
        &self,
        request: Request<pb::CompleteReviewRequest>,
    ) -> Result<Response<pb::Review>, Status> {
        respond(self.complete_review(request).await)
    }

    async fn delete_review(
        &self,
        request: Request<pb::DeleteReviewRequest>,
    ) -> Result<Response<()>, Status> {
        respond(self.delete_review(request).await)
    }

    async fn list_expert_workloads(
        &self,
        request: Request<pb::ListExpertWorkloadsRequest>,
    ) -> Result<Response<pb::ListExpertWorkloadsResponse>, Status> {
        respond(self.workloads(request).await)
    }
}
