//! Mobilities and their annexes (rules 7 and 8): two per group, one hosted by each
//! innovative school, all four schools taking part; a visit lasts at most the year's
//! maximum; the host files the annex with concrete dates and the agreed programme by the
//! deadline.

use jiff::civil::Date;

use super::PartnershipError;

/// A mobility's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MobilityState {
    /// Created with its group; the host agrees dates and the programme.
    Planning,
    /// The annex is filed: dates and programme fixed for all four schools.
    AnnexFiled,
    /// The visit took place.
    Held,
    /// The annex deadline passed without an annex.
    AnnexMissed,
}

impl MobilityState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            MobilityState::Planning => "PLANNING",
            MobilityState::AnnexFiled => "ANNEX_FILED",
            MobilityState::Held => "HELD",
            MobilityState::AnnexMissed => "ANNEX_MISSED",
        }
    }

    /// The state a stored name stands for.
    pub fn parse(raw: &str) -> Option<Self> {
        [
            MobilityState::Planning,
            MobilityState::AnnexFiled,
            MobilityState::Held,
            MobilityState::AnnexMissed,
        ]
        .into_iter()
        .find(|s| s.as_str() == raw)
    }
}

/// Rule 7: the visit's length, both ends counted, within `max` days.
pub fn ensure_length(start: Date, end: Date, max: u8) -> Result<(), PartnershipError> {
    let days = i64::from((end - start).get_days()) + 1;
    if days > i64::from(max) {
        Err(PartnershipError::MobilityTooLong { days, max })
    } else {
        Ok(())
    }
}

/// Rule 8: an annex names both dates and a programme.
pub fn ensure_annex_complete(
    start: Option<Date>,
    end: Option<Date>,
    programme: &str,
) -> Result<(Date, Date), PartnershipError> {
    match (start, end) {
        (None, _) => Err(PartnershipError::MobilityIncomplete {
            field: "start_date",
        }),
        (_, None) => Err(PartnershipError::MobilityIncomplete { field: "end_date" }),
        _ if programme.trim().is_empty() => {
            Err(PartnershipError::MobilityIncomplete { field: "programme" })
        }
        (Some(start), Some(end)) => Ok((start, end)),
    }
}

/// A mobility is held once its last day has begun.
pub fn ensure_over(end: Date, today: Date) -> Result<(), PartnershipError> {
    if today < end {
        Err(PartnershipError::MobilityNotOver { end })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn four_days_are_allowed_and_five_are_not() {
        assert!(ensure_length(date(2024, 3, 11), date(2024, 3, 14), 4).is_ok());
        assert_eq!(
            ensure_length(date(2024, 3, 11), date(2024, 3, 15), 4),
            Err(PartnershipError::MobilityTooLong { days: 5, max: 4 })
        );
    }

    #[test]
    fn an_annex_needs_dates_and_a_programme() {
        assert_eq!(
            ensure_annex_complete(Some(date(2024, 3, 11)), None, "visit"),
            Err(PartnershipError::MobilityIncomplete { field: "end_date" })
        );
        assert_eq!(
            ensure_annex_complete(Some(date(2024, 3, 11)), Some(date(2024, 3, 12)), "  "),
            Err(PartnershipError::MobilityIncomplete { field: "programme" })
        );
    }
}
