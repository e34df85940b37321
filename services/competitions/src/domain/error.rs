//! What the rules refuse, as a closed set; the API room gives each a gRPC code and a stable
//! reason.

use jiff::Timestamp;

use super::assignment::Conflict;
use super::{ApplicationState, ContestState, TeamLevel};

/// One malformed field, with its path relative to the object being checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// For example `nominations[2].title`.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl FieldError {
    /// A problem with `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// A refusal by a rule of the programme.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompetitionError {
    /// Malformed values.
    #[error("invalid fields")]
    InvalidFields(Vec<FieldError>),
    /// Rule 2: the application deadline has passed in the contest's time zone.
    #[error("applications closed at {closes_at}")]
    DeadlinePassed {
        /// The instant acceptance ended.
        closes_at: Timestamp,
        /// The contest's IANA time zone, in which the deadline was written.
        zone: String,
    },
    /// The contest can only be closed once its deadline has passed.
    #[error("applications are accepted until {closes_at}; the contest cannot close before")]
    DeadlineNotPassed {
        /// The instant acceptance ends.
        closes_at: Timestamp,
        /// The contest's IANA time zone, in which the deadline was written.
        zone: String,
    },
    /// Rule 2: applications need an OPEN contest.
    #[error("the contest is {state:?}, not open for applications")]
    ContestNotOpen {
        /// The contest's state.
        state: ContestState,
    },
    /// Rule 1: nominations, rubric, dates and eligibility change only in DRAFT.
    #[error("the contest is {state:?}; only a draft contest may change {field}")]
    ContestNotDraft {
        /// The contest's state.
        state: ContestState,
        /// The field the caller tried to change.
        field: &'static str,
    },
    /// Rule 7: an announced or cancelled contest does not change any more.
    #[error("the contest is {state:?} and can no longer change")]
    ContestFinal {
        /// The contest's state.
        state: ContestState,
    },
    /// A contest needs at least one nomination to open.
    #[error("the contest has no nominations")]
    NoNominations,
    /// Rule 3: the contest does not accept teams of this level.
    #[error("the contest does not accept {level:?} teams")]
    TeamLevelNotEligible {
        /// The team's level.
        level: TeamLevel,
    },
    /// Rule 3: one application per team per nomination (or the contest's limit).
    #[error("the team already has {limit} application(s) in this nomination")]
    ApplicationLimitReached {
        /// The contest's limit.
        limit: u8,
    },
    /// Rule 4: submitted and withdrawn applications do not change.
    #[error("the application is {state:?} and can no longer change")]
    ApplicationFrozen {
        /// The application's state.
        state: ApplicationState,
    },
    /// A team keeps at least one lead.
    #[error("the last lead of a team cannot leave it")]
    LastTeamLead,
    /// Rule 5: the expert may not review the application.
    #[error("conflict of interest: {}", conflict.as_str())]
    ConflictOfInterest {
        /// Which conflict.
        conflict: Conflict,
    },
    /// Automatic assignment, winners and the announcement need a CLOSED contest.
    #[error("the contest is {state:?}; this needs it closed for review")]
    ContestNotClosed {
        /// The contest's state.
        state: ContestState,
    },
    /// Rule 5: only submitted applications are reviewed.
    #[error("the application is {state:?}; only submitted applications are reviewed")]
    ApplicationNotSubmitted {
        /// The application's state.
        state: ApplicationState,
    },
    /// Rule 5: the expert reviews other nominations only.
    #[error("the expert does not review the nomination {nomination_id:?}")]
    ExpertNotInNomination {
        /// The application's nomination.
        nomination_id: String,
    },
    /// Rule 6: a completed review does not change or go away.
    #[error("the review is completed and can no longer change")]
    ReviewCompleted,
    /// Rule 6: an expert with completed reviews stays, so that the scores keep their author.
    #[error("the expert has completed reviews and cannot be removed")]
    ExpertHasCompletedReviews,
    /// Rule 7: winners other than the top of the ranking need a recorded reason.
    #[error("the winners differ from the top of the ranking; give a departure_reason")]
    DepartureReasonRequired,
    /// Rule 7: every nomination with ranked applications has its winners chosen before the
    /// announcement.
    #[error("no winners are chosen in the nomination {nomination_id:?}")]
    WinnersNotSet {
        /// The nomination without a choice.
        nomination_id: String,
    },
    /// Rule 6: a review is completed against the rubric, and the contest has none.
    #[error("the contest has no rubric to score against")]
    NoRubric,
    /// Rule 7: results are visible only once announced.
    #[error("the results of this contest are not announced")]
    ResultsNotAnnounced,
    /// Rule 11: only winners are invited.
    #[error("the application is not a winner of an announced contest")]
    NotAWinner,
    /// Rules 10 and 11: a move the state machine does not allow.
    #[error("cannot go from {from} to {to}")]
    TransitionNotAllowed {
        /// The current state.
        from: &'static str,
        /// The state asked for.
        to: &'static str,
    },
}

impl CompetitionError {
    /// Prefixes the paths of invalid fields with the request field they sit in, for
    /// example `title` → `application.title`.
    pub fn within(self, parent: &str) -> Self {
        match self {
            CompetitionError::InvalidFields(problems) => CompetitionError::InvalidFields(
                problems
                    .into_iter()
                    .map(|p| FieldError::new(format!("{parent}.{}", p.field), p.message))
                    .collect(),
            ),
            other => other,
        }
    }
}
