//! Monitoring (rule 10, §3.5 «1 раз в полгода до 20 декабря и до 20 мая», choice 14): one
//! round per season of a year, named by the year and month due (`2024-12`, `2025-05`). A
//! round is OPEN while questionnaires are answered and pairs assessed, and SUBMITTED once
//! every pair is assessed; its figures are then fixed. When it is due is in
//! [`super::deadlines`].

use std::fmt;

use jiff::Timestamp;
use jiff::civil::Date;

use super::MentoringError;

/// The lowest score of a scale question.
pub const MIN_SCORE: i32 = 1;

/// The highest score of a scale question.
pub const MAX_SCORE: i32 = 10;

/// Which of the two yearly rounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MonitoringSeason {
    /// Due by 20 May; the round's ID ends in `-05`.
    May,
    /// Due by 20 December; the round's ID ends in `-12`.
    December,
}

impl MonitoringSeason {
    /// The stored name: the proto value name without its `MONITORING_SEASON_` prefix.
    pub fn as_str(self) -> &'static str {
        match self {
            MonitoringSeason::December => "DECEMBER",
            MonitoringSeason::May => "MAY",
        }
    }

    /// The season a stored name stands for.
    pub fn parse(raw: &str) -> Option<Self> {
        [MonitoringSeason::December, MonitoringSeason::May]
            .into_iter()
            .find(|s| s.as_str() == raw)
    }

    /// The month the round is due in.
    pub fn due_month(self) -> i8 {
        match self {
            MonitoringSeason::December => 12,
            MonitoringSeason::May => 5,
        }
    }

    /// The season whose due month is `month`.
    pub fn of_month(month: i8) -> Option<Self> {
        match month {
            12 => Some(MonitoringSeason::December),
            5 => Some(MonitoringSeason::May),
            _ => None,
        }
    }

    /// The season whose round is the next one due on or after `today`, with its year: the
    /// May round until 20 May, the December round until 20 December, then next May's.
    pub fn current(today: Date) -> RoundId {
        let year = today.year();
        let (month, day) = (today.month(), today.day());
        let due_day = super::deadlines::MONITORING_DUE_DAY;
        if (month, day) <= (5, due_day) {
            RoundId {
                year,
                season: MonitoringSeason::May,
            }
        } else if (month, day) <= (12, due_day) {
            RoundId {
                year,
                season: MonitoringSeason::December,
            }
        } else {
            RoundId {
                year: year.saturating_add(1),
                season: MonitoringSeason::May,
            }
        }
    }
}

impl fmt::Display for MonitoringSeason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A round's ID: the year and month it is due, `2024-12` or `2025-05`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoundId {
    /// The year of the due date.
    pub year: i16,
    /// The season.
    pub season: MonitoringSeason,
}

impl RoundId {
    /// The round an ID names: four digits of the year, a hyphen, `12` or `05`.
    pub fn parse(raw: &str) -> Option<Self> {
        let (year, month) = raw.split_once('-')?;
        if year.len() != 4 || month.len() != 2 || !year.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let season = match month {
            "12" => MonitoringSeason::December,
            "05" => MonitoringSeason::May,
            _ => return None,
        };
        Some(RoundId {
            year: year.parse().ok()?,
            season,
        })
    }
}

impl fmt::Display for RoundId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.season.due_month())
    }
}

/// Answers and assessments are recorded only in an OPEN round: once submitted (at
/// `submitted_at`) it is refused with `MONITORING_ROUND_SUBMITTED`.
pub fn ensure_open(submitted_at: Option<Timestamp>) -> Result<(), MentoringError> {
    match submitted_at {
        Some(submitted_at) => Err(MentoringError::MonitoringRoundSubmitted { submitted_at }),
        None => Ok(()),
    }
}

/// `SubmitMonitoringRound`'s rules: an OPEN round (`TRANSITION_NOT_ALLOWED`) whose every
/// pair result is assessed (`PAIR_RESULTS_INCOMPLETE` with the count and the first
/// unassessed result, in the order the store lists them).
pub fn check_submission(
    submitted_at: Option<Timestamp>,
    unassessed: &[&str],
) -> Result<(), MentoringError> {
    if submitted_at.is_some() {
        return Err(MentoringError::TransitionNotAllowed {
            resource: "monitoring round",
            state: "SUBMITTED",
        });
    }
    match unassessed.first() {
        Some(first) => Err(MentoringError::PairResultsIncomplete {
            unassessed: u32::try_from(unassessed.len()).unwrap_or(u32::MAX),
            pair_result: (*first).to_string(),
        }),
        None => Ok(()),
    }
}

/// Whether a score fits a scale question: 1 to 10.
pub fn score_in_range(score: i32) -> bool {
    (MIN_SCORE..=MAX_SCORE).contains(&score)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn round_ids_are_year_and_month_due() {
        let december = RoundId {
            year: 2024,
            season: MonitoringSeason::December,
        };
        let may = RoundId {
            year: 2025,
            season: MonitoringSeason::May,
        };
        assert_eq!(december.to_string(), "2024-12");
        assert_eq!(may.to_string(), "2025-05");
        assert_eq!(RoundId::parse("2024-12"), Some(december));
        assert_eq!(RoundId::parse("2025-05"), Some(may));
        for bad in [
            "2024-11",
            "2024-5",
            "24-12",
            "2024_12",
            "2024-12-20",
            "abcd-12",
            "",
        ] {
            assert_eq!(RoundId::parse(bad), None, "{bad}");
        }
        assert!(may > december);
    }

    #[test]
    fn the_current_round_is_the_next_due() {
        let round = |d| MonitoringSeason::current(d).to_string();
        assert_eq!(round(date(2025, 1, 15)), "2025-05");
        assert_eq!(round(date(2025, 5, 20)), "2025-05");
        assert_eq!(round(date(2025, 5, 21)), "2025-12");
        assert_eq!(round(date(2024, 12, 20)), "2024-12");
        assert_eq!(round(date(2024, 12, 21)), "2025-05");
    }

    #[test]
    fn a_submitted_round_takes_no_more_answers() {
        let submitted_at: Timestamp = "2024-12-20T19:59:00Z".parse().expect("instant");
        assert_eq!(ensure_open(None), Ok(()));
        assert_eq!(
            ensure_open(Some(submitted_at)),
            Err(MentoringError::MonitoringRoundSubmitted { submitted_at })
        );
    }

    #[test]
    fn a_round_is_submitted_once_every_pair_is_assessed() {
        let r1 = "institutions/mechta-saratov/monitoringRounds/2024-12/pairResults/r1";
        let r2 = "institutions/mechta-saratov/monitoringRounds/2024-12/pairResults/r2";
        assert_eq!(
            check_submission(None, &[r1, r2]),
            Err(MentoringError::PairResultsIncomplete {
                unassessed: 2,
                pair_result: r1.into()
            })
        );
        assert_eq!(check_submission(None, &[]), Ok(()));
        let submitted_at: Timestamp = "2024-12-20T19:59:00Z".parse().expect("instant");
        assert_eq!(
            check_submission(Some(submitted_at), &[]),
            Err(MentoringError::TransitionNotAllowed {
                resource: "monitoring round",
                state: "SUBMITTED"
            })
        );
    }

    #[test]
    fn seasons_and_scores() {
        for season in [MonitoringSeason::December, MonitoringSeason::May] {
            assert_eq!(MonitoringSeason::parse(season.as_str()), Some(season));
            assert_eq!(MonitoringSeason::of_month(season.due_month()), Some(season));
        }
        assert_eq!(MonitoringSeason::of_month(6), None);
        assert!(score_in_range(1) && score_in_range(10));
        assert!(!score_in_range(0) && !score_in_range(11));
    }
}
