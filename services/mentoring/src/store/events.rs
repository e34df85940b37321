//! The events this service publishes on the suite's resumable stream, recorded in the
//! transaction of the change through the kit's outbox ([`edu_kit::outbox`]).

use jiff::Timestamp;
use sqlx::PgConnection;

use edu_kit::ApiError;

use super::institution_name;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// A pair or group became ACTIVE (also when resumed).
    PairActivated,
    /// A consent was revoked.
    ConsentRevoked,
    /// A pair or group was completed.
    PairCompleted,
    /// A monitoring round was submitted.
    MonitoringSubmitted,
}

impl EventKind {
    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            EventKind::PairActivated => "PAIR_ACTIVATED",
            EventKind::ConsentRevoked => "CONSENT_REVOKED",
            EventKind::PairCompleted => "PAIR_COMPLETED",
            EventKind::MonitoringSubmitted => "MONITORING_SUBMITTED",
        }
    }
}

/// Records `kind` about `resource` of `institution` in `region`, published when the
/// transaction commits. The resource is a name with random IDs, never a person's data.
pub async fn record(
    conn: &mut PgConnection,
    kind: EventKind,
    resource: &str,
    institution: &str,
    region: &str,
    now: Timestamp,
) -> Result<(), ApiError> {
    edu_kit::outbox::record(
        conn,
        kind.as_str(),
        resource,
        &institution_name(institution),
        Some(region),
        now,
    )
    .await?;
    Ok(())
}
