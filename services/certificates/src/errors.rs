//! The one mapping from the programme's refusals to gRPC: code, stable reason, metadata, and
//! the Russian text with this case's particulars (amounts in roubles, dates in the
//! municipality's calendar).

use edu_kit::error::{ErrorKind, FieldProblem};
use edu_kit::{ApiError, russian};

use crate::domain::CertificateError;

/// Reasons this service gives, beyond the kit's (which also has `TRANSITION_NOT_ALLOWED`).
pub mod reason {
    use edu_kit::error::Reason;

    /// The available balance does not cover the enrolment.
    pub const INSUFFICIENT_BALANCE: Reason = Reason::new(
        "INSUFFICIENT_BALANCE",
        "На сертификате недостаточно свободных средств для записи на оставшиеся месяцы.",
    );
    /// A charge without the reservation behind it.
    pub const NO_RESERVATION: Reason = Reason::new(
        "NO_RESERVATION",
        "За этот месяц нечего списать: средства под зачисление не зарезервированы.",
    );
    /// Every seat of the programme is taken.
    pub const NO_SEATS_LEFT: Reason = Reason::new("NO_SEATS_LEFT", "Все места в программе заняты.");
    /// An accounting certificate in a paid programme.
    pub const PROGRAMME_NOT_FREE: Reason = Reason::new(
        "PROGRAMME_NOT_FREE",
        "Сертификат учёта даёт право только на бесплатные программы.",
    );
    /// The child's age is outside the period's.
    pub const AGE_NOT_ELIGIBLE: Reason = Reason::new(
        "AGE_NOT_ELIGIBLE",
        "Возраст ребёнка не входит в возраст, который финансируется в этом периоде.",
    );
    /// A date outside the period.
    pub const OUTSIDE_PERIOD: Reason = Reason::new(
        "OUTSIDE_PERIOD",
        "Дата не входит в период финансирования муниципалитета.",
    );
    /// An enrolment cannot start before the day it is requested.
    pub const START_IN_PAST: Reason = Reason::new(
        "START_IN_PAST",
        "Дата начала занятий не может быть раньше дня подачи заявки.",
    );
    /// The period shares days with another period of the municipality.
    pub const PERIOD_OVERLAPS: Reason = Reason::new(
        "PERIOD_OVERLAPS",
        "Период пересекается с другим периодом этого муниципалитета.",
    );
    /// A month reported before it began.
    pub const MONTH_NOT_BEGUN: Reason = Reason::new(
        "MONTH_NOT_BEGUN",
        "Об оказании услуг за месяц можно сообщить только после его начала.",
    );
    /// A sum left the range the ledger keeps.
    pub const AMOUNT_OUT_OF_RANGE: Reason = Reason::new(
        "AMOUNT_OUT_OF_RANGE",
        "Сумма выходит за допустимые пределы.",
    );
    /// The provider is excluded from the registry.
    pub const PROVIDER_EXCLUDED: Reason = Reason::new(
        "PROVIDER_EXCLUDED",
        "Поставщик исключён из реестра и не принимает новых детей.",
    );
    /// The programme is not certified.
    pub const PROGRAMME_NOT_CERTIFIED: Reason = Reason::new(
        "PROGRAMME_NOT_CERTIFIED",
        "Программа не прошла сертификацию.",
    );
    /// The certificate is suspended or closed.
    pub const CERTIFICATE_NOT_ACTIVE: Reason = Reason::new(
        "CERTIFICATE_NOT_ACTIVE",
        "Сертификат приостановлен или закрыт.",
    );
    /// The municipality has no period on that day.
    pub const NO_CURRENT_PERIOD: Reason = Reason::new(
        "NO_CURRENT_PERIOD",
        "У муниципалитета нет периода финансирования на эту дату.",
    );
    /// The child has not attended the programme.
    pub const NOT_ATTENDED: Reason = Reason::new(
        "NOT_ATTENDED",
        "Оценить программу можно после того, как ребёнок её посещал.",
    );
    /// The enrolment is rated already.
    pub const ALREADY_RATED: Reason = Reason::new("ALREADY_RATED", "Эта запись уже оценена.");
    /// The enrolment is not running in the month.
    pub const ENROLMENT_NOT_RUNNING: Reason = Reason::new(
        "ENROLMENT_NOT_RUNNING",
        "Зачисление не действовало в этом месяце.",
    );
    pub use edu_kit::error::reason::TRANSITION_NOT_ALLOWED;
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
                    .in_russian(format!(
                        "На сертификате свободно {}, а на оставшиеся месяцы нужно {}; ничего не зарезервировано.",
                        russian::roubles(available.kopecks()),
                        russian::roubles(needed.kopecks())
                    ))
            }
            CertificateError::NoReservation { .. } => precondition(reason::NO_RESERVATION),
            CertificateError::NonPositiveAmount(_) => ApiError::internal(&error),
            CertificateError::AmountOutOfRange => precondition(reason::AMOUNT_OUT_OF_RANGE),
            CertificateError::NoSeatsLeft { seats } => precondition(reason::NO_SEATS_LEFT)
                .with_metadata("seats", seats.to_string())
                .in_russian(format!("Все {seats} мест программы заняты.")),
            CertificateError::ProgrammeNotFree => precondition(reason::PROGRAMME_NOT_FREE),
            CertificateError::AgeNotEligible { age, min, max } => {
                precondition(reason::AGE_NOT_ELIGIBLE)
                    .with_metadata("age", age.to_string())
                    .in_russian(format!(
                        "На начало периода ребёнку полных лет: {age}; финансируется возраст от {min} до {max} лет."
                    ))
            }
            CertificateError::OutsidePeriod => precondition(reason::OUTSIDE_PERIOD),
            CertificateError::StartInPast { today } => ApiError::invalid_field(
                reason::START_IN_PAST,
                "enrolment.start_date",
                format!("on or after {today}, the day of the request in the municipality"),
            )
            .with_metadata("earliest_start", today.to_string())
            .in_russian(format!(
                "Дата начала занятий не может быть раньше дня подачи заявки, {}.",
                russian::date(today)
            )),
            CertificateError::PeriodOverlaps { period } => {
                let russian = format!(
                    "Период пересекается с периодом periods/{period} этого муниципалитета."
                );
                precondition(reason::PERIOD_OVERLAPS)
                    .with_metadata("period", format!("periods/{period}"))
                    .in_russian(russian)
            }
            CertificateError::MonthNotBegun { month } => precondition(reason::MONTH_NOT_BEGUN)
                .in_russian(format!(
                    "Месяц {} ещё не начался; сообщить об оказании услуг за него нельзя.",
                    russian::month(month.year, month.month)
                )),
            CertificateError::ProviderExcluded => precondition(reason::PROVIDER_EXCLUDED),
            CertificateError::ProgrammeNotCertified => {
                precondition(reason::PROGRAMME_NOT_CERTIFIED)
            }
            CertificateError::CertificateNotActive { state } => {
                precondition(reason::CERTIFICATE_NOT_ACTIVE).with_metadata("state", state)
            }
            CertificateError::NoCurrentPeriod => precondition(reason::NO_CURRENT_PERIOD),
            CertificateError::TransitionNotAllowed { from, to } => {
                ApiError::transition_not_allowed(from, to)
            }
            CertificateError::EnrolmentNotRunning { enrolment } => {
                let russian = format!(
                    "Зачисление enrolments/{} не действовало в этом месяце.",
                    edu_proto::quote::prefix(&enrolment)
                );
                precondition(reason::ENROLMENT_NOT_RUNNING)
                    .with_metadata("enrolment", enrolment)
                    .in_russian(russian)
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
