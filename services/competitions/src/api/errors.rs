//! The one mapping from the programme's refusals to gRPC: code, stable reason, metadata.

use edu_kit::ApiError;
use edu_kit::error::{ErrorKind, FieldProblem};

use crate::domain::CompetitionError;

/// Reasons this service gives, beyond the kit's.
pub mod reason {
    /// The application deadline has passed in the contest's time zone.
    pub const DEADLINE_PASSED: &str = "DEADLINE_PASSED";
    /// The contest cannot close before its deadline.
    pub const DEADLINE_NOT_PASSED: &str = "DEADLINE_NOT_PASSED";
    /// The contest is not OPEN.
    pub const CONTEST_NOT_OPEN: &str = "CONTEST_NOT_OPEN";
    /// Only a DRAFT contest may change this.
    pub const CONTEST_NOT_DRAFT: &str = "CONTEST_NOT_DRAFT";
    /// The contest is announced or cancelled.
    pub const CONTEST_FINAL: &str = "CONTEST_FINAL";
    /// The contest needs a nomination to open.
    pub const CONTEST_HAS_NO_NOMINATIONS: &str = "CONTEST_HAS_NO_NOMINATIONS";
    /// The team's level may not apply to this contest.
    pub const TEAM_LEVEL_NOT_ELIGIBLE: &str = "TEAM_LEVEL_NOT_ELIGIBLE";
    /// The team has used its applications in this nomination.
    pub const APPLICATION_LIMIT_REACHED: &str = "APPLICATION_LIMIT_REACHED";
    /// The application is submitted or withdrawn.
    pub const APPLICATION_FROZEN: &str = "APPLICATION_FROZEN";
    /// A team keeps at least one lead.
    pub const LAST_TEAM_LEAD: &str = "LAST_TEAM_LEAD";
    /// The caller's scopes do not cover the team's region or municipality.
    pub const SCOPE_REQUIRED: &str = "SCOPE_REQUIRED";
    /// Only members of the team may act for it.
    pub const NOT_TEAM_MEMBER: &str = "NOT_TEAM_MEMBER";
    /// Only a lead of the team may do this.
    pub const TEAM_LEAD_REQUIRED: &str = "TEAM_LEAD_REQUIRED";
    /// Rule 5: the expert is from the team's region or a member of the team.
    pub const CONFLICT_OF_INTEREST: &str = "CONFLICT_OF_INTEREST";
}

impl From<CompetitionError> for ApiError {
    fn from(error: CompetitionError) -> Self {
        let message = error.to_string();
        let precondition =
            |reason| ApiError::new(ErrorKind::FailedPrecondition, reason, message.clone());
        match error {
            CompetitionError::InvalidFields(problems) => ApiError::invalid_fields(
                problems
                    .into_iter()
                    .map(|p| FieldProblem {
                        field: p.field,
                        description: p.message,
                    })
                    .collect(),
            ),
            CompetitionError::DeadlinePassed { closes_at } => precondition(reason::DEADLINE_PASSED)
                .with_metadata("closes_at", closes_at.to_string()),
            CompetitionError::DeadlineNotPassed { closes_at } => {
                precondition(reason::DEADLINE_NOT_PASSED)
                    .with_metadata("closes_at", closes_at.to_string())
            }
            CompetitionError::ContestNotOpen { state } => {
                precondition(reason::CONTEST_NOT_OPEN).with_metadata("state", state.as_str())
            }
            CompetitionError::ContestNotDraft { state, field } => {
                precondition(reason::CONTEST_NOT_DRAFT)
                    .with_metadata("state", state.as_str())
                    .with_metadata("field", field)
            }
            CompetitionError::ContestFinal { state } => {
                precondition(reason::CONTEST_FINAL).with_metadata("state", state.as_str())
            }
            CompetitionError::NoNominations => precondition(reason::CONTEST_HAS_NO_NOMINATIONS),
            CompetitionError::TeamLevelNotEligible { level } => {
                precondition(reason::TEAM_LEVEL_NOT_ELIGIBLE).with_metadata("level", level.as_str())
            }
            CompetitionError::ApplicationLimitReached { limit } => {
                precondition(reason::APPLICATION_LIMIT_REACHED)
                    .with_metadata("limit", limit.to_string())
            }
            CompetitionError::ApplicationFrozen { state } => {
                precondition(reason::APPLICATION_FROZEN).with_metadata("state", state.as_str())
            }
            CompetitionError::LastTeamLead => precondition(reason::LAST_TEAM_LEAD),
            CompetitionError::ConflictOfInterest { conflict } => {
                precondition(reason::CONFLICT_OF_INTEREST)
                    .with_metadata("conflict", conflict.as_str())
            }
        }
    }
}
