//! Participants' roles in the institution (rule 1): head, curator, educator, counsellor,
//! volunteer, pupil, young specialist, teacher; who of them is staff, who may be appointed
//! curator (choice 5), and when a role may change at all.

use std::fmt;

use super::MentoringError;
use super::consent::ConsentPurpose;

/// A participant's role in the institution; a participant has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ParticipantRole {
    /// The head of the institution («руководитель организации», the director).
    Head,
    /// The curator of the mentoring programme («куратор»), appointed by the director.
    Curator,
    /// An educator («воспитатель»).
    Educator,
    /// A counsellor («вожатый»).
    Counsellor,
    /// A volunteer («волонтёр»).
    Volunteer,
    /// A pupil of the centre («воспитанник»); usually a minor.
    Pupil,
    /// A young specialist («молодой специалист»): a pedagogical worker in their first years.
    YoungSpecialist,
    /// A teacher («педагог»), for example of additional education.
    Teacher,
}

impl ParticipantRole {
    /// Every role, in the order of the proto enum.
    pub const ALL: [ParticipantRole; 8] = [
        ParticipantRole::Head,
        ParticipantRole::Curator,
        ParticipantRole::Educator,
        ParticipantRole::Counsellor,
        ParticipantRole::Volunteer,
        ParticipantRole::Pupil,
        ParticipantRole::YoungSpecialist,
        ParticipantRole::Teacher,
    ];

    /// The stored name: the proto value name without its `PARTICIPANT_ROLE_` prefix.
    pub fn as_str(self) -> &'static str {
        match self {
            ParticipantRole::Head => "HEAD",
            ParticipantRole::Curator => "CURATOR",
            ParticipantRole::Educator => "EDUCATOR",
            ParticipantRole::Counsellor => "COUNSELLOR",
            ParticipantRole::Volunteer => "VOLUNTEER",
            ParticipantRole::Pupil => "PUPIL",
            ParticipantRole::YoungSpecialist => "YOUNG_SPECIALIST",
            ParticipantRole::Teacher => "TEACHER",
        }
    }

    /// The role a stored name stands for.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == raw)
    }

    /// Whether the role is one of the institution's pedagogical or administrative workers
    /// («педагогический или административный работник», §4.2). Volunteers and pupils are
    /// not employed by it.
    pub fn is_staff(self) -> bool {
        !matches!(self, ParticipantRole::Volunteer | ParticipantRole::Pupil)
    }

    /// Choice 5: whether the director may appoint a participant of this role curator. Any
    /// staff member may be, except the head, who appoints and does not serve as curator.
    pub fn may_be_appointed_curator(self) -> bool {
        self.is_staff() && self != ParticipantRole::Head
    }

    /// Whether only the director gives or takes this role (HEAD, CURATOR): the curator
    /// records everyone else.
    pub fn given_by_director_only(self) -> bool {
        matches!(self, ParticipantRole::Head | ParticipantRole::Curator)
    }
}

impl fmt::Display for ParticipantRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the store found about the participant the director appoints curator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appointee<'a> {
    /// Their resource name.
    pub participant: &'a str,
    /// Their current role.
    pub role: ParticipantRole,
    /// Whether their consent to PERSONAL_DATA is in force (they are not redacted).
    pub consent_in_force: bool,
    /// A FORMING, ACTIVE or SUSPENDED pair or group they are in, if any.
    pub open_pair: Option<&'a str>,
}

/// `AppointCurator`'s rules, in the contract's order: a role that may serve
/// (`PARTICIPANT_ROLE_MISMATCH`), a consent in force (`CONSENT_MISSING`), and no open pair
/// when the role is to become CURATOR (`PARTICIPANT_IN_PAIR`), since the role decides the
/// fit of their pairs. A participant who already is CURATOR keeps their role and pairs.
pub fn check_curator_appointment(appointee: &Appointee<'_>) -> Result<(), MentoringError> {
    if !appointee.role.may_be_appointed_curator() {
        return Err(MentoringError::ParticipantRoleMismatch {
            role: appointee.role,
        });
    }
    if !appointee.consent_in_force {
        return Err(MentoringError::ConsentMissing {
            participant: appointee.participant.to_string(),
            purpose: ConsentPurpose::PersonalData,
        });
    }
    ensure_role_change_allowed(
        appointee.role,
        ParticipantRole::Curator,
        appointee.open_pair,
    )
}

/// A role changes only while the participant is in no FORMING, ACTIVE or SUSPENDED pair or
/// group (`PARTICIPANT_IN_PAIR`): the role decides whether the pair fits its type. Keeping
/// the same role is no change.
pub fn ensure_role_change_allowed(
    current: ParticipantRole,
    new: ParticipantRole,
    open_pair: Option<&str>,
) -> Result<(), MentoringError> {
    match open_pair {
        Some(pair) if current != new => Err(MentoringError::ParticipantInPair {
            pair: pair.to_string(),
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ParticipantRole::*;

    const P: &str = "institutions/mechta-saratov/participants/q1";
    const PAIR: &str = "institutions/mechta-saratov/pairs/k3";

    #[test]
    fn stored_names_are_the_proto_value_names_and_round_trip() {
        let names: Vec<&str> = ParticipantRole::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(
            names,
            [
                "HEAD",
                "CURATOR",
                "EDUCATOR",
                "COUNSELLOR",
                "VOLUNTEER",
                "PUPIL",
                "YOUNG_SPECIALIST",
                "TEACHER"
            ]
        );
        for role in ParticipantRole::ALL {
            assert_eq!(ParticipantRole::parse(role.as_str()), Some(role));
        }
        assert_eq!(ParticipantRole::parse("PARTICIPANT_ROLE_HEAD"), None);
        assert_eq!(ParticipantRole::parse("head"), None);
    }

    #[test]
    fn staff_are_everyone_but_volunteers_and_pupils() {
        let staff: Vec<_> = ParticipantRole::ALL
            .into_iter()
            .filter(|r| r.is_staff())
            .collect();
        assert_eq!(
            staff,
            [
                Head,
                Curator,
                Educator,
                Counsellor,
                YoungSpecialist,
                Teacher
            ]
        );
    }

    #[test]
    fn the_curator_is_appointed_from_staff_but_not_the_head() {
        let may: Vec<_> = ParticipantRole::ALL
            .into_iter()
            .filter(|r| r.may_be_appointed_curator())
            .collect();
        assert_eq!(
            may,
            [Curator, Educator, Counsellor, YoungSpecialist, Teacher]
        );
        for role in [Head, Pupil, Volunteer] {
            let appointee = Appointee {
                participant: P,
                role,
                consent_in_force: true,
                open_pair: None,
            };
            assert_eq!(
                check_curator_appointment(&appointee),
                Err(MentoringError::ParticipantRoleMismatch { role })
            );
        }
        assert!(Head.given_by_director_only() && Curator.given_by_director_only());
        assert!(!Educator.given_by_director_only());
    }

    #[test]
    fn an_appointment_needs_consent_then_no_open_pair() {
        let mut appointee = Appointee {
            participant: P,
            role: Educator,
            consent_in_force: false,
            open_pair: Some(PAIR),
        };
        // The role is checked first, then the consent, then the pair.
        assert_eq!(
            check_curator_appointment(&Appointee {
                role: Pupil,
                ..appointee
            })
            .map_err(|e| e.reason()),
            Err("PARTICIPANT_ROLE_MISMATCH")
        );
        assert_eq!(
            check_curator_appointment(&appointee),
            Err(MentoringError::ConsentMissing {
                participant: P.into(),
                purpose: ConsentPurpose::PersonalData,
            })
        );
        appointee.consent_in_force = true;
        assert_eq!(
            check_curator_appointment(&appointee),
            Err(MentoringError::ParticipantInPair { pair: PAIR.into() })
        );
        // A curator appointed again keeps the role: their pairs are no obstacle.
        appointee.role = Curator;
        assert_eq!(check_curator_appointment(&appointee), Ok(()));
        appointee.role = Teacher;
        appointee.open_pair = None;
        assert_eq!(check_curator_appointment(&appointee), Ok(()));
    }

    #[test]
    fn a_role_changes_only_outside_open_pairs() {
        assert_eq!(
            ensure_role_change_allowed(Counsellor, Educator, Some(PAIR)),
            Err(MentoringError::ParticipantInPair { pair: PAIR.into() })
        );
        assert_eq!(
            ensure_role_change_allowed(Counsellor, Counsellor, Some(PAIR)),
            Ok(())
        );
        assert_eq!(
            ensure_role_change_allowed(Counsellor, Educator, None),
            Ok(())
        );
    }
}
