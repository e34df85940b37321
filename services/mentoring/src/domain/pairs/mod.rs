//! Pairs and groups (rules 3–5, choice 1): one resource, told apart by [`PairKind`]. A pair
//! has one mentee, a group one mentor and 2 to 30 mentees, and every rule applies to both.
//!
//! Rooms: [`fit`] (forms, pair types and whose roles fit them), [`state`] (the state
//! machine and what each state allows), [`forming`] (the checks when a pair is formed or
//! its mentor replaced), [`activation`] (rule 5's three pieces), [`meetings`] (the single
//! meeting of the SPEED form).

pub mod activation;
pub mod fit;
pub mod forming;
pub mod meetings;
pub mod state;

use std::fmt;

use super::MentoringError;

pub use activation::{ActivationFacts, AgreementOnFile, MemberConsent, check_activation};
pub use fit::{MentoringForm, PairType, RoleMismatch};
pub use forming::{Candidate, check_forming, check_replacement_mentor};
pub use meetings::SpeedLimit;
pub use state::{PairState, PairWork};

/// The fewest mentees of a group when it is formed.
pub const MIN_GROUP_MENTEES: usize = 2;

/// The most mentees of a group.
pub const MAX_GROUP_MENTEES: usize = 30;

/// Which side of a pair or group a person is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PairSide {
    /// The mentor («наставник»).
    Mentor,
    /// A mentee («наставляемый»).
    Mentee,
}

impl PairSide {
    /// The stored name: the proto value name without its `PAIR_SIDE_` prefix.
    pub fn as_str(self) -> &'static str {
        match self {
            PairSide::Mentor => "MENTOR",
            PairSide::Mentee => "MENTEE",
        }
    }

    /// The side a stored name stands for.
    pub fn parse(raw: &str) -> Option<Self> {
        [PairSide::Mentor, PairSide::Mentee]
            .into_iter()
            .find(|s| s.as_str() == raw)
    }

    /// The other side: whose violations a unilateral termination by this side counts.
    pub fn other(self) -> Self {
        match self {
            PairSide::Mentor => PairSide::Mentee,
            PairSide::Mentee => PairSide::Mentor,
        }
    }
}

impl fmt::Display for PairSide {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a pair has one mentee or several.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PairKind {
    /// One mentor, one mentee.
    Pair,
    /// One mentor, 2 to 30 mentees when formed.
    Group,
}

impl PairKind {
    /// The stored name: the proto value name without its `PAIR_KIND_` prefix.
    pub fn as_str(self) -> &'static str {
        match self {
            PairKind::Pair => "PAIR",
            PairKind::Group => "GROUP",
        }
    }

    /// The kind a stored name stands for.
    pub fn parse(raw: &str) -> Option<Self> {
        [PairKind::Pair, PairKind::Group]
            .into_iter()
            .find(|k| k.as_str() == raw)
    }

    /// The kind of a pair formed with `mentees` mentees: one makes a pair, 2 to 30 a group;
    /// none or more than 30 is refused (`INVALID_FIELDS`, `pair.mentees`). The kind is fixed
    /// when formed: a group whose mentees leave one by one stays a group.
    pub fn for_mentees(mentees: usize) -> Result<Self, MentoringError> {
        match mentees {
            0 => Err(MentoringError::invalid_field(
                "pair.mentees",
                "a pair or group needs at least one mentee",
            )),
            1 => Ok(PairKind::Pair),
            n if n <= MAX_GROUP_MENTEES => Ok(PairKind::Group),
            _ => Err(MentoringError::invalid_field(
                "pair.mentees",
                format!("a group has at most {MAX_GROUP_MENTEES} mentees"),
            )),
        }
    }

    /// How many mentees the kind takes when formed.
    pub fn mentee_bounds(self) -> (usize, usize) {
        match self {
            PairKind::Pair => (1, 1),
            PairKind::Group => (MIN_GROUP_MENTEES, MAX_GROUP_MENTEES),
        }
    }
}

impl fmt::Display for PairKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_mentee_is_a_pair_and_two_to_thirty_a_group() {
        assert_eq!(PairKind::for_mentees(1), Ok(PairKind::Pair));
        assert_eq!(PairKind::for_mentees(2), Ok(PairKind::Group));
        assert_eq!(PairKind::for_mentees(30), Ok(PairKind::Group));
        for n in [0, 31] {
            let refused = PairKind::for_mentees(n).expect_err("out of bounds");
            assert_eq!(refused.reason(), "INVALID_FIELDS");
            assert_eq!(refused.field_errors()[0].field, "pair.mentees");
        }
        assert_eq!(PairKind::Pair.mentee_bounds(), (1, 1));
        assert_eq!(PairKind::Group.mentee_bounds(), (2, 30));
    }

    #[test]
    fn sides_and_kinds_round_trip() {
        for side in [PairSide::Mentor, PairSide::Mentee] {
            assert_eq!(PairSide::parse(side.as_str()), Some(side));
            assert_eq!(side.other().other(), side);
        }
        for kind in [PairKind::Pair, PairKind::Group] {
            assert_eq!(PairKind::parse(kind.as_str()), Some(kind));
        }
    }
}
