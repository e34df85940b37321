//! Rules 2, 4 and 5 for enrolments: who may enrol where, and seats.

use super::{CertificateError, Money};

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
            ensure_may_pay(CertificateKind::Accounting, Money::from_roubles(500)),
            Err(CertificateError::ProgrammeNotFree)
        );
        assert_eq!(
            ensure_may_pay(CertificateKind::Accounting, Money::ZERO),
            Ok(())
        );
        assert_eq!(
            ensure_may_pay(CertificateKind::Funded, Money::from_roubles(500)),
            Ok(())
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
