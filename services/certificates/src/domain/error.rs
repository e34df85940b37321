//! What the rules refuse, as a closed set; the API gives each a gRPC code and a stable
//! reason.

use jiff::civil::Date;

use super::Money;
use super::money::MoneyOverflow;
use super::period::YearMonth;

/// A refusal by a rule of the programme.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateError {
    /// Rule 5: the available balance does not cover the remaining months; nothing is
    /// reserved.
    #[error("the certificate has {available} available; {needed} is needed")]
    InsufficientBalance {
        /// What the certificate can spend.
        available: Money,
        /// What the enrolment costs.
        needed: Money,
    },
    /// Rule 7: a charge needs the enrolment's reservation behind it.
    #[error("the enrolment has {reserved} reserved; a charge of {charge} needs it")]
    NoReservation {
        /// What is still reserved for the enrolment.
        reserved: Money,
        /// The month's price.
        charge: Money,
    },
    /// Ledger amounts are positive.
    #[error("the amount must be positive, got {0}")]
    NonPositiveAmount(Money),
    /// A sum of amounts left the range of kopecks the ledger keeps.
    #[error("an amount is out of range")]
    AmountOutOfRange,
    /// Rule 5: a programme never holds more children than its seats.
    #[error("all {seats} seats are taken")]
    NoSeatsLeft {
        /// The programme's seats.
        seats: u32,
    },
    /// Rule 2: an accounting certificate (beyond the quota) enrols in free programmes only.
    #[error("an accounting certificate enrols in free programmes only")]
    ProgrammeNotFree,
    /// Rule 1: the child is outside the period's eligible ages.
    #[error("the child is {age}; the period funds ages {min} to {max}")]
    AgeNotEligible {
        /// The child's age at the period's start.
        age: i16,
        /// Youngest eligible age.
        min: i16,
        /// Oldest eligible age.
        max: i16,
    },
    /// The enrolment starts outside the period.
    #[error("the date is outside the period")]
    OutsidePeriod,
    /// Rule 5: an enrolment starts no earlier than the day it is requested.
    #[error("the start is before {today}, the day of the request in the municipality")]
    StartInPast {
        /// The day of the request in the municipality's zone.
        today: Date,
    },
    /// Periods of one municipality do not overlap.
    #[error("the period overlaps periods/{period}")]
    PeriodOverlaps {
        /// The ID of the period it overlaps.
        period: String,
    },
    /// Rule 6: a month is reported once it has begun.
    #[error("{month:?} has not begun")]
    MonthNotBegun {
        /// The month reported.
        month: YearMonth,
    },
    /// Rule 4: an excluded provider takes no new enrolments.
    #[error("the provider is excluded from the registry")]
    ProviderExcluded,
    /// Rule 4: only certified programmes take enrolments.
    #[error("the programme is not certified")]
    ProgrammeNotCertified,
    /// Rule 1: a suspended or closed certificate takes no new enrolments.
    #[error("the certificate is {state}")]
    CertificateNotActive {
        /// The certificate's state.
        state: &'static str,
    },
    /// There is no period of the municipality on that day.
    #[error("the municipality has no period on that day")]
    NoCurrentPeriod,
    /// A move the state machine does not allow.
    #[error("cannot go from {from} to {to}")]
    TransitionNotAllowed {
        /// The current state.
        from: &'static str,
        /// The state asked for.
        to: &'static str,
    },
    /// Rule 6: a month is reported and charged only for an enrolment accepted in it.
    #[error("the enrolment {enrolment} is not running in that month")]
    EnrolmentNotRunning {
        /// The enrolment's ID.
        enrolment: String,
    },
    /// Rule 9: only a child who attended (a month was charged) rates the programme.
    #[error("the child has not attended the programme yet")]
    NotAttended,
    /// Rule 9: one rating per enrolment.
    #[error("the enrolment is rated already")]
    AlreadyRated,
    /// Malformed values: (field, problem).
    #[error("invalid fields")]
    InvalidFields(Vec<(String, String)>),
}

impl From<MoneyOverflow> for CertificateError {
    fn from(_: MoneyOverflow) -> Self {
        CertificateError::AmountOutOfRange
    }
}
