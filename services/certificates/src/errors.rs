//! The one mapping from the programme's refusals to gRPC: code, stable reason, metadata.

use edu_kit::ApiError;
use edu_kit::error::{ErrorKind, FieldProblem};

use crate::domain::CertificateError;

/// Reasons this service gives, beyond the kit's.
pub mod reason {
    /// The available balance does not cover the enrolment.
    pub const INSUFFICIENT_BALANCE: &str = "INSUFFICIENT_BALANCE";
    /// A charge without the reservation behind it.
    pub const NO_RESERVATION: &str = "NO_RESERVATION";
    /// Every seat of the programme is taken.
    pub const NO_SEATS_LEFT: &str = "NO_SEATS_LEFT";
    /// An accounting certificate in a paid programme.
    pub const PROGRAMME_NOT_FREE: &str = "PROGRAMME_NOT_FREE";
    /// The child's age is outside the period's.
    pub const AGE_NOT_ELIGIBLE: &str = "AGE_NOT_ELIGIBLE";
    /// A date outside the period.
    pub const OUTSIDE_PERIOD: &str = "OUTSIDE_PERIOD";
    /// The provider is excluded from the registry.
    pub const PROVIDER_EXCLUDED: &str = "PROVIDER_EXCLUDED";
    /// The programme is not certified.
    pub const PROGRAMME_NOT_CERTIFIED: &str = "PROGRAMME_NOT_CERTIFIED";
    /// The certificate is suspended or closed.
    pub const CERTIFICATE_NOT_ACTIVE: &str = "CERTIFICATE_NOT_ACTIVE";
    /// The municipality has no period on that day.
    pub const NO_CURRENT_PERIOD: &str = "NO_CURRENT_PERIOD";
    /// The state machine does not allow the move.
    pub const TRANSITION_NOT_ALLOWED: &str = "TRANSITION_NOT_ALLOWED";
    /// The child has not attended the programme.
    pub const NOT_ATTENDED: &str = "NOT_ATTENDED";
    /// The enrolment is rated already.
    pub const ALREADY_RATED: &str = "ALREADY_RATED";
    /// The enrolment is not running in the month.
    pub const ENROLMENT_NOT_RUNNING: &str = "ENROLMENT_NOT_RUNNING";
}

impl From<CertificateError> for ApiError {
    fn from(error: CertificateError) -> Self {
        let message = error.to_string();
        let precondition =
            |reason| ApiError::new(ErrorKind::FailedPrecondition, reason, message.clone());
        match error {
            CertificateError::InsufficientBalance { available, needed } => {
                precondition(reason::INSUFFICIENT_BALANCE)
                    .with_metadata("available_kopecks", available.kopecks().to_string())
                    .with_metadata("needed_kopecks", needed.kopecks().to_string())
            }
            CertificateError::NoReservation { .. } => precondition(reason::NO_RESERVATION),
            CertificateError::NonPositiveAmount(_) => ApiError::internal(&error),
            CertificateError::NoSeatsLeft { seats } => {
                precondition(reason::NO_SEATS_LEFT).with_metadata("seats", seats.to_string())
            }
            CertificateError::ProgrammeNotFree => precondition(reason::PROGRAMME_NOT_FREE),
            CertificateError::AgeNotEligible { age, .. } => {
                precondition(reason::AGE_NOT_ELIGIBLE).with_metadata("age", age.to_string())
            }
            CertificateError::OutsidePeriod => precondition(reason::OUTSIDE_PERIOD),
            CertificateError::ProviderExcluded => precondition(reason::PROVIDER_EXCLUDED),
            CertificateError::ProgrammeNotCertified => {
                precondition(reason::PROGRAMME_NOT_CERTIFIED)
            }
            CertificateError::CertificateNotActive { state } => {
                precondition(reason::CERTIFICATE_NOT_ACTIVE).with_metadata("state", state)
            }
            CertificateError::NoCurrentPeriod => precondition(reason::NO_CURRENT_PERIOD),
            CertificateError::TransitionNotAllowed { from, to } => {
                precondition(reason::TRANSITION_NOT_ALLOWED)
                    .with_metadata("from", from)
                    .with_metadata("to", to)
            }
            CertificateError::EnrolmentNotRunning { enrolment } => {
                precondition(reason::ENROLMENT_NOT_RUNNING).with_metadata("enrolment", enrolment)
            }
            CertificateError::NotAttended => precondition(reason::NOT_ATTENDED),
            CertificateError::AlreadyRated => precondition(reason::ALREADY_RATED),
            CertificateError::InvalidFields(problems) => ApiError::invalid_fields(
                problems
                    .into_iter()
                    .map(|(field, description)| FieldProblem { field, description })
                    .collect(),
            ),
        }
    }
}
