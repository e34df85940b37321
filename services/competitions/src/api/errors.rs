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
    /// The contest is not CLOSED for review.
    pub const CONTEST_NOT_CLOSED: &str = "CONTEST_NOT_CLOSED";
    /// Only submitted applications are reviewed.
    pub const APPLICATION_NOT_SUBMITTED: &str = "APPLICATION_NOT_SUBMITTED";
    /// The expert does not review the application's nomination.
    pub const EXPERT_NOT_IN_NOMINATION: &str = "EXPERT_NOT_IN_NOMINATION";
    /// The review is completed.
    pub const REVIEW_COMPLETED: &str = "REVIEW_COMPLETED";
    /// The expert has completed reviews.
    pub const EXPERT_HAS_COMPLETED_REVIEWS: &str = "EXPERT_HAS_COMPLETED_REVIEWS";
    /// Winners other than the top of the ranking need a reason.
    pub const DEPARTURE_REASON_REQUIRED: &str = "DEPARTURE_REASON_REQUIRED";
    /// A nomination has no winners chosen.
    pub const WINNERS_NOT_SET: &str = "WINNERS_NOT_SET";
    /// The contest has no rubric.
    pub const CONTEST_HAS_NO_RUBRIC: &str = "CONTEST_HAS_NO_RUBRIC";
    /// The results are not announced.
    pub const RESULTS_NOT_ANNOUNCED: &str = "RESULTS_NOT_ANNOUNCED";
    /// Only winners are invited.
    pub const NOT_A_WINNER: &str = "NOT_A_WINNER";
    /// The state machine does not allow the move.
    pub const TRANSITION_NOT_ALLOWED: &str = "TRANSITION_NOT_ALLOWED";
    /// Only experts of the contest may do this.
    pub const NOT_AN_EXPERT: &str = "NOT_AN_EXPERT";
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
            CompetitionError::ContestNotClosed { state } => {
                precondition(reason::CONTEST_NOT_CLOSED).with_metadata("state", state.as_str())
            }
            CompetitionError::ApplicationNotSubmitted { state } => {
                precondition(reason::APPLICATION_NOT_SUBMITTED)
                    .with_metadata("state", state.as_str())
            }
            CompetitionError::ExpertNotInNomination { nomination_id } => {
                precondition(reason::EXPERT_NOT_IN_NOMINATION)
                    .with_metadata("nomination_id", nomination_id)
            }
            CompetitionError::ReviewCompleted => precondition(reason::REVIEW_COMPLETED),
            CompetitionError::ExpertHasCompletedReviews => {
                precondition(reason::EXPERT_HAS_COMPLETED_REVIEWS)
            }
            CompetitionError::DepartureReasonRequired => {
                precondition(reason::DEPARTURE_REASON_REQUIRED)
            }
            CompetitionError::WinnersNotSet { nomination_id } => {
                precondition(reason::WINNERS_NOT_SET).with_metadata("nomination_id", nomination_id)
            }
            CompetitionError::NoRubric => precondition(reason::CONTEST_HAS_NO_RUBRIC),
            CompetitionError::ResultsNotAnnounced => precondition(reason::RESULTS_NOT_ANNOUNCED),
            CompetitionError::NotAWinner => precondition(reason::NOT_A_WINNER),
            CompetitionError::TransitionNotAllowed { from, to } => {
                precondition(reason::TRANSITION_NOT_ALLOWED)
                    .with_metadata("from", from)
                    .with_metadata("to", to)
            }
        }
    }
}
