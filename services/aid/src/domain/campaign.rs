//! A campaign as data (rule 1): its period in one time zone, its regions and the response
//! target for appeals. Days end at midnight in the campaign's zone.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use super::AidError;

/// Where a campaign is at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CampaignPhase {
    /// Before its first day.
    Upcoming,
    /// From its first day to the end of its last.
    Running,
    /// After its last day.
    Ended,
}

/// A campaign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Campaign {
    /// Its ID.
    pub id: String,
    /// Its name.
    pub display_name: String,
    /// The IANA zone its dates are read in.
    pub time_zone: String,
    /// The first day.
    pub start_date: Date,
    /// The last day, inclusive.
    pub end_date: Date,
    /// The day school starts.
    pub school_start_date: Date,
    /// The regions taking part, ascending.
    pub region_codes: Vec<String>,
    /// How soon an appeal must get its first response.
    pub appeal_response_target: SignedDuration,
    /// Created.
    pub create_time: Timestamp,
    /// Last changed.
    pub update_time: Timestamp,
    /// Optimistic-concurrency version.
    pub version: i64,
}

fn start_of(day: Date, zone: &TimeZone) -> Timestamp {
    day.to_zoned(zone.clone())
        .map(|z| z.timestamp())
        .unwrap_or(Timestamp::MAX)
}

impl Campaign {
    /// The campaign's zone (UTC when unknown, which parsing prevents).
    pub fn zone(&self) -> TimeZone {
        TimeZone::get(&self.time_zone).unwrap_or(TimeZone::UTC)
    }

    /// When it starts: the first day's midnight.
    pub fn starts_at(&self) -> Timestamp {
        start_of(self.start_date, &self.zone())
    }

    /// When it ends: the midnight after its last day.
    pub fn ends_at(&self) -> Timestamp {
        self.end_date
            .tomorrow()
            .map(|d| start_of(d, &self.zone()))
            .unwrap_or(Timestamp::MAX)
    }

    /// Where it is at `now`.
    pub fn phase(&self, now: Timestamp) -> CampaignPhase {
        if now < self.starts_at() {
            CampaignPhase::Upcoming
        } else if now < self.ends_at() {
            CampaignPhase::Running
        } else {
            CampaignPhase::Ended
        }
    }

    /// The day `now` falls on in the campaign's zone.
    pub fn today(&self, now: Timestamp) -> Date {
        now.to_zoned(self.zone()).date()
    }

    /// Whether `region` takes part.
    pub fn has_region(&self, region: &str) -> bool {
        self.region_codes.iter().any(|r| r == region)
    }

    /// New records (children, needs, pledges, appeals, observations) only until the end.
    pub fn ensure_not_ended(&self, now: Timestamp) -> Result<(), AidError> {
        if now >= self.ends_at() {
            Err(AidError::CampaignEnded {
                ended: self.ends_at(),
            })
        } else {
            Ok(())
        }
    }

    /// `region` must take part.
    pub fn ensure_region(&self, region: &str) -> Result<(), AidError> {
        if self.has_region(region) {
            Ok(())
        } else {
            Err(AidError::RegionNotInCampaign {
                region: region.to_string(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn campaign() -> Campaign {
        Campaign {
            id: "doroga-v-shkolu-2023".into(),
            display_name: "Дорога в школу — 2023".into(),
            time_zone: "Asia/Almaty".into(),
            start_date: date(2023, 8, 1),
            end_date: date(2023, 9, 30),
            school_start_date: date(2023, 9, 1),
            region_codes: vec!["KZ-75".into()],
            appeal_response_target: SignedDuration::from_hours(24),
            create_time: Timestamp::UNIX_EPOCH,
            update_time: Timestamp::UNIX_EPOCH,
            version: 1,
        }
    }

    #[test]
    fn the_campaign_runs_from_midnight_to_midnight_in_almaty() {
        let c = campaign();
        let at = |s: &str| -> Timestamp { s.parse().expect("instant") };
        assert_eq!(
            c.phase(at("2023-07-31T23:59:00+06:00")),
            CampaignPhase::Upcoming
        );
        assert_eq!(
            c.phase(at("2023-08-01T00:00:00+06:00")),
            CampaignPhase::Running
        );
        assert_eq!(
            c.phase(at("2023-09-30T23:59:00+06:00")),
            CampaignPhase::Running
        );
        assert_eq!(
            c.phase(at("2023-10-01T00:00:00+06:00")),
            CampaignPhase::Ended
        );
        assert!(c.ensure_not_ended(at("2023-10-01T00:00:00+06:00")).is_err());
    }
}
