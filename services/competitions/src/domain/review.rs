//! Rules 5-6 for one review: assigned, saved while in progress, completed once and then
//! fixed. The checks against the rubric are [`super::scoring`]'s.

use jiff::Timestamp;

use super::scoring::{check_review, review_score};
use super::{CompetitionError, Criterion, Transition};

/// Where a review is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewState {
    /// Assigned; nothing written yet.
    Assigned,
    /// Scores or feedback saved.
    InProgress,
    /// Completed: counts towards the application's score and never changes.
    Completed,
}

impl ReviewState {
    /// The stored and published name.
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewState::Assigned => "ASSIGNED",
            ReviewState::InProgress => "IN_PROGRESS",
            ReviewState::Completed => "COMPLETED",
        }
    }

    /// The state named `raw`.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "ASSIGNED" => Some(ReviewState::Assigned),
            "IN_PROGRESS" => Some(ReviewState::InProgress),
            "COMPLETED" => Some(ReviewState::Completed),
            _ => None,
        }
    }
}

/// One expert's review of one application.
#[derive(Debug, Clone, PartialEq)]
pub struct Review {
    /// The contest.
    pub contest_id: String,
    /// The reviewed application.
    pub application_id: String,
    /// The review's ID.
    pub id: String,
    /// The reviewing expert.
    pub expert_id: String,
    /// Where it is.
    pub state: ReviewState,
    /// Scores per criterion, in the rubric's order.
    pub scores: Vec<(String, u8)>,
    /// Feedback for the team.
    pub feedback: String,
    /// The 0-100 score; set when completed.
    pub weighted_score: Option<f64>,
    /// Assigned.
    pub create_time: Timestamp,
    /// Last saved.
    pub update_time: Timestamp,
    /// Completed.
    pub complete_time: Option<Timestamp>,
    /// Increases with every change; the etag.
    pub version: i64,
}

impl Review {
    /// Rule 5: a new assignment of `expert_id` to an application.
    pub fn assign(
        contest_id: &str,
        application_id: &str,
        id: String,
        expert_id: &str,
        now: Timestamp,
    ) -> Self {
        Review {
            contest_id: contest_id.into(),
            application_id: application_id.into(),
            id,
            expert_id: expert_id.into(),
            state: ReviewState::Assigned,
            scores: Vec::new(),
            feedback: String::new(),
            weighted_score: None,
            create_time: now,
            update_time: now,
            complete_time: None,
            version: 1,
        }
    }

    /// Rule 6: a completed review does not change.
    pub fn ensure_open(&self) -> Result<(), CompetitionError> {
        if self.state == ReviewState::Completed {
            Err(CompetitionError::ReviewCompleted)
        } else {
            Ok(())
        }
    }

    /// Rule 6: saves scores and feedback of a review in progress; every score within its
    /// criterion's scale, criteria may still be missing.
    pub fn save(
        &mut self,
        rubric: &[Criterion],
        scores: &[(String, i32)],
        feedback: &str,
        now: Timestamp,
    ) -> Result<Transition, CompetitionError> {
        self.ensure_open()?;
        let mut checked = check_review(rubric, scores, feedback, false)?;
        sort_by_rubric(rubric, &mut checked);
        if checked == self.scores && feedback == self.feedback {
            return Ok(Transition::Unchanged);
        }
        self.scores = checked;
        self.feedback = feedback.to_string();
        self.state = ReviewState::InProgress;
        self.touch(now);
        Ok(Transition::Changed)
    }

    /// Rule 6: completes the review: every criterion scored, feedback written. Completing
    /// again is a no-op.
    pub fn complete(
        &mut self,
        rubric: &[Criterion],
        now: Timestamp,
    ) -> Result<Transition, CompetitionError> {
        if self.state == ReviewState::Completed {
            return Ok(Transition::Unchanged);
        }
        if rubric.is_empty() {
            return Err(CompetitionError::NoRubric);
        }
        let as_sent: Vec<(String, i32)> = self
            .scores
            .iter()
            .map(|(c, s)| (c.clone(), i32::from(*s)))
            .collect();
        check_review(rubric, &as_sent, &self.feedback, true)?;
        self.weighted_score = review_score(rubric, &self.scores);
        self.state = ReviewState::Completed;
        self.complete_time = Some(now);
        self.touch(now);
        Ok(Transition::Changed)
    }

    fn touch(&mut self, now: Timestamp) {
        self.update_time = now;
        self.version += 1;
    }
}

fn sort_by_rubric(rubric: &[Criterion], scores: &mut [(String, u8)]) {
    scores.sort_by_key(|(id, _)| rubric.iter().position(|c| &c.id == id));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rubric() -> Vec<Criterion> {
        ["relevance", "impact"]
            .iter()
            .map(|id| Criterion {
                id: (*id).into(),
                title: (*id).into(),
                description: String::new(),
                min_score: 0,
                max_score: 10,
                weight: 1,
            })
            .collect()
    }

    fn at(instant: &str) -> Timestamp {
        instant.parse().expect("instant")
    }

    fn scores(pairs: &[(&str, i32)]) -> Vec<(String, i32)> {
        pairs.iter().map(|(c, s)| (c.to_string(), *s)).collect()
    }

    #[test]
    fn rule_6_a_review_is_saved_in_progress_then_completed_and_then_fixed() {
        let now = at("2025-02-10T10:00:00Z");
        let mut review = Review::assign("c", "a", "r".into(), "e", now);
        let saved = review.save(&rubric(), &scores(&[("impact", 4)]), "", now);
        assert_eq!(saved, Ok(Transition::Changed));
        assert_eq!(review.state, ReviewState::InProgress);
        assert!(matches!(
            review.complete(&rubric(), now),
            Err(CompetitionError::InvalidFields(_))
        ));
        review
            .save(
                &rubric(),
                &scores(&[("impact", 4), ("relevance", 8)]),
                "Сильная практика",
                now,
            )
            .expect("saved");
        assert_eq!(
            review.scores,
            vec![("relevance".to_string(), 8), ("impact".to_string(), 4)],
            "kept in the rubric's order"
        );
        assert_eq!(review.complete(&rubric(), now), Ok(Transition::Changed));
        assert_eq!(review.weighted_score, Some(60.0));
        assert_eq!(review.complete(&rubric(), now), Ok(Transition::Unchanged));
        assert_eq!(
            review.save(&rubric(), &scores(&[("impact", 1)]), "", now),
            Err(CompetitionError::ReviewCompleted)
        );
    }

    #[test]
    fn saving_the_same_scores_again_changes_nothing() {
        let now = at("2025-02-10T10:00:00Z");
        let mut review = Review::assign("c", "a", "r".into(), "e", now);
        review
            .save(&rubric(), &scores(&[("impact", 4)]), "x", now)
            .expect("saved");
        let version = review.version;
        assert_eq!(
            review.save(&rubric(), &scores(&[("impact", 4)]), "x", now),
            Ok(Transition::Unchanged)
        );
        assert_eq!(review.version, version);
    }
}
