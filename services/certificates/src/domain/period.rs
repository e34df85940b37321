//! A municipality's funding period (usually a school year) and the months it is counted in.
//! Enrolments cost per month; a month is a calendar month of the period.

use jiff::civil::Date;

use super::{CertificateError, Money};

/// A calendar month, the unit of reservation and charge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct YearMonth {
    /// The year.
    pub year: i16,
    /// 1 to 12.
    pub month: i8,
}

impl YearMonth {
    /// The month a date falls in.
    pub fn of(date: Date) -> Self {
        YearMonth {
            year: date.year(),
            month: date.month(),
        }
    }

    /// The month after this one.
    pub fn next(self) -> Self {
        if self.month == 12 {
            YearMonth {
                year: self.year + 1,
                month: 1,
            }
        } else {
            YearMonth {
                year: self.year,
                month: self.month + 1,
            }
        }
    }
}

/// The general parameters of one period in one municipality.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    /// The first day.
    pub start: Date,
    /// The last day (inclusive).
    pub end: Date,
    /// Credited to each funded certificate at the start.
    pub nominal: Money,
    /// How many certificates are funded.
    pub quota: u32,
    /// Youngest eligible age at the start.
    pub min_age: i16,
    /// Oldest eligible age at the start.
    pub max_age: i16,
}

impl Period {
    /// Whether `date` is within the period.
    pub fn contains(&self, date: Date) -> bool {
        self.start <= date && date <= self.end
    }

    /// The months from the one `from` falls in to the period's last, inclusive: what an
    /// enrolment starting on `from` pays for.
    pub fn remaining_months(&self, from: Date) -> Result<Vec<YearMonth>, CertificateError> {
        if !self.contains(from) {
            return Err(CertificateError::OutsidePeriod);
        }
        let last = YearMonth::of(self.end);
        let mut months = vec![YearMonth::of(from)];
        while let Some(&current) = months.last()
            && current < last
        {
            months.push(current.next());
        }
        Ok(months)
    }

    /// Rule 5: the cost of an enrolment starting on `from` at `monthly_price`.
    pub fn enrolment_cost(
        &self,
        from: Date,
        monthly_price: Money,
    ) -> Result<Money, CertificateError> {
        let months = self.remaining_months(from)?;
        let count = u32::try_from(months.len()).map_err(|_| CertificateError::AmountOutOfRange)?;
        Ok(monthly_price.times(count)?)
    }

    /// Rule 1: the child's age on the period's first day must be eligible.
    pub fn ensure_age_eligible(&self, birth_date: Date) -> Result<(), CertificateError> {
        let age = age_on(birth_date, self.start);
        if (self.min_age..=self.max_age).contains(&age) {
            Ok(())
        } else {
            Err(CertificateError::AgeNotEligible {
                age,
                min: self.min_age,
                max: self.max_age,
            })
        }
    }
}

/// Full years between a birth date and `on`.
pub fn age_on(birth_date: Date, on: Date) -> i16 {
    let had_birthday = (on.month(), on.day()) >= (birth_date.month(), birth_date.day());
    on.year() - birth_date.year() - if had_birthday { 0 } else { 1 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    /// The demo's period: Mikhailovsky district, school year 2024/25.
    fn school_year() -> Period {
        Period {
            start: date(2024, 9, 1),
            end: date(2025, 8, 31),
            nominal: Money::from_kopecks(600_000),
            quota: 100,
            min_age: 5,
            max_age: 18,
        }
    }

    #[test]
    fn an_enrolment_pays_for_the_month_it_starts_in_and_every_month_after() {
        let period = school_year();
        assert_eq!(
            period.remaining_months(date(2024, 9, 15)).map(|m| m.len()),
            Ok(12)
        );
        assert_eq!(
            period.remaining_months(date(2025, 8, 31)).map(|m| m.len()),
            Ok(1)
        );
        assert_eq!(
            period.enrolment_cost(date(2025, 3, 1), Money::from_kopecks(50_000)),
            Ok(Money::from_kopecks(300_000)),
            "March to August"
        );
        assert_eq!(
            period.remaining_months(date(2025, 9, 1)),
            Err(CertificateError::OutsidePeriod)
        );
    }

    #[test]
    fn rule_1_age_is_counted_on_the_periods_first_day() {
        let period = school_year();
        assert_eq!(age_on(date(2019, 9, 2), date(2024, 9, 1)), 4);
        assert!(
            period.ensure_age_eligible(date(2019, 9, 1)).is_ok(),
            "five that day"
        );
        assert_eq!(
            period.ensure_age_eligible(date(2019, 9, 2)),
            Err(CertificateError::AgeNotEligible {
                age: 4,
                min: 5,
                max: 18
            })
        );
        assert!(
            period.ensure_age_eligible(date(2005, 9, 2)).is_ok(),
            "still 18"
        );
        assert!(
            period.ensure_age_eligible(date(2005, 9, 1)).is_err(),
            "19 that day"
        );
    }
}
