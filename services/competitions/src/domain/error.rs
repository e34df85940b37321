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
    },
    /// The contest can only be closed once its deadline has passed.
    #[error("applications are accepted until {closes_at}; the contest cannot close before")]
    DeadlineNotPassed {
        /// The instant acceptance ends.
        closes_at: Timestamp,
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
