//! Consent first (rule 1; Appendix 2 of the regulation, under 152-FZ): its two purposes
//! (choice 7), who gives it — a parent or legal representative for a person under 18 on
//! the give date (choice 6) — and who revokes it. A revoked consent stays revoked; a new
//! one is a new record (`CreateConsent`), so nothing undoes a revocation silently.

use std::fmt;

use jiff::ToSpan;
use jiff::civil::Date;

use super::{MentoringError, Transition};

/// The age from which a person gives their own consent.
pub const AGE_OF_MAJORITY: i16 = 18;

/// What a consent is for (choice 7): two separate records, so that one can be revoked
/// without the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConsentPurpose {
    /// Processing of personal data to take part in the programme; without it nothing is
    /// processed about the person.
    PersonalData,
    /// Publication of photographs and video with the person's name (152-FZ art. 10.1 asks
    /// for a separate consent); needed to feature them in a publication.
    Publication,
}

impl ConsentPurpose {
    /// Every purpose, in the order of the proto enum.
    pub const ALL: [ConsentPurpose; 2] =
        [ConsentPurpose::PersonalData, ConsentPurpose::Publication];

    /// The stored name: the proto value name without its `CONSENT_PURPOSE_` prefix.
    pub fn as_str(self) -> &'static str {
        match self {
            ConsentPurpose::PersonalData => "PERSONAL_DATA",
            ConsentPurpose::Publication => "PUBLICATION",
        }
    }

    /// The purpose a stored name stands for.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == raw)
    }
}

impl fmt::Display for ConsentPurpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a consent is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConsentState {
    /// Given and in force.
    Given,
    /// Revoked; final.
    Revoked,
}

impl ConsentState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ConsentState::Given => "GIVEN",
            ConsentState::Revoked => "REVOKED",
        }
    }

    /// The state a stored name stands for.
    pub fn parse(raw: &str) -> Option<Self> {
        [ConsentState::Given, ConsentState::Revoked]
            .into_iter()
            .find(|s| s.as_str() == raw)
    }

    /// Revoking: a GIVEN consent becomes REVOKED; revoking a REVOKED one answers it
    /// unchanged. Nothing leads back to GIVEN.
    pub fn revoke(self) -> Transition {
        match self {
            ConsentState::Given => Transition::Changed,
            ConsentState::Revoked => Transition::Unchanged,
        }
    }
}

/// How the person who gives a minor's consent is related to them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GuardianRelation {
    /// A parent («родитель»).
    Parent,
    /// An adoptive parent («усыновитель»).
    AdoptiveParent,
    /// A guardian or trustee («опекун», «попечитель»).
    Guardian,
    /// Another legal representative («иной законный представитель»).
    OtherLegalRepresentative,
}

impl GuardianRelation {
    /// Every relation, in the order of the proto enum.
    pub const ALL: [GuardianRelation; 4] = [
        GuardianRelation::Parent,
        GuardianRelation::AdoptiveParent,
        GuardianRelation::Guardian,
        GuardianRelation::OtherLegalRepresentative,
    ];

    /// The stored name: the proto value name without its `GUARDIAN_RELATION_` prefix.
    pub fn as_str(self) -> &'static str {
        match self {
            GuardianRelation::Parent => "PARENT",
            GuardianRelation::AdoptiveParent => "ADOPTIVE_PARENT",
            GuardianRelation::Guardian => "GUARDIAN",
            GuardianRelation::OtherLegalRepresentative => "OTHER_LEGAL_REPRESENTATIVE",
        }
    }

    /// The relation a stored name stands for.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == raw)
    }

    /// The relation as the printed receipt and agreement say it.
    pub fn russian(self) -> &'static str {
        match self {
            GuardianRelation::Parent => "родитель",
            GuardianRelation::AdoptiveParent => "усыновитель",
            GuardianRelation::Guardian => "опекун (попечитель)",
            GuardianRelation::OtherLegalRepresentative => "иной законный представитель",
        }
    }
}

/// Who acted for a person: they themselves, their guardian, or the staff recording a paper
/// document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActorKind {
    /// The person themselves, signed in.
    Subject,
    /// The guardian of a minor, signed in.
    Guardian,
    /// The director or the curator, recording a paper document.
    Staff,
}

impl ActorKind {
    /// The stored name: the proto value name without its `ACTOR_KIND_` prefix.
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::Subject => "SUBJECT",
            ActorKind::Guardian => "GUARDIAN",
            ActorKind::Staff => "STAFF",
        }
    }

    /// The actor a stored name stands for.
    pub fn parse(raw: &str) -> Option<Self> {
        [ActorKind::Subject, ActorKind::Guardian, ActorKind::Staff]
            .into_iter()
            .find(|a| a.as_str() == raw)
    }
}

/// The day a person born on `birth_date` comes of age: their 18th birthday. One born on
/// 29 February comes of age on 28 February of a common year, as a period in years ends on
/// the month's last day when it has no such day (Civil Code art. 192).
pub fn coming_of_age(birth_date: Date) -> Date {
    birth_date
        .checked_add(i64::from(AGE_OF_MAJORITY).years())
        .unwrap_or(Date::MAX)
}

/// Whether a person born on `birth_date` is under 18 on `day`.
pub fn is_minor(birth_date: Date, day: Date) -> bool {
    day < coming_of_age(birth_date)
}

/// A consent's give date is a day the person lived, not a future one (`INVALID_FIELDS`,
/// `consent.give_date`).
pub fn ensure_give_date(
    birth_date: Date,
    give_date: Date,
    today: Date,
) -> Result<(), MentoringError> {
    if give_date > today {
        Err(MentoringError::invalid_field(
            "consent.give_date",
            "must not be after today",
        ))
    } else if give_date < birth_date {
        Err(MentoringError::invalid_field(
            "consent.give_date",
            "must not be before the birth date",
        ))
    } else {
        Ok(())
    }
}

/// Choice 6: a person under 18 on the give date consents through a parent or legal
/// representative, whatever their age otherwise (App. 2 is signed by the parent for a
/// minor over 14 and a young child alike). A minor's own consent is refused with
/// `GUARDIAN_CONSENT_REQUIRED` naming `consent.guardian`. An adult may be represented too.
pub fn ensure_guardian_for_minor(
    birth_date: Date,
    give_date: Date,
    has_guardian: bool,
) -> Result<(), MentoringError> {
    if is_minor(birth_date, give_date) && !has_guardian {
        Err(MentoringError::GuardianConsentRequired {
            field: "consent.guardian",
        })
    } else {
        Ok(())
    }
}

/// A corrected birth date must not make a minor, on its give date, of a person whose
/// consent names no guardian: the consent would then be one a minor gave alone.
/// `GUARDIAN_CONSENT_REQUIRED` naming `participant.birth_date`.
pub fn ensure_birth_date_correction(
    corrected_birth_date: Date,
    give_date: Date,
    has_guardian: bool,
) -> Result<(), MentoringError> {
    if is_minor(corrected_birth_date, give_date) && !has_guardian {
        Err(MentoringError::GuardianConsentRequired {
            field: "participant.birth_date",
        })
    } else {
        Ok(())
    }
}

/// A consent to PUBLICATION is recorded only for a person whose consent to PERSONAL_DATA
/// is in force: nothing is processed about a redacted person (`CONSENT_MISSING`).
pub fn ensure_may_record(
    purpose: ConsentPurpose,
    participant: &str,
    personal_data_in_force: bool,
) -> Result<(), MentoringError> {
    if purpose == ConsentPurpose::Publication && !personal_data_in_force {
        Err(MentoringError::ConsentMissing {
            participant: participant.to_string(),
            purpose: ConsentPurpose::PersonalData,
        })
    } else {
        Ok(())
    }
}

/// Who may revoke (choice 6): the staff recording the written statement, the guardian the
/// consent names, and the subject once an adult on the day of the call. A minor revoking a
/// consent their guardian gave is refused with `GUARDIAN_REQUIRED`: the guardian or the
/// staff do it. Whether the signed-in guardian is the one the consent names is the
/// authorisation's question, not this rule's.
pub fn ensure_may_revoke(
    actor: ActorKind,
    subject_birth_date: Date,
    today: Date,
) -> Result<(), MentoringError> {
    match actor {
        ActorKind::Staff | ActorKind::Guardian => Ok(()),
        ActorKind::Subject if is_minor(subject_birth_date, today) => {
            Err(MentoringError::GuardianRequired)
        }
        ActorKind::Subject => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn a_person_is_a_minor_until_the_day_they_turn_18() {
        let birth = date(2008, 6, 15);
        assert!(is_minor(birth, date(2026, 6, 14)));
        assert!(!is_minor(birth, date(2026, 6, 15)));
        // Born on 29 February: of age on 28 February of a common year.
        let leap = date(2008, 2, 29);
        assert_eq!(coming_of_age(leap), date(2026, 2, 28));
        assert!(is_minor(leap, date(2026, 2, 27)));
        assert!(!is_minor(leap, date(2026, 2, 28)));
    }

    #[test]
    fn a_minors_consent_is_given_by_a_guardian() {
        let pupil = date(2012, 3, 1);
        assert_eq!(
            ensure_guardian_for_minor(pupil, date(2024, 6, 1), false),
            Err(MentoringError::GuardianConsentRequired {
                field: "consent.guardian"
            })
        );
        assert_eq!(
            ensure_guardian_for_minor(pupil, date(2024, 6, 1), true),
            Ok(())
        );
    }

    #[test]
    fn age_counts_on_the_give_date_not_today() {
        let birth = date(2006, 6, 15);
        // The day before the 18th birthday: a guardian is needed.
        assert!(ensure_guardian_for_minor(birth, date(2024, 6, 14), false).is_err());
        // On the birthday: their own consent.
        assert_eq!(
            ensure_guardian_for_minor(birth, date(2024, 6, 15), false),
            Ok(())
        );
        // An adult may still be represented.
        assert_eq!(
            ensure_guardian_for_minor(birth, date(2024, 6, 15), true),
            Ok(())
        );
    }

    #[test]
    fn a_correction_that_makes_a_minor_of_an_unrepresented_person_is_refused() {
        let give = date(2024, 6, 1);
        assert_eq!(
            ensure_birth_date_correction(date(2007, 1, 1), give, false),
            Err(MentoringError::GuardianConsentRequired {
                field: "participant.birth_date"
            })
        );
        assert_eq!(
            ensure_birth_date_correction(date(2007, 1, 1), give, true),
            Ok(())
        );
        assert_eq!(
            ensure_birth_date_correction(date(2005, 1, 1), give, false),
            Ok(())
        );
    }

    #[test]
    fn the_give_date_is_between_birth_and_today() {
        let birth = date(2000, 1, 1);
        let today = date(2024, 6, 1);
        assert_eq!(ensure_give_date(birth, today, today), Ok(()));
        assert_eq!(
            ensure_give_date(birth, date(2024, 6, 2), today).map_err(|e| e.reason()),
            Err("INVALID_FIELDS")
        );
        assert!(ensure_give_date(birth, date(1999, 12, 31), today).is_err());
    }

    #[test]
    fn a_minor_does_not_revoke_alone_but_their_guardian_and_the_staff_do() {
        let pupil = date(2012, 3, 1);
        let today = date(2025, 2, 12);
        assert_eq!(
            ensure_may_revoke(ActorKind::Subject, pupil, today),
            Err(MentoringError::GuardianRequired)
        );
        assert_eq!(ensure_may_revoke(ActorKind::Guardian, pupil, today), Ok(()));
        assert_eq!(ensure_may_revoke(ActorKind::Staff, pupil, today), Ok(()));
        // Once of age, the former minor revokes the consent their guardian gave.
        assert_eq!(
            ensure_may_revoke(ActorKind::Subject, pupil, date(2030, 3, 1)),
            Ok(())
        );
        assert_eq!(
            ensure_may_revoke(ActorKind::Subject, date(1990, 5, 5), today),
            Ok(())
        );
    }

    #[test]
    fn publication_consent_needs_the_personal_data_one() {
        let p = "institutions/mechta-saratov/participants/q1";
        assert_eq!(
            ensure_may_record(ConsentPurpose::Publication, p, false),
            Err(MentoringError::ConsentMissing {
                participant: p.into(),
                purpose: ConsentPurpose::PersonalData
            })
        );
        assert_eq!(
            ensure_may_record(ConsentPurpose::Publication, p, true),
            Ok(())
        );
        // A new consent to PERSONAL_DATA is how a redacted person comes back.
        assert_eq!(
            ensure_may_record(ConsentPurpose::PersonalData, p, false),
            Ok(())
        );
    }

    #[test]
    fn a_revoked_consent_stays_revoked() {
        assert_eq!(ConsentState::Given.revoke(), Transition::Changed);
        assert_eq!(ConsentState::Revoked.revoke(), Transition::Unchanged);
        for purpose in ConsentPurpose::ALL {
            assert_eq!(ConsentPurpose::parse(purpose.as_str()), Some(purpose));
        }
        assert_eq!(ConsentPurpose::PersonalData.as_str(), "PERSONAL_DATA");
        assert_eq!(ConsentPurpose::Publication.as_str(), "PUBLICATION");
        for relation in GuardianRelation::ALL {
            assert_eq!(GuardianRelation::parse(relation.as_str()), Some(relation));
        }
        assert_eq!(ConsentState::parse("REVOKED"), Some(ConsentState::Revoked));
        assert_eq!(ActorKind::parse("STAFF"), Some(ActorKind::Staff));
    }
}
