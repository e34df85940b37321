//! Rule 2's clock: a deadline written as a date ("until 31 January") ends at the end of that
//! day in the programme's time zone, whatever the caller's clock or zone.

use edu_kit::error::quote;
use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

/// The last day of acceptance in a time zone.
#[derive(Debug, Clone, PartialEq)]
pub struct Deadline {
    last_day: Date,
    zone: TimeZone,
}

impl Deadline {
    /// A deadline on `last_day` (inclusive) in `zone`.
    pub fn new(last_day: Date, zone: TimeZone) -> Self {
        Deadline { last_day, zone }
    }

    /// The last day of acceptance.
    pub fn last_day(&self) -> Date {
        self.last_day
    }

    /// The zone's IANA name, for people reading when the deadline falls.
    pub fn zone_name(&self) -> String {
        self.zone.iana_name().unwrap_or("UTC").to_string()
    }

    /// The first instant after the deadline: midnight at the start of the following day in
    /// the zone (or the first instant after midnight, where a clock change skips it).
    pub fn closes_at(&self) -> Timestamp {
        let next_day = self.last_day.tomorrow().unwrap_or(self.last_day);
        // Midnight always exists or is resolved forward by the compatible rule; the only
        // failure is overflow at the end of jiff's range, where the maximum instant is right.
        next_day
            .to_zoned(self.zone.clone())
            .map(|z| z.timestamp())
            .unwrap_or(Timestamp::MAX)
    }

    /// Whether `now` is after the deadline.
    pub fn has_passed(&self, now: Timestamp) -> bool {
        now >= self.closes_at()
    }
}

/// Looks up an IANA zone name such as `Europe/Moscow`.
pub fn time_zone(name: &str) -> Result<TimeZone, String> {
    if name.is_empty() {
        return Err("must name an IANA time zone such as Europe/Moscow".into());
    }
    TimeZone::get(name).map_err(|_| {
        format!(
            "{} is not an IANA time zone such as Europe/Moscow",
            quote(name)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn moscow_31_january() -> Deadline {
        Deadline::new(date(2025, 1, 31), time_zone("Europe/Moscow").expect("zone"))
    }

    fn at(instant: &str) -> Timestamp {
        instant.parse().expect("instant")
    }

    #[test]
    fn the_deadline_day_ends_at_midnight_in_the_contest_zone() {
        let deadline = moscow_31_january();
        assert_eq!(deadline.closes_at(), at("2025-01-31T21:00:00Z"));
        assert!(!deadline.has_passed(at("2025-01-31T23:59:00+03:00")));
        assert!(!deadline.has_passed(at("2025-01-31T23:59:59.999999999+03:00")));
        assert!(deadline.has_passed(at("2025-02-01T00:00:00+03:00")));
    }

    #[test]
    fn the_callers_zone_does_not_matter() {
        let deadline = moscow_31_january();
        // 23:30 in Vladivostok on 1 February is still 31 January in Moscow.
        assert!(!deadline.has_passed(at("2025-02-01T06:30:00+10:00")));
        // 22:00 in London on 31 January is already 1 February in Moscow.
        assert!(deadline.has_passed(at("2025-01-31T22:00:00+00:00")));
    }

    #[test]
    fn daylight_saving_zones_end_the_day_at_local_midnight() {
        // Sofia moves to summer time on 30 March 2025; the day of 30 March has 23 hours.
        let deadline = Deadline::new(date(2025, 3, 30), time_zone("Europe/Sofia").expect("zone"));
        assert_eq!(deadline.closes_at(), at("2025-03-30T21:00:00Z"));
        let winter = Deadline::new(date(2025, 3, 29), time_zone("Europe/Sofia").expect("zone"));
        assert_eq!(winter.closes_at(), at("2025-03-29T22:00:00Z"));
    }

    #[test]
    fn unknown_zones_are_refused() {
        assert!(time_zone("Mars/Olympus").is_err());
        assert!(time_zone("").is_err());
        assert!(time_zone("Asia/Barnaul").is_ok());
    }
}
