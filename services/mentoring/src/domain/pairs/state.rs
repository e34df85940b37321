//! Where a pair or group is, and the moves between states:
//!
//! ```text
//! FORMING ──activate──▶ ACTIVE ──a member revokes──▶ SUSPENDED ──activate──▶ ACTIVE
//!    │                    │  ▲                          │
//!    │                    │  └─── replacement granted ──┤ (back to FORMING)
//!    ▼                    ▼                             ▼
//! CANCELLED           COMPLETED ◀───── complete ────────┘
//! ```
//!
//! No other move is allowed (`TRANSITION_NOT_ALLOWED`, metadata `state`). What may be
//! recorded for a pair depends on its state too: see [`PairWork`].

use std::fmt;

use crate::domain::{MentoringError, Transition};

/// Where a pair or group is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PairState {
    /// Formed; waiting for its agreement, order and activation. The plan may be drawn up.
    Forming,
    /// At work: meetings are logged, the plan followed, monitoring asks its members.
    Active,
    /// Stopped because a member revoked their consent.
    Suspended,
    /// Ended with its completion; final.
    Completed,
    /// Abandoned before activation; final.
    Cancelled,
}

/// What is recorded for a pair, each needing its own states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PairWork {
    /// Logging a meeting: only while ACTIVE.
    Meeting,
    /// Petitioning to replace the mentor: ACTIVE or SUSPENDED (there is no contact to miss
    /// before the pair worked).
    Petition,
    /// Adding or changing a plan activity: FORMING (the plan is drawn up before
    /// activation) or ACTIVE.
    PlanChange,
}

impl PairState {
    /// Every state, in the order of the proto enum.
    pub const ALL: [PairState; 5] = [
        PairState::Forming,
        PairState::Active,
        PairState::Suspended,
        PairState::Completed,
        PairState::Cancelled,
    ];

    /// The stored name: the proto value name without its `PAIR_STATE_` prefix.
    pub fn as_str(self) -> &'static str {
        match self {
            PairState::Forming => "FORMING",
            PairState::Active => "ACTIVE",
            PairState::Suspended => "SUSPENDED",
            PairState::Completed => "COMPLETED",
            PairState::Cancelled => "CANCELLED",
        }
    }

    /// The state a stored name stands for.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    /// Whether the pair is open: FORMING, ACTIVE or SUSPENDED. A mentee is in one open pair
    /// at a time, and a participant in one keeps their role and bank entry.
    pub fn is_open(self) -> bool {
        !self.is_closed()
    }

    /// Whether the pair is COMPLETED or CANCELLED: nothing more is recorded for it.
    pub fn is_closed(self) -> bool {
        matches!(self, PairState::Completed | PairState::Cancelled)
    }

    /// Whether `self → to` is a move of the state machine: activation from FORMING or
    /// SUSPENDED (choice 12: resuming is activation again), suspension of an ACTIVE pair,
    /// completion of an ACTIVE or SUSPENDED one, cancellation of a FORMING one, and a
    /// granted replacement taking an ACTIVE or SUSPENDED pair back to FORMING (choice 9).
    pub fn may_become(self, to: PairState) -> bool {
        use PairState::*;
        matches!(
            (self, to),
            (Forming, Active)
                | (Suspended, Active)
                | (Active, Suspended)
                | (Active, Completed)
                | (Suspended, Completed)
                | (Forming, Cancelled)
                | (Active, Forming)
                | (Suspended, Forming)
        )
    }

    /// The move `self → to`, or `TRANSITION_NOT_ALLOWED` naming the current state.
    pub fn ensure_may_become(self, to: PairState) -> Result<(), MentoringError> {
        if self.may_become(to) {
            Ok(())
        } else {
            Err(self.not_allowed())
        }
    }

    /// Cancelling: a FORMING pair becomes CANCELLED; a CANCELLED one is answered unchanged;
    /// any other is refused.
    pub fn cancel(self) -> Result<Transition, MentoringError> {
        match self {
            PairState::Cancelled => Ok(Transition::Unchanged),
            _ => self
                .ensure_may_become(PairState::Cancelled)
                .map(|()| Transition::Changed),
        }
    }

    /// A member's revocation of their consent to personal data suspends an ACTIVE pair; a
    /// SUSPENDED one stays so (the store adds the member to its suspension), and a FORMING
    /// one stays FORMING, since activation will find the consent missing.
    pub fn on_revocation(self) -> Transition {
        if self == PairState::Active {
            Transition::Changed
        } else {
            Transition::Unchanged
        }
    }

    /// `UpdatePair` changes the form or goal while FORMING or ACTIVE, by mutual consent of
    /// the members (§7.1).
    pub fn ensure_form_changeable(self) -> Result<(), MentoringError> {
        match self {
            PairState::Forming | PairState::Active => Ok(()),
            _ => Err(self.not_allowed()),
        }
    }

    /// The director's order fixing a pair is recorded while it is FORMING (recording it
    /// again replaces it).
    pub fn ensure_order_recordable(self) -> Result<(), MentoringError> {
        match self {
            PairState::Forming => Ok(()),
            _ => Err(self.not_allowed()),
        }
    }

    /// Whether `work` may be recorded in this state: `PAIR_CLOSED` once COMPLETED or
    /// CANCELLED, `PAIR_NOT_ACTIVE` in an open state the work does not take.
    pub fn ensure_allows(self, work: PairWork) -> Result<(), MentoringError> {
        if self.is_closed() {
            return Err(MentoringError::PairClosed { state: self });
        }
        let allowed = match work {
            PairWork::Meeting => self == PairState::Active,
            PairWork::Petition => matches!(self, PairState::Active | PairState::Suspended),
            PairWork::PlanChange => matches!(self, PairState::Forming | PairState::Active),
        };
        if allowed {
            Ok(())
        } else {
            Err(MentoringError::PairNotActive { state: self })
        }
    }

    fn not_allowed(self) -> MentoringError {
        MentoringError::TransitionNotAllowed {
            resource: "pair",
            state: self.as_str(),
        }
    }
}

impl fmt::Display for PairState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use PairState::*;

    #[test]
    fn the_allowed_moves_and_no_others() {
        let allowed = [
            (Forming, Active),
            (Suspended, Active),
            (Active, Suspended),
            (Active, Completed),
            (Suspended, Completed),
            (Forming, Cancelled),
            (Active, Forming),
            (Suspended, Forming),
        ];
        for from in PairState::ALL {
            for to in PairState::ALL {
                let expected = allowed.contains(&(from, to));
                assert_eq!(from.may_become(to), expected, "{from} → {to}");
                if !expected {
                    assert_eq!(
                        from.ensure_may_become(to),
                        Err(MentoringError::TransitionNotAllowed {
                            resource: "pair",
                            state: from.as_str()
                        })
                    );
                }
            }
        }
    }

    #[test]
    fn cancelling_is_for_forming_pairs_and_repeats_harmlessly() {
        assert_eq!(Forming.cancel(), Ok(Transition::Changed));
        assert_eq!(Cancelled.cancel(), Ok(Transition::Unchanged));
        for state in [Active, Suspended, Completed] {
            assert_eq!(
                state.cancel().map_err(|e| e.reason()),
                Err("TRANSITION_NOT_ALLOWED")
            );
        }
    }

    #[test]
    fn revocation_suspends_only_active_pairs() {
        assert_eq!(Active.on_revocation(), Transition::Changed);
        for state in [Forming, Suspended, Completed, Cancelled] {
            assert_eq!(state.on_revocation(), Transition::Unchanged);
        }
    }

    #[test]
    fn form_changes_while_forming_or_active_and_the_order_while_forming() {
        assert!(Forming.ensure_form_changeable().is_ok());
        assert!(Active.ensure_form_changeable().is_ok());
        assert_eq!(
            Suspended.ensure_form_changeable(),
            Err(MentoringError::TransitionNotAllowed {
                resource: "pair",
                state: "SUSPENDED"
            })
        );
        assert!(Forming.ensure_order_recordable().is_ok());
        assert!(Active.ensure_order_recordable().is_err());
    }

    #[test]
    fn what_each_state_allows_to_record() {
        use PairWork::*;
        assert!(Active.ensure_allows(Meeting).is_ok());
        assert_eq!(
            Forming.ensure_allows(Meeting),
            Err(MentoringError::PairNotActive { state: Forming })
        );
        assert_eq!(
            Suspended.ensure_allows(Meeting),
            Err(MentoringError::PairNotActive { state: Suspended })
        );
        assert!(Suspended.ensure_allows(Petition).is_ok());
        assert_eq!(
            Forming.ensure_allows(Petition),
            Err(MentoringError::PairNotActive { state: Forming })
        );
        assert!(Forming.ensure_allows(PlanChange).is_ok());
        assert_eq!(
            Suspended.ensure_allows(PlanChange),
            Err(MentoringError::PairNotActive { state: Suspended })
        );
        for work in [Meeting, Petition, PlanChange] {
            for state in [Completed, Cancelled] {
                assert_eq!(
                    state.ensure_allows(work),
                    Err(MentoringError::PairClosed { state })
                );
            }
        }
    }

    #[test]
    fn open_and_closed_states() {
        assert!(Forming.is_open() && Active.is_open() && Suspended.is_open());
        assert!(Completed.is_closed() && Cancelled.is_closed());
        for state in PairState::ALL {
            assert_eq!(PairState::parse(state.as_str()), Some(state));
        }
    }
}
