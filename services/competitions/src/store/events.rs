//! The transactional outbox of change events (`WatchEvents`).
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

use jiff::Timestamp;
use jiff_sqlx::ToSqlx;
use sqlx::PgConnection;

use edu_kit::ApiError;

use super::{Store, corrupt};

/// The channel a committed event is announced on, so that waiting streams wake at once.
pub const NOTIFY_CHANNEL: &str = "competitions_outbox";

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// A team submitted an application.
    ApplicationSubmitted,
    /// An expert completed a review.
    ReviewCompleted,
    /// A contest's winners were announced.
    WinnersAnnounced,
}

impl EventKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::ApplicationSubmitted => "APPLICATION_SUBMITTED",
            EventKind::ReviewCompleted => "REVIEW_COMPLETED",
            EventKind::WinnersAnnounced => "WINNERS_ANNOUNCED",
        }
    }

    fn parse(raw: &str) -> Option<Self> {
        [
            EventKind::ApplicationSubmitted,
            EventKind::ReviewCompleted,
            EventKind::WinnersAnnounced,
        ]
        .into_iter()
        .find(|k| k.as_str() == raw)
    }
}

/// Where a consumer is in the stream: the last event it processed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct EventCursor {
    /// The event's transaction.
    pub xid: i64,
    /// Its position within the outbox.
    pub position: i64,
}

impl EventCursor {
    /// The cursor as the API shows it.
    pub fn encode(self) -> String {
        format!("{}-{}", self.xid, self.position)
    }

    /// A cursor the API handed out; `None` when it is not one.
    pub fn decode(raw: &str) -> Option<Self> {
        let (xid, position) = raw.split_once('-')?;
        Some(EventCursor {
            xid: xid.parse().ok().filter(|x| *x >= 0)?,
            position: position.parse().ok().filter(|p| *p >= 0)?,
        })
    }
}

/// One event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Where it is in the stream.
    pub cursor: EventCursor,
    /// What happened.
    pub kind: EventKind,
    /// The resource it happened to.
    pub resource: String,
    /// The contest's ID.
    pub contest_id: String,
    /// When the change happened.
    pub time: Timestamp,
}

/// Records an event in the transaction `conn` belongs to; it is published when, and only
/// if, that transaction commits.
pub(crate) async fn record(
    conn: &mut PgConnection,
    kind: EventKind,
    resource: &str,
    contest_id: &str,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO competitions.outbox (event_type, resource, contest_id, event_time)
         VALUES ($1, $2, $3, $4)",
        kind.as_str(),
        resource,
        contest_id,
        now.to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!("SELECT pg_notify($1, '')", NOTIFY_CHANNEL)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

struct EventRow {
    xid: i64,
    position: i64,
    event_type: String,
    resource: String,
    contest_id: String,
    event_time: jiff_sqlx::Timestamp,
}

impl Store {
    /// Up to `limit` events after `after` that are safe to serve (see the module doc),
    /// oldest first, of the given kinds (all when empty).
    pub async fn events_after(
        &self,
        after: EventCursor,
        kinds: &[EventKind],
        limit: usize,
    ) -> Result<Vec<Event>, ApiError> {
        let kinds: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
        let rows = sqlx::query_as!(
            EventRow,
            r#"SELECT (o.xid::text)::bigint AS "xid!", o.position, o.event_type, o.resource,
                      o.contest_id, o.event_time
               FROM competitions.outbox o
               WHERE (o.xid, o.position) > (($1::bigint)::text::xid8, $2)
                 AND o.xid < pg_snapshot_xmin(pg_current_snapshot())
                 AND (cardinality($3::text[]) = 0 OR o.event_type = ANY($3))
               ORDER BY o.xid, o.position
               LIMIT $4"#,
            after.xid,
            after.position,
            &kinds as &[&str],
            limit as i64,
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                Ok(Event {
                    cursor: EventCursor {
                        xid: row.xid,
                        position: row.position,
                    },
                    kind: EventKind::parse(&row.event_type)
                        .ok_or_else(|| corrupt("event type", &row.event_type))?,
                    resource: row.resource,
                    contest_id: row.contest_id,
                    time: row.event_time.to_jiff(),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_anything_else() {
        let cursor = EventCursor {
            xid: 812,
            position: 5,
        };
        assert_eq!(EventCursor::decode(&cursor.encode()), Some(cursor));
        for bad in ["", "5", "a-b", "-1-2", "3-"] {
            assert_eq!(EventCursor::decode(bad), None, "{bad:?}");
        }
    }
}
