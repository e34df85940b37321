//! `EventService`: the change-event stream (issue point 11: pair activated, consent revoked,
//! pair completed, monitoring submitted), served by the kit's outbox feed
//! ([`edu_kit::outbox`] explains the ordering and the waiting). An event names resources with
//! random IDs, the institution and its region; never a person.

use edu_kit::outbox::{Event, EventStream, EventTypes, Feed};
use edu_kit::wire;
use edu_proto::edu::mentoring::v1 as pb;
use edu_proto::edu::mentoring::v1::event_service_server::EventService;
use tonic::{Request, Response, Status};

use super::access::EVENT_CONSUMER;
use crate::store::Store;
use crate::store::events::EventKind;

/// The event types this service publishes, as stored and on the wire.
const TYPES: EventTypes = EventTypes(&[
    (
        EventKind::PairActivated.as_str(),
        pb::EventType::PairActivated as i32,
    ),
    (
        EventKind::ConsentRevoked.as_str(),
        pb::EventType::ConsentRevoked as i32,
    ),
    (
        EventKind::PairCompleted.as_str(),
        pb::EventType::PairCompleted as i32,
    ),
    (
        EventKind::MonitoringSubmitted.as_str(),
        pb::EventType::MonitoringSubmitted as i32,
    ),
]);

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

fn event_pb(e: &Event) -> pb::WatchEventsResponse {
    pb::WatchEventsResponse {
        cursor: e.cursor.encode(),
        r#type: TYPES.wire(&e.event_type),
        resource: e.resource.clone(),
        event_time: Some(wire::timestamp(e.time)),
        institution: e.parent.clone(),
        region_code: e.region_code.clone().unwrap_or_default(),
    }
}

#[tonic::async_trait]
impl EventService for EventsApi {
    type WatchEventsStream = EventStream<pb::WatchEventsResponse>;

    async fn watch_events(
        &self,
        request: Request<pb::WatchEventsRequest>,
    ) -> Result<Response<Self::WatchEventsStream>, Status> {
        let body = request.get_ref();
        let stream = self.feed.serve(
            &request,
            EVENT_CONSUMER,
            &body.after_cursor,
            &body.types,
            TYPES,
            event_pb,
        )?;
        Ok(Response::new(stream))
    }
}
