//! Forming a pair or group (rules 2 and 4, choice 1), and the new mentor of a granted
//! replacement petition (rule 9). The checks run in the contract's order, each over every
//! member (mentor first) before the next, and the first failure answers:
//! malformed members (`INVALID_FIELDS`) → a member without consent (`CONSENT_MISSING`) →
//! outside the bank (`NOT_IN_BANK`) → an untrained mentor (`MENTOR_NOT_TRAINED`) → roles
//! that do not fit (`PAIR_TYPE_ROLE_MISMATCH`) → a mentee already in an open pair
//! (`MENTEE_ALREADY_PAIRED`).

use super::PairKind;
use super::fit::{MentoringForm, PairType, check_members};
use crate::domain::banks::Bank;
use crate::domain::consent::ConsentPurpose;
use crate::domain::error::{FieldError, MentoringError};
use crate::domain::roles::ParticipantRole;

/// What the store found about a member to be paired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate<'a> {
    /// Their resource name.
    pub participant: &'a str,
    /// Their role.
    pub role: ParticipantRole,
    /// Whether their consent to PERSONAL_DATA is in force (they are not redacted).
    pub consent_in_force: bool,
    /// Whether they are in the bank of their side: mentors for the mentor, mentees for a
    /// mentee.
    pub in_bank: bool,
    /// For the mentor, whether their training is recorded; ignored for mentees.
    pub trained: bool,
    /// For a mentee, the FORMING, ACTIVE or SUSPENDED pair or group they are a mentee of;
    /// ignored for the mentor, who may mentor any number.
    pub mentee_pair: Option<&'a str>,
}

/// `CreatePair`'s rules: the kind of the pair formed, or the first refusal.
pub fn check_forming(
    pair_type: PairType,
    form: MentoringForm,
    mentor: &Candidate<'_>,
    mentees: &[Candidate<'_>],
) -> Result<PairKind, MentoringError> {
    let kind = check_members_listed(mentor, mentees)?;
    if let Some(missing) = std::iter::once(mentor)
        .chain(mentees)
        .find(|c| !c.consent_in_force)
    {
        return Err(consent_missing(missing));
    }
    if !mentor.in_bank {
        return Err(not_in_bank(mentor, Bank::Mentors));
    }
    if let Some(outside) = mentees.iter().find(|c| !c.in_bank) {
        return Err(not_in_bank(outside, Bank::Mentees));
    }
    if !mentor.trained {
        return Err(not_trained(mentor));
    }
    let roles: Vec<(&str, ParticipantRole)> =
        mentees.iter().map(|c| (c.participant, c.role)).collect();
    check_members(pair_type, form, (mentor.participant, mentor.role), &roles)?;
    if let Some((participant, pair)) = mentees
        .iter()
        .find_map(|c| c.mentee_pair.map(|pair| (c.participant, pair)))
    {
        return Err(MentoringError::MenteeAlreadyPaired {
            participant: participant.to_string(),
            pair: pair.to_string(),
        });
    }
    Ok(kind)
}

/// The new mentor of a granted replacement is checked as on forming: consent, bank of
/// mentors, training, and fit with the pair type, its form and its current mentees
/// (`(resource name, role)`).
pub fn check_replacement_mentor(
    pair_type: PairType,
    form: MentoringForm,
    new_mentor: &Candidate<'_>,
    mentees: &[(&str, ParticipantRole)],
) -> Result<(), MentoringError> {
    if !new_mentor.consent_in_force {
        return Err(consent_missing(new_mentor));
    }
    if !new_mentor.in_bank {
        return Err(not_in_bank(new_mentor, Bank::Mentors));
    }
    if !new_mentor.trained {
        return Err(not_trained(new_mentor));
    }
    check_members(
        pair_type,
        form,
        (new_mentor.participant, new_mentor.role),
        mentees,
    )
}

/// The members as listed: 1 to 30 mentees, none given twice, the mentor not among them.
fn check_members_listed(
    mentor: &Candidate<'_>,
    mentees: &[Candidate<'_>],
) -> Result<PairKind, MentoringError> {
    let mut fields: Vec<FieldError> = match PairKind::for_mentees(mentees.len()) {
        Ok(_) => vec![],
        Err(refusal) => refusal.field_errors().to_vec(),
    };
    for (i, mentee) in mentees.iter().enumerate() {
        if mentee.participant == mentor.participant {
            fields.push(FieldError::new(
                format!("pair.mentees[{i}]"),
                "the mentor is not among the mentees",
            ));
        } else if mentees[..i]
            .iter()
            .any(|earlier| earlier.participant == mentee.participant)
        {
            fields.push(FieldError::new(
                format!("pair.mentees[{i}]"),
                "is given twice",
            ));
        }
    }
    if fields.is_empty() {
        PairKind::for_mentees(mentees.len())
    } else {
        Err(MentoringError::InvalidFields(fields))
    }
}

fn consent_missing(candidate: &Candidate<'_>) -> MentoringError {
    MentoringError::ConsentMissing {
        participant: candidate.participant.to_string(),
        purpose: ConsentPurpose::PersonalData,
    }
}

fn not_in_bank(candidate: &Candidate<'_>, bank: Bank) -> MentoringError {
    MentoringError::NotInBank {
        participant: candidate.participant.to_string(),
        bank,
    }
}

fn not_trained(candidate: &Candidate<'_>) -> MentoringError {
    MentoringError::MentorNotTrained {
        participant: candidate.participant.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ParticipantRole::*;

    const MENTOR: &str = "institutions/mechta-saratov/participants/mentor";
    const OPEN_PAIR: &str = "institutions/mechta-saratov/pairs/k3";

    fn mentor() -> Candidate<'static> {
        Candidate {
            participant: MENTOR,
            role: Counsellor,
            consent_in_force: true,
            in_bank: true,
            trained: true,
            mentee_pair: None,
        }
    }

    fn pupil(participant: &'static str) -> Candidate<'static> {
        Candidate {
            participant,
            role: Pupil,
            consent_in_force: true,
            in_bank: true,
            trained: false,
            mentee_pair: None,
        }
    }

    fn form(mentees: &[Candidate<'_>]) -> Result<PairKind, MentoringError> {
        check_forming(
            PairType::CounsellorPupil,
            MentoringForm::ShortTerm,
            &mentor(),
            mentees,
        )
    }

    #[test]
    fn a_fitting_pair_and_group_are_formed() {
        assert_eq!(form(&[pupil("p/a")]), Ok(PairKind::Pair));
        assert_eq!(form(&[pupil("p/a"), pupil("p/b")]), Ok(PairKind::Group));
    }

    #[test]
    fn malformed_members_are_refused_first_naming_each_field() {
        let refused = form(&[pupil("p/a"), pupil("p/a"), pupil(MENTOR)]).expect_err("malformed");
        let fields: Vec<&str> = refused
            .field_errors()
            .iter()
            .map(|f| f.field.as_str())
            .collect();
        assert_eq!(fields, ["pair.mentees[1]", "pair.mentees[2]"]);
        assert_eq!(form(&[]).map_err(|e| e.reason()), Err("INVALID_FIELDS"));
        let crowd: Vec<Candidate<'_>> = (0..31).map(|_| pupil("p/x")).collect();
        assert!(form(&crowd).is_err());
    }

    #[test]
    fn each_check_answers_in_the_contracts_order() {
        // Everything wrong at once: consent answers first.
        let mut a = pupil("p/a");
        a.consent_in_force = false;
        a.in_bank = false;
        a.role = Educator;
        a.mentee_pair = Some(OPEN_PAIR);
        assert_eq!(
            form(&[a]),
            Err(MentoringError::ConsentMissing {
                participant: "p/a".into(),
                purpose: ConsentPurpose::PersonalData
            })
        );
        a.consent_in_force = true;
        assert_eq!(
            form(&[a]),
            Err(MentoringError::NotInBank {
                participant: "p/a".into(),
                bank: Bank::Mentees
            })
        );
        a.in_bank = true;
        assert_eq!(
            form(&[a]).map_err(|e| e.reason()),
            Err("PAIR_TYPE_ROLE_MISMATCH")
        );
        a.role = Pupil;
        assert_eq!(
            form(&[a]),
            Err(MentoringError::MenteeAlreadyPaired {
                participant: "p/a".into(),
                pair: OPEN_PAIR.into()
            })
        );
        a.mentee_pair = None;
        assert_eq!(form(&[a]), Ok(PairKind::Pair));
    }

    #[test]
    fn the_mentor_comes_from_the_bank_of_mentors_and_is_trained() {
        let mut m = mentor();
        m.in_bank = false;
        m.trained = false;
        let pupils = [pupil("p/a")];
        let check = |m: &Candidate<'_>| {
            check_forming(
                PairType::CounsellorPupil,
                MentoringForm::ShortTerm,
                m,
                &pupils,
            )
        };
        assert_eq!(
            check(&m),
            Err(MentoringError::NotInBank {
                participant: MENTOR.into(),
                bank: Bank::Mentors
            })
        );
        m.in_bank = true;
        assert_eq!(
            check(&m),
            Err(MentoringError::MentorNotTrained {
                participant: MENTOR.into()
            })
        );
        m.consent_in_force = false;
        assert_eq!(check(&m).map_err(|e| e.reason()), Err("CONSENT_MISSING"));
    }

    #[test]
    fn a_replacement_mentor_is_checked_as_on_forming() {
        let mentees = [("p/a", Pupil)];
        let mut new = mentor();
        new.participant = "p/new";
        new.trained = false;
        let check = |c: &Candidate<'_>| {
            check_replacement_mentor(
                PairType::CounsellorPupil,
                MentoringForm::Situational,
                c,
                &mentees,
            )
        };
        assert_eq!(
            check(&new).map_err(|e| e.reason()),
            Err("MENTOR_NOT_TRAINED")
        );
        new.trained = true;
        assert_eq!(check(&new), Ok(()));
        new.role = Volunteer;
        assert_eq!(
            check(&new).map_err(|e| e.reason()),
            Err("PAIR_TYPE_ROLE_MISMATCH")
        );
        new.in_bank = false;
        assert_eq!(check(&new).map_err(|e| e.reason()), Err("NOT_IN_BANK"));
        new.consent_in_force = false;
        assert_eq!(check(&new).map_err(|e| e.reason()), Err("CONSENT_MISSING"));
    }
}
