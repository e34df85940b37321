//! What the rules refuse, as a closed set; the API gives each a gRPC code and a stable
//! reason (`crate::api::errors`). Texts never hold a child's name or IIN.

use jiff::Timestamp;

/// A refusal by a rule of the campaign.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AidError {
    /// A campaign's dates and zone are fixed once it starts.
    #[error("the campaign started at {started}; {field} no longer changes")]
    CampaignStarted {
        /// The first field of the mask that may not change.
        field: String,
        /// When it started.
        started: Timestamp,
    },
    /// Nothing new is recorded after the campaign's end.
    #[error("the campaign ended at {ended}")]
    CampaignEnded {
        /// When it ended.
        ended: Timestamp,
    },
    /// A region the campaign does not take part in.
    #[error("the campaign does not take part in {region}")]
    RegionNotInCampaign {
        /// The region.
        region: String,
    },
    /// A region with data of the campaign cannot leave it.
    #[error("{region} has records in the campaign")]
    RegionInUse {
        /// The region.
        region: String,
    },
    /// A state machine refused a step.
    #[error("{from} cannot become {to}")]
    TransitionNotAllowed {
        /// The current state.
        from: &'static str,
        /// The state asked for.
        to: &'static str,
    },
}
