//! The events this service publishes on the suite's resumable stream, recorded in the
//! transaction of the change through the kit's outbox ([`edu_kit::outbox`]).

use jiff::Timestamp;
use sqlx::PgConnection;

use edu_kit::ApiError;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// A contract was signed.
    ContractSigned,
    /// A group of four formed.
    GroupFormed,
    /// The ministry approved a group.
    GroupApproved,
    /// A host filed the annex of its mobility.
    AnnexFiled,
}

impl EventKind {
    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            EventKind::ContractSigned => "CONTRACT_SIGNED",
            EventKind::GroupFormed => "GROUP_FORMED",
            EventKind::GroupApproved => "GROUP_APPROVED",
            EventKind::AnnexFiled => "ANNEX_FILED",
        }
    }
}

/// Records `kind` about `resource` of year `year`, published when the transaction commits.
pub async fn record(
    conn: &mut PgConnection,
    kind: EventKind,
    resource: &str,
    year: &str,
    now: Timestamp,
) -> Result<(), ApiError> {
    edu_kit::outbox::record(
        conn,
        kind.as_str(),
        resource,
        &format!("years/{year}"),
        None,
        now,
    )
    .await?;
    Ok(())
}
