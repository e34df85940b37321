//! "Due by day D" in the institution's time zone (choice 16): on time when recorded before
//! 00:00 of D+1 there, late at or after that instant, overdue while still open after it.
//! Lateness is flagged, never refused. The caller's clock zone does not matter: only the
//! instant and the institution's zone do.
//!
//! The deadlines of the regulation: monitoring rounds due 20 December and 20 May (rule 10,
//! §3.5), the yearly report due 30 December (rule 10), a press release due 3 to 5 days
//! before its event — its window D−5 … D−3 — and a post-release within a day after it —
//! D … D+1 (rule 12, §1.3).

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

use super::monitoring::MonitoringSeason;

/// The day of the month a monitoring round is due (20 December, 20 May).
pub const MONITORING_DUE_DAY: i8 = 20;

/// The month and day the yearly report is due (30 December).
pub const YEARLY_REPORT_DUE: (i8, i8) = (12, 30);

/// A press release's window opens this many days before its event…
pub const PRESS_RELEASE_FIRST_DAY_BEFORE: i64 = 5;

/// …and its last day is this many days before it.
pub const PRESS_RELEASE_LAST_DAY_BEFORE: i64 = 3;

/// A post-release's last day is this many days after its event (its window opens on it).
pub const POST_RELEASE_LAST_DAY_AFTER: i64 = 1;

/// How something due by a day was recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timeliness {
    /// Before 00:00 of the day after the due day.
    OnTime,
    /// At or after that instant.
    Late,
}

impl Timeliness {
    /// Whether it is flagged `late`.
    pub fn is_late(self) -> bool {
        self == Timeliness::Late
    }
}

/// How a publication stands against its window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WindowTiming {
    /// Before 00:00 of the window's first day.
    Early,
    /// Within the window.
    OnTime,
    /// At or after 00:00 of the day after the window's last day.
    Late,
}

/// 00:00 of `day` in `zone`; where a clock change skips midnight, the first instant of the
/// day (jiff's compatible rule moves forward through a gap).
pub fn start_of_day(day: Date, zone: &TimeZone) -> Timestamp {
    day.to_zoned(zone.clone())
        .map(|z| z.timestamp())
        .unwrap_or(Timestamp::MAX)
}

/// The instant something due by `due_day` becomes late: 00:00 of the next day in `zone`.
pub fn due_instant(due_day: Date, zone: &TimeZone) -> Timestamp {
    match due_day.tomorrow() {
        Ok(next) => start_of_day(next, zone),
        Err(_) => Timestamp::MAX,
    }
}

/// Whether something due by `due_day` and recorded at `at` was on time.
pub fn judge(due_day: Date, at: Timestamp, zone: &TimeZone) -> Timeliness {
    if at < due_instant(due_day, zone) {
        Timeliness::OnTime
    } else {
        Timeliness::Late
    }
}

/// Whether something due by `due_day` and still open is overdue at `now`.
pub fn is_overdue(due_day: Date, now: Timestamp, zone: &TimeZone) -> bool {
    judge(due_day, now, zone).is_late()
}

/// The day a monitoring round of `season` in `year` is due: 20 December or 20 May.
pub fn monitoring_due_day(season: MonitoringSeason, year: i16) -> Date {
    Date::new(year, season.due_month(), MONITORING_DUE_DAY).unwrap_or(Date::MAX)
}

/// Whether the monitoring round of `season` in `year` submitted at `submitted` was on time
/// in the institution's `zone`.
pub fn monitoring_round(
    season: MonitoringSeason,
    year: i16,
    submitted: Timestamp,
    zone: &TimeZone,
) -> Timeliness {
    judge(monitoring_due_day(season, year), submitted, zone)
}

/// The day the yearly report for `year` is due: 30 December of that year.
pub fn yearly_report_due_day(year: i16) -> Date {
    let (month, day) = YEARLY_REPORT_DUE;
    Date::new(year, month, day).unwrap_or(Date::MAX)
}

/// Whether the yearly report for `year` submitted at `submitted` was on time in the
/// institution's `zone`.
pub fn yearly_report(year: i16, submitted: Timestamp, zone: &TimeZone) -> Timeliness {
    judge(yearly_report_due_day(year), submitted, zone)
}

/// The days a publication is due in, both inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicationWindow {
    /// The window's first day.
    pub first_day: Date,
    /// Its last day, the due day.
    pub due_day: Date,
}

impl PublicationWindow {
    /// A press release's window: the fifth to the third day before the event.
    pub fn press_release(event_day: Date) -> Self {
        PublicationWindow {
            first_day: shift(event_day, -PRESS_RELEASE_FIRST_DAY_BEFORE),
            due_day: shift(event_day, -PRESS_RELEASE_LAST_DAY_BEFORE),
        }
    }

    /// A post-release's window: the event day and the day after.
    pub fn post_release(event_day: Date) -> Self {
        PublicationWindow {
            first_day: event_day,
            due_day: shift(event_day, POST_RELEASE_LAST_DAY_AFTER),
        }
    }

    /// When it opens: 00:00 of its first day in `zone`.
    pub fn opens_at(&self, zone: &TimeZone) -> Timestamp {
        start_of_day(self.first_day, zone)
    }

    /// When it closes: 00:00 of the day after its due day in `zone` (`Publication.due_time`).
    pub fn closes_at(&self, zone: &TimeZone) -> Timestamp {
        due_instant(self.due_day, zone)
    }

    /// How a publication that went out at `published` stands against the window.
    pub fn judge(&self, published: Timestamp, zone: &TimeZone) -> WindowTiming {
        if published < self.opens_at(zone) {
            WindowTiming::Early
        } else if published < self.closes_at(zone) {
            WindowTiming::OnTime
        } else {
            WindowTiming::Late
        }
    }

    /// Whether a publication still unpublished at `now` is overdue: its window has closed.
    pub fn is_overdue(&self, now: Timestamp, zone: &TimeZone) -> bool {
        now >= self.closes_at(zone)
    }
}

/// `day` moved by `days`; saturating at the ends of the calendar, which no event reaches.
fn shift(day: Date, days: i64) -> Date {
    day.checked_add(days.days())
        .unwrap_or(if days < 0 { Date::MIN } else { Date::MAX })
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn saratov() -> TimeZone {
        TimeZone::get("Europe/Saratov").expect("zone")
    }

    fn at(instant: &str) -> Timestamp {
        instant.parse().expect("instant")
    }

    #[test]
    fn saratov_is_four_hours_ahead_of_utc() {
        assert_eq!(
            due_instant(date(2024, 12, 20), &saratov()),
            at("2024-12-20T20:00:00Z")
        );
    }

    #[test]
    fn the_december_round_is_due_before_midnight_of_21_december_in_saratov() {
        let zone = saratov();
        let season = MonitoringSeason::December;
        assert_eq!(monitoring_due_day(season, 2024), date(2024, 12, 20));
        assert_eq!(
            monitoring_round(season, 2024, at("2024-12-20T23:59:00+04:00"), &zone),
            Timeliness::OnTime
        );
        assert_eq!(
            monitoring_round(
                season,
                2024,
                at("2024-12-20T23:59:59.999999999+04:00"),
                &zone
            ),
            Timeliness::OnTime
        );
        assert_eq!(
            monitoring_round(season, 2024, at("2024-12-21T00:00:00+04:00"), &zone),
            Timeliness::Late
        );
    }

    #[test]
    fn the_may_round_is_due_before_midnight_of_21_may_in_saratov() {
        let zone = saratov();
        let season = MonitoringSeason::May;
        assert_eq!(monitoring_due_day(season, 2025), date(2025, 5, 20));
        assert_eq!(
            monitoring_round(season, 2025, at("2025-05-20T23:59:00+04:00"), &zone),
            Timeliness::OnTime
        );
        assert_eq!(
            monitoring_round(season, 2025, at("2025-05-21T00:00:00+04:00"), &zone),
            Timeliness::Late
        );
    }

    #[test]
    fn the_yearly_report_is_due_before_midnight_of_31_december_in_saratov() {
        let zone = saratov();
        assert_eq!(yearly_report_due_day(2024), date(2024, 12, 30));
        assert_eq!(
            yearly_report(2024, at("2024-12-30T23:59:00+04:00"), &zone),
            Timeliness::OnTime
        );
        assert_eq!(
            yearly_report(2024, at("2024-12-31T00:00:00+04:00"), &zone),
            Timeliness::Late
        );
        assert!(!is_overdue(
            yearly_report_due_day(2024),
            at("2024-12-30T23:59:00+04:00"),
            &zone
        ));
        assert!(is_overdue(
            yearly_report_due_day(2024),
            at("2024-12-31T00:00:00+04:00"),
            &zone
        ));
    }

    #[test]
    fn the_institutions_zone_decides_not_the_callers() {
        let zone = saratov();
        // 20:30 UTC on 20 December is already 00:30 on 21 December in Saratov…
        assert_eq!(
            monitoring_round(
                MonitoringSeason::December,
                2024,
                at("2024-12-20T20:30:00Z"),
                &zone
            ),
            Timeliness::Late
        );
        // …and 23:30 in Moscow on 20 December is 00:30 on 21 December in Saratov too.
        assert_eq!(
            monitoring_round(
                MonitoringSeason::December,
                2024,
                at("2024-12-20T23:30:00+03:00"),
                &zone
            ),
            Timeliness::Late
        );
        // The same instant is on time for an institution in Moscow.
        let moscow = TimeZone::get("Europe/Moscow").expect("zone");
        assert_eq!(
            monitoring_round(
                MonitoringSeason::December,
                2024,
                at("2024-12-20T23:30:00+03:00"),
                &moscow
            ),
            Timeliness::OnTime
        );
    }

    #[test]
    fn the_press_release_window_is_five_to_three_days_before_the_event() {
        let zone = saratov();
        let window = PublicationWindow::press_release(date(2025, 3, 10));
        assert_eq!(window.first_day, date(2025, 3, 5));
        assert_eq!(window.due_day, date(2025, 3, 7));
        assert_eq!(window.opens_at(&zone), at("2025-03-05T00:00:00+04:00"));
        assert_eq!(window.closes_at(&zone), at("2025-03-08T00:00:00+04:00"));
        let judge = |instant: &str| window.judge(at(instant), &zone);
        assert_eq!(judge("2025-03-04T23:59:00+04:00"), WindowTiming::Early);
        assert_eq!(judge("2025-03-05T00:00:00+04:00"), WindowTiming::OnTime);
        assert_eq!(judge("2025-03-07T23:59:00+04:00"), WindowTiming::OnTime);
        assert_eq!(judge("2025-03-08T00:00:00+04:00"), WindowTiming::Late);
        assert!(!window.is_overdue(at("2025-03-07T23:59:00+04:00"), &zone));
        assert!(window.is_overdue(at("2025-03-08T00:00:00+04:00"), &zone));
        // Across a month's end.
        let early_march = PublicationWindow::press_release(date(2025, 3, 2));
        assert_eq!(early_march.first_day, date(2025, 2, 25));
        assert_eq!(early_march.due_day, date(2025, 2, 27));
    }

    #[test]
    fn the_post_release_window_is_the_event_day_and_the_day_after() {
        let zone = saratov();
        let window = PublicationWindow::post_release(date(2025, 3, 10));
        assert_eq!(window.first_day, date(2025, 3, 10));
        assert_eq!(window.due_day, date(2025, 3, 11));
        let judge = |instant: &str| window.judge(at(instant), &zone);
        assert_eq!(judge("2025-03-09T23:59:00+04:00"), WindowTiming::Early);
        assert_eq!(judge("2025-03-10T00:00:00+04:00"), WindowTiming::OnTime);
        assert_eq!(judge("2025-03-11T23:59:00+04:00"), WindowTiming::OnTime);
        assert_eq!(judge("2025-03-12T00:00:00+04:00"), WindowTiming::Late);
    }

    #[test]
    fn a_day_skipping_midnight_starts_at_its_first_instant() {
        // Santiago moved its clocks from 00:00 to 01:00 on 8 September 2024.
        let santiago = TimeZone::get("America/Santiago").expect("zone");
        assert_eq!(
            due_instant(date(2024, 9, 7), &santiago),
            at("2024-09-08T01:00:00-03:00")
        );
    }
}
