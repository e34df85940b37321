//! Activation (rule 5): a pair or group becomes ACTIVE only with every member's consent,
//! a signed agreement in force and the director's order fixing it (choice 9 makes the
//! order a field of the pair, so each piece can be missing on its own). The same check
//! resumes a SUSPENDED pair (choice 12). Each missing piece has its own reason, and the
//! first missing one in the contract's order answers:
//! `TRANSITION_NOT_ALLOWED` → `CONSENT_MISSING` → `AGREEMENT_NOT_SIGNED` →
//! `AGREEMENT_EXPIRED` → `ORDER_MISSING`.

use jiff::civil::Date;

use super::state::PairState;
use crate::domain::MentoringError;
use crate::domain::agreement::{AgreementState, is_expired};
use crate::domain::consent::ConsentPurpose;

/// A member and whether their consent to PERSONAL_DATA is in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberConsent<'a> {
    /// The member's resource name.
    pub participant: &'a str,
    /// Whether their consent to PERSONAL_DATA is in force.
    pub in_force: bool,
}

/// The pair's latest agreement, as the store found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgreementOnFile<'a> {
    /// Its resource name.
    pub name: &'a str,
    /// SIGNED (in force) or ENDED.
    pub state: AgreementState,
    /// Its last day in force, extensions included.
    pub end_date: Date,
}

/// Everything activation looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActivationFacts<'a> {
    /// The pair's state.
    pub state: PairState,
    /// The mentor first, then the current mentees.
    pub members: &'a [MemberConsent<'a>],
    /// The latest agreement, if any.
    pub agreement: Option<AgreementOnFile<'a>>,
    /// Whether the director's order fixing the pair is recorded.
    pub order_recorded: bool,
    /// Today in the institution's zone.
    pub today: Date,
}

/// `ActivatePair`'s rules: `Ok` when the pair may become ACTIVE, else the first missing
/// piece.
pub fn check_activation(facts: &ActivationFacts<'_>) -> Result<(), MentoringError> {
    facts.state.ensure_may_become(PairState::Active)?;
    if let Some(member) = facts.members.iter().find(|m| !m.in_force) {
        return Err(MentoringError::ConsentMissing {
            participant: member.participant.to_string(),
            purpose: ConsentPurpose::PersonalData,
        });
    }
    let agreement = match facts.agreement {
        Some(agreement) if agreement.state == AgreementState::Signed => agreement,
        _ => return Err(MentoringError::AgreementNotSigned),
    };
    if is_expired(agreement.end_date, facts.today) {
        return Err(MentoringError::AgreementExpired {
            agreement: agreement.name.to_string(),
            end_date: agreement.end_date,
        });
    }
    if !facts.order_recorded {
        return Err(MentoringError::OrderMissing);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    const MENTOR: &str = "institutions/mechta-saratov/participants/mentor";
    const MENTEE: &str = "institutions/mechta-saratov/participants/mentee";
    const AGREEMENT: &str = "institutions/mechta-saratov/pairs/k3/agreements/a1";

    const CONSENTED: [MemberConsent<'static>; 2] = [
        MemberConsent {
            participant: MENTOR,
            in_force: true,
        },
        MemberConsent {
            participant: MENTEE,
            in_force: true,
        },
    ];

    fn ready() -> ActivationFacts<'static> {
        ActivationFacts {
            state: PairState::Forming,
            members: &CONSENTED,
            agreement: Some(AgreementOnFile {
                name: AGREEMENT,
                state: AgreementState::Signed,
                end_date: date(2025, 5, 31),
            }),
            order_recorded: true,
            today: date(2024, 9, 2),
        }
    }

    #[test]
    fn a_pair_with_every_piece_is_activated_and_resumed() {
        assert_eq!(check_activation(&ready()), Ok(()));
        let suspended = ActivationFacts {
            state: PairState::Suspended,
            ..ready()
        };
        assert_eq!(check_activation(&suspended), Ok(()));
    }

    #[test]
    fn activation_is_blocked_by_each_missing_piece_in_turn() {
        let mentee_revoked = [
            CONSENTED[0],
            MemberConsent {
                participant: MENTEE,
                in_force: false,
            },
        ];
        // Everything missing: the state answers first, then each piece as it is supplied.
        let mut facts = ActivationFacts {
            state: PairState::Active,
            members: &mentee_revoked,
            agreement: Some(AgreementOnFile {
                name: AGREEMENT,
                state: AgreementState::Ended,
                end_date: date(2024, 8, 31),
            }),
            order_recorded: false,
            today: date(2024, 9, 2),
        };
        assert_eq!(
            check_activation(&facts),
            Err(MentoringError::TransitionNotAllowed {
                resource: "pair",
                state: "ACTIVE"
            })
        );
        facts.state = PairState::Forming;
        assert_eq!(
            check_activation(&facts),
            Err(MentoringError::ConsentMissing {
                participant: MENTEE.into(),
                purpose: ConsentPurpose::PersonalData
            })
        );
        facts.members = &CONSENTED;
        assert_eq!(
            check_activation(&facts),
            Err(MentoringError::AgreementNotSigned)
        );
        facts.agreement = None;
        assert_eq!(
            check_activation(&facts),
            Err(MentoringError::AgreementNotSigned)
        );
        facts.agreement = Some(AgreementOnFile {
            name: AGREEMENT,
            state: AgreementState::Signed,
            end_date: date(2024, 8, 31),
        });
        assert_eq!(
            check_activation(&facts),
            Err(MentoringError::AgreementExpired {
                agreement: AGREEMENT.into(),
                end_date: date(2024, 8, 31)
            })
        );
        facts.agreement = ready().agreement;
        assert_eq!(check_activation(&facts), Err(MentoringError::OrderMissing));
        facts.order_recorded = true;
        assert_eq!(check_activation(&facts), Ok(()));
    }

    #[test]
    fn the_mentor_is_named_first_when_several_lack_consent() {
        let nobody = [
            MemberConsent {
                participant: MENTOR,
                in_force: false,
            },
            MemberConsent {
                participant: MENTEE,
                in_force: false,
            },
        ];
        let facts = ActivationFacts {
            members: &nobody,
            ..ready()
        };
        assert_eq!(
            check_activation(&facts),
            Err(MentoringError::ConsentMissing {
                participant: MENTOR.into(),
                purpose: ConsentPurpose::PersonalData
            })
        );
    }

    #[test]
    fn the_agreement_is_in_force_through_its_last_day() {
        let last_day = ActivationFacts {
            today: date(2025, 5, 31),
            ..ready()
        };
        assert_eq!(check_activation(&last_day), Ok(()));
        let day_after = ActivationFacts {
            today: date(2025, 6, 1),
            ..ready()
        };
        assert_eq!(
            check_activation(&day_after).map_err(|e| e.reason()),
            Err("AGREEMENT_EXPIRED")
        );
    }

    #[test]
    fn closed_pairs_are_not_activated() {
        for state in [
            PairState::Active,
            PairState::Completed,
            PairState::Cancelled,
        ] {
            let facts = ActivationFacts { state, ..ready() };
            assert_eq!(
                check_activation(&facts).map_err(|e| e.reason()),
                Err("TRANSITION_NOT_ALLOWED")
            );
        }
    }
}
