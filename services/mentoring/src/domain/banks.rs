//! The banks of mentors and mentees (rule 2, choice 2): entries on the participant, not
//! resources of their own. A participant is in the bank of mentors while they have a
//! mentor profile and in the bank of mentees while they have a mentee profile; a mentor is
//! paired once trained. The checks made when pairing are in [`super::pairs::forming`].

use std::fmt;

use super::MentoringError;

/// Which bank.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Bank {
    /// The bank of mentors («банк наставников»).
    Mentors,
    /// The bank of mentees («банк наставляемых»).
    Mentees,
}

impl Bank {
    /// The stored name: the proto value name without its `BANK_` prefix.
    pub fn as_str(self) -> &'static str {
        match self {
            Bank::Mentors => "MENTORS",
            Bank::Mentees => "MENTEES",
        }
    }

    /// The bank a stored name stands for.
    pub fn parse(raw: &str) -> Option<Self> {
        [Bank::Mentors, Bank::Mentees]
            .into_iter()
            .find(|b| b.as_str() == raw)
    }
}

impl fmt::Display for Bank {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A participant leaves a bank only while they are in no FORMING, ACTIVE or SUSPENDED pair
/// or group on that side (`PARTICIPANT_IN_PAIR`): a mentor who mentors an open pair stays
/// in the bank of mentors, a mentee in an open pair in the bank of mentees.
pub fn ensure_may_leave_bank(open_pair_on_that_side: Option<&str>) -> Result<(), MentoringError> {
    match open_pair_on_that_side {
        Some(pair) => Err(MentoringError::ParticipantInPair {
            pair: pair.to_string(),
        }),
        None => Ok(()),
    }
}

/// Training is recorded for a member of the bank of mentors only, and once recorded it is
/// history: it is replaced, never cleared (`INVALID_FIELDS`, `participant.mentor_training`).
pub fn ensure_training_change(in_mentor_bank: bool, clearing: bool) -> Result<(), MentoringError> {
    if clearing {
        Err(MentoringError::invalid_field(
            "participant.mentor_training",
            "a recorded training is kept as history and cannot be cleared",
        ))
    } else if !in_mentor_bank {
        Err(MentoringError::invalid_field(
            "participant.mentor_training",
            "training is recorded for a member of the bank of mentors",
        ))
    } else {
        Ok(())
    }
}

/// Whether a participant may be paired as a mentor: in the bank of mentors and trained
/// (`Participant.trained`).
pub fn trained(in_mentor_bank: bool, training_recorded: bool) -> bool {
    in_mentor_bank && training_recorded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nobody_leaves_a_bank_under_an_open_pair() {
        let pair = "institutions/mechta-saratov/pairs/k3";
        assert_eq!(
            ensure_may_leave_bank(Some(pair)),
            Err(MentoringError::ParticipantInPair { pair: pair.into() })
        );
        assert_eq!(ensure_may_leave_bank(None), Ok(()));
    }

    #[test]
    fn training_belongs_to_the_bank_of_mentors_and_is_kept() {
        assert_eq!(ensure_training_change(true, false), Ok(()));
        assert_eq!(
            ensure_training_change(false, false).map_err(|e| e.reason()),
            Err("INVALID_FIELDS")
        );
        assert_eq!(
            ensure_training_change(true, true).map_err(|e| e.reason()),
            Err("INVALID_FIELDS")
        );
        assert!(trained(true, true));
        assert!(!trained(false, true));
        assert!(!trained(true, false));
    }

    #[test]
    fn stored_names_round_trip() {
        for bank in [Bank::Mentors, Bank::Mentees] {
            assert_eq!(Bank::parse(bank.as_str()), Some(bank));
        }
    }
}
