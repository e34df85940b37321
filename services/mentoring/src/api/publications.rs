//! `PublicationService` (`publication.proto`): the media plan of the programme's information
//! support (rule 12; §1.3, §3.7). A press release is due in D−5 … D−3 of its event, a
//! post-release in D … D+1; lateness is flagged (`late`, OVERDUE), never refused. Publishing
//! needs every featured participant's consents to PERSONAL_DATA and PUBLICATION in force;
//! a later revocation flags the publication `consent_withdrawn`, and its featured people
//! come redacted as the store shows them.
//!
//! Who may call: the director and the appointed curator of the institution, nobody else.
//! Any other role is refused with `ROLE_REQUIRED` whatever the institution (the answer does
//! not depend on what exists); a director or curator outside the institution finds nothing
//! (`NOT_FOUND`); a curator token of someone not appointed gets `CURATOR_NOT_APPOINTED`.

use edu_kit::error::FieldProblems;
use edu_kit::idempotency::IdempotencyKey;
use edu_kit::paging::PageRequest;
use edu_kit::{ApiError, CallContext, etag, wire};
use edu_proto::edu::mentoring::v1 as pb;
use edu_proto::edu::mentoring::v1::publication_service_server::PublicationService;
use tonic::{Request, Response, Status};

use super::access::{self, CURATOR, DIRECTOR, Viewer};
use super::convert::{self, checked};
use super::{names, once, respond};
use crate::domain::publication::{
    MAX_FEATURED, PublicationKind, PublicationState, PublicationTiming,
};
use crate::store::Store;
use crate::store::publications::{self, Publication, PublicationDraft, PublicationFilter};

/// Every kind with its wire value.
const KINDS: [(PublicationKind, pb::PublicationKind); 7] = [
    (
        PublicationKind::PressRelease,
        pb::PublicationKind::PressRelease,
    ),
    (
        PublicationKind::PostRelease,
        pb::PublicationKind::PostRelease,
    ),
    (PublicationKind::Digest, pb::PublicationKind::Digest),
    (PublicationKind::PhotoAlbum, pb::PublicationKind::PhotoAlbum),
    (PublicationKind::Playlist, pb::PublicationKind::Playlist),
    (PublicationKind::Longread, pb::PublicationKind::Longread),
    (PublicationKind::Other, pb::PublicationKind::Other),
];

/// Every state with its wire value.
const STATES: [(PublicationState, pb::PublicationState); 3] = [
    (PublicationState::Planned, pb::PublicationState::Planned),
    (PublicationState::Published, pb::PublicationState::Published),
    (PublicationState::Cancelled, pb::PublicationState::Cancelled),
];

/// Every channel with its stored name.
const CHANNELS: [(&str, pb::PublicationChannel); 3] = [
    ("WEBSITE", pb::PublicationChannel::Website),
    ("VK", pb::PublicationChannel::Vk),
    ("EXTERNAL", pb::PublicationChannel::External),
];

/// The publication service.
#[derive(Debug, Clone)]
pub struct PublicationsApi {
    store: Store,
}

impl PublicationsApi {
    /// The service on `store`.
    pub fn new(store: Store) -> Self {
        PublicationsApi { store }
    }

    /// The caller as the director or appointed curator of `institution`.
    async fn staff(&self, context: &CallContext, institution: &str) -> Result<Viewer, ApiError> {
        // Only these two roles ever act here, so any other is refused before the
        // institution is looked at: the refusal says nothing about what exists.
        access::require_one_of(
            context.caller()?,
            &[DIRECTOR, CURATOR],
            &format!(
                "only the director ({DIRECTOR}) or the appointed curator ({CURATOR}) keeps the \
                 media plan"
            ),
        )?;
        let viewer = Viewer::of(&self.store, context, institution).await?;
        viewer.require_staff()?;
        Ok(viewer)
    }

    async fn create(
        &self,
        request: Request<pb::CreatePublicationRequest>,
    ) -> Result<pb::Publication, ApiError> {
        let context = CallContext::of(&request)?;
        let body = request.get_ref();
        let institution = names::institution(&body.parent, "parent")?;
        self.staff(context, &institution).await?;
        let given = body.publication.clone().unwrap_or_default();
        let mut problems = FieldProblems::new();
        let kind = problems.field(convert::required(
            given.kind,
            "publication.kind",
            "a publication kind",
            &KINDS,
        ));
        let needs_event = kind.is_some_and(PublicationKind::needs_event);
        let title = problems.text("publication.title", &given.title, 300, true);
        let event_title = problems.text(
            "publication.event_title",
            &given.event_title,
            300,
            needs_event,
        );
        let event_date = match &given.event_date {
            Some(d) => problems.field(wire::civil_date(Some(d), "publication.event_date")),
            None => {
                if needs_event {
                    problems.add(
                        "publication.event_date",
                        "required: a press or post-release covers an event on a day",
                    );
                }
                None
            }
        };
        let mut channels: Vec<String> = vec![];
        if given.channels.is_empty() {
            problems.add("publication.channels", "required: one or more");
        }
        for raw in &given.channels {
            let Some(channel) = problems.field(convert::required(
                *raw,
                "publication.channels",
                "a channel",
                &CHANNELS,
            )) else {
                continue;
            };
            if channels.iter().any(|c| c == channel) {
                problems.add("publication.channels", format!("{channel} given twice"));
            } else {
                channels.push(channel.to_string());
            }
        }
        let mut featured: Vec<String> = vec![];
        if given.featured_participants.len() > MAX_FEATURED {
            problems.add(
                "publication.featured_participants",
                format!("at most {MAX_FEATURED}"),
            );
        } else {
            for name in &given.featured_participants {
                let Some(id) = problems.field(names::participant_of(
                    &institution,
                    name,
                    "publication.featured_participants",
                )) else {
                    continue;
                };
                if featured.contains(&id) {
                    problems.add(
                        "publication.featured_participants",
                        "a participant given twice",
                    );
                } else {
                    featured.push(id);
                }
            }
        }
        problems.finish()?;
        let kind = checked(kind, "publication.kind")?;
        let draft = PublicationDraft {
            id: String::new(),
            kind,
            title,
            event_title,
            event_date,
            channels,
            featured,
        };
        let key =
            IdempotencyKey::for_request(context, "CreatePublication", &body.request_id, body)?;
        let created = once(&self.store, key.as_ref(), context.now(), async |conn| {
            Ok(publication_message(
                &publications::create(conn, context, &institution, &draft).await?,
            ))
        })
        .await?;
        Ok(created)
    }

    async fn list(
        &self,
        request: Request<pb::ListPublicationsRequest>,
    ) -> Result<pb::ListPublicationsResponse, ApiError> {
        let context = CallContext::of(&request)?;
        let body = request.get_ref();
        let institution = names::institution(&body.parent, "parent")?;
        let viewer = self.staff(context, &institution).await?;
        let filter = PublicationFilter {
            kind: convert::optional(body.kind, "kind", "a publication kind", &KINDS)?,
            state: convert::optional(body.state, "state", "a publication state", &STATES)?,
            late_only: body.late_only,
            consent_withdrawn_only: body.consent_withdrawn_only,
        };
        let paging = PageRequest::<String>::parse(
            body.page_size,
            &body.page_token,
            &[
                "ListPublications",
                &body.parent,
                &body.kind.to_string(),
                &body.state.to_string(),
                &body.late_only.to_string(),
                &body.consent_withdrawn_only.to_string(),
            ],
        )?;
        let mut conn = self.store.read().await?;
        let page = publications::list_page(
            &mut conn,
            &viewer.setting,
            &filter,
            context.now(),
            paging.size,
            paging.after.clone(),
        )
        .await?;
        conn.finish();
        Ok(pb::ListPublicationsResponse {
            publications: page.items.iter().map(publication_message).collect(),
            next_page_token: paging.next_token(page.next.as_ref()),
        })
    }

    async fn publish(
        &self,
        request: Request<pb::PublishPublicationRequest>,
    ) -> Result<pb::Publication, ApiError> {
        let context = CallContext::of(&request)?;
        let body = request.get_ref();
        let (institution, id) = names::institution_child(&body.name, "publications", "name")?;
        self.staff(context, &institution).await?;
        let mut problems = FieldProblems::new();
        let uri = convert::web_uri(&mut problems, "uri", &body.uri, true);
        let now = context.now();
        let published = match &body.publish_time {
            None => now,
            Some(t) => match problems.field(wire::instant(Some(t), "publish_time")) {
                Some(at) if at > now => {
                    problems.add("publish_time", "in the future");
                    now
                }
                Some(at) => at,
                None => now,
            },
        };
        problems.finish()?;
        let key =
            IdempotencyKey::for_request(context, "PublishPublication", &body.request_id, body)?;
        let shown = once(&self.store, key.as_ref(), now, async |conn| {
            Ok(publication_message(
                &publications::publish_at(
                    conn,
                    context,
                    &institution,
                    &id,
                    &uri,
                    published,
                    &body.etag,
                )
                .await?,
            ))
        })
        .await?;
        Ok(shown)
    }

    async fn cancel(
        &self,
        request: Request<pb::CancelPublicationRequest>,
    ) -> Result<pb::Publication, ApiError> {
        let context = CallContext::of(&request)?;
        let body = request.get_ref();
        let (institution, id) = names::institution_child(&body.name, "publications", "name")?;
        self.staff(context, &institution).await?;
        let mut problems = FieldProblems::new();
        let reason = problems.text("reason", &body.reason, 2000, true);
        problems.finish()?;
        let mut tx = self.store.begin().await?;
        let cancelled =
            publications::cancel(&mut tx, context, &institution, &id, &reason, &body.etag).await?;
        tx.commit().await?;
        Ok(publication_message(&cancelled))
    }
}

/// A publication on the wire; its featured people as the store shows them (redacted when
/// their consent is revoked).
fn publication_message(publication: &Publication) -> pb::Publication {
    pb::Publication {
        name: publication.name.clone(),
        kind: convert::wire(publication.kind, &KINDS),
        title: publication.title.clone(),
        event_title: publication.event_title.clone(),
        event_date: publication.event_date.map(wire::date),
        channels: publication
            .channels
            .iter()
            .filter_map(|c| CHANNELS.iter().find(|(name, _)| *name == c.as_str()))
            .map(|(_, w)| *w as i32)
            .collect(),
        featured_participants: publication
            .featured_people
            .iter()
            .map(|p| p.participant.clone())
            .collect(),
        featured_people: publication
            .featured_people
            .iter()
            .map(convert::person)
            .collect(),
        state: convert::wire(publication.state, &STATES),
        window_start_date: publication.window.map(|(first, _)| wire::date(first)),
        due_date: publication.window.map(|(_, due)| wire::date(due)),
        due_time: publication.due_time.map(wire::timestamp),
        uri: publication.uri.clone(),
        publish_time: publication.publish_time.map(wire::timestamp),
        timing: timing(publication.timing) as i32,
        late: publication.late,
        consent_withdrawn: publication.consent_revoked,
        cancel_reason: publication.cancel_reason.clone(),
        redacted: publication.redacted,
        create_time: Some(wire::timestamp(publication.create_time)),
        update_time: Some(wire::timestamp(publication.update_time)),
        etag: etag::of(publication.version),
    }
}

/// A timing on the wire.
fn timing(timing: PublicationTiming) -> pb::PublicationTiming {
    match timing {
        PublicationTiming::NoDeadline => pb::PublicationTiming::NoDeadline,
        PublicationTiming::Pending => pb::PublicationTiming::Pending,
        PublicationTiming::Overdue => pb::PublicationTiming::Overdue,
        PublicationTiming::Early => pb::PublicationTiming::Early,
        PublicationTiming::OnTime => pb::PublicationTiming::OnTime,
        PublicationTiming::Late => pb::PublicationTiming::Late,
    }
}

#[tonic::async_trait]
impl PublicationService for PublicationsApi {
    async fn create_publication(
        &self,
        request: Request<pb::CreatePublicationRequest>,
    ) -> Result<Response<pb::Publication>, Status> {
        respond(self.create(request).await)
    }

    async fn list_publications(
        &self,
        request: Request<pb::ListPublicationsRequest>,
    ) -> Result<Response<pb::ListPublicationsResponse>, Status> {
        respond(self.list(request).await)
    }

    async fn publish_publication(
        &self,
        request: Request<pb::PublishPublicationRequest>,
    ) -> Result<Response<pb::Publication>, Status> {
        respond(self.publish(request).await)
    }

    async fn cancel_publication(
        &self,
        request: Request<pb::CancelPublicationRequest>,
    ) -> Result<Response<pb::Publication>, Status> {
        respond(self.cancel(request).await)
    }
}
