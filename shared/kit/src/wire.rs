//! Time on the wire: protobuf timestamps and `google.type.Date` to and from jiff, the one
//! time library of the suite.

use edu_proto::google::r#type::Date as PbDate;
use jiff::Timestamp;
use jiff::civil::Date;

use crate::error::{ApiError, reason};

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

/// A request's `google.type.Date` as a calendar date; `INVALID_ARGUMENT` naming `field` when
/// it is missing or not a date.
pub fn civil_date(d: Option<&PbDate>, field: &str) -> Result<Date, ApiError> {
    let bad = || {
        ApiError::invalid_field(
            reason::INVALID_FIELDS,
            field,
            "required: a calendar date with year, month and day",
        )
    };
    let d = d.ok_or_else(bad)?;
    let year = i16::try_from(d.year).map_err(|_| bad())?;
    let month = i8::try_from(d.month).map_err(|_| bad())?;
    let day = i8::try_from(d.day).map_err(|_| bad())?;
    if !(1..=9999).contains(&year) {
        return Err(bad());
    }
    Date::new(year, month, day).map_err(|_| bad())
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
    }
}
