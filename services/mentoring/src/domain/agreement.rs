//! Agreements between mentor and mentees (rule 6; Appendix 3): recorded once signed
//! (choice 10), in force from the sign date for a number of months (1 to 36, at most 60
//! with extensions: choice 18), extended by mutual agreement also after expiry, ended by
//! agreement of the parties or unilaterally after systematic violations — three recorded
//! against the other party (choice 10).

use std::fmt;

use jiff::ToSpan;
use jiff::civil::Date;

use super::MentoringError;
use super::completion::CompletionInitiator;
use super::pairs::PairSide;

/// The shortest agreement, and the shortest extension, in months.
pub const MIN_MONTHS: u32 = 1;

/// The longest agreement when signed, and the longest single extension, in months.
pub const MAX_MONTHS: u32 = 36;

/// The longest an agreement runs with every extension, in months.
pub const MAX_TOTAL_MONTHS: u32 = 60;

/// Recorded violations of the other party that make a unilateral termination possible:
/// «систематическое» read as more than twice (choice 10).
pub const SYSTEMATIC_VIOLATIONS: u32 = 3;

/// The most tasks an agreement lists (choice 18).
pub const MAX_TASKS: usize = 20;

/// The longest task, in characters.
pub const MAX_TASK_CHARS: usize = 500;

/// Where an agreement is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AgreementState {
    /// Signed by every party; in force from its sign date.
    Signed,
    /// Ended; final.
    Ended,
}

impl AgreementState {
    /// The stored name: the proto value name without its `AGREEMENT_STATE_` prefix.
    pub fn as_str(self) -> &'static str {
        match self {
            AgreementState::Signed => "SIGNED",
            AgreementState::Ended => "ENDED",
        }
    }

    /// The state a stored name stands for.
    pub fn parse(raw: &str) -> Option<Self> {
        [AgreementState::Signed, AgreementState::Ended]
            .into_iter()
            .find(|s| s.as_str() == raw)
    }

    /// Extensions, violations and terminations are recorded for a SIGNED agreement only
    /// (`TRANSITION_NOT_ALLOWED`).
    pub fn ensure_signed(self) -> Result<(), MentoringError> {
        match self {
            AgreementState::Signed => Ok(()),
            AgreementState::Ended => Err(MentoringError::TransitionNotAllowed {
                resource: "agreement",
                state: self.as_str(),
            }),
        }
    }
}

impl fmt::Display for AgreementState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an agreement ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AgreementEndReason {
    /// By agreement of the parties («по соглашению Сторон»).
    TerminatedByAgreement,
    /// Unilaterally after systematic violations («в одностороннем порядке»).
    TerminatedUnilaterally,
    /// The programme was completed.
    ProgrammeCompleted,
    /// The director replaced the mentor; a new agreement follows.
    MentorReplaced,
    /// The pair was cancelled before activation.
    PairCancelled,
}

impl AgreementEndReason {
    /// Every reason, in the order of the proto enum.
    pub const ALL: [AgreementEndReason; 5] = [
        AgreementEndReason::TerminatedByAgreement,
        AgreementEndReason::TerminatedUnilaterally,
        AgreementEndReason::ProgrammeCompleted,
        AgreementEndReason::MentorReplaced,
        AgreementEndReason::PairCancelled,
    ];

    /// The stored name: the proto value name without its `AGREEMENT_END_REASON_` prefix.
    pub fn as_str(self) -> &'static str {
        match self {
            AgreementEndReason::TerminatedByAgreement => "TERMINATED_BY_AGREEMENT",
            AgreementEndReason::TerminatedUnilaterally => "TERMINATED_UNILATERALLY",
            AgreementEndReason::ProgrammeCompleted => "PROGRAMME_COMPLETED",
            AgreementEndReason::MentorReplaced => "MENTOR_REPLACED",
            AgreementEndReason::PairCancelled => "PAIR_CANCELLED",
        }
    }

    /// The reason a stored name stands for.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == raw)
    }
}

/// A termination as asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Termination<'a> {
    /// By agreement of the parties: always possible.
    Mutual,
    /// By one side against the other, after systematic violations by the other.
    Unilateral {
        /// The side that terminates.
        by: PairSide,
        /// The other party, whose violations count, by resource name.
        violator: &'a str,
        /// Violations recorded against them.
        violations: u32,
    },
}

impl Termination<'_> {
    /// The stored name of the mode: `MUTUAL` or `UNILATERAL`.
    pub fn mode(&self) -> &'static str {
        match self {
            Termination::Mutual => "MUTUAL",
            Termination::Unilateral { .. } => "UNILATERAL",
        }
    }

    /// Why the agreement ends.
    pub fn end_reason(&self) -> AgreementEndReason {
        match self {
            Termination::Mutual => AgreementEndReason::TerminatedByAgreement,
            Termination::Unilateral { .. } => AgreementEndReason::TerminatedUnilaterally,
        }
    }
}

/// `TerminateAgreement`'s rules: a SIGNED agreement (`TRANSITION_NOT_ALLOWED`); for a
/// unilateral termination, at least three violations recorded against the other party
/// (`VIOLATIONS_NOT_SYSTEMATIC` with the count). Answers who took the initiative, for the
/// programme's completion: BOTH by agreement, else the terminating side.
pub fn check_termination(
    state: AgreementState,
    termination: Termination<'_>,
) -> Result<CompletionInitiator, MentoringError> {
    state.ensure_signed()?;
    match termination {
        Termination::Mutual => Ok(CompletionInitiator::Both),
        Termination::Unilateral {
            by,
            violator,
            violations,
        } => {
            if violations < SYSTEMATIC_VIOLATIONS {
                return Err(MentoringError::ViolationsNotSystematic {
                    violator: violator.to_string(),
                    violations,
                    required: SYSTEMATIC_VIOLATIONS,
                });
            }
            Ok(match by {
                PairSide::Mentor => CompletionInitiator::Mentor,
                PairSide::Mentee => CompletionInitiator::Mentee,
            })
        }
    }
}

/// An agreement's term: signed on a day for some months, plus its extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Term {
    /// The day the parties signed; the agreement is in force from it.
    pub sign_date: Date,
    /// The months it runs as signed, 1 to 36.
    pub duration_months: u32,
    /// The months of every extension together.
    pub extension_months: u32,
}

impl Term {
    /// A term as signed: `duration_months` of 1 to 36 (`INVALID_FIELDS`,
    /// `agreement.duration_months`).
    pub fn signed(sign_date: Date, duration_months: u32) -> Result<Self, MentoringError> {
        if !(MIN_MONTHS..=MAX_MONTHS).contains(&duration_months) {
            return Err(MentoringError::invalid_field(
                "agreement.duration_months",
                format!("must be {MIN_MONTHS} to {MAX_MONTHS} months"),
            ));
        }
        Ok(Term {
            sign_date,
            duration_months,
            extension_months: 0,
        })
    }

    /// Every month it runs, extensions included.
    pub fn total_months(&self) -> u32 {
        self.duration_months + self.extension_months
    }

    /// Its last day in force, extensions included (see [`end_date`]).
    pub fn end_date(&self) -> Date {
        end_date(self.sign_date, self.total_months())
    }

    /// Whether it has run out by `today` (see [`is_expired`]).
    pub fn is_expired(&self, today: Date) -> bool {
        is_expired(self.end_date(), today)
    }

    /// The term extended by `months`, 1 to 36, keeping the total within 60
    /// (`INVALID_FIELDS`, `extension.months`). An expired agreement may be extended too
    /// («по истечении срока действия … может быть продлен»).
    pub fn extend(&self, months: u32) -> Result<Self, MentoringError> {
        if !(MIN_MONTHS..=MAX_MONTHS).contains(&months) {
            return Err(MentoringError::invalid_field(
                "extension.months",
                format!("must be {MIN_MONTHS} to {MAX_MONTHS} months"),
            ));
        }
        let total = self.total_months() + months;
        if total > MAX_TOTAL_MONTHS {
            return Err(MentoringError::invalid_field(
                "extension.months",
                format!(
                    "the agreement would run {total} months; with extensions it runs at most \
                     {MAX_TOTAL_MONTHS}"
                ),
            ));
        }
        Ok(Term {
            extension_months: self.extension_months + months,
            ..*self
        })
    }
}

/// The last day an agreement signed on `sign_date` for `months` months is in force: the day
/// before the same day of the month `months` later, or that month's last day when it has no
/// such day (signed 31 January for one month: in force through 29 February in a leap year,
/// 28 February otherwise).
pub fn end_date(sign_date: Date, months: u32) -> Date {
    let Ok(same_day) = sign_date.checked_add(i64::from(months).months()) else {
        return Date::MAX;
    };
    // jiff clamps a missing day to the month's last; only a real same day steps back one.
    if same_day.day() == sign_date.day() {
        same_day.yesterday().unwrap_or(same_day)
    } else {
        same_day
    }
}

/// Whether an agreement whose last day in force is `end_date` has expired on `today`: it
/// is in force through its last day.
pub fn is_expired(end_date: Date, today: Date) -> bool {
    end_date < today
}

/// A day of the agreement's life (an extension agreed, a violation, the end) is between
/// its signature and today (`INVALID_FIELDS` naming `field`).
pub fn ensure_day_in_term(
    field: &str,
    day: Date,
    sign_date: Date,
    today: Date,
) -> Result<(), MentoringError> {
    if day > today {
        Err(MentoringError::invalid_field(
            field,
            "must not be after today",
        ))
    } else if day < sign_date {
        Err(MentoringError::invalid_field(
            field,
            "must not be before the agreement was signed",
        ))
    } else {
        Ok(())
    }
}

/// The tasks the parties set: 1 to 20, each 1 to 500 characters (`INVALID_FIELDS` naming
/// each).
pub fn ensure_tasks(tasks: &[&str]) -> Result<(), MentoringError> {
    let mut fields = vec![];
    if tasks.is_empty() || tasks.len() > MAX_TASKS {
        fields.push(super::FieldError::new(
            "agreement.tasks",
            format!("must list 1 to {MAX_TASKS} tasks"),
        ));
    }
    for (i, task) in tasks.iter().enumerate() {
        let chars = task.trim().chars().count();
        if chars == 0 || chars > MAX_TASK_CHARS {
            fields.push(super::FieldError::new(
                format!("agreement.tasks[{i}]"),
                format!("must be 1 to {MAX_TASK_CHARS} characters"),
            ));
        }
    }
    if fields.is_empty() {
        Ok(())
    } else {
        Err(MentoringError::InvalidFields(fields))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    const VIOLATOR: &str = "institutions/mechta-saratov/participants/mentee";

    #[test]
    fn duration_is_one_to_thirty_six_months() {
        for months in [1, 12, 36] {
            assert!(Term::signed(date(2024, 9, 1), months).is_ok());
        }
        for months in [0, 37] {
            let refused = Term::signed(date(2024, 9, 1), months).expect_err("out of bounds");
            assert_eq!(refused.reason(), "INVALID_FIELDS");
            assert_eq!(refused.field_errors()[0].field, "agreement.duration_months");
        }
    }

    #[test]
    fn the_last_day_is_the_day_before_the_same_day_months_later() {
        assert_eq!(end_date(date(2024, 9, 1), 9), date(2025, 5, 31));
        assert_eq!(end_date(date(2024, 1, 15), 1), date(2024, 2, 14));
        assert_eq!(end_date(date(2024, 3, 1), 12), date(2025, 2, 28));
        // No 31 February: the month's last day.
        assert_eq!(end_date(date(2024, 1, 31), 1), date(2024, 2, 29));
        assert_eq!(end_date(date(2023, 1, 31), 1), date(2023, 2, 28));
        assert_eq!(end_date(date(2023, 1, 30), 1), date(2023, 2, 28));
        // 29 February exists in 2024: the day before.
        assert_eq!(end_date(date(2024, 1, 29), 1), date(2024, 2, 28));
    }

    #[test]
    fn an_agreement_is_in_force_through_its_last_day() {
        let term = Term::signed(date(2024, 9, 1), 9).expect("term");
        assert!(!term.is_expired(date(2025, 5, 31)));
        assert!(term.is_expired(date(2025, 6, 1)));
    }

    #[test]
    fn extensions_add_up_to_sixty_months_at_most() {
        let term = Term::signed(date(2024, 9, 1), 36).expect("term");
        let extended = term.extend(24).expect("to 60");
        assert_eq!(extended.total_months(), 60);
        assert_eq!(extended.end_date(), date(2029, 8, 31));
        let refused = extended.extend(1).expect_err("over 60");
        assert_eq!(refused.field_errors()[0].field, "extension.months");
        assert!(term.extend(25).is_err());
        assert!(term.extend(0).is_err());
        let short = Term::signed(date(2024, 9, 1), 1).expect("term");
        assert!(short.extend(37).is_err());
        // Expired, then extended: in force again.
        let renewed = short.extend(3).expect("extension");
        assert!(short.is_expired(date(2024, 11, 1)));
        assert!(!renewed.is_expired(date(2024, 11, 1)));
        assert_eq!(renewed.end_date(), date(2024, 12, 31));
    }

    #[test]
    fn a_unilateral_termination_needs_three_violations_of_the_other_party() {
        for violations in [0, 1, 2] {
            assert_eq!(
                check_termination(
                    AgreementState::Signed,
                    Termination::Unilateral {
                        by: PairSide::Mentor,
                        violator: VIOLATOR,
                        violations,
                    }
                ),
                Err(MentoringError::ViolationsNotSystematic {
                    violator: VIOLATOR.into(),
                    violations,
                    required: 3,
                })
            );
        }
        assert_eq!(
            check_termination(
                AgreementState::Signed,
                Termination::Unilateral {
                    by: PairSide::Mentor,
                    violator: VIOLATOR,
                    violations: 3,
                }
            ),
            Ok(CompletionInitiator::Mentor)
        );
        assert_eq!(
            check_termination(
                AgreementState::Signed,
                Termination::Unilateral {
                    by: PairSide::Mentee,
                    violator: "p/mentor",
                    violations: 4,
                }
            ),
            Ok(CompletionInitiator::Mentee)
        );
    }

    #[test]
    fn a_mutual_termination_needs_nothing_but_a_signed_agreement() {
        assert_eq!(
            check_termination(AgreementState::Signed, Termination::Mutual),
            Ok(CompletionInitiator::Both)
        );
        assert_eq!(
            check_termination(AgreementState::Ended, Termination::Mutual),
            Err(MentoringError::TransitionNotAllowed {
                resource: "agreement",
                state: "ENDED"
            })
        );
        assert_eq!(
            Termination::Mutual.end_reason(),
            AgreementEndReason::TerminatedByAgreement
        );
        assert_eq!(Termination::Mutual.mode(), "MUTUAL");
    }

    #[test]
    fn days_of_the_agreement_lie_between_signature_and_today() {
        let sign = date(2024, 9, 1);
        let today = date(2025, 2, 12);
        assert!(ensure_day_in_term("violation.occur_date", sign, sign, today).is_ok());
        assert!(ensure_day_in_term("violation.occur_date", today, sign, today).is_ok());
        assert!(
            ensure_day_in_term("violation.occur_date", date(2024, 8, 31), sign, today).is_err()
        );
        assert!(
            ensure_day_in_term("violation.occur_date", date(2025, 2, 13), sign, today).is_err()
        );
    }

    #[test]
    fn tasks_are_one_to_twenty() {
        assert!(ensure_tasks(&["адаптация в коллективе"]).is_ok());
        assert!(ensure_tasks(&[]).is_err());
        let many = ["задача"; 21];
        assert!(ensure_tasks(&many).is_err());
        let refused = ensure_tasks(&["задача", " "]).expect_err("empty task");
        assert_eq!(refused.field_errors()[0].field, "agreement.tasks[1]");
        for reason in AgreementEndReason::ALL {
            assert_eq!(AgreementEndReason::parse(reason.as_str()), Some(reason));
        }
    }
}
