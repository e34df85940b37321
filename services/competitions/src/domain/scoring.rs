//! Rule 6: a review scores every criterion of the rubric within its scale and carries
//! feedback; a review's score is the weighted mean of its criteria on a 0-100 scale; an
//! application's score is the mean of its completed reviews; the ranking of a nomination
//! is by score, ties broken deterministically and visibly: higher score, then more
//! completed reviews, then earlier submission, then the application's ID.
//!
//! Two scores are tied when they show the same at two decimals, the precision results are
//! published with: a difference nobody can see does not decide a ranking.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use edu_kit::error::quote;
use jiff::Timestamp;

use super::{CompetitionError, Criterion, FieldError};

/// The longest feedback, in characters.
pub const MAX_FEEDBACK_CHARS: usize = 10_000;

/// Rule 6: checks a review's scores against the rubric. A saved draft may leave criteria
/// unscored; a completed review scores every criterion and has feedback.
pub fn check_review(
    rubric: &[Criterion],
    scores: &[(String, i32)],
    feedback: &str,
    completing: bool,
) -> Result<Vec<(String, u8)>, CompetitionError> {
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    let mut checked = Vec::new();
    for (i, (criterion_id, score)) in scores.iter().enumerate() {
        let Some(criterion) = rubric.iter().find(|c| &c.id == criterion_id) else {
            problems.push(FieldError::new(
                format!("scores[{i}].criterion_id"),
                format!("{} is not a criterion of the contest", quote(criterion_id)),
            ));
            continue;
        };
        if !seen.insert(criterion_id.as_str()) {
            problems.push(FieldError::new(
                format!("scores[{i}].criterion_id"),
                format!("{} is scored twice", quote(criterion_id)),
            ));
            continue;
        }
        match u8::try_from(*score) {
            Ok(score) if (criterion.min_score..=criterion.max_score).contains(&score) => {
                checked.push((criterion_id.clone(), score));
            }
            _ => problems.push(FieldError::new(
                format!("scores[{i}].score"),
                format!(
                    "must be between {} and {} for {}",
                    criterion.min_score,
                    criterion.max_score,
                    quote(criterion_id)
                ),
            )),
        }
    }
    if feedback.chars().count() > MAX_FEEDBACK_CHARS {
        problems.push(FieldError::new(
            "feedback",
            format!("at most {MAX_FEEDBACK_CHARS} characters"),
        ));
    }
    if completing {
        let missing: Vec<&str> = rubric
            .iter()
            .filter(|c| !seen.contains(c.id.as_str()))
            .map(|c| c.id.as_str())
            .collect();
        if !missing.is_empty() {
            problems.push(FieldError::new(
                "scores",
                format!("a completed review scores every criterion; missing {missing:?}"),
            ));
        }
        if feedback.trim().is_empty() {
            problems.push(FieldError::new(
                "feedback",
                "a completed review carries feedback for the team",
            ));
        }
    }
    if problems.is_empty() {
        Ok(checked)
    } else {
        Err(CompetitionError::InvalidFields(problems))
    }
}

/// Rule 6: a review's score, 0 to 100: each criterion's score placed on its scale, weighted.
/// `None` when no criterion is scored.
pub fn review_score(rubric: &[Criterion], scores: &[(String, u8)]) -> Option<f64> {
    let mut weighted = 0.0;
    let mut weights = 0.0;
    for (criterion_id, score) in scores {
        let criterion = rubric.iter().find(|c| &c.id == criterion_id)?;
        let span = f64::from(criterion.max_score - criterion.min_score);
        let placed = f64::from(score - criterion.min_score) / span * 100.0;
        weighted += placed * f64::from(criterion.weight);
        weights += f64::from(criterion.weight);
    }
    (weights > 0.0).then(|| weighted / weights)
}

/// Rule 6: an application's score, the mean of its completed reviews' scores.
pub fn application_score(completed_review_scores: &[f64]) -> Option<f64> {
    if completed_review_scores.is_empty() {
        None
    } else {
        Some(completed_review_scores.iter().sum::<f64>() / completed_review_scores.len() as f64)
    }
}

/// An application to rank.
#[derive(Debug, Clone, PartialEq)]
pub struct RankInput {
    /// The application's ID.
    pub application_id: String,
    /// Its score; `None` before any review is completed (ranked last).
    pub score: Option<f64>,
    /// How many of its reviews are completed.
    pub completed_reviews: u32,
    /// When it was submitted.
    pub submit_time: Timestamp,
}

/// A place in a nomination's ranking.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranked {
    /// The application.
    pub application: RankInput,
    /// 1 for the first; every place is distinct.
    pub rank: u32,
    /// How a tie with the application above was broken, in words; empty without a tie.
    pub tie_break: String,
    /// The same, as the rule that decided it.
    pub rule: TieBreak,
}

/// Which rule put an application below the one above it when their scores tie (rule 6):
/// the machine-readable twin of [`Ranked::tie_break`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TieBreak {
    /// No tie with the application above (or it is first).
    NoTie,
    /// The same score; fewer completed reviews.
    CompletedReviews,
    /// The same score and reviews; submitted later.
    SubmitTime,
    /// The same score, reviews and submission time; ordered by application ID.
    ApplicationId,
}

/// Rule 6: the rule that places `this` below `above`.
pub fn tie_break_rule(above: Option<&RankInput>, this: &RankInput) -> TieBreak {
    match above {
        Some(above) if shown(above.score) == shown(this.score) => {
            if above.completed_reviews != this.completed_reviews {
                TieBreak::CompletedReviews
            } else if above.submit_time != this.submit_time {
                TieBreak::SubmitTime
            } else {
                TieBreak::ApplicationId
            }
        }
        _ => TieBreak::NoTie,
    }
}

/// The score as published: hundredths, so that ties are what readers see.
fn shown(score: Option<f64>) -> Option<i64> {
    score.map(|s| (s * 100.0).round() as i64)
}

fn order(a: &RankInput, b: &RankInput) -> Ordering {
    shown(b.score)
        .cmp(&shown(a.score))
        .then_with(|| b.completed_reviews.cmp(&a.completed_reviews))
        .then_with(|| a.submit_time.cmp(&b.submit_time))
        .then_with(|| a.application_id.cmp(&b.application_id))
}

/// Rule 6: the ranking of one nomination.
pub fn rank(applications: &[RankInput]) -> Vec<Ranked> {
    let mut sorted = applications.to_vec();
    sorted.sort_by(order);
    let mut ranked: Vec<Ranked> = Vec::with_capacity(sorted.len());
    for (i, application) in sorted.into_iter().enumerate() {
        let rank = i as u32 + 1;
        let above = ranked.last();
        let rule = tie_break_rule(above.map(|a| &a.application), &application);
        let tie_break = match above {
            Some(above) if rule != TieBreak::NoTie => {
                tie_break(&above.application, &application, above.rank)
            }
            _ => String::new(),
        };
        ranked.push(Ranked {
            application,
            rank,
            tie_break,
            rule,
        });
    }
    ranked
}

fn tie_break(above: &RankInput, this: &RankInput, above_rank: u32) -> String {
    let same = match above.score {
        Some(score) => format!("same score ({score:.2}) as rank {above_rank}"),
        None => format!("no completed review, as rank {above_rank}"),
    };
    if above.completed_reviews != this.completed_reviews {
        format!(
            "{same}; fewer completed reviews ({} against {})",
            this.completed_reviews, above.completed_reviews
        )
    } else if above.submit_time != this.submit_time {
        format!(
            "{same} and as many completed reviews; submitted later ({} against {})",
            this.submit_time, above.submit_time
        )
    } else {
        format!(
            "{same}, as many completed reviews and the same submission time; ordered by application ID"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn criterion(id: &str, min: u8, max: u8, weight: u8) -> Criterion {
        Criterion {
            id: id.into(),
            title: id.into(),
            description: String::new(),
            min_score: min,
            max_score: max,
            weight,
        }
    }

    fn rubric() -> Vec<Criterion> {
        vec![
            criterion("relevance", 0, 10, 3),
            criterion("impact", 1, 5, 1),
        ]
    }

    fn scores(pairs: &[(&str, i32)]) -> Vec<(String, i32)> {
        pairs.iter().map(|(c, s)| (c.to_string(), *s)).collect()
    }

    fn fields(error: CompetitionError) -> Vec<String> {
        match error {
            CompetitionError::InvalidFields(problems) => {
                problems.into_iter().map(|p| p.field).collect()
            }
            other => panic!("not invalid fields: {other:?}"),
        }
    }

    #[test]
    fn rule_6_a_review_scores_within_each_criterions_scale() {
        let refused = check_review(
            &rubric(),
            &scores(&[("relevance", 11), ("impact", 0)]),
            "",
            false,
        )
        .expect_err("out of scale");
        assert_eq!(fields(refused), ["scores[0].score", "scores[1].score"]);
        let refused = check_review(
            &rubric(),
            &scores(&[("novelty", 3), ("impact", 2), ("impact", 3)]),
            "",
            false,
        )
        .expect_err("unknown and twice");
        assert_eq!(
            fields(refused),
            ["scores[0].criterion_id", "scores[2].criterion_id"]
        );
        assert!(
            check_review(&rubric(), &scores(&[("impact", 5)]), "", false).is_ok(),
            "a draft may be partial"
        );
    }

    #[test]
    fn rule_6_a_completed_review_scores_every_criterion_and_has_feedback() {
        let refused =
            check_review(&rubric(), &scores(&[("impact", 5)]), " ", true).expect_err("incomplete");
        assert_eq!(fields(refused), ["scores", "feedback"]);
        let checked = check_review(
            &rubric(),
            &scores(&[("impact", 5), ("relevance", 7)]),
            "Сильная практика",
            true,
        )
        .expect("complete");
        assert_eq!(checked.len(), 2);
    }

    #[test]
    fn rule_6_the_review_score_is_the_weighted_mean_on_a_0_to_100_scale() {
        // relevance 7/10 → 70, weight 3; impact 5 on 1..5 → 100, weight 1: (210 + 100) / 4.
        let score = review_score(&rubric(), &[("relevance".into(), 7), ("impact".into(), 5)])
            .expect("scored");
        assert!((score - 77.5).abs() < 1e-9);
        assert_eq!(review_score(&rubric(), &[]), None);
        assert_eq!(application_score(&[77.5, 62.5]), Some(70.0));
        assert_eq!(application_score(&[]), None);
    }

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(1_735_000_000 + second).expect("instant")
    }

    fn input(id: &str, score: Option<f64>, reviews: u32, submitted: i64) -> RankInput {
        RankInput {
            application_id: id.into(),
            score,
            completed_reviews: reviews,
            submit_time: at(submitted),
        }
    }

    #[test]
    fn rule_6_ties_are_broken_by_reviews_then_submission_then_id_and_say_so() {
        let ranking = rank(&[
            input("d", None, 0, 1),
            input("c", Some(80.001), 2, 5),
            input("b", Some(80.0), 3, 9),
            input("a", Some(90.0), 1, 9),
            input("e", Some(80.0), 2, 2),
        ]);
        let order: Vec<(&str, u32)> = ranking
            .iter()
            .map(|r| (r.application.application_id.as_str(), r.rank))
            .collect();
        assert_eq!(order, [("a", 1), ("b", 2), ("e", 3), ("c", 4), ("d", 5)]);
        assert_eq!(ranking[0].tie_break, "");
        assert_eq!(ranking[1].tie_break, "", "80.00 below 90.00 is no tie");
        assert!(
            ranking[2]
                .tie_break
                .contains("fewer completed reviews (2 against 3)"),
            "{}",
            ranking[2].tie_break
        );
        assert!(
            ranking[3].tie_break.contains("submitted later"),
            "80.001 shows as 80.00: {}",
            ranking[3].tie_break
        );
        assert_eq!(ranking[4].tie_break, "");
        // The same decisions, machine-readable (issue 12, item 8).
        let rules: Vec<TieBreak> = ranking.iter().map(|r| r.rule).collect();
        assert_eq!(
            rules,
            [
                TieBreak::NoTie,
                TieBreak::NoTie,
                TieBreak::CompletedReviews,
                TieBreak::SubmitTime,
                TieBreak::NoTie
            ]
        );
    }

    fn inputs() -> impl Strategy<Value = Vec<RankInput>> {
        prop::collection::vec((prop::option::of(0..5u8), 0..3u32, 0..3i64), 0..12).prop_map(
            |specs| {
                specs
                    .into_iter()
                    .enumerate()
                    .map(|(i, (score, reviews, submitted))| {
                        input(
                            &format!("a{i:02}"),
                            score.map(|s| f64::from(s) * 10.0),
                            reviews,
                            submitted,
                        )
                    })
                    .collect()
            },
        )
    }

    proptest! {
        /// The ranking does not depend on the order applications are read in, places are
        /// 1..n, and a tie-break is shown exactly where the shown score equals the one above.
        #[test]
        fn rule_6_the_ranking_is_deterministic_and_every_tie_is_explained(
            applications in inputs(),
            seed in any::<u64>(),
        ) {
            let ranking = rank(&applications);
            let mut shuffled = applications.clone();
            // A cheap deterministic shuffle from the seed.
            let len = shuffled.len();
            for i in (1..len).rev() {
                shuffled.swap(i, (seed as usize).wrapping_mul(i + 7) % (i + 1));
            }
            prop_assert_eq!(&rank(&shuffled), &ranking);
            for (i, place) in ranking.iter().enumerate() {
                prop_assert_eq!(place.rank as usize, i + 1);
                let tied = i > 0 && shown(ranking[i - 1].application.score) == shown(place.application.score);
                prop_assert_eq!(!place.tie_break.is_empty(), tied);
                if i > 0 {
                    prop_assert_ne!(order(&ranking[i - 1].application, &place.application), Ordering::Greater);
                }
            }
        }
    }
}
