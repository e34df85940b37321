//! What a person shows once their consent to personal data is revoked (rule 1, choice 8):
//! revocation hides, it does not erase. A redacted person keeps their resource name and
//! role (the counts by role and pair type need them, and the pair type shows the roles
//! anyway); every other field is empty. The free texts of a pair or group one of whose
//! members is redacted are hidden too, while dates, states and counts stay.

use jiff::civil::Date;

use super::consent::is_minor;
use super::roles::ParticipantRole;

/// A person's names as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonName {
    /// The family name.
    pub family_name: String,
    /// The given name.
    pub given_name: String,
    /// The patronymic; empty when the person has none.
    pub patronymic: String,
}

impl PersonName {
    /// Family name, given name and patronymic in one line, as Russian lists write them:
    /// «Иванова Мария Сергеевна»; without a patronymic, the two names.
    pub fn display_name(&self) -> String {
        [&self.family_name, &self.given_name, &self.patronymic]
            .into_iter()
            .map(|part| part.trim())
            .filter(|part| !part.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// A participant as other resources show them (`Person` of the contract).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonView {
    /// The resource name; always set.
    pub participant: String,
    /// The role; always set.
    pub role: ParticipantRole,
    /// The names in one line; empty when redacted.
    pub display_name: String,
    /// Whether under 18 on the day of the call; false when redacted.
    pub minor: bool,
    /// Whether the consent to personal data is revoked and no later one given.
    pub redacted: bool,
}

impl PersonView {
    /// The person as shown on `today` (the institution's day): their names and whether
    /// they are a minor, unless `redacted`, when only the resource name and role remain.
    pub fn new(
        participant: &str,
        role: ParticipantRole,
        name: &PersonName,
        birth_date: Date,
        today: Date,
        redacted: bool,
    ) -> Self {
        if redacted {
            PersonView::redacted(participant, role)
        } else {
            PersonView {
                participant: participant.to_string(),
                role,
                display_name: name.display_name(),
                minor: is_minor(birth_date, today),
                redacted: false,
            }
        }
    }

    /// What a redacted person shows: their resource name and role, nothing else.
    pub fn redacted(participant: &str, role: ParticipantRole) -> Self {
        PersonView {
            participant: participant.to_string(),
            role,
            display_name: String::new(),
            minor: false,
            redacted: true,
        }
    }
}

/// Whether a pair's texts are hidden: when any member, current or former, is redacted.
pub fn pair_redacted(members_redacted: impl IntoIterator<Item = bool>) -> bool {
    members_redacted.into_iter().any(|redacted| redacted)
}

/// A free text of a pair (goal, plan activity, meeting notes, agreement task, petition,
/// explanation, answer) as shown: empty when the pair is redacted.
pub fn shown_text(text: &str, pair_redacted: bool) -> &str {
    if pair_redacted { "" } else { text }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    const P: &str = "institutions/mechta-saratov/participants/q1";

    fn name() -> PersonName {
        PersonName {
            family_name: "Тестова".into(),
            given_name: "Алиса".into(),
            patronymic: "Вымышленная".into(),
        }
    }

    #[test]
    fn a_person_in_force_shows_names_and_minority() {
        let shown = PersonView::new(
            P,
            ParticipantRole::Pupil,
            &name(),
            date(2012, 3, 1),
            date(2025, 2, 12),
            false,
        );
        assert_eq!(shown.display_name, "Тестова Алиса Вымышленная");
        assert!(shown.minor);
        assert!(!shown.redacted);
    }

    #[test]
    fn a_redacted_person_keeps_only_name_of_resource_and_role() {
        let shown = PersonView::new(
            P,
            ParticipantRole::Pupil,
            &name(),
            date(2012, 3, 1),
            date(2025, 2, 12),
            true,
        );
        assert_eq!(
            shown,
            PersonView {
                participant: P.into(),
                role: ParticipantRole::Pupil,
                display_name: String::new(),
                minor: false,
                redacted: true,
            }
        );
    }

    #[test]
    fn display_names_skip_a_missing_patronymic() {
        let no_patronymic = PersonName {
            patronymic: String::new(),
            ..name()
        };
        assert_eq!(no_patronymic.display_name(), "Тестова Алиса");
    }

    #[test]
    fn one_redacted_member_hides_the_pairs_texts() {
        assert!(!pair_redacted([false, false]));
        assert!(pair_redacted([false, true, false]));
        assert_eq!(
            shown_text("адаптация в отряде", false),
            "адаптация в отряде"
        );
        assert_eq!(shown_text("адаптация в отряде", true), "");
    }
}
