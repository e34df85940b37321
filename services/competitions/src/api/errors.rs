//! The one mapping from the programme's refusals to gRPC: code, stable reason, metadata.

use edu_kit::ApiError;
use edu_kit::error::{ErrorKind, FieldProblem};

use crate::domain::CompetitionError;
use crate::domain::assignment::Conflict;

/// «15 марта 2031 г. в 24:00 по московскому времени»: a deadline as people of the contest's
/// zone read it.
fn deadline_in_russian(closes_at: jiff::Timestamp, zone: &str) -> String {
    let zone = jiff::tz::TimeZone::get(zone).unwrap_or(jiff::tz::TimeZone::UTC);
    edu_kit::russian::instant(closes_at, &zone)
}

/// Reasons this service gives, beyond the kit's (which also has `TRANSITION_NOT_ALLOWED`).
pub mod reason {
    use edu_kit::error::Reason;

    /// The application deadline has passed in the contest's time zone.
    pub const DEADLINE_PASSED: Reason = Reason::new("DEADLINE_PASSED", "Приём заявок закончился.");
    /// The contest cannot close before its deadline.
    pub const DEADLINE_NOT_PASSED: Reason = Reason::new(
        "DEADLINE_NOT_PASSED",
        "Конкурс нельзя закрыть до окончания приёма заявок.",
    );
    /// The contest is not OPEN.
    pub const CONTEST_NOT_OPEN: Reason =
        Reason::new("CONTEST_NOT_OPEN", "Конкурс не открыт для заявок.");
    /// Only a DRAFT contest may change this.
    pub const CONTEST_NOT_DRAFT: Reason = Reason::new(
        "CONTEST_NOT_DRAFT",
        "Это можно изменить только у конкурса в статусе черновика.",
    );
    /// The contest is announced or cancelled.
    pub const CONTEST_FINAL: Reason = Reason::new(
        "CONTEST_FINAL",
        "Итоги конкурса объявлены или конкурс отменён; он больше не меняется.",
    );
    /// The contest needs a nomination to open.
    pub const CONTEST_HAS_NO_NOMINATIONS: Reason = Reason::new(
        "CONTEST_HAS_NO_NOMINATIONS",
        "Чтобы открыть конкурс, в нём должна быть хотя бы одна номинация.",
    );
    /// The team's level may not apply to this contest.
    pub const TEAM_LEVEL_NOT_ELIGIBLE: Reason = Reason::new(
        "TEAM_LEVEL_NOT_ELIGIBLE",
        "Команды этого уровня не участвуют в конкурсе.",
    );
    /// The team has used its applications in this nomination.
    pub const APPLICATION_LIMIT_REACHED: Reason = Reason::new(
        "APPLICATION_LIMIT_REACHED",
        "Команда уже подала разрешённое число заявок в этой номинации.",
    );
    /// The application is submitted or withdrawn.
    pub const APPLICATION_FROZEN: Reason = Reason::new(
        "APPLICATION_FROZEN",
        "Заявка подана или отозвана и больше не меняется.",
    );
    /// A team keeps at least one lead.
    pub const LAST_TEAM_LEAD: Reason = Reason::new(
        "LAST_TEAM_LEAD",
        "В команде должен остаться хотя бы один руководитель.",
    );
    /// The caller's scopes do not cover the team's region or municipality.
    pub const SCOPE_REQUIRED: Reason = Reason::new(
        "SCOPE_REQUIRED",
        "Ваши полномочия не распространяются на регион или муниципалитет команды.",
    );
    /// Only members of the team may act for it.
    pub const NOT_TEAM_MEMBER: Reason = Reason::new(
        "NOT_TEAM_MEMBER",
        "Действовать от имени команды могут только её участники.",
    );
    /// Only a lead of the team may do this.
    pub const TEAM_LEAD_REQUIRED: Reason = Reason::new(
        "TEAM_LEAD_REQUIRED",
        "Это может сделать только руководитель команды.",
    );
    /// Rule 5: the expert is from the team's region or a member of the team.
    pub const CONFLICT_OF_INTEREST: Reason = Reason::new(
        "CONFLICT_OF_INTEREST",
        "Конфликт интересов: эксперт из региона команды или входит в неё.",
    );
    /// The contest is not CLOSED for review.
    pub const CONTEST_NOT_CLOSED: Reason = Reason::new(
        "CONTEST_NOT_CLOSED",
        "Для этого приём заявок должен быть закрыт и начата экспертиза.",
    );
    /// Only submitted applications are reviewed.
    pub const APPLICATION_NOT_SUBMITTED: Reason = Reason::new(
        "APPLICATION_NOT_SUBMITTED",
        "Оцениваются только поданные заявки.",
    );
    /// The expert does not review the application's nomination.
    pub const EXPERT_NOT_IN_NOMINATION: Reason = Reason::new(
        "EXPERT_NOT_IN_NOMINATION",
        "Эксперт не оценивает заявки этой номинации.",
    );
    /// The review is completed.
    pub const REVIEW_COMPLETED: Reason =
        Reason::new("REVIEW_COMPLETED", "Оценка завершена и больше не меняется.");
    /// The expert has completed reviews.
    pub const EXPERT_HAS_COMPLETED_REVIEWS: Reason = Reason::new(
        "EXPERT_HAS_COMPLETED_REVIEWS",
        "У эксперта есть завершённые оценки, его нельзя удалить.",
    );
    /// Winners other than the top of the ranking need a reason.
    pub const DEPARTURE_REASON_REQUIRED: Reason = Reason::new(
        "DEPARTURE_REASON_REQUIRED",
        "Победители выбраны не по рейтингу: укажите причину отступления от рейтинга.",
    );
    /// A nomination has no winners chosen.
    pub const WINNERS_NOT_SET: Reason =
        Reason::new("WINNERS_NOT_SET", "В номинации не выбраны победители.");
    /// The contest has no rubric.
    pub const CONTEST_HAS_NO_RUBRIC: Reason =
        Reason::new("CONTEST_HAS_NO_RUBRIC", "У конкурса нет критериев оценки.");
    /// The results are not announced.
    pub const RESULTS_NOT_ANNOUNCED: Reason =
        Reason::new("RESULTS_NOT_ANNOUNCED", "Итоги конкурса ещё не объявлены.");
    /// Only winners are invited.
    pub const NOT_A_WINNER: Reason =
        Reason::new("NOT_A_WINNER", "Приглашения получают только победители.");
    /// Only experts of the contest may do this.
    pub const NOT_AN_EXPERT: Reason = Reason::new(
        "NOT_AN_EXPERT",
        "Это могут делать только эксперты, назначенные на заявку.",
    );
    pub use edu_kit::error::reason::TRANSITION_NOT_ALLOWED;
}

impl From<CompetitionError> for ApiError {
    fn from(error: CompetitionError) -> Self {
        let message = error.to_string();
        let precondition =
            |reason| ApiError::new(ErrorKind::FailedPrecondition, reason, message.clone());
        match error {
            CompetitionError::InvalidFields(problems) => ApiError::invalid_fields(
                problems
                    .into_iter()
                    .map(|p| FieldProblem {
                        field: p.field,
                        description: p.message,
                    })
                    .collect(),
            ),
            CompetitionError::DeadlinePassed { closes_at, zone } => {
                precondition(reason::DEADLINE_PASSED)
                    .with_metadata("closes_at", closes_at.to_string())
                    .in_russian(format!(
                        "Приём заявок закончился {}.",
                        deadline_in_russian(closes_at, &zone)
                    ))
            }
            CompetitionError::DeadlineNotPassed { closes_at, zone } => {
                precondition(reason::DEADLINE_NOT_PASSED)
                    .with_metadata("closes_at", closes_at.to_string())
                    .in_russian(format!(
                        "Приём заявок идёт до {}; закрыть конкурс раньше нельзя.",
                        deadline_in_russian(closes_at, &zone)
                    ))
            }
            CompetitionError::ContestNotOpen { state } => {
                precondition(reason::CONTEST_NOT_OPEN).with_metadata("state", state.as_str())
            }
            CompetitionError::ContestNotDraft { state, field } => {
                precondition(reason::CONTEST_NOT_DRAFT)
                    .with_metadata("state", state.as_str())
                    .with_metadata("field", field)
            }
            CompetitionError::ContestFinal { state } => {
                precondition(reason::CONTEST_FINAL).with_metadata("state", state.as_str())
            }
            CompetitionError::NoNominations => precondition(reason::CONTEST_HAS_NO_NOMINATIONS),
            CompetitionError::TeamLevelNotEligible { level } => {
                precondition(reason::TEAM_LEVEL_NOT_ELIGIBLE).with_metadata("level", level.as_str())
            }
            CompetitionError::ApplicationLimitReached { limit } => precondition(
                reason::APPLICATION_LIMIT_REACHED,
            )
            .with_metadata("limit", limit.to_string())
            .in_russian(format!(
                "Команда уже подала в этой номинации столько заявок, сколько разрешено ({limit})."
            )),
            CompetitionError::ApplicationFrozen { state } => {
                precondition(reason::APPLICATION_FROZEN).with_metadata("state", state.as_str())
            }
            CompetitionError::LastTeamLead => precondition(reason::LAST_TEAM_LEAD),
            CompetitionError::ConflictOfInterest { conflict } => {
                precondition(reason::CONFLICT_OF_INTEREST)
                    .with_metadata("conflict", conflict.as_str())
                    .in_russian(match conflict {
                        Conflict::SameRegion => {
                            "Конфликт интересов: эксперт из того же региона, что и команда."
                        }
                        Conflict::TeamMember => "Конфликт интересов: эксперт входит в команду.",
                    })
            }
            CompetitionError::ContestNotClosed { state } => {
                precondition(reason::CONTEST_NOT_CLOSED).with_metadata("state", state.as_str())
            }
            CompetitionError::ApplicationNotSubmitted { state } => {
                precondition(reason::APPLICATION_NOT_SUBMITTED)
                    .with_metadata("state", state.as_str())
            }
            CompetitionError::ExpertNotInNomination { nomination_id } => {
                precondition(reason::EXPERT_NOT_IN_NOMINATION)
                    .with_metadata("nomination_id", nomination_id)
            }
            CompetitionError::ReviewCompleted => precondition(reason::REVIEW_COMPLETED),
            CompetitionError::ExpertHasCompletedReviews => {
                precondition(reason::EXPERT_HAS_COMPLETED_REVIEWS)
            }
            CompetitionError::DepartureReasonRequired => {
                precondition(reason::DEPARTURE_REASON_REQUIRED)
            }
            CompetitionError::WinnersNotSet { nomination_id } => {
                let russian = format!(
                    "В номинации {} не выбраны победители.",
                    edu_kit::error::quote(&nomination_id)
                );
                precondition(reason::WINNERS_NOT_SET)
                    .with_metadata("nomination_id", nomination_id)
                    .in_russian(russian)
            }
            CompetitionError::NoRubric => precondition(reason::CONTEST_HAS_NO_RUBRIC),
            CompetitionError::ResultsNotAnnounced => precondition(reason::RESULTS_NOT_ANNOUNCED),
            CompetitionError::NotAWinner => precondition(reason::NOT_A_WINNER),
            CompetitionError::TransitionNotAllowed { from, to } => {
                ApiError::transition_not_allowed(from, to)
            }
        }
    }
}
