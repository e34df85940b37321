//! `EventService`: the change-event stream, served by the kit's outbox feed
//! ([`edu_kit::outbox`] explains the ordering and the waiting).

use edu_kit::error::reason as kit_reason;
use edu_kit::outbox::{Cursor, Event, EventStream, Feed};
use edu_kit::{ApiError, CallContext};
use edu_proto::edu::aid::v1 as pb;
use edu_proto::edu::aid::v1::event_service_server::EventService;
use tonic::{Request, Response, Status};

use super::access::EVENT_CONSUMER;
use super::convert;
use crate::store::Store;
use crate::store::events::EventKind;

/// The event service.
#[derive(Debug, Clone)]
pub struct EventsApi {
    feed: Feed,
}

impl EventsApi {
    /// The service on `store`.
    pub fn new(store: Store) -> Self {
        EventsApi {
            feed: Feed::new(store.pool().clone(), crate::SERVICE_NAME),
        }
    }
}

fn wire(kind: EventKind) -> pb::EventType {
    match kind {
        EventKind::ChildListed => pb::EventType::ChildListed,
        EventKind::HelpDelivered => pb::EventType::HelpDelivered,
        EventKind::DonationReceived => pb::EventType::DonationReceived,
        EventKind::AppealAnswered => pb::EventType::AppealAnswered,
    }
}

fn event_pb(e: &Event) -> pb::WatchEventsResponse {
    pb::WatchEventsResponse {
        cursor: e.cursor.encode(),
        r#type: EventKind::parse(&e.event_type)
            .map(wire)
            .unwrap_or(pb::EventType::Unspecified) as i32,
        resource: e.resource.clone(),
        event_time: Some(convert::timestamp(e.time)),
        campaign: e.parent.clone(),
        region_code: e.region_code.clone().unwrap_or_default(),
    }
}

fn parse(body: &pb::WatchEventsRequest) -> Result<(Cursor, Vec<String>), ApiError> {
    let cursor = Cursor::from_request(&body.after_cursor)?;
    let kinds = body
        .types
        .iter()
        .enumerate()
        .map(|(i, raw)| {
            EventKind::ALL
                .into_iter()
                .find(|k| wire(*k) as i32 == *raw)
                .map(|k| k.as_str().to_string())
                .ok_or_else(|| {
                    ApiError::invalid_field(
                        kit_reason::INVALID_FIELDS,
                        format!("types[{i}]"),
                        format!("{raw} is not an event type"),
                    )
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((cursor, kinds))
}

#[tonic::async_trait]
impl EventService for EventsApi {
    type WatchEventsStream = EventStream<pb::WatchEventsResponse>;

    async fn watch_events(
        &self,
        request: Request<pb::WatchEventsRequest>,
    ) -> Result<Response<Self::WatchEventsStream>, Status> {
        let start = CallContext::of(&request)
            .and_then(|context| context.caller()?.require_role(EVENT_CONSUMER))
            .and_then(|()| parse(request.get_ref()));
        let (cursor, kinds) = start.map_err(Status::from)?;
        Ok(Response::new(self.feed.watch(cursor, kinds, event_pb)))
    }
}
