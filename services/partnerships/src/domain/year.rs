//! A programme year as data (deliverable 1): its application window, modules, caps, annex
//! deadline and longest visit, all in the ministry's time zone. Days end at midnight there:
//! "by 21 October" means until 22 October 00:00 Europe/Sofia.

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

use super::PartnershipError;

/// A module a year offers (rule 1), for example «Модул 1».
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    /// Its number, 1 to 99, distinct within a year.
    pub number: u8,
    /// Its name as schools see it.
    pub display_name: String,
}

/// Where a year is at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum YearPhase {
    /// Before the window: every parameter may change.
    Upcoming,
    /// Within the application window.
    WindowOpen,
    /// After the window, until the end of the annex deadline day.
    Planning,
    /// After the annex deadline.
    Delivery,
}

/// Why a year ID is not one: `yyyy-yyyy`, two consecutive years.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "a programme year ID is the school year as yyyy-yyyy with two consecutive years, for example 2023-2024"
)]
pub struct InvalidYearId;

/// Parses a year ID, `2023-2024`.
pub fn parse_year_id(raw: &str) -> Result<String, InvalidYearId> {
    let (first, second) = raw.split_once('-').ok_or(InvalidYearId)?;
    let digits = |s: &str| s.len() == 4 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(first) || !digits(second) {
        return Err(InvalidYearId);
    }
    let (a, b): (u16, u16) = (
        first.parse().map_err(|_| InvalidYearId)?,
        second.parse().map_err(|_| InvalidYearId)?,
    );
    if b != a + 1 || !(2000..=2099).contains(&a) {
        return Err(InvalidYearId);
    }
    Ok(raw.to_string())
}

/// Which of the two caps (rule 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CapKind {
    /// Schools on the List of innovative schools.
    Innovative,
    /// Schools not on it.
    NonInnovative,
}

impl CapKind {
    /// The name used in refusals' metadata.
    pub fn as_str(self) -> &'static str {
        match self {
            CapKind::Innovative => "INNOVATIVE",
            CapKind::NonInnovative => "NON_INNOVATIVE",
        }
    }
}

impl std::fmt::Display for CapKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CapKind::Innovative => "innovative",
            CapKind::NonInnovative => "non-innovative",
        })
    }
}

/// How many schools of each kind may be in signed contracts (rule 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    /// Innovative schools.
    pub innovative: u32,
    /// Non-innovative schools.
    pub non_innovative: u32,
}

/// Schools of each kind in signed contracts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Contracted {
    /// Innovative schools.
    pub innovative: u32,
    /// Non-innovative schools.
    pub non_innovative: u32,
}

impl Caps {
    /// Rule 6: whether `adding` more schools fit beside the `contracted` ones; the cap
    /// reached otherwise.
    pub fn admit(self, contracted: Contracted, adding: Contracted) -> Result<(), PartnershipError> {
        if contracted.innovative + adding.innovative > self.innovative {
            return Err(PartnershipError::CapReached {
                kind: CapKind::Innovative,
                cap: self.innovative,
            });
        }
        if contracted.non_innovative + adding.non_innovative > self.non_innovative {
            return Err(PartnershipError::CapReached {
                kind: CapKind::NonInnovative,
                cap: self.non_innovative,
            });
        }
        Ok(())
    }

    /// Rule 6: whether contracting has stopped (a cap is reached).
    pub fn reached(self, contracted: Contracted) -> Option<PartnershipError> {
        if contracted.innovative >= self.innovative {
            Some(PartnershipError::CapReached {
                kind: CapKind::Innovative,
                cap: self.innovative,
            })
        } else if contracted.non_innovative >= self.non_innovative {
            Some(PartnershipError::CapReached {
                kind: CapKind::NonInnovative,
                cap: self.non_innovative,
            })
        } else {
            None
        }
    }
}

/// A programme year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgrammeYear {
    /// The ID, for example `2023-2024`.
    pub id: String,
    /// The name shown.
    pub display_name: String,
    /// The ministry's IANA time zone, in which every day of the year begins and ends.
    pub time_zone: String,
    /// The first day of the application window.
    pub application_start: Date,
    /// The last day of the application window, to its end.
    pub application_end: Date,
    /// The modules offered.
    pub modules: Vec<Module>,
    /// The caps.
    pub caps: Caps,
    /// The last day for mobility programmes and annexes, to its end.
    pub annex_deadline: Date,
    /// The longest visit, in days, both ends counted.
    pub max_mobility_days: u8,
    /// Created.
    pub create_time: Timestamp,
    /// Last changed.
    pub update_time: Timestamp,
    /// Optimistic-concurrency version.
    pub version: i64,
}

/// The start of `day` in `zone`.
fn start_of(day: Date, zone: &TimeZone) -> Timestamp {
    day.to_zoned(zone.clone())
        .map(|z| z.timestamp())
        // A date the zone cannot place (outside jiff's range) is not one a year takes.
        .unwrap_or(Timestamp::MAX)
}

impl ProgrammeYear {
    /// The year's zone (UTC when the name is unknown, which parsing prevents).
    pub fn zone(&self) -> TimeZone {
        TimeZone::get(&self.time_zone).unwrap_or(TimeZone::UTC)
    }

    /// When the application window opens: the first day's midnight.
    pub fn opens_at(&self) -> Timestamp {
        start_of(self.application_start, &self.zone())
    }

    /// When it closes: the midnight after its last day.
    pub fn closes_at(&self) -> Timestamp {
        self.application_end
            .tomorrow()
            .map(|d| start_of(d, &self.zone()))
            .unwrap_or(Timestamp::MAX)
    }

    /// When annexes stop: the midnight after the deadline day.
    pub fn annexes_close_at(&self) -> Timestamp {
        self.annex_deadline
            .tomorrow()
            .map(|d| start_of(d, &self.zone()))
            .unwrap_or(Timestamp::MAX)
    }

    /// The day `now` falls on in the year's zone.
    pub fn today(&self, now: Timestamp) -> Date {
        now.to_zoned(self.zone()).date()
    }

    /// A year's parameters (here `field`) change only before its window opens.
    pub fn ensure_changeable(&self, now: Timestamp, field: &str) -> Result<(), PartnershipError> {
        if now >= self.opens_at() {
            Err(PartnershipError::YearOpen {
                field: field.to_string(),
                opened: self.opens_at(),
                zone: self.time_zone.clone(),
            })
        } else {
            Ok(())
        }
    }

    /// Rule 1 (and rule 6's deadline): applications, interests and contracts happen
    /// within the window.
    pub fn ensure_window_open(&self, now: Timestamp) -> Result<(), PartnershipError> {
        if now < self.opens_at() {
            Err(PartnershipError::WindowNotOpen {
                opens: self.opens_at(),
                zone: self.time_zone.clone(),
            })
        } else if now >= self.closes_at() {
            Err(PartnershipError::WindowClosed {
                closed: self.closes_at(),
                zone: self.time_zone.clone(),
            })
        } else {
            Ok(())
        }
    }

    /// Rule 8: annexes are filed by the end of the deadline day.
    pub fn ensure_annexes_open(&self, now: Timestamp) -> Result<(), PartnershipError> {
        if now >= self.annexes_close_at() {
            Err(PartnershipError::AnnexDeadlinePassed {
                deadline: self.annexes_close_at(),
                zone: self.time_zone.clone(),
            })
        } else {
            Ok(())
        }
    }

    /// Rule 1: the index of the first module applied for that the year does not offer.
    pub fn first_not_offered(&self, modules: &[u8]) -> Option<usize> {
        modules
            .iter()
            .position(|n| !self.modules.iter().any(|m| m.number == *n))
    }

    /// Where the year is at `now`.
    pub fn phase(&self, now: Timestamp) -> YearPhase {
        if now < self.opens_at() {
            YearPhase::Upcoming
        } else if now < self.closes_at() {
            YearPhase::WindowOpen
        } else if now < self.annexes_close_at() {
            YearPhase::Planning
        } else {
            YearPhase::Delivery
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    /// The 2023/2024 year of the source document.
    pub fn year() -> ProgrammeYear {
        ProgrammeYear {
            id: "2023-2024".into(),
            display_name: "2023/2024".into(),
            time_zone: "Europe/Sofia".into(),
            application_start: date(2023, 9, 1),
            application_end: date(2023, 10, 21),
            modules: vec![module(1), module(2)],
            caps: Caps {
                innovative: 300,
                non_innovative: 300,
            },
            annex_deadline: date(2023, 12, 15),
            max_mobility_days: 4,
            create_time: Timestamp::UNIX_EPOCH,
            update_time: Timestamp::UNIX_EPOCH,
            version: 1,
        }
    }

    fn module(number: u8) -> Module {
        Module {
            number,
            display_name: format!("Модул {number}"),
        }
    }

    fn at(instant: &str) -> Timestamp {
        instant.parse().expect("instant")
    }

    #[test]
    fn the_window_ends_at_midnight_in_sofia() {
        let y = year();
        // 21 October 23:59 in Sofia (summer time, UTC+3) is inside; 22 October 00:00 is not.
        assert!(
            y.ensure_window_open(at("2023-10-21T23:59:00+03:00"))
                .is_ok()
        );
        assert!(matches!(
            y.ensure_window_open(at("2023-10-22T00:00:00+03:00")),
            Err(PartnershipError::WindowClosed { .. })
        ));
        assert!(matches!(
            y.ensure_window_open(at("2023-08-31T23:59:59+03:00")),
            Err(PartnershipError::WindowNotOpen { .. })
        ));
        assert!(
            y.ensure_window_open(at("2023-09-01T00:00:00+03:00"))
                .is_ok()
        );
    }

    #[test]
    fn annexes_close_at_the_end_of_the_deadline_day_in_sofia() {
        let y = year();
        // Winter time by December (UTC+2).
        assert!(
            y.ensure_annexes_open(at("2023-12-15T23:59:00+02:00"))
                .is_ok()
        );
        assert!(matches!(
            y.ensure_annexes_open(at("2023-12-16T00:00:00+02:00")),
            Err(PartnershipError::AnnexDeadlinePassed { .. })
        ));
    }

    #[test]
    fn parameters_change_only_before_the_window_opens() {
        let y = year();
        assert!(
            y.ensure_changeable(at("2023-08-31T23:59:00+03:00"), "modules")
                .is_ok()
        );
        assert!(matches!(
            y.ensure_changeable(at("2023-09-01T00:00:00+03:00"), "modules"),
            Err(PartnershipError::YearOpen { .. })
        ));
    }

    #[test]
    fn caps_admit_up_to_their_value_and_never_beyond() {
        let caps = Caps {
            innovative: 2,
            non_innovative: 1,
        };
        let none = Contracted::default();
        assert!(
            caps.admit(
                none,
                Contracted {
                    innovative: 2,
                    non_innovative: 0
                }
            )
            .is_ok()
        );
        assert!(matches!(
            caps.admit(
                Contracted {
                    innovative: 2,
                    non_innovative: 0
                },
                Contracted {
                    innovative: 1,
                    non_innovative: 0
                }
            ),
            Err(PartnershipError::CapReached {
                kind: CapKind::Innovative,
                cap: 2
            })
        ));
        assert!(matches!(
            caps.reached(Contracted {
                innovative: 0,
                non_innovative: 1
            }),
            Some(PartnershipError::CapReached {
                kind: CapKind::NonInnovative,
                ..
            })
        ));
    }

    #[test]
    fn only_offered_modules_are_applied_for() {
        let mut y = year();
        y.modules = vec![module(1)];
        assert_eq!(y.first_not_offered(&[1]), None);
        assert_eq!(y.first_not_offered(&[1, 2]), Some(1));
    }

    #[test]
    fn year_ids_are_two_consecutive_years() {
        assert!(parse_year_id("2023-2024").is_ok());
        for bad in [
            "2023-2025",
            "2023",
            "23-24",
            "2024-2023",
            "abcd-efgh",
            "2023-2024x",
        ] {
            assert!(parse_year_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn phases_follow_the_dates_in_sofia() {
        let y = year();
        assert_eq!(
            y.phase(at("2023-08-31T23:59:00+03:00")),
            YearPhase::Upcoming
        );
        assert_eq!(
            y.phase(at("2023-10-21T23:59:00+03:00")),
            YearPhase::WindowOpen
        );
        assert_eq!(
            y.phase(at("2023-10-22T00:00:00+03:00")),
            YearPhase::Planning
        );
        assert_eq!(
            y.phase(at("2023-12-16T00:00:00+02:00")),
            YearPhase::Delivery
        );
    }
}
