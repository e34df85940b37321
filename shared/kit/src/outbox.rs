//! The transactional outbox of change events and the resumable stream that serves it
//! (every service's `WatchEvents`).
//!
//! A change writes its event with [`record`] in its own transaction, so an event exists
//! exactly when its change committed: none lost, none invented.
//!
//! Serving them in order without skipping any is the subtle part. `position` (an identity)
//! is taken when the row is inserted, not when it commits, so position 7 can be visible
//! while position 6 is still in flight; a reader that passed 7 would never see 6. So rows
//! are served in the order of their transaction ID (`xid8`, assigned at a transaction's
//! first write and never reused), then position, and only rows whose transaction is older
//! than every transaction still running (`pg_snapshot_xmin`): any row that commits later
//! belongs to a transaction at or above that horizon and therefore sorts after everything
//! already served. The cursor is (xid, position). The price is latency: a long transaction
//! anywhere in the cluster holds the stream back until it ends; nothing is lost.
//!
//! A stream ([`Feed::watch`]) first sends what is recorded after the caller's cursor, then
//! waits: a Postgres notification on the schema's channel wakes it when an event commits,
//! and a short poll covers events held back behind a transaction that was still running
//! when they were written.

use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futures::Stream;
use jiff::Timestamp;
use jiff_sqlx::ToSqlx;
use sqlx::{PgConnection, PgPool, Row};
use tokio::sync::{mpsc, watch};
use tonic::{Request, Status};

use crate::error::reason;
use crate::{ApiError, CallContext};

/// Events read per query.
const BATCH: usize = 500;
/// How often an idle stream looks again without a notification.
const POLL: Duration = Duration::from_millis(500);

/// Where a consumer is in the stream: the last event it processed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Cursor {
    /// The event's transaction.
    pub xid: i64,
    /// Its position within the outbox.
    pub position: i64,
}

impl Cursor {
    /// The cursor as the API shows it.
    pub fn encode(self) -> String {
        format!("{}-{}", self.xid, self.position)
    }

    /// A cursor the API handed out; `None` when it is not one.
    pub fn decode(raw: &str) -> Option<Self> {
        let (xid, position) = raw.split_once('-')?;
        Some(Cursor {
            xid: xid.parse().ok().filter(|x| *x >= 0)?,
            position: position.parse().ok().filter(|p| *p >= 0)?,
        })
    }

    /// The request's `after_cursor`: empty for the oldest event kept, else a cursor this
    /// stream handed out (`INVALID_ARGUMENT` naming the field otherwise).
    pub fn from_request(after_cursor: &str) -> Result<Self, ApiError> {
        match after_cursor {
            "" => Ok(Cursor::default()),
            raw => Cursor::decode(raw).ok_or_else(|| {
                ApiError::invalid_field(
                    reason::INVALID_FIELDS,
                    "after_cursor",
                    "not a cursor of this stream; pass an event's cursor, or nothing to start at the oldest",
                )
            }),
        }
    }
}

/// One recorded event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Where it is in the stream.
    pub cursor: Cursor,
    /// The service's name for what happened.
    pub event_type: String,
    /// The resource it happened to.
    pub resource: String,
    /// The resource it belongs to.
    pub parent: String,
    /// The region it happened in, for services whose events carry one.
    pub region_code: Option<String>,
    /// When the change happened.
    pub time: Timestamp,
}

/// The notification channel of a schema's outbox.
fn channel(schema: &str) -> String {
    format!("{schema}_event_outbox")
}

/// Records an event in the transaction `conn` belongs to (whose search path is the
/// service's schema); it is published when, and only if, that transaction commits.
pub async fn record(
    conn: &mut PgConnection,
    event_type: &str,
    resource: &str,
    parent: &str,
    region_code: Option<&str>,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "WITH recorded AS (
             INSERT INTO event_outbox (event_type, resource, parent, region_code, event_time)
             VALUES ($1, $2, $3, $4, $5)
         )
         SELECT pg_notify(current_schema() || '_event_outbox', '')",
    )
    .bind(event_type)
    .bind(resource)
    .bind(parent)
    .bind(region_code)
    .bind(now.to_sqlx())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Up to `limit` events after `after` that are safe to serve (see the module doc), oldest
/// first, of the given types (all when empty).
pub async fn events_after(
    pool: &PgPool,
    after: Cursor,
    types: &[String],
    limit: usize,
) -> Result<Vec<Event>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT (o.xid::text)::bigint AS xid, o.position, o.event_type, o.resource, o.parent,
                o.region_code, o.event_time
         FROM event_outbox o
         WHERE (o.xid, o.position) > (($1::bigint)::text::xid8, $2)
           AND o.xid < pg_snapshot_xmin(pg_current_snapshot())
           AND (cardinality($3::text[]) = 0 OR o.event_type = ANY($3))
         ORDER BY o.xid, o.position
         LIMIT $4",
    )
    .bind(after.xid)
    .bind(after.position)
    .bind(types)
    .bind(limit as i64)
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|row| {
            let time: jiff_sqlx::Timestamp = row.try_get("event_time")?;
            Ok(Event {
                cursor: Cursor {
                    xid: row.try_get("xid")?,
                    position: row.try_get("position")?,
                },
                event_type: row.try_get("event_type")?,
                resource: row.try_get("resource")?,
                parent: row.try_get("parent")?,
                region_code: row.try_get("region_code")?,
                time: time.to_jiff(),
            })
        })
        .collect()
}

/// A service's event types: the name each is stored under (what [`record`] writes) and its
/// value in the service's wire enum `EventType` (whose zero is `UNSPECIFIED`). One table per
/// service, so the stored names and the contract's values cannot drift apart.
#[derive(Debug, Clone, Copy)]
pub struct EventTypes(pub &'static [(&'static str, i32)]);

impl EventTypes {
    /// The wire value of a stored name; unspecified (0) for one this build does not know.
    pub fn wire(&self, stored: &str) -> i32 {
        self.0
            .iter()
            .find(|(name, _)| *name == stored)
            .map_or(0, |(_, wire)| *wire)
    }

    /// The stored names of the requested wire values (none requested: every type), or
    /// `INVALID_FIELDS` naming each value that is not one of the service's types.
    pub fn requested(&self, types: &[i32]) -> Result<Vec<String>, ApiError> {
        let mut names = Vec::with_capacity(types.len());
        let mut problems = crate::error::FieldProblems::new();
        for (i, raw) in types.iter().enumerate() {
            match self.0.iter().find(|(_, wire)| wire == raw) {
                Some((name, _)) => names.push((*name).to_string()),
                None => problems.add(format!("types[{i}]"), format!("{raw} is not an event type")),
            }
        }
        problems.finish()?;
        Ok(names)
    }
}

/// A service's event streams: one listener for the schema's notifications, started with
/// the first stream, shared by all.
#[derive(Debug, Clone)]
pub struct Feed {
    pool: PgPool,
    schema: &'static str,
    /// Counts outbox notifications.
    commits: Arc<OnceLock<watch::Receiver<u64>>>,
}

/// A stream of events as a service's messages.
pub type EventStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

impl Feed {
    /// The feed of the outbox in `schema` (the service's own, which `pool` reaches).
    pub fn new(pool: PgPool, schema: &'static str) -> Self {
        Feed {
            pool,
            schema,
            commits: Arc::new(OnceLock::new()),
        }
    }

    /// The notification counter, listening from the first call on.
    fn commits(&self) -> watch::Receiver<u64> {
        self.commits
            .get_or_init(|| {
                let (sender, receiver) = watch::channel(0);
                tokio::spawn(listen(self.pool.clone(), channel(self.schema), sender));
                receiver
            })
            .clone()
    }

    /// Serves a service's `WatchEvents`: the caller must hold `role`; the stream starts
    /// after `after_cursor` (empty: from the beginning) with the requested `types` of the
    /// service's `table` (none: all), each event turned into the service's message by
    /// `message`.
    pub fn serve<B, T, F>(
        &self,
        request: &Request<B>,
        role: &str,
        after_cursor: &str,
        types: &[i32],
        table: EventTypes,
        message: F,
    ) -> Result<EventStream<T>, Status>
    where
        T: Send + 'static,
        F: Fn(&Event) -> T + Send + 'static,
    {
        let start = CallContext::of(request)
            .and_then(|context| context.caller()?.require_role(role))
            .and_then(|()| Ok((Cursor::from_request(after_cursor)?, table.requested(types)?)));
        let (after, names) = start.map_err(Status::from)?;
        Ok(self.watch(after, names, message))
    }

    /// The events after `after` of `types` (all when empty), each turned into the
    /// service's message by `message`, until the caller goes away (or its deadline ends
    /// the call).
    pub fn watch<T, F>(&self, after: Cursor, types: Vec<String>, message: F) -> EventStream<T>
    where
        T: Send + 'static,
        F: Fn(&Event) -> T + Send + 'static,
    {
        let (sender, receiver) = mpsc::channel(BATCH);
        tokio::spawn(pump(
            self.pool.clone(),
            self.commits(),
            after,
            types,
            message,
            sender,
        ));
        Box::pin(tokio_stream_of(receiver))
    }
}

/// A receiver as a stream.
fn tokio_stream_of<T: Send + 'static>(
    mut receiver: mpsc::Receiver<T>,
) -> impl Stream<Item = T> + Send + 'static {
    futures::stream::poll_fn(move |cx| receiver.poll_recv(cx))
}

/// Counts the channel's notifications into `sender`; reconnects after a failure. Missing
/// a notification only delays a stream until its next poll.
async fn listen(pool: PgPool, channel: String, sender: watch::Sender<u64>) {
    loop {
        let listener = async {
            let mut listener = sqlx::postgres::PgListener::connect_with(&pool).await?;
            listener.listen(&channel).await?;
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

/// Sends events after `cursor` into `out` until the client goes away.
async fn pump<T, F>(
    pool: PgPool,
    mut commits: watch::Receiver<u64>,
    mut cursor: Cursor,
    types: Vec<String>,
    message: F,
    out: mpsc::Sender<Result<T, Status>>,
) where
    F: Fn(&Event) -> T,
{
    loop {
        commits.borrow_and_update();
        let events = match events_after(&pool, cursor, &types, BATCH).await {
            Ok(events) => events,
            Err(e) => {
                let _ = out.send(Err(Status::from(ApiError::from(e)))).await;
                return;
            }
        };
        for event in &events {
            if out.send(Ok(message(event))).await.is_err() {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_anything_else() {
        let cursor = Cursor {
            xid: 812,
            position: 5,
        };
        assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
        for bad in ["", "5", "a-b", "-1-2", "3-"] {
            assert_eq!(Cursor::decode(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn event_types_map_stored_names_and_wire_values_both_ways() {
        let table = EventTypes(&[("PAIR_ACTIVATED", 1), ("CONSENT_REVOKED", 2)]);
        assert_eq!(table.wire("CONSENT_REVOKED"), 2);
        assert_eq!(
            table.wire("SOMETHING_NEWER"),
            0,
            "unknown names are unspecified"
        );
        assert_eq!(
            table.requested(&[2, 1]).ok(),
            Some(vec![
                "CONSENT_REVOKED".to_string(),
                "PAIR_ACTIVATED".to_string()
            ])
        );
        assert_eq!(
            table.requested(&[]).ok(),
            Some(vec![]),
            "none requested: all"
        );
        let refused = table
            .requested(&[1, 0, 9])
            .expect_err("0 and 9 are not types");
        let fields: Vec<&str> = refused.fields().iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["types[1]", "types[2]"]);
    }

    #[test]
    fn a_request_without_a_cursor_starts_at_the_oldest() {
        assert_eq!(Cursor::from_request("").ok(), Some(Cursor::default()));
        assert!(Cursor::from_request("garbage").is_err());
    }
}
