//! Time on the wire: protobuf timestamps and `google.type.Date` to and from jiff, the one
//! time library of the suite; and update masks.

use edu_proto::google::r#type::Date as PbDate;
use jiff::Timestamp;
use jiff::civil::Date;

use crate::error::{ApiError, quote, reason};

/// The paths of an update mask, each one of `allowed`; `INVALID_ARGUMENT` for an empty mask
/// or a field that cannot change.
pub fn mask_paths(
    mask: Option<&prost_types::FieldMask>,
    allowed: &[&str],
) -> Result<Vec<String>, ApiError> {
    let paths = mask.map(|m| m.paths.clone()).unwrap_or_default();
    if paths.is_empty() {
        return Err(ApiError::invalid_field(
            reason::INVALID_FIELDS,
            "update_mask",
            "name the fields to change",
        ));
    }
    if let Some(bad) = paths.iter().find(|p| !allowed.contains(&p.as_str())) {
        return Err(ApiError::invalid_field(
            reason::INVALID_FIELDS,
            "update_mask",
            format!(
                "{} cannot change; changeable fields are {allowed:?}",
                quote(bad)
            ),
        ));
    }
    Ok(paths)
}

/// An instant as a protobuf timestamp.
pub fn timestamp(t: Timestamp) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.as_second(),
        nanos: t.subsec_nanosecond(),
    }
}

/// A request's protobuf timestamp as an instant; `INVALID_ARGUMENT` naming `field` when it
/// is missing or out of range.
pub fn instant(t: Option<&prost_types::Timestamp>, field: &str) -> Result<Timestamp, ApiError> {
    t.and_then(|t| Timestamp::new(t.seconds, t.nanos).ok())
        .ok_or_else(|| {
            ApiError::invalid_field(reason::INVALID_FIELDS, field, "required: a valid instant")
        })
}

/// A calendar date as `google.type.Date`.
pub fn date(d: Date) -> PbDate {
    PbDate {
        year: i32::from(d.year()),
        month: i32::from(d.month()),
        day: i32::from(d.day()),
    }
}

/// The years a programme's dates may fall in. Every date a request carries is checked
/// against them, so that a typo (0001-01-01, 9999-12-31) is refused rather than stored.
pub const YEARS: std::ops::RangeInclusive<i16> = 2000..=2100;

/// A request's `google.type.Date` as a calendar date between [`YEARS`];
/// `INVALID_ARGUMENT` naming `field` when it is missing, not a date, or out of range.
pub fn civil_date(d: Option<&PbDate>, field: &str) -> Result<Date, ApiError> {
    let bad = || {
        ApiError::invalid_field(
            reason::INVALID_FIELDS,
            field,
            "required: a calendar date with year, month and day, between 2000-01-01 and 2100-12-31",
        )
    };
    let d = d.ok_or_else(bad)?;
    let year = i16::try_from(d.year).map_err(|_| bad())?;
    let month = i8::try_from(d.month).map_err(|_| bad())?;
    let day = i8::try_from(d.day).map_err(|_| bad())?;
    if !YEARS.contains(&year) {
        return Err(bad());
    }
    Date::new(year, month, day).map_err(|_| bad())
}

/// A request's month: a `google.type.Date` with `year` and `month` and `day` 0, as
/// `google.type.Date` writes a month, or `day` 1, the month's first day. Every month field
/// of the suite is read here, so all take the same form. Returns (year, month).
pub fn month(d: Option<&PbDate>, field: &str) -> Result<(i16, i8), ApiError> {
    let bad = || {
        ApiError::invalid_field(
            reason::INVALID_FIELDS,
            field,
            "required: a month as year and month with day 0 (or 1), between 2000 and 2100",
        )
    };
    let d = d.ok_or_else(bad)?;
    let year = i16::try_from(d.year)
        .ok()
        .filter(|y| YEARS.contains(y))
        .ok_or_else(bad)?;
    let month = i8::try_from(d.month)
        .ok()
        .filter(|m| (1..=12).contains(m))
        .ok_or_else(bad)?;
    if !matches!(d.day, 0 | 1) {
        return Err(bad());
    }
    Ok((year, month))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_and_nonsense_is_refused() {
        let d = jiff::civil::date(2024, 9, 1);
        assert_eq!(civil_date(Some(&date(d)), "start").expect("date"), d);
        let bad = PbDate {
            year: 2025,
            month: 2,
            day: 30,
        };
        assert!(civil_date(Some(&bad), "start").is_err());
        assert!(civil_date(None, "start").is_err());
        for year in [1, 1999, 2101, 9999] {
            let out_of_range = PbDate {
                year,
                month: 12,
                day: 31,
            };
            assert!(civil_date(Some(&out_of_range), "end").is_err(), "{year}");
        }
    }

    #[test]
    fn a_month_is_written_with_day_zero_or_its_first_day() {
        for day in [0, 1] {
            let d = PbDate {
                year: 2024,
                month: 9,
                day,
            };
            assert_eq!(month(Some(&d), "month").expect("month"), (2024, 9));
        }
        for (year, m, day) in [(2024, 9, 15), (2024, 13, 0), (1999, 9, 0)] {
            let d = PbDate {
                year,
                month: m,
                day,
            };
            assert!(month(Some(&d), "month").is_err(), "{year}-{m}-{day}");
        }
    }
}
