//! `FollowUpService`: invitations of winners to presentation sessions and accelerators
//! (rule 11). The organiser invites and records attendance; the invited team's members read
//! their invitations and answer them; to anyone else an invitation does not exist.

use edu_kit::error::reason as kit_reason;
use edu_kit::idempotency::IdempotencyKey;
use edu_kit::paging::PageRequest;
use edu_kit::{ApiError, CallContext, resource};
use edu_proto::edu::competitions::v1 as pb;
use edu_proto::edu::competitions::v1::follow_up_service_server::FollowUpService;
use tonic::{Request, Response, Status};

use super::access::{self, ORGANISER, TEAM, is_organiser};
use super::{convert, respond};
use crate::domain::follow_up::{FollowUpKind, InvitationState, check_invitation_title};
use crate::store::Store;
use crate::store::follow_ups::{Invitation, NewInvitation};

/// The follow-up service.
#[derive(Debug, Clone)]
pub struct FollowUpsApi {
    store: Store,
}

impl FollowUpsApi {
    /// The service on `store`.
    pub fn new(store: Store) -> Self {
        FollowUpsApi { store }
    }

    async fn create(
        &self,
        request: Request<pb::CreateInvitationRequest>,
    ) -> Result<pb::Invitation, ApiError> {
        let context = CallContext::of(&request)?;
        context.caller()?.require_role(ORGANISER)?;
        let body = request.get_ref();
        let contest_id = resource::parse_name(&body.parent, "contests", "parent")?;
        let draft = body.invitation.clone().unwrap_or_default();
        let (application_contest, application_id) = resource::parse_child_name(
            &draft.application,
            "contests",
            "applications",
            "invitation.application",
        )?;
        if application_contest != contest_id {
            return Err(ApiError::invalid_field(
                kit_reason::INVALID_FIELDS,
                "invitation.application",
                "not an application of this contest",
            ));
        }
        let kind = match pb::FollowUpKind::try_from(draft.kind) {
            Ok(pb::FollowUpKind::PresentationSession) => FollowUpKind::PresentationSession,
            Ok(pb::FollowUpKind::Accelerator) => FollowUpKind::Accelerator,
            _ => {
                return Err(ApiError::invalid_field(
                    kit_reason::INVALID_FIELDS,
                    "invitation.kind",
                    "PRESENTATION_SESSION or ACCELERATOR",
                ));
            }
        };
        let title = check_invitation_title(&draft.title)
            .map_err(|e| ApiError::from(e.within("invitation")))?;
        let start_time = draft
            .start_time
            .map(|t| {
                jiff::Timestamp::new(t.seconds, t.nanos).map_err(|_| {
                    ApiError::invalid_field(
                        kit_reason::INVALID_FIELDS,
                        "invitation.start_time",
                        "not a valid instant",
                    )
                })
            })
            .transpose()?;
        let key = IdempotencyKey::for_request(context, "CreateInvitation", &body.request_id, body)?;
        let new = NewInvitation {
            id: resource::new_id(),
            application_id,
            kind,
            title,
            start_time,
        };
        self.store
            .create_invitation(context, key.as_ref(), &contest_id, new, invitation_pb)
            .await
    }

    async fn list(
        &self,
        request: Request<pb::ListInvitationsRequest>,
    ) -> Result<pb::ListInvitationsResponse, ApiError> {
        let context = CallContext::of(&request)?;
        let caller = context.caller()?;
        let body = request.get_ref();
        let contest_id = resource::parse_name(&body.parent, "contests", "parent")?;
        let paging = PageRequest::parse(
            body.page_size,
            &body.page_token,
            &["ListInvitations", &body.parent],
        )?;
        let member = if is_organiser(caller) {
            None
        } else if caller.has_role(TEAM) {
            Some(caller.subject())
        } else {
            return Ok(pb::ListInvitationsResponse::default());
        };
        let page = self
            .store
            .list_invitations(&contest_id, member, paging.size, paging.after.clone())
            .await?;
        Ok(pb::ListInvitationsResponse {
            invitations: page.items.iter().map(invitation_pb).collect(),
            next_page_token: paging.next_token(page.next.as_ref()),
        })
    }

    async fn respond_to(
        &self,
        request: Request<pb::RespondToInvitationRequest>,
    ) -> Result<pb::Invitation, ApiError> {
        let context = CallContext::of(&request)?;
        let caller = context.caller()?;
        let body = request.get_ref();
        let (contest_id, id) =
            resource::parse_child_name(&body.name, "contests", "invitations", "name")?;
        let missing = || ApiError::not_found(body.name.clone());
        let invitation = self
            .store
            .invitation(&contest_id, &id)
            .await?
            .ok_or_else(missing)?;
        access::ensure_team_member(&self.store, caller, &invitation.team_id)
            .await
            .map_err(|_| missing())?;
        let to = if body.accept {
            InvitationState::Accepted
        } else {
            InvitationState::Declined
        };
        let moved = self
            .store
            .move_invitation(context, &contest_id, &id, to)
            .await?;
        Ok(invitation_pb(&moved))
    }

    async fn mark_attended(
        &self,
        request: Request<pb::MarkInvitationAttendedRequest>,
    ) -> Result<pb::Invitation, ApiError> {
        let context = CallContext::of(&request)?;
        context.caller()?.require_role(ORGANISER)?;
        let (contest_id, id) =
            resource::parse_child_name(&request.get_ref().name, "contests", "invitations", "name")?;
        let moved = self
            .store
            .move_invitation(context, &contest_id, &id, InvitationState::Attended)
            .await?;
        Ok(invitation_pb(&moved))
    }
}

fn invitation_pb(i: &Invitation) -> pb::Invitation {
    pb::Invitation {
        name: crate::store::follow_ups::name(&i.contest_id, &i.id),
        application: format!(
            "contests/{}/applications/{}",
            i.contest_id, i.application_id
        ),
        kind: match i.kind {
            FollowUpKind::PresentationSession => pb::FollowUpKind::PresentationSession,
            FollowUpKind::Accelerator => pb::FollowUpKind::Accelerator,
        } as i32,
        title: i.title.clone(),
        start_time: i.start_time.map(convert::timestamp),
        state: match i.state {
            InvitationState::Invited => pb::InvitationState::Invited,
            InvitationState::Accepted => pb::InvitationState::Accepted,
            InvitationState::Declined => pb::InvitationState::Declined,
            InvitationState::Attended => pb::InvitationState::Attended,
        } as i32,
        create_time: Some(convert::timestamp(i.create_time)),
        update_time: Some(convert::timestamp(i.update_time)),
    }
}

#[tonic::async_trait]
impl FollowUpService for FollowUpsApi {
    async fn create_invitation(
        &self,
        request: Request<pb::CreateInvitationRequest>,
    ) -> Result<Response<pb::Invitation>, Status> {
        respond(self.create(request).await)
    }

    async fn list_invitations(
        &self,
        request: Request<pb::ListInvitationsRequest>,
    ) -> Result<Response<pb::ListInvitationsResponse>, Status> {
        respond(self.list(request).await)
    }

    async fn respond_to_invitation(
        &self,
        request: Request<pb::RespondToInvitationRequest>,
    ) -> Result<Response<pb::Invitation>, Status> {
        respond(self.respond_to(request).await)
    }

    async fn mark_invitation_attended(
        &self,
        request: Request<pb::MarkInvitationAttendedRequest>,
    ) -> Result<Response<pb::Invitation>, Status> {
        respond(self.mark_attended(request).await)
    }
}
