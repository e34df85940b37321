//! The individual plan's activities (rule 7, choice 13): a mentee proposes (PROPOSED), the
//! mentor or curator accepts (PLANNED), cancels or declines (CANCELLED), and records the
//! result (DONE). Open activities — PROPOSED and PLANNED — keep a plan from being
//! completed ([`super::completion`]).

use std::fmt;

use jiff::civil::Date;

use super::MentoringError;

/// Where a plan activity is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PlanActivityState {
    /// Proposed by a mentee or guardian; not yet in the plan.
    Proposed,
    /// In the plan, to be carried out by its due date.
    Planned,
    /// Carried out, with its result.
    Done,
    /// Removed from the plan, or a proposal declined.
    Cancelled,
}

impl PlanActivityState {
    /// Every state, in the order of the proto enum.
    pub const ALL: [PlanActivityState; 4] = [
        PlanActivityState::Proposed,
        PlanActivityState::Planned,
        PlanActivityState::Done,
        PlanActivityState::Cancelled,
    ];

    /// The stored name: the proto value name without its `PLAN_ACTIVITY_STATE_` prefix.
    pub fn as_str(self) -> &'static str {
        match self {
            PlanActivityState::Proposed => "PROPOSED",
            PlanActivityState::Planned => "PLANNED",
            PlanActivityState::Done => "DONE",
            PlanActivityState::Cancelled => "CANCELLED",
        }
    }

    /// The state a stored name stands for.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    /// Whether the activity is still open: PROPOSED or PLANNED.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            PlanActivityState::Proposed | PlanActivityState::Planned
        )
    }

    /// Whether `self → to` is a move: PROPOSED → PLANNED (accepted), PROPOSED or PLANNED →
    /// CANCELLED, PLANNED → DONE.
    pub fn may_become(self, to: PlanActivityState) -> bool {
        use PlanActivityState::*;
        matches!(
            (self, to),
            (Proposed, Planned) | (Proposed, Cancelled) | (Planned, Cancelled) | (Planned, Done)
        )
    }

    /// The move `self → to`, or `TRANSITION_NOT_ALLOWED` naming the current state.
    pub fn ensure_may_become(self, to: PlanActivityState) -> Result<(), MentoringError> {
        if self.may_become(to) {
            Ok(())
        } else {
            Err(self.not_allowed())
        }
    }

    /// Title, description and due date change while the activity is open; a DONE one's
    /// result and day may be corrected, and a CANCELLED one does not change.
    pub fn ensure_content_changeable(self) -> Result<(), MentoringError> {
        if self.is_open() {
            Ok(())
        } else {
            Err(self.not_allowed())
        }
    }

    /// A result is corrected on a DONE activity only (moving to DONE records the first).
    pub fn ensure_result_correctable(self) -> Result<(), MentoringError> {
        if self == PlanActivityState::Done {
            Ok(())
        } else {
            Err(self.not_allowed())
        }
    }

    /// Whether an activity due on `due_date` is overdue on `today`: PLANNED and its due
    /// date before today.
    pub fn is_overdue(self, due_date: Date, today: Date) -> bool {
        self == PlanActivityState::Planned && due_date < today
    }

    fn not_allowed(self) -> MentoringError {
        MentoringError::TransitionNotAllowed {
            resource: "plan activity",
            state: self.as_str(),
        }
    }
}

impl fmt::Display for PlanActivityState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use PlanActivityState::*;
    use jiff::civil::date;

    #[test]
    fn activities_move_as_choice_13_says() {
        let allowed = [
            (Proposed, Planned),
            (Proposed, Cancelled),
            (Planned, Cancelled),
            (Planned, Done),
        ];
        for from in PlanActivityState::ALL {
            for to in PlanActivityState::ALL {
                let expected = allowed.contains(&(from, to));
                assert_eq!(from.may_become(to), expected, "{from} → {to}");
                if !expected {
                    assert_eq!(
                        from.ensure_may_become(to).map_err(|e| e.reason()),
                        Err("TRANSITION_NOT_ALLOWED")
                    );
                }
            }
        }
    }

    #[test]
    fn content_changes_while_open_and_results_once_done() {
        assert!(Proposed.ensure_content_changeable().is_ok());
        assert!(Planned.ensure_content_changeable().is_ok());
        assert!(Done.ensure_content_changeable().is_err());
        assert!(Cancelled.ensure_content_changeable().is_err());
        assert!(Done.ensure_result_correctable().is_ok());
        assert!(Planned.ensure_result_correctable().is_err());
        assert!(Proposed.is_open() && Planned.is_open());
        assert!(!Done.is_open() && !Cancelled.is_open());
    }

    #[test]
    fn a_planned_activity_is_overdue_the_day_after_its_due_date() {
        let due = date(2024, 10, 15);
        assert!(!Planned.is_overdue(due, due));
        assert!(Planned.is_overdue(due, date(2024, 10, 16)));
        assert!(!Done.is_overdue(due, date(2024, 10, 16)));
        for state in PlanActivityState::ALL {
            assert_eq!(PlanActivityState::parse(state.as_str()), Some(state));
        }
    }
}
