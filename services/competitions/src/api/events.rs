//! `EventService`: the change-event stream from the transactional outbox
//! ([`crate::store::events`] explains the ordering). A stream first sends what is recorded
//! after the caller's cursor, then waits: a Postgres notification wakes it when an event
//! commits, and a short poll covers events held back behind a transaction that was still
//! running when they were written.

use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use edu_kit::error::reason as kit_reason;
use edu_kit::{ApiError, CallContext};
use edu_proto::edu::competitions::v1 as pb;
use edu_proto::edu::competitions::v1::event_service_server::EventService;
use futures::Stream;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::access::EVENT_CONSUMER;
use super::convert;
use crate::store::Store;
use crate::store::events::{Event, EventCursor, EventKind, NOTIFY_CHANNEL};

/// Events read per query.
const BATCH: usize = 500;
/// How often an idle stream looks again without a notification.
const POLL: Duration = Duration::from_millis(500);

/// The event service.
#[derive(Debug, Clone)]
pub struct EventsApi {
    store: Store,
    /// Counts outbox notifications; started with the first stream.
    commits: Arc<OnceLock<watch::Receiver<u64>>>,
}

impl EventsApi {
    /// The service on `store`.
    pub fn new(store: Store) -> Self {
        EventsApi {
            store,
            commits: Arc::new(OnceLock::new()),
        }
    }

    /// The notification counter, listening from the first call on.
    fn commits(&self) -> watch::Receiver<u64> {
        self.commits
            .get_or_init(|| {
                let (sender, receiver) = watch::channel(0);
                tokio::spawn(listen(self.store.clone(), sender));
                receiver
            })
            .clone()
    }
}

/// Counts outbox notifications into `sender`; reconnects after a failure. Missing a
/// notification only delays a stream until its next poll.
async fn listen(store: Store, sender: watch::Sender<u64>) {
    loop {
        let listener = async {
            let mut listener = sqlx::postgres::PgListener::connect_with(store.pool()).await?;
            listener.listen(NOTIFY_CHANNEL).await?;
            loop {
                listener.recv().await?;
                sender.send_modify(|n| *n += 1);
            }
        };
        let result: Result<(), sqlx::Error> = listener.await;
        if sender.is_closed() {
            return;
        }
        if let Err(e) = result {
            tracing::warn!(error = %e, "outbox listener failed; streams poll until it is back");
        }
        tokio::time::sleep(POLL).await;
    }
}

fn event_pb(e: &Event) -> pb::WatchEventsResponse {
    pb::WatchEventsResponse {
        cursor: e.cursor.encode(),
        r#type: match e.kind {
            EventKind::ApplicationSubmitted => pb::EventType::ApplicationSubmitted,
            EventKind::ReviewCompleted => pb::EventType::ReviewCompleted,
            EventKind::WinnersAnnounced => pb::EventType::WinnersAnnounced,
        } as i32,
        resource: e.resource.clone(),
        event_time: Some(convert::timestamp(e.time)),
        contest: format!("contests/{}", e.contest_id),
    }
}

fn parse(body: &pb::WatchEventsRequest) -> Result<(EventCursor, Vec<EventKind>), ApiError> {
    let cursor = match body.after_cursor.as_str() {
        "" => EventCursor::default(),
        raw => EventCursor::decode(raw).ok_or_else(|| {
            ApiError::invalid_field(
                kit_reason::INVALID_FIELDS,
                "after_cursor",
                "not a cursor of this stream; pass an event's cursor, or nothing to start at the oldest",
            )
        })?,
    };
    let kinds = body
        .types
        .iter()
        .enumerate()
        .map(|(i, raw)| match pb::EventType::try_from(*raw) {
            Ok(pb::EventType::ApplicationSubmitted) => Ok(EventKind::ApplicationSubmitted),
            Ok(pb::EventType::ReviewCompleted) => Ok(EventKind::ReviewCompleted),
            Ok(pb::EventType::WinnersAnnounced) => Ok(EventKind::WinnersAnnounced),
            _ => Err(ApiError::invalid_field(
                kit_reason::INVALID_FIELDS,
                format!("types[{i}]"),
                format!("{raw} is not an event type"),
            )),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((cursor, kinds))
}

/// Sends events after `cursor` into `out` until the client goes away.
async fn pump(
    store: Store,
    mut commits: watch::Receiver<u64>,
    mut cursor: EventCursor,
    kinds: Vec<EventKind>,
    out: mpsc::Sender<Result<pb::WatchEventsResponse, Status>>,
) {
    loop {
        commits.borrow_and_update();
        let events = match store.events_after(cursor, &kinds, BATCH).await {
            Ok(events) => events,
            Err(e) => {
                let _ = out.send(Err(Status::from(e))).await;
                return;
            }
        };
        for event in &events {
            if out.send(Ok(event_pb(event))).await.is_err() {
                return;
            }
            cursor = event.cursor;
        }
        if events.len() < BATCH {
            tokio::select! {
                _ = commits.changed() => {}
                _ = tokio::time::sleep(POLL) => {}
                _ = out.closed() => return,
            }
        }
    }
}

/// The stream of WatchEvents.
type EventStream =
    Pin<Box<dyn Stream<Item = Result<pb::WatchEventsResponse, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl EventService for EventsApi {
    type WatchEventsStream = EventStream;

    async fn watch_events(
        &self,
        request: Request<pb::WatchEventsRequest>,
    ) -> Result<Response<Self::WatchEventsStream>, Status> {
        let start = CallContext::of(&request)
            .and_then(|context| context.caller()?.require_role(EVENT_CONSUMER))
            .and_then(|()| parse(request.get_ref()));
        let (cursor, kinds) = start.map_err(Status::from)?;
        let (sender, receiver) = mpsc::channel(BATCH);
        tokio::spawn(pump(
            self.store.clone(),
            self.commits(),
            cursor,
            kinds,
            sender,
        ));
        Ok(Response::new(Box::pin(ReceiverStream::new(receiver))))
    }
}
