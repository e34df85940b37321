//! Completion of a programme (rule 8; §7): its reason and the initiative it was taken on,
//! which must fit (choice 11):
//!
//! | reason | initiator |
//! |---|---|
//! | PLAN_COMPLETED | any, once the plan is carried out |
//! | VALID_REASON | MENTOR, MENTEE or BOTH («по уважительным обстоятельствам») |
//! | IMPROPER_EXECUTION, FORCE_MAJEURE | CURATOR |
//! | AGREEMENT_TERMINATED | BOTH, MENTOR or MENTEE, recorded by the termination only |

use std::fmt;

use jiff::civil::Date;

use super::pairs::PairState;
use super::{FieldError, MentoringError};

/// Why a programme ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompletionReason {
    /// The plan was carried out in full.
    PlanCompleted,
    /// On the initiative of the mentor, the mentee or both, for a valid reason.
    ValidReason,
    /// On the curator's initiative: the programme was not properly carried out.
    ImproperExecution,
    /// On the curator's initiative: force majeure.
    ForceMajeure,
    /// The agreement was terminated, by the parties or unilaterally.
    AgreementTerminated,
}

impl CompletionReason {
    /// Every reason, in the order of the proto enum.
    pub const ALL: [CompletionReason; 5] = [
        CompletionReason::PlanCompleted,
        CompletionReason::ValidReason,
        CompletionReason::ImproperExecution,
        CompletionReason::ForceMajeure,
        CompletionReason::AgreementTerminated,
    ];

    /// The stored name: the proto value name without its `COMPLETION_REASON_` prefix.
    pub fn as_str(self) -> &'static str {
        match self {
            CompletionReason::PlanCompleted => "PLAN_COMPLETED",
            CompletionReason::ValidReason => "VALID_REASON",
            CompletionReason::ImproperExecution => "IMPROPER_EXECUTION",
            CompletionReason::ForceMajeure => "FORCE_MAJEURE",
            CompletionReason::AgreementTerminated => "AGREEMENT_TERMINATED",
        }
    }

    /// The reason a stored name stands for.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == raw)
    }

    /// Whether the reason and the initiator fit (choice 11).
    pub fn fits(self, initiator: CompletionInitiator) -> bool {
        use CompletionInitiator::*;
        match self {
            CompletionReason::PlanCompleted => true,
            CompletionReason::ValidReason | CompletionReason::AgreementTerminated => {
                matches!(initiator, Mentor | Mentee | Both)
            }
            CompletionReason::ImproperExecution | CompletionReason::ForceMajeure => {
                initiator == Curator
            }
        }
    }

    /// Whether the circumstances must be explained: for every reason but PLAN_COMPLETED.
    pub fn needs_explanation(self) -> bool {
        self != CompletionReason::PlanCompleted
    }

    /// Whether `CompletePair` records it: every reason but AGREEMENT_TERMINATED, which only
    /// the agreement's termination records.
    pub fn recorded_by_complete_pair(self) -> bool {
        self != CompletionReason::AgreementTerminated
    }

    /// Whether one mentee may leave a group for this reason: a plan is the group's, so it
    /// is not completed for one mentee.
    pub fn ends_one_mentee(self) -> bool {
        matches!(
            self,
            CompletionReason::ValidReason
                | CompletionReason::ImproperExecution
                | CompletionReason::ForceMajeure
        )
    }
}

impl fmt::Display for CompletionReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who took the initiative to end a programme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompletionInitiator {
    /// The mentor.
    Mentor,
    /// The mentee, or their guardian.
    Mentee,
    /// Both, by mutual decision («обоюдное решение»).
    Both,
    /// The curator.
    Curator,
}

impl CompletionInitiator {
    /// Every initiator, in the order of the proto enum.
    pub const ALL: [CompletionInitiator; 4] = [
        CompletionInitiator::Mentor,
        CompletionInitiator::Mentee,
        CompletionInitiator::Both,
        CompletionInitiator::Curator,
    ];

    /// The stored name: the proto value name without its `COMPLETION_INITIATOR_` prefix.
    pub fn as_str(self) -> &'static str {
        match self {
            CompletionInitiator::Mentor => "MENTOR",
            CompletionInitiator::Mentee => "MENTEE",
            CompletionInitiator::Both => "BOTH",
            CompletionInitiator::Curator => "CURATOR",
        }
    }

    /// The initiator a stored name stands for.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|i| i.as_str() == raw)
    }
}

impl fmt::Display for CompletionInitiator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A completion as asked for by `CompletePair`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompletionRequest<'a> {
    /// Why.
    pub reason: CompletionReason,
    /// On whose initiative.
    pub initiator: CompletionInitiator,
    /// The circumstances; may be empty for PLAN_COMPLETED only.
    pub explanation: &'a str,
    /// Whether one mentee leaves a group rather than the programme ending.
    pub one_mentee: bool,
}

/// The pair's plan as the store counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PlanProgress {
    /// PROPOSED and PLANNED activities.
    pub open: u32,
    /// DONE activities.
    pub done: u32,
}

/// `CompletePair`'s rules, in the contract's order: a completion that holds together
/// (`INVALID_FIELDS` naming each field), an ACTIVE or SUSPENDED pair
/// (`TRANSITION_NOT_ALLOWED`), and for PLAN_COMPLETED a carried-out plan
/// (`PLAN_NOT_COMPLETED`).
pub fn check_completion(
    state: PairState,
    request: &CompletionRequest<'_>,
    plan: PlanProgress,
) -> Result<(), MentoringError> {
    ensure_well_formed(request)?;
    state.ensure_may_become(PairState::Completed)?;
    if request.reason == CompletionReason::PlanCompleted {
        ensure_plan_completed(plan)?;
    }
    Ok(())
}

/// The day a pair (or one mentee's part) ended (`completion.complete_date`): not after
/// `today` in the institution's zone, nor before `first_activation`, the day the pair was
/// first ACTIVE (`None` for a pair never activated, which completion refuses anyway).
pub fn ensure_complete_date(
    day: Date,
    first_activation: Option<Date>,
    today: Date,
) -> Result<(), MentoringError> {
    if day > today {
        Err(MentoringError::invalid_field(
            "completion.complete_date",
            "must not be after today",
        ))
    } else if first_activation.is_some_and(|first| day < first) {
        Err(MentoringError::invalid_field(
            "completion.complete_date",
            "must not be before the pair's first activation",
        ))
    } else {
        Ok(())
    }
}

/// The reason and initiator fit, the explanation is there when needed, the reason is one
/// `CompletePair` records, and one mentee leaves only for a reason of their own.
pub fn ensure_well_formed(request: &CompletionRequest<'_>) -> Result<(), MentoringError> {
    let mut fields = vec![];
    let reason = request.reason;
    if !reason.recorded_by_complete_pair() {
        fields.push(FieldError::new(
            "completion.reason",
            "AGREEMENT_TERMINATED is recorded by terminating the agreement",
        ));
    } else if !reason.fits(request.initiator) {
        fields.push(FieldError::new(
            "completion.initiator",
            format!("{} does not fit the reason {reason}", request.initiator),
        ));
    }
    if reason.needs_explanation() && request.explanation.trim().is_empty() {
        fields.push(FieldError::new(
            "completion.explanation",
            format!("{reason} needs the circumstances explained"),
        ));
    }
    if request.one_mentee && !reason.ends_one_mentee() {
        fields.push(FieldError::new(
            "mentee",
            format!("one mentee does not leave a group with {reason}"),
        ));
    }
    if fields.is_empty() {
        Ok(())
    } else {
        Err(MentoringError::InvalidFields(fields))
    }
}

/// A plan is carried out when no activity is open and at least one is done
/// (`PLAN_NOT_COMPLETED` with the open count).
pub fn ensure_plan_completed(plan: PlanProgress) -> Result<(), MentoringError> {
    if plan.open > 0 || plan.done == 0 {
        Err(MentoringError::PlanNotCompleted {
            open_activities: plan.open,
            done_activities: plan.done,
        })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use CompletionInitiator::*;
    use CompletionReason::*;

    fn request(
        reason: CompletionReason,
        initiator: CompletionInitiator,
    ) -> CompletionRequest<'static> {
        CompletionRequest {
            reason,
            initiator,
            explanation: "переезд семьи в другой город",
            one_mentee: false,
        }
    }

    const DONE: PlanProgress = PlanProgress { open: 0, done: 4 };

    #[test]
    fn reasons_and_initiators_fit_as_chosen() {
        let fitting = [
            (PlanCompleted, vec![Mentor, Mentee, Both, Curator]),
            (ValidReason, vec![Mentor, Mentee, Both]),
            (ImproperExecution, vec![Curator]),
            (ForceMajeure, vec![Curator]),
            (AgreementTerminated, vec![Mentor, Mentee, Both]),
        ];
        for (reason, initiators) in fitting {
            for initiator in CompletionInitiator::ALL {
                assert_eq!(
                    reason.fits(initiator),
                    initiators.contains(&initiator),
                    "{reason} {initiator}"
                );
            }
        }
    }

    #[test]
    fn a_misfit_is_refused_naming_the_initiator() {
        let refused = check_completion(PairState::Active, &request(ValidReason, Curator), DONE)
            .expect_err("misfit");
        assert_eq!(refused.reason(), "INVALID_FIELDS");
        assert_eq!(refused.field_errors()[0].field, "completion.initiator");
        let refused = check_completion(PairState::Active, &request(ForceMajeure, Mentee), DONE)
            .expect_err("misfit");
        assert_eq!(refused.field_errors()[0].field, "completion.initiator");
        assert!(check_completion(PairState::Active, &request(ForceMajeure, Curator), DONE).is_ok());
        assert!(check_completion(PairState::Suspended, &request(ValidReason, Both), DONE).is_ok());
    }

    #[test]
    fn agreement_terminated_is_not_recorded_here() {
        let refused =
            check_completion(PairState::Active, &request(AgreementTerminated, Both), DONE)
                .expect_err("termination only");
        assert_eq!(refused.field_errors()[0].field, "completion.reason");
    }

    #[test]
    fn every_reason_but_plan_completed_is_explained() {
        let unexplained = CompletionRequest {
            explanation: " ",
            ..request(ImproperExecution, Curator)
        };
        let refused = check_completion(PairState::Active, &unexplained, DONE).expect_err("no text");
        assert_eq!(refused.field_errors()[0].field, "completion.explanation");
        let plan_done = CompletionRequest {
            explanation: "",
            ..request(PlanCompleted, Mentor)
        };
        assert!(check_completion(PairState::Active, &plan_done, DONE).is_ok());
    }

    #[test]
    fn plan_completed_needs_no_open_activity_and_one_done() {
        let plan_done = request(PlanCompleted, Both);
        assert_eq!(
            check_completion(
                PairState::Active,
                &plan_done,
                PlanProgress { open: 2, done: 3 }
            ),
            Err(MentoringError::PlanNotCompleted {
                open_activities: 2,
                done_activities: 3
            })
        );
        assert_eq!(
            check_completion(
                PairState::Active,
                &plan_done,
                PlanProgress { open: 0, done: 0 }
            )
            .map_err(|e| e.reason()),
            Err("PLAN_NOT_COMPLETED")
        );
        assert!(check_completion(PairState::Active, &plan_done, DONE).is_ok());
        // Open activities do not stop the other reasons.
        assert!(
            check_completion(
                PairState::Active,
                &request(ValidReason, Mentee),
                PlanProgress { open: 5, done: 0 }
            )
            .is_ok()
        );
    }

    #[test]
    fn only_active_or_suspended_pairs_complete_and_fields_come_first() {
        for state in [
            PairState::Forming,
            PairState::Completed,
            PairState::Cancelled,
        ] {
            assert_eq!(
                check_completion(state, &request(ValidReason, Mentor), DONE)
                    .map_err(|e| e.reason()),
                Err("TRANSITION_NOT_ALLOWED")
            );
            assert_eq!(
                check_completion(state, &request(ValidReason, Curator), DONE)
                    .map_err(|e| e.reason()),
                Err("INVALID_FIELDS")
            );
        }
    }

    #[test]
    fn one_mentee_leaves_a_group_for_a_reason_of_their_own() {
        let leaving = CompletionRequest {
            one_mentee: true,
            ..request(ValidReason, Mentee)
        };
        assert!(check_completion(PairState::Active, &leaving, PlanProgress::default()).is_ok());
        let plan_done = CompletionRequest {
            one_mentee: true,
            ..request(PlanCompleted, Mentor)
        };
        let refused = check_completion(PairState::Active, &plan_done, DONE).expect_err("mentee");
        assert_eq!(refused.field_errors()[0].field, "mentee");
    }

    #[test]
    fn stored_names_round_trip() {
        for reason in CompletionReason::ALL {
            assert_eq!(CompletionReason::parse(reason.as_str()), Some(reason));
        }
        for initiator in CompletionInitiator::ALL {
            assert_eq!(
                CompletionInitiator::parse(initiator.as_str()),
                Some(initiator)
            );
        }
    }
}
