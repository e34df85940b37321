//! The one mapping from the campaign's refusals to gRPC: code, stable reason, metadata, and
//! the Russian text with this case's particulars (instants in the campaign's zone). Texts
//! and metadata never hold a child's name or IIN. Modules with refusals of their own keep
//! their reasons beside their handlers (for example `children`, `donations`).

use edu_kit::ApiError;
use edu_kit::error::ErrorKind;

use crate::domain::AidError;

/// Reasons shared by the service's modules, beyond the kit's.
pub mod reason {
    use edu_kit::error::Reason;

    /// Acting for another region or school.
    pub const SCOPE_REQUIRED: Reason = Reason::new(
        "SCOPE_REQUIRED",
        "Вы можете действовать только в своём регионе или от имени своей школы.",
    );
    /// A campaign's dates after it started.
    pub const CAMPAIGN_STARTED: Reason = Reason::new(
        "CAMPAIGN_STARTED",
        "Акция уже началась; её сроки и часовой пояс больше не меняются.",
    );
    /// Something new after the campaign's end.
    pub const CAMPAIGN_ENDED: Reason = Reason::new("CAMPAIGN_ENDED", "Акция завершилась.");
    /// A region the campaign does not take part in.
    pub const REGION_NOT_IN_CAMPAIGN: Reason = Reason::new(
        "REGION_NOT_IN_CAMPAIGN",
        "Этот регион не участвует в акции.",
    );
    /// A record merged into another: read-only; work with the surviving record.
    pub const CHILD_MERGED: Reason = Reason::new(
        "CHILD_MERGED",
        "Запись о ребёнке объединена с другой и больше не меняется; работайте с сохранённой записью.",
    );
    /// A removed record.
    pub const CHILD_REMOVED: Reason =
        Reason::new("CHILD_REMOVED", "Запись о ребёнке удалена из банка данных.");
    /// A date outside the days it may fall on (metadata `earliest`, `latest`).
    pub const DATE_OUT_OF_RANGE: Reason = Reason::new(
        "DATE_OUT_OF_RANGE",
        "Дата выходит за допустимые сроки акции.",
    );
    /// Removing a region with records.
    pub const REGION_IN_USE: Reason = Reason::new(
        "REGION_IN_USE",
        "В этом регионе уже есть записи акции; исключить его нельзя.",
    );
}

impl From<AidError> for ApiError {
    fn from(error: AidError) -> Self {
        let message = error.to_string();
        let precondition =
            |reason| ApiError::new(ErrorKind::FailedPrecondition, reason, message.clone());
        match error {
            AidError::CampaignStarted { field, started } => precondition(reason::CAMPAIGN_STARTED)
                .with_metadata("field", field)
                .with_metadata("started_at", started.to_string()),
            AidError::CampaignEnded { ended } => {
                precondition(reason::CAMPAIGN_ENDED).with_metadata("ended_at", ended.to_string())
            }
            AidError::RegionNotInCampaign { region } => {
                precondition(reason::REGION_NOT_IN_CAMPAIGN).with_metadata("region_code", region)
            }
            AidError::RegionInUse { region } => {
                precondition(reason::REGION_IN_USE).with_metadata("region_code", region)
            }
            AidError::TransitionNotAllowed { from, to } => {
                ApiError::transition_not_allowed(from, to)
            }
        }
    }
}
