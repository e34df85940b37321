//! Contests: their definition (nominations, dates, eligibility, rubric) and their life cycle
//! DRAFT → OPEN → CLOSED → ANNOUNCED, or CANCELLED before announcement (rule 1).

use std::collections::BTreeSet;

use edu_kit::error::quote;
use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

use super::Transition;
use super::deadline::{Deadline, time_zone};
use super::error::{CompetitionError, FieldError};
use super::team::TeamLevel;

/// Longest title of a contest, nomination or criterion, in characters.
pub const MAX_TITLE_CHARS: usize = 300;
/// Longest contest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 20_000;
/// Most nominations in one contest.
pub const MAX_NOMINATIONS: usize = 50;
/// Most criteria in one rubric.
pub const MAX_CRITERIA: usize = 30;
/// Applications per team per nomination when the organiser sets none.
pub const DEFAULT_MAX_APPLICATIONS_PER_TEAM: u8 = 1;
/// Experts per application when the organiser sets none.
pub const DEFAULT_EXPERTS_PER_APPLICATION: u8 = 3;

/// Where a contest is in its life cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContestState {
    /// Being prepared; only the organiser sees it.
    Draft,
    /// Accepting applications until the deadline.
    Open,
    /// Under review.
    Closed,
    /// Results public and final.
    Announced,
    /// Called off.
    Cancelled,
}

impl ContestState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ContestState::Draft => "DRAFT",
            ContestState::Open => "OPEN",
            ContestState::Closed => "CLOSED",
            ContestState::Announced => "ANNOUNCED",
            ContestState::Cancelled => "CANCELLED",
        }
    }

    /// Parses a stored name.
    pub fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "DRAFT" => ContestState::Draft,
            "OPEN" => ContestState::Open,
            "CLOSED" => ContestState::Closed,
            "ANNOUNCED" => ContestState::Announced,
            "CANCELLED" => ContestState::Cancelled,
            _ => return None,
        })
    }

    /// Announced and cancelled contests never change again.
    pub fn is_final(self) -> bool {
        matches!(self, ContestState::Announced | ContestState::Cancelled)
    }
}

/// A nomination of a contest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nomination {
    /// Unique within the contest.
    pub id: String,
    /// The title.
    pub title: String,
    /// What it is for.
    pub description: String,
}

/// A criterion of a contest's rubric.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Criterion {
    /// Unique within the contest.
    pub id: String,
    /// The title.
    pub title: String,
    /// What experts look at.
    pub description: String,
    /// Lowest score.
    pub min_score: u8,
    /// Highest score.
    pub max_score: u8,
    /// Weight in the application's score.
    pub weight: u8,
}

/// A calendar date as the caller sent it; all zero when unset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RawDate {
    /// Year.
    pub year: i32,
    /// Month, 1 to 12.
    pub month: i32,
    /// Day, 1 to 31.
    pub day: i32,
}

impl RawDate {
    fn is_unset(self) -> bool {
        self == RawDate::default()
    }

    fn parse(self) -> Result<Date, String> {
        let bad = || {
            format!(
                "{}-{:02}-{:02} is not a calendar date between 2000-01-01 and 2100-12-31",
                self.year, self.month, self.day
            )
        };
        let year = i16::try_from(self.year).map_err(|_| bad())?;
        let month = i8::try_from(self.month).map_err(|_| bad())?;
        let day = i8::try_from(self.day).map_err(|_| bad())?;
        if !edu_kit::wire::YEARS.contains(&year) {
            return Err(bad());
        }
        Date::new(year, month, day).map_err(|_| bad())
    }
}

impl From<Date> for RawDate {
    fn from(date: Date) -> Self {
        RawDate {
            year: i32::from(date.year()),
            month: i32::from(date.month()),
            day: i32::from(date.day()),
        }
    }
}

/// A nomination as the caller sent it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NominationInput {
    /// Empty for a server-chosen ID.
    pub id: String,
    /// The title.
    pub title: String,
    /// The description.
    pub description: String,
}

/// A criterion as the caller sent it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CriterionInput {
    /// Empty for a server-chosen ID.
    pub id: String,
    /// The title.
    pub title: String,
    /// The description.
    pub description: String,
    /// Lowest score.
    pub min_score: i32,
    /// Highest score.
    pub max_score: i32,
    /// Weight.
    pub weight: i32,
}

/// A contest definition as the caller sent it, not yet checked.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContestSpecInput {
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Organiser.
    pub organiser: String,
    /// IANA zone name.
    pub time_zone: String,
    /// Last day of applications.
    pub application_deadline: RawDate,
    /// Day of results.
    pub results_due: RawDate,
    /// Nominations in order.
    pub nominations: Vec<NominationInput>,
    /// Eligible levels; `None` for an unspecified value.
    pub eligible_levels: Vec<Option<TeamLevel>>,
    /// Per-team limit; 0 for the default.
    pub max_applications_per_team: i32,
    /// Experts per application; 0 for the default.
    pub experts_per_application: i32,
    /// The rubric.
    pub criteria: Vec<CriterionInput>,
}

/// A checked contest definition.
#[derive(Debug, Clone, PartialEq)]
pub struct ContestSpec {
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Organiser.
    pub organiser: String,
    /// The zone's IANA name.
    pub time_zone_name: String,
    /// The zone.
    pub time_zone: TimeZone,
    /// Last day of applications, inclusive, in the zone.
    pub application_deadline: Date,
    /// Day by which results are due, in the zone.
    pub results_due: Date,
    /// Nominations in order.
    pub nominations: Vec<Nomination>,
    /// Eligible levels, never empty.
    pub eligible_levels: BTreeSet<TeamLevel>,
    /// Per-team limit of applications in one nomination.
    pub max_applications_per_team: u8,
    /// Experts per application.
    pub experts_per_application: u8,
    /// The rubric.
    pub criteria: Vec<Criterion>,
}

/// The fields of a contest definition, for updates by field mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SpecField {
    /// `title`
    Title,
    /// `description`
    Description,
    /// `organiser`
    Organiser,
    /// `time_zone`
    TimeZone,
    /// `application_deadline`
    ApplicationDeadline,
    /// `results_due`
    ResultsDue,
    /// `nominations`
    Nominations,
    /// `eligible_levels`
    EligibleLevels,
    /// `max_applications_per_team`
    MaxApplicationsPerTeam,
    /// `experts_per_application`
    ExpertsPerApplication,
    /// `criteria`
    Criteria,
}

impl SpecField {
    /// Every field.
    pub const ALL: [SpecField; 11] = [
        SpecField::Title,
        SpecField::Description,
        SpecField::Organiser,
        SpecField::TimeZone,
        SpecField::ApplicationDeadline,
        SpecField::ResultsDue,
        SpecField::Nominations,
        SpecField::EligibleLevels,
        SpecField::MaxApplicationsPerTeam,
        SpecField::ExpertsPerApplication,
        SpecField::Criteria,
    ];

    /// The proto field name.
    pub fn name(self) -> &'static str {
        match self {
            SpecField::Title => "title",
            SpecField::Description => "description",
            SpecField::Organiser => "organiser",
            SpecField::TimeZone => "time_zone",
            SpecField::ApplicationDeadline => "application_deadline",
            SpecField::ResultsDue => "results_due",
            SpecField::Nominations => "nominations",
            SpecField::EligibleLevels => "eligible_levels",
            SpecField::MaxApplicationsPerTeam => "max_applications_per_team",
            SpecField::ExpertsPerApplication => "experts_per_application",
            SpecField::Criteria => "criteria",
        }
    }

    /// Parses a proto field name.
    pub fn parse(name: &str) -> Option<Self> {
        SpecField::ALL.into_iter().find(|f| f.name() == name)
    }

    /// Rule 1: what teams plan their applications by is fixed once the contest opens; only
    /// the wording may still change.
    pub fn is_fixed_once_open(self) -> bool {
        !matches!(
            self,
            SpecField::Title | SpecField::Description | SpecField::Organiser
        )
    }
}

fn check_text(
    problems: &mut Vec<FieldError>,
    field: &str,
    value: &str,
    required: bool,
    max_chars: usize,
) {
    if required && value.trim().is_empty() {
        problems.push(FieldError::new(field, "must not be empty"));
    } else if value.chars().count() > max_chars {
        problems.push(FieldError::new(
            field,
            format!("must be at most {max_chars} characters"),
        ));
    }
}

/// Checks a client-chosen ID of a nomination or criterion, or chooses `<prefix><n>`.
fn element_ids(
    problems: &mut Vec<FieldError>,
    list: &str,
    prefix: &str,
    requested: impl Iterator<Item = String>,
) -> Vec<String> {
    let requested: Vec<String> = requested.collect();
    let mut taken: BTreeSet<String> = requested
        .iter()
        .filter(|id| !id.is_empty())
        .cloned()
        .collect();
    let mut seen = BTreeSet::new();
    let mut next = 1;
    requested
        .into_iter()
        .enumerate()
        .map(|(i, id)| {
            if id.is_empty() {
                while taken.contains(&format!("{prefix}{next}")) {
                    next += 1;
                }
                let chosen = format!("{prefix}{next}");
                taken.insert(chosen.clone());
                return chosen;
            }
            if edu_kit::resource::parse_id(&id).is_err() {
                problems.push(FieldError::new(
                    format!("{list}[{i}].id"),
                    "use 1 to 63 lower-case letters, digits and hyphens, starting with a letter",
                ));
            } else if !seen.insert(id.clone()) {
                problems.push(FieldError::new(
                    format!("{list}[{i}].id"),
                    format!("{} is used twice", quote(&id)),
                ));
            }
            id
        })
        .collect()
}

impl ContestSpec {
    /// Checks every field and reports every problem at once.
    pub fn parse(input: ContestSpecInput) -> Result<Self, CompetitionError> {
        let mut problems = Vec::new();
        check_text(&mut problems, "title", &input.title, true, MAX_TITLE_CHARS);
        check_text(
            &mut problems,
            "description",
            &input.description,
            false,
            MAX_DESCRIPTION_CHARS,
        );
        check_text(
            &mut problems,
            "organiser",
            &input.organiser,
            false,
            MAX_TITLE_CHARS,
        );

        let zone = time_zone(&input.time_zone)
            .map_err(|e| problems.push(FieldError::new("time_zone", e)))
            .ok();
        let date = |problems: &mut Vec<FieldError>, field: &str, raw: RawDate| {
            if raw.is_unset() {
                problems.push(FieldError::new(field, "is required"));
                return None;
            }
            raw.parse()
                .map_err(|e| problems.push(FieldError::new(field, e)))
                .ok()
        };
        let deadline = date(
            &mut problems,
            "application_deadline",
            input.application_deadline,
        );
        let results_due = date(&mut problems, "results_due", input.results_due);
        if let (Some(deadline), Some(results)) = (deadline, results_due)
            && results < deadline
        {
            problems.push(FieldError::new(
                "results_due",
                "must not be before application_deadline",
            ));
        }

        if input.nominations.len() > MAX_NOMINATIONS {
            problems.push(FieldError::new(
                "nominations",
                format!("at most {MAX_NOMINATIONS}"),
            ));
        }
        let nomination_ids = element_ids(
            &mut problems,
            "nominations",
            "n",
            input.nominations.iter().map(|n| n.id.clone()),
        );
        let nominations = input
            .nominations
            .into_iter()
            .zip(nomination_ids)
            .enumerate()
            .map(|(i, (n, id))| {
                check_text(
                    &mut problems,
                    &format!("nominations[{i}].title"),
                    &n.title,
                    true,
                    MAX_TITLE_CHARS,
                );
                check_text(
                    &mut problems,
                    &format!("nominations[{i}].description"),
                    &n.description,
                    false,
                    MAX_DESCRIPTION_CHARS,
                );
                Nomination {
                    id,
                    title: n.title.trim().to_string(),
                    description: n.description,
                }
            })
            .collect();

        let mut eligible_levels = BTreeSet::new();
        for (i, level) in input.eligible_levels.into_iter().enumerate() {
            match level {
                Some(level) => {
                    eligible_levels.insert(level);
                }
                None => problems.push(FieldError::new(
                    format!("eligible_levels[{i}]"),
                    "must be REGIONAL or MUNICIPAL",
                )),
            }
        }
        if eligible_levels.is_empty() {
            eligible_levels = [TeamLevel::Regional, TeamLevel::Municipal].into();
        }

        let mut small = |field: &str, value: i32, default: u8| -> u8 {
            match value {
                0 => default,
                1..=10 => value as u8,
                _ => {
                    problems.push(FieldError::new(field, "must be between 1 and 10"));
                    default
                }
            }
        };
        let max_applications_per_team = small(
            "max_applications_per_team",
            input.max_applications_per_team,
            DEFAULT_MAX_APPLICATIONS_PER_TEAM,
        );
        let experts_per_application = small(
            "experts_per_application",
            input.experts_per_application,
            DEFAULT_EXPERTS_PER_APPLICATION,
        );

        if input.criteria.len() > MAX_CRITERIA {
            problems.push(FieldError::new(
                "criteria",
                format!("at most {MAX_CRITERIA}"),
            ));
        }
        let criterion_ids = element_ids(
            &mut problems,
            "criteria",
            "c",
            input.criteria.iter().map(|c| c.id.clone()),
        );
        let criteria = input
            .criteria
            .into_iter()
            .zip(criterion_ids)
            .enumerate()
            .map(|(i, (c, id))| {
                let field = |name: &str| format!("criteria[{i}].{name}");
                check_text(
                    &mut problems,
                    &field("title"),
                    &c.title,
                    true,
                    MAX_TITLE_CHARS,
                );
                check_text(
                    &mut problems,
                    &field("description"),
                    &c.description,
                    false,
                    MAX_DESCRIPTION_CHARS,
                );
                if !(0..=99).contains(&c.min_score) {
                    problems.push(FieldError::new(
                        field("min_score"),
                        "must be between 0 and 99",
                    ));
                }
                if c.max_score <= c.min_score || c.max_score > 100 {
                    problems.push(FieldError::new(
                        field("max_score"),
                        "must be above min_score and at most 100",
                    ));
                }
                if !(1..=100).contains(&c.weight) {
                    problems.push(FieldError::new(
                        field("weight"),
                        "must be between 1 and 100",
                    ));
                }
                Criterion {
                    id,
                    title: c.title.trim().to_string(),
                    description: c.description,
                    min_score: c.min_score.clamp(0, 100) as u8,
                    max_score: c.max_score.clamp(0, 100) as u8,
                    weight: c.weight.clamp(0, 100) as u8,
                }
            })
            .collect();

        match (zone, deadline, results_due) {
            (Some(time_zone), Some(application_deadline), Some(results_due))
                if problems.is_empty() =>
            {
                Ok(ContestSpec {
                    title: input.title.trim().to_string(),
                    description: input.description,
                    organiser: input.organiser.trim().to_string(),
                    time_zone_name: input.time_zone,
                    time_zone,
                    application_deadline,
                    results_due,
                    nominations,
                    eligible_levels,
                    max_applications_per_team,
                    experts_per_application,
                    criteria,
                })
            }
            _ => Err(CompetitionError::InvalidFields(problems)),
        }
    }

    /// The definition back as input, to merge an update by field mask into it.
    pub fn to_input(&self) -> ContestSpecInput {
        ContestSpecInput {
            title: self.title.clone(),
            description: self.description.clone(),
            organiser: self.organiser.clone(),
            time_zone: self.time_zone_name.clone(),
            application_deadline: self.application_deadline.into(),
            results_due: self.results_due.into(),
            nominations: self
                .nominations
                .iter()
                .map(|n| NominationInput {
                    id: n.id.clone(),
                    title: n.title.clone(),
                    description: n.description.clone(),
                })
                .collect(),
            eligible_levels: self.eligible_levels.iter().copied().map(Some).collect(),
            max_applications_per_team: i32::from(self.max_applications_per_team),
            experts_per_application: i32::from(self.experts_per_application),
            criteria: self
                .criteria
                .iter()
                .map(|c| CriterionInput {
                    id: c.id.clone(),
                    title: c.title.clone(),
                    description: c.description.clone(),
                    min_score: i32::from(c.min_score),
                    max_score: i32::from(c.max_score),
                    weight: i32::from(c.weight),
                })
                .collect(),
        }
    }

    /// The application deadline in the contest's zone.
    pub fn deadline(&self) -> Deadline {
        Deadline::new(self.application_deadline, self.time_zone.clone())
    }

    /// The fields whose values differ between `self` and `other`.
    pub fn changed_fields(&self, other: &ContestSpec) -> BTreeSet<SpecField> {
        SpecField::ALL
            .into_iter()
            .filter(|field| match field {
                SpecField::Title => self.title != other.title,
                SpecField::Description => self.description != other.description,
                SpecField::Organiser => self.organiser != other.organiser,
                SpecField::TimeZone => self.time_zone_name != other.time_zone_name,
                SpecField::ApplicationDeadline => {
                    self.application_deadline != other.application_deadline
                }
                SpecField::ResultsDue => self.results_due != other.results_due,
                SpecField::Nominations => self.nominations != other.nominations,
                SpecField::EligibleLevels => self.eligible_levels != other.eligible_levels,
                SpecField::MaxApplicationsPerTeam => {
                    self.max_applications_per_team != other.max_applications_per_team
                }
                SpecField::ExpertsPerApplication => {
                    self.experts_per_application != other.experts_per_application
                }
                SpecField::Criteria => self.criteria != other.criteria,
            })
            .collect()
    }
}

/// A contest and where it is in its life cycle.
#[derive(Debug, Clone, PartialEq)]
pub struct Contest {
    /// The ID in `contests/{id}`.
    pub id: String,
    /// The definition.
    pub spec: ContestSpec,
    /// The state.
    pub state: ContestState,
    /// Created.
    pub create_time: Timestamp,
    /// Last changed.
    pub update_time: Timestamp,
    /// Opened.
    pub open_time: Option<Timestamp>,
    /// Closed for review.
    pub close_time: Option<Timestamp>,
    /// Announced.
    pub announce_time: Option<Timestamp>,
    /// Cancelled.
    pub cancel_time: Option<Timestamp>,
    /// Why cancelled.
    pub cancel_reason: Option<String>,
    /// Increases with every change; the etag.
    pub version: i64,
}

/// Longest cancellation reason, in characters.
pub const MAX_CANCEL_REASON_CHARS: usize = 2_000;

impl Contest {
    /// A new contest in DRAFT.
    pub fn draft(id: String, spec: ContestSpec, now: Timestamp) -> Self {
        Contest {
            id,
            spec,
            state: ContestState::Draft,
            create_time: now,
            update_time: now,
            open_time: None,
            close_time: None,
            announce_time: None,
            cancel_time: None,
            cancel_reason: None,
            version: 1,
        }
    }

    /// The application deadline in the contest's zone.
    pub fn deadline(&self) -> Deadline {
        self.spec.deadline()
    }

    /// Only the organiser sees a draft.
    pub fn is_visible_beyond_organisers(&self) -> bool {
        self.state != ContestState::Draft
    }

    fn touch(&mut self, now: Timestamp) {
        self.update_time = now;
        self.version += 1;
    }

    /// Rule 1: replaces the definition, refusing changes to what is fixed once the contest
    /// opens, and any change once it is final. Fields that keep their value are not changes.
    /// Returns the fields that changed; none when every value was already as given.
    pub fn revise(
        &mut self,
        spec: ContestSpec,
        now: Timestamp,
    ) -> Result<BTreeSet<SpecField>, CompetitionError> {
        let changed = self.spec.changed_fields(&spec);
        if changed.is_empty() {
            return Ok(changed);
        }
        if self.state.is_final() {
            return Err(CompetitionError::ContestFinal { state: self.state });
        }
        if self.state != ContestState::Draft
            && let Some(field) = changed.iter().find(|f| f.is_fixed_once_open())
        {
            return Err(CompetitionError::ContestNotDraft {
                state: self.state,
                field: field.name(),
            });
        }
        self.spec = spec;
        self.touch(now);
        Ok(changed)
    }

    /// Rule 1: DRAFT → OPEN. A contest opens with at least one nomination and before its
    /// deadline.
    pub fn open(&mut self, now: Timestamp) -> Result<Transition, CompetitionError> {
        match self.state {
            ContestState::Open => return Ok(Transition::Unchanged),
            ContestState::Draft => {}
            state if state.is_final() => return Err(CompetitionError::ContestFinal { state }),
            state => {
                return Err(CompetitionError::ContestNotDraft {
                    state,
                    field: "state",
                });
            }
        }
        if self.spec.nominations.is_empty() {
            return Err(CompetitionError::NoNominations);
        }
        let deadline = self.deadline();
        if deadline.has_passed(now) {
            return Err(CompetitionError::DeadlinePassed {
                closes_at: deadline.closes_at(),
                zone: deadline.zone_name(),
            });
        }
        self.state = ContestState::Open;
        self.open_time = Some(now);
        self.touch(now);
        Ok(Transition::Changed)
    }

    /// Rule 1: OPEN → CLOSED for review, once the deadline has passed.
    pub fn close(&mut self, now: Timestamp) -> Result<Transition, CompetitionError> {
        match self.state {
            ContestState::Closed => return Ok(Transition::Unchanged),
            ContestState::Open => {}
            state if state.is_final() => return Err(CompetitionError::ContestFinal { state }),
            state => return Err(CompetitionError::ContestNotOpen { state }),
        }
        let deadline = self.deadline();
        if !deadline.has_passed(now) {
            return Err(CompetitionError::DeadlineNotPassed {
                closes_at: deadline.closes_at(),
                zone: deadline.zone_name(),
            });
        }
        self.state = ContestState::Closed;
        self.close_time = Some(now);
        self.touch(now);
        Ok(Transition::Changed)
    }

    /// Rule 1: any state before announcement → CANCELLED, with a reason for the teams.
    pub fn cancel(&mut self, reason: &str, now: Timestamp) -> Result<Transition, CompetitionError> {
        match self.state {
            ContestState::Cancelled => return Ok(Transition::Unchanged),
            ContestState::Announced => {
                return Err(CompetitionError::ContestFinal { state: self.state });
            }
            _ => {}
        }
        let mut problems = Vec::new();
        check_text(
            &mut problems,
            "reason",
            reason,
            true,
            MAX_CANCEL_REASON_CHARS,
        );
        if !problems.is_empty() {
            return Err(CompetitionError::InvalidFields(problems));
        }
        self.state = ContestState::Cancelled;
        self.cancel_time = Some(now);
        self.cancel_reason = Some(reason.trim().to_string());
        self.touch(now);
        Ok(Transition::Changed)
    }

    /// Rule 2: applications are drafted, changed, submitted and withdrawn only while the
    /// contest is OPEN and before the end of its deadline day in its zone.
    pub fn ensure_accepting_applications(&self, now: Timestamp) -> Result<(), CompetitionError> {
        let deadline = self.deadline();
        if deadline.has_passed(now) {
            return Err(CompetitionError::DeadlinePassed {
                closes_at: deadline.closes_at(),
                zone: deadline.zone_name(),
            });
        }
        if self.state != ContestState::Open {
            return Err(CompetitionError::ContestNotOpen { state: self.state });
        }
        Ok(())
    }

    /// Rule 3: the contest says which team levels may apply.
    pub fn ensure_level_eligible(&self, level: TeamLevel) -> Result<(), CompetitionError> {
        if self.spec.eligible_levels.contains(&level) {
            Ok(())
        } else {
            Err(CompetitionError::TeamLevelNotEligible { level })
        }
    }

    /// Rule 3: one application per team per nomination, or the contest's limit; `active` is
    /// how many the team has there already, withdrawn ones not counted.
    pub fn ensure_within_application_limit(&self, active: u32) -> Result<(), CompetitionError> {
        let limit = self.spec.max_applications_per_team;
        if active < u32::from(limit) {
            Ok(())
        } else {
            Err(CompetitionError::ApplicationLimitReached { limit })
        }
    }

    /// The nomination with `id`.
    pub fn nomination(&self, id: &str) -> Option<&Nomination> {
        self.spec.nominations.iter().find(|n| n.id == id)
    }

    /// Rules 5-6: experts are registered, assigned and review while the contest runs: open
    /// (submitted applications are reviewed early) or closed, never once final.
    pub fn ensure_reviewing(&self) -> Result<(), CompetitionError> {
        match self.state {
            ContestState::Open | ContestState::Closed => Ok(()),
            ContestState::Draft => Err(CompetitionError::ContestNotOpen { state: self.state }),
            state => Err(CompetitionError::ContestFinal { state }),
        }
    }

    /// Rules 5 and 7: the automatic assignment and the choice of winners happen once the
    /// applications are in, before the announcement.
    pub fn ensure_closed(&self) -> Result<(), CompetitionError> {
        match self.state {
            ContestState::Closed => Ok(()),
            state if state.is_final() => Err(CompetitionError::ContestFinal { state }),
            state => Err(CompetitionError::ContestNotClosed { state }),
        }
    }

    /// Rule 7: CLOSED → ANNOUNCED, the one act after which results are public and final.
    pub fn announce(&mut self, now: Timestamp) -> Result<Transition, CompetitionError> {
        if self.state == ContestState::Announced {
            return Ok(Transition::Unchanged);
        }
        self.ensure_closed()?;
        self.state = ContestState::Announced;
        self.announce_time = Some(now);
        self.touch(now);
        Ok(Transition::Changed)
    }

    /// Rule 7: an announcement after the end of the `results_due` day in the contest's zone
    /// is allowed, and flagged.
    pub fn announced_late(&self) -> bool {
        self.announce_time.is_some_and(|at| {
            Deadline::new(self.spec.results_due, self.spec.time_zone.clone()).has_passed(at)
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn input() -> ContestSpecInput {
        ContestSpecInput {
            title: "Детство без границ".into(),
            time_zone: "Europe/Moscow".into(),
            application_deadline: RawDate {
                year: 2025,
                month: 1,
                day: 31,
            },
            results_due: RawDate {
                year: 2025,
                month: 3,
                day: 22,
            },
            nominations: vec![
                NominationInput {
                    title: "Здоровьесбережение с детства".into(),
                    ..Default::default()
                },
                NominationInput {
                    title: "Безопасность детей".into(),
                    ..Default::default()
                },
            ],
            ..Default::default()
        }
    }

    pub(crate) fn at(instant: &str) -> Timestamp {
        instant.parse().expect("instant")
    }

    pub(crate) fn open_contest() -> Contest {
        let mut contest = Contest::draft(
            "c".into(),
            ContestSpec::parse(input()).expect("valid"),
            at("2024-12-01T00:00:00Z"),
        );
        contest
            .open(at("2024-12-01T10:00:00+03:00"))
            .expect("opens");
        contest
    }

    fn fields(error: CompetitionError) -> Vec<String> {
        match error {
            CompetitionError::InvalidFields(problems) => {
                problems.into_iter().map(|p| p.field).collect()
            }
            other => panic!("expected invalid fields, got {other:?}"),
        }
    }

    #[test]
    fn a_valid_spec_gets_defaults_and_ordered_ids() {
        let spec = ContestSpec::parse(input()).expect("valid");
        assert_eq!(
            spec.nominations
                .iter()
                .map(|n| n.id.as_str())
                .collect::<Vec<_>>(),
            ["n1", "n2"]
        );
        assert_eq!(spec.max_applications_per_team, 1);
        assert_eq!(spec.experts_per_application, 3);
        assert_eq!(spec.eligible_levels.len(), 2, "empty means both levels");
    }

    #[test]
    fn every_malformed_field_is_reported_at_once() {
        let mut bad = input();
        bad.title = "  ".into();
        bad.time_zone = "Mars/Olympus".into();
        bad.results_due = RawDate {
            year: 2025,
            month: 2,
            day: 30,
        };
        bad.nominations[1].id = "Bad Id".into();
        bad.criteria.push(CriterionInput {
            title: "Масштабируемость".into(),
            min_score: 5,
            max_score: 5,
            weight: 0,
            ..Default::default()
        });
        bad.eligible_levels = vec![None];
        let fields = fields(ContestSpec::parse(bad).expect_err("invalid"));
        assert_eq!(
            fields,
            [
                "title",
                "time_zone",
                "results_due",
                "nominations[1].id",
                "eligible_levels[0]",
                "criteria[0].max_score",
                "criteria[0].weight"
            ]
        );
    }

    #[test]
    fn results_are_not_due_before_the_deadline() {
        let mut bad = input();
        bad.results_due = RawDate {
            year: 2025,
            month: 1,
            day: 30,
        };
        assert_eq!(
            fields(ContestSpec::parse(bad).expect_err("invalid")),
            ["results_due"]
        );
    }

    #[test]
    fn duplicate_element_ids_are_refused_and_generated_ones_avoid_taken_ids() {
        let mut spec = input();
        spec.nominations[0].id = "n2".into();
        let parsed = ContestSpec::parse(spec).expect("valid");
        assert_eq!(
            parsed
                .nominations
                .iter()
                .map(|n| n.id.as_str())
                .collect::<Vec<_>>(),
            ["n2", "n1"]
        );

        let mut dup = input();
        dup.nominations[0].id = "x".into();
        dup.nominations[1].id = "x".into();
        assert_eq!(
            fields(ContestSpec::parse(dup).expect_err("dup")),
            ["nominations[1].id"]
        );
    }

    #[test]
    fn open_requires_a_draft_with_nominations_before_its_deadline() {
        let mut empty = input();
        empty.nominations.clear();
        let mut contest = Contest::draft(
            "c".into(),
            ContestSpec::parse(empty).expect("valid"),
            at("2024-12-01T00:00:00Z"),
        );
        assert_eq!(
            contest.open(at("2024-12-02T00:00:00Z")),
            Err(CompetitionError::NoNominations)
        );

        let mut late = Contest::draft(
            "c".into(),
            ContestSpec::parse(input()).expect("valid"),
            at("2024-12-01T00:00:00Z"),
        );
        assert!(matches!(
            late.open(at("2025-02-01T00:00:00+03:00")),
            Err(CompetitionError::DeadlinePassed { .. })
        ));

        let mut contest = open_contest();
        assert_eq!(contest.state, ContestState::Open);
        assert_eq!(
            contest.open(at("2024-12-02T00:00:00Z")),
            Ok(Transition::Unchanged),
            "opening twice is a no-op"
        );
    }

    #[test]
    fn close_waits_for_the_deadline() {
        let mut contest = open_contest();
        assert!(matches!(
            contest.close(at("2025-01-31T23:59:00+03:00")),
            Err(CompetitionError::DeadlineNotPassed { .. })
        ));
        assert_eq!(
            contest.close(at("2025-02-01T00:00:00+03:00")),
            Ok(Transition::Changed)
        );
        assert_eq!(contest.state, ContestState::Closed);
        assert!(matches!(
            contest.open(at("2025-02-02T00:00:00Z")),
            Err(CompetitionError::ContestNotDraft { .. })
        ));
    }

    #[test]
    fn cancel_is_possible_until_announcement_and_needs_a_reason() {
        let mut contest = open_contest();
        assert!(matches!(
            contest.cancel(" ", at("2025-01-01T00:00:00Z")),
            Err(CompetitionError::InvalidFields(_))
        ));
        assert_eq!(
            contest.cancel("финансирование отозвано", at("2025-01-01T00:00:00Z")),
            Ok(Transition::Changed)
        );
        assert_eq!(contest.state, ContestState::Cancelled);
        assert!(matches!(
            contest.close(at("2025-03-01T00:00:00Z")),
            Err(CompetitionError::ContestFinal { .. })
        ));

        let mut announced = open_contest();
        announced.state = ContestState::Announced;
        assert!(matches!(
            announced.cancel("x", at("2025-04-01T00:00:00Z")),
            Err(CompetitionError::ContestFinal { .. })
        ));
    }

    #[test]
    fn nominations_and_deadline_are_fixed_once_open_but_wording_is_not() {
        let mut contest = open_contest();
        let mut changed_spec = contest.spec.clone();
        changed_spec.nominations.pop();
        let err = contest
            .revise(changed_spec, at("2024-12-05T00:00:00Z"))
            .expect_err("fixed");
        assert_eq!(
            err,
            CompetitionError::ContestNotDraft {
                state: ContestState::Open,
                field: "nominations"
            }
        );

        let mut retitled = contest.spec.clone();
        retitled.title = "Детство без границ — 2025".into();
        let version = contest.version;
        assert_eq!(
            contest.revise(retitled, at("2024-12-05T00:00:00Z")),
            Ok([SpecField::Title].into()),
            "wording may change"
        );
        assert_eq!(contest.version, version + 1);
        let same = contest.spec.clone();
        assert_eq!(
            contest.revise(same, at("2024-12-06T00:00:00Z")),
            Ok(BTreeSet::new()),
            "unchanged values are no change"
        );
        assert_eq!(contest.version, version + 1);
    }

    #[test]
    fn applications_are_accepted_only_while_open_and_before_the_deadline() {
        let contest = open_contest();
        assert!(
            contest
                .ensure_accepting_applications(at("2025-01-31T23:59:00+03:00"))
                .is_ok()
        );
        assert!(matches!(
            contest.ensure_accepting_applications(at("2025-02-01T00:00:00+03:00")),
            Err(CompetitionError::DeadlinePassed { .. })
        ));
        let mut draft = contest.clone();
        draft.state = ContestState::Draft;
        assert_eq!(
            draft.ensure_accepting_applications(at("2025-01-01T00:00:00Z")),
            Err(CompetitionError::ContestNotOpen {
                state: ContestState::Draft
            })
        );
    }

    #[test]
    fn team_levels_and_limits_are_the_contests_to_set() {
        let mut spec = input();
        spec.eligible_levels = vec![Some(TeamLevel::Regional)];
        spec.max_applications_per_team = 2;
        let contest = Contest::draft(
            "c".into(),
            ContestSpec::parse(spec).expect("valid"),
            at("2024-12-01T00:00:00Z"),
        );
        assert!(contest.ensure_level_eligible(TeamLevel::Regional).is_ok());
        assert_eq!(
            contest.ensure_level_eligible(TeamLevel::Municipal),
            Err(CompetitionError::TeamLevelNotEligible {
                level: TeamLevel::Municipal
            })
        );
        assert!(contest.ensure_within_application_limit(1).is_ok());
        assert_eq!(
            contest.ensure_within_application_limit(2),
            Err(CompetitionError::ApplicationLimitReached { limit: 2 })
        );
    }
}
