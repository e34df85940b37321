//! Rules 2, 4 and 5 for enrolments: who may enrol where, when attendance (and payment)
//! starts, and seats.

use jiff::civil::Date;

use super::{CertificateError, Money};

/// Rule 5: an enrolment is requested for a start on or after the day of the request (in the
/// municipality's zone); a back-dated start would reserve and charge months before anybody
/// asked for them.
pub fn ensure_start_not_in_past(start: Date, today: Date) -> Result<(), CertificateError> {
    if start < today {
        Err(CertificateError::StartInPast { today })
    } else {
        Ok(())
    }
}

/// Rule 5: attendance, and so payment, begins on the later of the requested start and the
/// day the provider accepts: a child has no seat before acceptance, so the months before it
/// are never reserved or charged.
pub fn attendance_starts(requested_start: Date, accepted_on: Date) -> Date {
    requested_start.max(accepted_on)
}

/// Whether a certificate carries money this period (rule 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertificateKind {
    /// Within the quota: credited the nominal.
    Funded,
    /// Beyond the quota: free programmes only.
    Accounting,
}

/// Rule 2: certificates are funded in the order they are counted, up to the quota.
pub fn kind_within_quota(funded_so_far: u32, quota: u32) -> CertificateKind {
    if funded_so_far < quota {
        CertificateKind::Funded
    } else {
        CertificateKind::Accounting
    }
}

/// Rule 2: an accounting certificate enrols in free programmes only.
pub fn ensure_may_pay(kind: CertificateKind, monthly_price: Money) -> Result<(), CertificateError> {
    if kind == CertificateKind::Accounting && monthly_price != Money::ZERO {
        Err(CertificateError::ProgrammeNotFree)
    } else {
        Ok(())
    }
}

/// Rule 5: a programme never holds more children than its seats; `taken` counts the
/// accepted enrolments that have not ended.
pub fn ensure_seat_free(seats: u32, taken: u32) -> Result<(), CertificateError> {
    if taken < seats {
        Ok(())
    } else {
        Err(CertificateError::NoSeatsLeft { seats })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_2_the_quota_funds_the_first_certificates_and_the_rest_enrol_for_free() {
        assert_eq!(kind_within_quota(99, 100), CertificateKind::Funded);
        assert_eq!(kind_within_quota(100, 100), CertificateKind::Accounting);
        assert_eq!(
            ensure_may_pay(CertificateKind::Accounting, Money::from_kopecks(50_000)),
            Err(CertificateError::ProgrammeNotFree)
        );
        assert_eq!(
            ensure_may_pay(CertificateKind::Accounting, Money::ZERO),
            Ok(())
        );
        assert_eq!(
            ensure_may_pay(CertificateKind::Funded, Money::from_kopecks(50_000)),
            Ok(())
        );
    }

    #[test]
    fn rule_5_no_month_before_the_request_or_the_acceptance_is_paid() {
        use jiff::civil::date;
        // The case: requested on 25 November for a start on 1 September.
        assert_eq!(
            ensure_start_not_in_past(date(2026, 9, 1), date(2026, 11, 25)),
            Err(CertificateError::StartInPast {
                today: date(2026, 11, 25)
            })
        );
        assert_eq!(
            ensure_start_not_in_past(date(2026, 11, 25), date(2026, 11, 25)),
            Ok(())
        );
        // Requested in time for 1 December, accepted on 3 December: December is paid,
        // from its third day; requested for January, accepted in December: January.
        assert_eq!(
            attendance_starts(date(2026, 12, 1), date(2026, 12, 3)),
            date(2026, 12, 3)
        );
        assert_eq!(
            attendance_starts(date(2027, 1, 10), date(2026, 12, 3)),
            date(2027, 1, 10)
        );
    }

    #[test]
    fn rule_5_the_last_seat_is_the_last() {
        assert_eq!(ensure_seat_free(20, 19), Ok(()));
        assert_eq!(
            ensure_seat_free(20, 20),
            Err(CertificateError::NoSeatsLeft { seats: 20 })
        );
    }
}
