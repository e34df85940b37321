//! The change events of competitions (`WatchEvents`), recorded in the kit's transactional
//! outbox ([`edu_kit::outbox`] explains the ordering and the stream).

use jiff::Timestamp;
use sqlx::PgConnection;

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
    pub const fn as_str(self) -> &'static str {
        match self {
            EventKind::ApplicationSubmitted => "APPLICATION_SUBMITTED",
            EventKind::ReviewCompleted => "REVIEW_COMPLETED",
            EventKind::WinnersAnnounced => "WINNERS_ANNOUNCED",
        }
    }
}

/// Records an event about `resource` of contest `contest_id` in the transaction `conn`
/// belongs to; it is published when, and only if, that transaction commits.
pub(crate) async fn record(
    conn: &mut PgConnection,
    kind: EventKind,
    resource: &str,
    contest_id: &str,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    edu_kit::outbox::record(
        conn,
        kind.as_str(),
        resource,
        &format!("contests/{contest_id}"),
        None,
        now,
    )
    .await
}
