//! The events this service publishes on the suite's resumable stream, recorded in the
//! transaction of the change through the kit's outbox ([`edu_kit::outbox`]).

use jiff::Timestamp;
use sqlx::PgConnection;

use edu_kit::ApiError;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// A child was listed in the data bank.
    ChildListed,
    /// Help was delivered against a need.
    HelpDelivered,
    /// A pledged donation was received.
    DonationReceived,
    /// An appeal was answered.
    AppealAnswered,
}

impl EventKind {
    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            EventKind::ChildListed => "CHILD_LISTED",
            EventKind::HelpDelivered => "HELP_DELIVERED",
            EventKind::DonationReceived => "DONATION_RECEIVED",
            EventKind::AppealAnswered => "APPEAL_ANSWERED",
        }
    }
}

/// Records `kind` about `resource` of campaign `campaign` in `region`, published when the
/// transaction commits. The resource is a name, never a child's personal data.
pub async fn record(
    conn: &mut PgConnection,
    kind: EventKind,
    resource: &str,
    campaign: &str,
    region: &str,
    now: Timestamp,
) -> Result<(), ApiError> {
    edu_kit::outbox::record(
        conn,
        kind.as_str(),
        resource,
        &format!("campaigns/{campaign}"),
        Some(region),
        now,
    )
    .await?;
    Ok(())
}
