//! Applications (rules 2-4): drafted by a team under one nomination, submitted before the
//! deadline and frozen from then on, withdrawable until the deadline.

use edu_kit::error::quote;
use jiff::Timestamp;

use super::Transition;
use super::contest::{Contest, MAX_TITLE_CHARS};
use super::error::{CompetitionError, FieldError};
use super::team::Team;

/// Longest summary, in characters.
pub const MAX_SUMMARY_CHARS: usize = 2_000;
/// Longest practice description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 50_000;

/// Where an application is in its life cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApplicationState {
    /// Being prepared.
    Draft,
    /// Submitted and frozen.
    Submitted,
    /// Withdrawn by the team.
    Withdrawn,
}

impl ApplicationState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ApplicationState::Draft => "DRAFT",
            ApplicationState::Submitted => "SUBMITTED",
            ApplicationState::Withdrawn => "WITHDRAWN",
        }
    }

    /// Parses a stored name.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "DRAFT" => Some(ApplicationState::Draft),
            "SUBMITTED" => Some(ApplicationState::Submitted),
            "WITHDRAWN" => Some(ApplicationState::Withdrawn),
            _ => None,
        }
    }
}

/// What a team writes in an application, checked against the contest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplicationContent {
    /// The nomination, one of the contest's.
    pub nomination_id: String,
    /// The practice's title.
    pub title: String,
    /// A short summary.
    pub summary: String,
    /// The practice.
    pub description: String,
}

impl ApplicationContent {
    /// The content's own problems, those that need no contest to see: every one at once,
    /// so that a caller learns them in one answer before anything is looked up.
    pub fn field_problems(
        nomination_id: &str,
        title: &str,
        summary: &str,
        description: &str,
    ) -> Vec<FieldError> {
        let mut problems = Vec::new();
        if nomination_id.trim().is_empty() {
            problems.push(FieldError::new(
                "nomination_id",
                "required: one of the contest's nominations",
            ));
        }
        if title.trim().is_empty() {
            problems.push(FieldError::new("title", "must not be empty"));
        } else if title.chars().count() > MAX_TITLE_CHARS {
            problems.push(FieldError::new(
                "title",
                format!("must be at most {MAX_TITLE_CHARS} characters"),
            ));
        }
        if summary.chars().count() > MAX_SUMMARY_CHARS {
            problems.push(FieldError::new(
                "summary",
                format!("must be at most {MAX_SUMMARY_CHARS} characters"),
            ));
        }
        if description.chars().count() > MAX_DESCRIPTION_CHARS {
            problems.push(FieldError::new(
                "description",
                format!("must be at most {MAX_DESCRIPTION_CHARS} characters"),
            ));
        }
        problems
    }

    /// The problem with a nomination that is given but is not one of `contest`'s.
    pub fn nomination_problem(contest: &Contest, nomination_id: &str) -> Option<FieldError> {
        if nomination_id.trim().is_empty() || contest.nomination(nomination_id).is_some() {
            return None;
        }
        let known: Vec<&str> = contest
            .spec
            .nominations
            .iter()
            .map(|n| n.id.as_str())
            .collect();
        Some(FieldError::new(
            "nomination_id",
            format!(
                "{} is not a nomination of this contest; its nominations are {known:?}",
                quote(nomination_id)
            ),
        ))
    }

    /// Checks the content's fields, and that the nomination is one of `contest`'s.
    pub fn parse(
        contest: &Contest,
        nomination_id: &str,
        title: &str,
        summary: &str,
        description: &str,
    ) -> Result<Self, CompetitionError> {
        let mut problems = Self::field_problems(nomination_id, title, summary, description);
        if let Some(problem) = Self::nomination_problem(contest, nomination_id) {
            problems.insert(0, problem);
        }
        if !problems.is_empty() {
            return Err(CompetitionError::InvalidFields(problems));
        }
        Ok(ApplicationContent {
            nomination_id: nomination_id.to_string(),
            title: title.trim().to_string(),
            summary: summary.to_string(),
            description: description.to_string(),
        })
    }
}

/// A team's application to a contest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Application {
    /// The contest.
    pub contest_id: String,
    /// The ID in `contests/{contest}/applications/{id}`.
    pub id: String,
    /// The applying team.
    pub team_id: String,
    /// The team's region when drafted.
    pub region_code: String,
    /// What the team wrote.
    pub content: ApplicationContent,
    /// The state.
    pub state: ApplicationState,
    /// Drafted.
    pub create_time: Timestamp,
    /// Last changed.
    pub update_time: Timestamp,
    /// Submitted.
    pub submit_time: Option<Timestamp>,
    /// Withdrawn.
    pub withdraw_time: Option<Timestamp>,
    /// The etag.
    pub version: i64,
}

impl Application {
    /// Rules 2 and 3: a team drafts an application while the contest accepts them, if its
    /// level is eligible and it is below the contest's limit in the nomination (`active`:
    /// its applications there already, withdrawn ones not counted).
    pub fn draft(
        id: String,
        contest: &Contest,
        team: &Team,
        content: ApplicationContent,
        active: u32,
        now: Timestamp,
    ) -> Result<Self, CompetitionError> {
        contest.ensure_accepting_applications(now)?;
        contest.ensure_level_eligible(team.spec.level)?;
        contest.ensure_within_application_limit(active)?;
        Ok(Application {
            contest_id: contest.id.clone(),
            id,
            team_id: team.id.clone(),
            region_code: team.spec.region.as_str().to_string(),
            content,
            state: ApplicationState::Draft,
            create_time: now,
            update_time: now,
            submit_time: None,
            withdraw_time: None,
            version: 1,
        })
    }

    /// Rule 4: only a draft changes, and only while the contest accepts applications. When
    /// the nomination changes, `active_in_new_nomination` is the team's count there (rule 3).
    pub fn revise(
        &mut self,
        contest: &Contest,
        content: ApplicationContent,
        active_in_new_nomination: Option<u32>,
        now: Timestamp,
    ) -> Result<Transition, CompetitionError> {
        if content == self.content {
            return Ok(Transition::Unchanged);
        }
        self.ensure_draft()?;
        contest.ensure_accepting_applications(now)?;
        if content.nomination_id != self.content.nomination_id {
            contest.ensure_within_application_limit(active_in_new_nomination.unwrap_or(0))?;
        }
        self.content = content;
        self.touch(now);
        Ok(Transition::Changed)
    }

    /// Rules 2 and 4: DRAFT → SUBMITTED while the contest is open and before its deadline.
    pub fn submit(
        &mut self,
        contest: &Contest,
        now: Timestamp,
    ) -> Result<Transition, CompetitionError> {
        match self.state {
            ApplicationState::Submitted => return Ok(Transition::Unchanged),
            ApplicationState::Withdrawn => {
                return Err(CompetitionError::ApplicationFrozen { state: self.state });
            }
            ApplicationState::Draft => {}
        }
        contest.ensure_accepting_applications(now)?;
        self.state = ApplicationState::Submitted;
        self.submit_time = Some(now);
        self.touch(now);
        Ok(Transition::Changed)
    }

    /// Rule 4: a draft or a submitted application may be withdrawn until the deadline.
    pub fn withdraw(
        &mut self,
        contest: &Contest,
        now: Timestamp,
    ) -> Result<Transition, CompetitionError> {
        if self.state == ApplicationState::Withdrawn {
            return Ok(Transition::Unchanged);
        }
        contest.ensure_accepting_applications(now)?;
        self.state = ApplicationState::Withdrawn;
        self.withdraw_time = Some(now);
        self.touch(now);
        Ok(Transition::Changed)
    }

    fn ensure_draft(&self) -> Result<(), CompetitionError> {
        if self.state == ApplicationState::Draft {
            Ok(())
        } else {
            Err(CompetitionError::ApplicationFrozen { state: self.state })
        }
    }

    fn touch(&mut self, now: Timestamp) {
        self.update_time = now;
        self.version += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::contest::tests::{at, open_contest};
    use crate::domain::team::{TeamLevel, TeamSpec};

    fn team() -> Team {
        Team {
            id: "t".into(),
            spec: TeamSpec::parse(
                "Команда Алтайского края",
                Some(TeamLevel::Regional),
                "RU-ALT",
                "",
                "",
            )
            .expect("team"),
            member_count: 1,
            create_time: at("2024-12-01T00:00:00Z"),
            update_time: at("2024-12-01T00:00:00Z"),
            version: 1,
        }
    }

    fn content(contest: &Contest) -> ApplicationContent {
        ApplicationContent::parse(contest, "n1", "Школа здоровья", "", "").expect("content")
    }

    fn draft() -> (Contest, Application) {
        let contest = open_contest();
        let app = Application::draft(
            "a".into(),
            &contest,
            &team(),
            content(&contest),
            0,
            at("2025-01-10T12:00:00+03:00"),
        )
        .expect("draft");
        (contest, app)
    }

    #[test]
    fn the_nomination_must_be_one_of_the_contests() {
        let contest = open_contest();
        let err = ApplicationContent::parse(&contest, "n9", "x", "", "").expect_err("unknown");
        assert!(matches!(err, CompetitionError::InvalidFields(p) if p[0].field == "nomination_id"));
    }

    #[test]
    fn a_team_has_one_application_per_nomination_by_default() {
        let contest = open_contest();
        let err = Application::draft(
            "b".into(),
            &contest,
            &team(),
            content(&contest),
            1,
            at("2025-01-10T12:00:00Z"),
        )
        .expect_err("limit");
        assert_eq!(err, CompetitionError::ApplicationLimitReached { limit: 1 });
    }

    #[test]
    fn submitted_at_23_59_on_the_deadline_day_is_accepted() {
        let (contest, mut app) = draft();
        assert_eq!(
            app.submit(&contest, at("2025-01-31T23:59:00+03:00")),
            Ok(Transition::Changed)
        );
        assert_eq!(app.state, ApplicationState::Submitted);
    }

    #[test]
    fn submitted_at_midnight_after_the_deadline_day_is_refused() {
        let (contest, mut app) = draft();
        assert!(matches!(
            app.submit(&contest, at("2025-02-01T00:00:00+03:00")),
            Err(CompetitionError::DeadlinePassed { .. })
        ));
        assert_eq!(app.state, ApplicationState::Draft);
    }

    #[test]
    fn a_submitted_application_is_frozen() {
        let (contest, mut app) = draft();
        app.submit(&contest, at("2025-01-20T00:00:00Z"))
            .expect("submit");
        let changed =
            ApplicationContent::parse(&contest, "n1", "Другое название", "", "").expect("content");
        assert_eq!(
            app.revise(&contest, changed, None, at("2025-01-21T00:00:00Z")),
            Err(CompetitionError::ApplicationFrozen {
                state: ApplicationState::Submitted
            })
        );
        assert_eq!(
            app.submit(&contest, at("2025-01-22T00:00:00Z")),
            Ok(Transition::Unchanged),
            "submitting twice is a no-op"
        );
    }

    #[test]
    fn withdrawal_is_possible_until_the_deadline() {
        let (contest, mut app) = draft();
        app.submit(&contest, at("2025-01-20T00:00:00Z"))
            .expect("submit");
        let mut late = app.clone();
        assert!(matches!(
            late.withdraw(&contest, at("2025-02-01T00:00:00+03:00")),
            Err(CompetitionError::DeadlinePassed { .. })
        ));
        assert_eq!(
            app.withdraw(&contest, at("2025-01-31T23:00:00+03:00")),
            Ok(Transition::Changed)
        );
        assert_eq!(app.state, ApplicationState::Withdrawn);
        assert_eq!(
            app.submit(&contest, at("2025-01-31T23:10:00+03:00")),
            Err(CompetitionError::ApplicationFrozen {
                state: ApplicationState::Withdrawn
            })
        );
    }

    #[test]
    fn drafts_change_only_before_the_deadline_and_within_the_limit() {
        let (contest, mut app) = draft();
        let retitled =
            ApplicationContent::parse(&contest, "n1", "Новое название", "", "").expect("content");
        assert!(matches!(
            app.revise(
                &contest,
                retitled.clone(),
                None,
                at("2025-02-01T00:00:00+03:00")
            ),
            Err(CompetitionError::DeadlinePassed { .. })
        ));
        assert_eq!(
            app.revise(&contest, retitled, None, at("2025-01-15T00:00:00Z")),
            Ok(Transition::Changed)
        );
        let moved =
            ApplicationContent::parse(&contest, "n2", "Новое название", "", "").expect("content");
        assert_eq!(
            app.revise(&contest, moved, Some(1), at("2025-01-15T00:00:00Z")),
            Err(CompetitionError::ApplicationLimitReached { limit: 1 })
        );
    }
}
