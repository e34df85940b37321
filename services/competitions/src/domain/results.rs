//! Rule 7: the organiser chooses each nomination's winners. The ranking suggests its top;
//! any other choice — other applications, or none at all where applications were ranked —
//! carries a recorded reason.

use std::collections::BTreeSet;

use super::scoring::Ranked;
use super::{CompetitionError, FieldError};

/// Longest departure reason, in characters.
pub const MAX_DEPARTURE_REASON_CHARS: usize = 2_000;

/// Rule 7: checks a choice of winners against the nomination's ranking. `chosen` are
/// application IDs in the order given; the reason is required when they are not the top
/// `chosen.len()` places.
pub fn check_winners(
    ranking: &[Ranked],
    chosen: &[String],
    departure_reason: &str,
) -> Result<(), CompetitionError> {
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, id) in chosen.iter().enumerate() {
        if !ranking.iter().any(|r| &r.application.application_id == id) {
            problems.push(FieldError::new(
                format!("applications[{i}]"),
                "not a submitted application of this nomination",
            ));
        } else if !seen.insert(id.as_str()) {
            problems.push(FieldError::new(format!("applications[{i}]"), "named twice"));
        }
    }
    if departure_reason.chars().count() > MAX_DEPARTURE_REASON_CHARS {
        problems.push(FieldError::new(
            "departure_reason",
            format!("at most {MAX_DEPARTURE_REASON_CHARS} characters"),
        ));
    }
    if !problems.is_empty() {
        return Err(CompetitionError::InvalidFields(problems));
    }
    if departs_from_ranking(ranking, chosen) && departure_reason.trim().is_empty() {
        return Err(CompetitionError::DepartureReasonRequired);
    }
    Ok(())
}

/// Whether `chosen` differs from what the ranking suggests: its top `chosen.len()` places,
/// or at least one winner where anything was ranked.
pub fn departs_from_ranking(ranking: &[Ranked], chosen: &[String]) -> bool {
    if chosen.is_empty() {
        return !ranking.is_empty();
    }
    let top: BTreeSet<&str> = ranking
        .iter()
        .take(chosen.len())
        .map(|r| r.application.application_id.as_str())
        .collect();
    let chosen: BTreeSet<&str> = chosen.iter().map(String::as_str).collect();
    top != chosen
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::scoring::{RankInput, rank};

    fn ranking() -> Vec<Ranked> {
        let at: jiff::Timestamp = "2025-01-20T10:00:00Z".parse().expect("instant");
        rank(&[
            RankInput {
                application_id: "first".into(),
                score: Some(90.0),
                completed_reviews: 3,
                submit_time: at,
            },
            RankInput {
                application_id: "second".into(),
                score: Some(80.0),
                completed_reviews: 3,
                submit_time: at,
            },
        ])
    }

    fn ids(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn rule_7_the_top_of_the_ranking_needs_no_reason() {
        assert_eq!(check_winners(&ranking(), &ids(&["first"]), ""), Ok(()));
        assert_eq!(
            check_winners(&ranking(), &ids(&["second", "first"]), ""),
            Ok(())
        );
    }

    #[test]
    fn rule_7_departing_from_the_ranking_needs_a_reason() {
        assert_eq!(
            check_winners(&ranking(), &ids(&["second"]), " "),
            Err(CompetitionError::DepartureReasonRequired)
        );
        assert_eq!(
            check_winners(&ranking(), &ids(&[]), ""),
            Err(CompetitionError::DepartureReasonRequired),
            "no winner where applications were ranked is a departure too"
        );
        assert_eq!(
            check_winners(
                &ranking(),
                &ids(&["second"]),
                "практика первого места уже тиражируется"
            ),
            Ok(())
        );
        assert_eq!(check_winners(&[], &ids(&[]), ""), Ok(()));
    }

    #[test]
    fn winners_come_from_the_ranking_once_each() {
        let refused = check_winners(&ranking(), &ids(&["first", "other", "first"]), "x");
        let Err(CompetitionError::InvalidFields(problems)) = refused else {
            panic!("refused: {refused:?}");
        };
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["applications[1]", "applications[2]"]);
    }
}
