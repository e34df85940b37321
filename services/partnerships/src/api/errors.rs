//! The one mapping from the programme's refusals to gRPC: code, stable reason, metadata,
//! and the text with this case's particulars (instants in the year's zone). The services'
//! reasons are written in Russian, as the kit's are; a Bulgarian catalogue is still to come.

use edu_kit::error::ErrorKind;
use edu_kit::{ApiError, russian};

use crate::domain::PartnershipError;
use crate::domain::year::CapKind;

/// Reasons this service gives, beyond the kit's (`INVALID_FIELDS`, `NOT_FOUND`,
/// `ALREADY_EXISTS`, `ROLE_REQUIRED`, `ETAG_MISMATCH`, `REQUEST_ID_REUSED`, …).
pub mod reason {
    use edu_kit::error::Reason;

    /// A year's parameters after its window opened.
    pub const YEAR_OPEN: Reason = Reason::new(
        "YEAR_OPEN",
        "Приём заявок на этот учебный год уже открыт; его параметры больше не меняются.",
    );
    /// Before the application window.
    pub const WINDOW_NOT_OPEN: Reason =
        Reason::new("WINDOW_NOT_OPEN", "Приём заявок ещё не начался.");
    /// After the application window.
    pub const WINDOW_CLOSED: Reason = Reason::new("WINDOW_CLOSED", "Приём заявок закончился.");
    /// A module the year does not offer.
    pub const MODULE_NOT_OFFERED: Reason = Reason::new(
        "MODULE_NOT_OFFERED",
        "В этом учебном году такой модуль не предлагается.",
    );
    /// A school without an application for the year.
    pub const NOT_APPLIED: Reason = Reason::new(
        "NOT_APPLIED",
        "Школа не подавала заявку на этот учебный год.",
    );
    /// Two schools with no module in common.
    pub const MODULE_MISMATCH: Reason = Reason::new(
        "MODULE_MISMATCH",
        "У школ нет общего модуля в заявках на этот год.",
    );
    /// An innovative school declaring interest.
    pub const SCHOOL_IS_INNOVATIVE: Reason = Reason::new(
        "SCHOOL_IS_INNOVATIVE",
        "Школа из списка инновационных не заявляет интерес, а заключает договор напрямую.",
    );
    /// A school that is not on the List where one is needed.
    pub const SCHOOL_NOT_INNOVATIVE: Reason = Reason::new(
        "SCHOOL_NOT_INNOVATIVE",
        "Школы нет в списке инновационных школ.",
    );
    /// Two non-innovative schools.
    pub const NON_INNOVATIVE_PAIR: Reason = Reason::new(
        "NON_INNOVATIVE_PAIR",
        "Договор заключается только с участием школы из списка инновационных.",
    );
    /// A contract naming an innovation of another school.
    pub const INNOVATION_NOT_OF_PARTNER: Reason = Reason::new(
        "INNOVATION_NOT_OF_PARTNER",
        "Инновация принадлежит не инновационной школе этого договора.",
    );
    /// A second open contract between two schools.
    pub const CONTRACT_EXISTS: Reason = Reason::new(
        "CONTRACT_EXISTS",
        "Между этими школами уже есть действующий договор.",
    );
    /// A second innovative partner.
    pub const ALREADY_HAS_INNOVATIVE_PARTNER: Reason = Reason::new(
        "ALREADY_HAS_INNOVATIVE_PARTNER",
        "У инновационной школы уже есть партнёр из списка инновационных.",
    );
    /// A second non-innovative partner.
    pub const ALREADY_HAS_NON_INNOVATIVE_PARTNER: Reason = Reason::new(
        "ALREADY_HAS_NON_INNOVATIVE_PARTNER",
        "У инновационной школы уже есть партнёр не из списка.",
    );
    /// A non-innovative school in a second contract.
    pub const NON_INNOVATIVE_ALREADY_CONTRACTED: Reason = Reason::new(
        "NON_INNOVATIVE_ALREADY_CONTRACTED",
        "Школа не из списка инновационных уже участвует в договоре.",
    );
    /// No interest declared in the innovation.
    pub const INTEREST_NOT_DECLARED: Reason = Reason::new(
        "INTEREST_NOT_DECLARED",
        "Школа не заявляла интерес к этой инновации.",
    );
    /// A cap is reached.
    pub const CAP_REACHED: Reason = Reason::new(
        "CAP_REACHED",
        "Достигнуто предельное число школ в подписанных договорах; приём договоров остановлен.",
    );
    /// The proposer signing its own proposal.
    pub const NOT_THE_COUNTERPARTY: Reason = Reason::new(
        "NOT_THE_COUNTERPARTY",
        "Договор подписывает школа, которой его предложили.",
    );
    /// Signing or withdrawing a contract that is not PROPOSED.
    pub const CONTRACT_NOT_PROPOSED: Reason = Reason::new(
        "CONTRACT_NOT_PROPOSED",
        "Договор уже подписан, отозван или утратил силу.",
    );
    /// Withdrawing an application after a signature.
    pub const SCHOOL_HAS_SIGNED_CONTRACT: Reason = Reason::new(
        "SCHOOL_HAS_SIGNED_CONTRACT",
        "Школа уже подписала договор этого года; заявку отозвать нельзя.",
    );
    /// Withdrawing an interest a contract rests on.
    pub const INTEREST_IN_USE: Reason = Reason::new(
        "INTEREST_IN_USE",
        "На этом заявлении об интересе основан договор; сначала отзовите договор.",
    );
    /// Changing the List for a school in an open contract.
    pub const SCHOOL_IN_CONTRACT: Reason = Reason::new(
        "SCHOOL_IN_CONTRACT",
        "Школа участвует в действующем договоре.",
    );
    /// Deleting an innovation something names.
    pub const INNOVATION_IN_USE: Reason = Reason::new(
        "INNOVATION_IN_USE",
        "На эту инновацию ссылаются заявления об интересе; измените её описание вместо удаления.",
    );
    /// Acting for another school or region.
    pub const SCOPE_REQUIRED: Reason = Reason::new(
        "SCOPE_REQUIRED",
        "Вы можете действовать только от имени своей школы или в своей области.",
    );
    /// A school changing a mobility it does not host.
    pub const NOT_THE_HOST: Reason = Reason::new(
        "NOT_THE_HOST",
        "Это может сделать только принимающая школа.",
    );
    /// A visit longer than the year allows.
    pub const MOBILITY_TOO_LONG: Reason = Reason::new(
        "MOBILITY_TOO_LONG",
        "Визит длится дольше, чем допускает программа.",
    );
    /// The group's two visits sharing a day.
    pub const MOBILITIES_OVERLAP: Reason = Reason::new(
        "MOBILITIES_OVERLAP",
        "Даты совпадают с другим визитом той же группы.",
    );
    /// Changing a mobility whose annex is filed.
    pub const ANNEX_ALREADY_FILED: Reason = Reason::new(
        "ANNEX_ALREADY_FILED",
        "Приложение к договорам уже подано; визит больше не меняется.",
    );
    /// An annex without dates or programme.
    pub const MOBILITY_INCOMPLETE: Reason = Reason::new(
        "MOBILITY_INCOMPLETE",
        "Для приложения к договорам нужны даты визита и согласованная программа.",
    );
    /// An annex after the deadline.
    pub const ANNEX_DEADLINE_PASSED: Reason = Reason::new(
        "ANNEX_DEADLINE_PASSED",
        "Срок подачи приложений к договорам истёк.",
    );
    /// Marking held a mobility without an annex.
    pub const ANNEX_NOT_FILED: Reason = Reason::new(
        "ANNEX_NOT_FILED",
        "Приложение к договорам для этого визита не подано.",
    );
    /// Marking held a mobility of a group not approved.
    pub const GROUP_NOT_APPROVED: Reason = Reason::new(
        "GROUP_NOT_APPROVED",
        "Министерство ещё не утвердило группу.",
    );
    /// A mobility marked held before its last day.
    pub const MOBILITY_NOT_OVER: Reason =
        Reason::new("MOBILITY_NOT_OVER", "Визит ещё не завершился.");
}

/// An instant in the year's zone, in Russian.
fn local(t: jiff::Timestamp, zone: &str) -> String {
    russian::instant(
        t,
        &jiff::tz::TimeZone::get(zone).unwrap_or(jiff::tz::TimeZone::UTC),
    )
}

/// The value name of a cap, as in `CapKind` of the contract.
pub fn cap_name(kind: CapKind) -> &'static str {
    match kind {
        CapKind::Innovative => "CAP_KIND_INNOVATIVE_SCHOOLS",
        CapKind::NonInnovative => "CAP_KIND_NON_INNOVATIVE_SCHOOLS",
    }
}

impl From<PartnershipError> for ApiError {
    fn from(error: PartnershipError) -> Self {
        let message = error.to_string();
        let precondition =
            |reason| ApiError::new(ErrorKind::FailedPrecondition, reason, message.clone());
        match error {
            PartnershipError::YearOpen {
                field,
                opened,
                zone,
            } => precondition(reason::YEAR_OPEN)
                .with_metadata("field", field)
                .with_metadata("opened_at", opened.to_string())
                .in_russian(format!(
                    "Приём заявок открыт {}; параметры учебного года больше не меняются.",
                    local(opened, &zone)
                )),
            PartnershipError::WindowNotOpen { opens, zone } => {
                precondition(reason::WINDOW_NOT_OPEN)
                    .with_metadata("opens_at", opens.to_string())
                    .in_russian(format!("Приём заявок начнётся {}.", local(opens, &zone)))
            }
            PartnershipError::WindowClosed { closed, zone } => precondition(reason::WINDOW_CLOSED)
                .with_metadata("closes_at", closed.to_string())
                .in_russian(format!("Приём заявок закончился {}.", local(closed, &zone))),
            PartnershipError::NotApplied { school } => {
                precondition(reason::NOT_APPLIED).with_metadata("school", school)
            }
            PartnershipError::ModuleMismatch => precondition(reason::MODULE_MISMATCH),
            PartnershipError::SchoolIsInnovative => precondition(reason::SCHOOL_IS_INNOVATIVE),
            PartnershipError::SchoolNotInnovative { school } => {
                precondition(reason::SCHOOL_NOT_INNOVATIVE).with_metadata("school", school)
            }
            PartnershipError::SameSchool => ApiError::invalid_field(
                edu_kit::error::reason::INVALID_FIELDS,
                "contract.counterparty",
                "must be another school than the proposer",
            ),
            PartnershipError::NoInnovativeSchool => precondition(reason::NON_INNOVATIVE_PAIR),
            PartnershipError::ContractExists { contract } => {
                ApiError::new(ErrorKind::AlreadyExists, reason::CONTRACT_EXISTS, message)
                    .with_metadata("contract", contract)
            }
            PartnershipError::AlreadyHasInnovativePartner { school, contract } => {
                precondition(reason::ALREADY_HAS_INNOVATIVE_PARTNER)
                    .with_metadata("school", school)
                    .with_metadata("contract", contract)
            }
            PartnershipError::AlreadyHasNonInnovativePartner { school, contract } => {
                precondition(reason::ALREADY_HAS_NON_INNOVATIVE_PARTNER)
                    .with_metadata("school", school)
                    .with_metadata("contract", contract)
            }
            PartnershipError::NonInnovativeAlreadyContracted { school, contract } => {
                precondition(reason::NON_INNOVATIVE_ALREADY_CONTRACTED)
                    .with_metadata("school", school)
                    .with_metadata("contract", contract)
            }
            PartnershipError::InterestNotDeclared { school, innovation } => {
                precondition(reason::INTEREST_NOT_DECLARED)
                    .with_metadata("school", school)
                    .with_metadata("innovation", innovation)
            }
            PartnershipError::CapReached { kind, cap } => precondition(reason::CAP_REACHED)
                .with_metadata("cap", cap_name(kind))
                .with_metadata("limit", cap.to_string())
                .in_russian(format!(
                    "Достигнут предел: {cap} {} школ в подписанных договорах; приём договоров остановлен.",
                    match kind {
                        CapKind::Innovative => "инновационных",
                        CapKind::NonInnovative => "неинновационных",
                    }
                )),
            PartnershipError::NotTheCounterparty => {
                ApiError::permission_denied(reason::NOT_THE_COUNTERPARTY, message)
            }
            PartnershipError::ContractNotProposed { state } => {
                precondition(reason::CONTRACT_NOT_PROPOSED).with_metadata("state", state)
            }
            PartnershipError::SchoolHasSignedContract { contract } => {
                precondition(reason::SCHOOL_HAS_SIGNED_CONTRACT).with_metadata("contract", contract)
            }
            PartnershipError::InterestInUse { contract } => {
                precondition(reason::INTEREST_IN_USE).with_metadata("contract", contract)
            }
            PartnershipError::SchoolInContract { contract } => {
                precondition(reason::SCHOOL_IN_CONTRACT).with_metadata("contract", contract)
            }
            PartnershipError::InnovationInUse { resource } => {
                precondition(reason::INNOVATION_IN_USE).with_metadata("resource", resource)
            }
            PartnershipError::NotTheHost => {
                ApiError::permission_denied(reason::NOT_THE_HOST, message)
            }
            PartnershipError::MobilityTooLong { days, max } => ApiError::invalid_field(
                reason::MOBILITY_TOO_LONG,
                "mobility.end_date",
                format!("a visit lasts at most {max} days, both ends counted; this one {days}"),
            )
            .with_metadata("max_days", max.to_string())
            .in_russian(format!(
                "Визит длится {days} дн., а программа допускает не более {max}."
            )),
            PartnershipError::MobilitiesOverlap { mobility } => {
                precondition(reason::MOBILITIES_OVERLAP).with_metadata("mobility", mobility)
            }
            PartnershipError::AnnexAlreadyFiled => precondition(reason::ANNEX_ALREADY_FILED),
            PartnershipError::MobilityIncomplete { field } => {
                precondition(reason::MOBILITY_INCOMPLETE).with_metadata("field", field)
            }
            PartnershipError::AnnexDeadlinePassed { deadline, zone } => {
                precondition(reason::ANNEX_DEADLINE_PASSED)
                    .with_metadata("closes_at", deadline.to_string())
                    .in_russian(format!(
                        "Срок подачи приложений к договорам истёк {}.",
                        local(deadline, &zone)
                    ))
            }
            PartnershipError::AnnexNotFiled => precondition(reason::ANNEX_NOT_FILED),
            PartnershipError::GroupNotApproved => precondition(reason::GROUP_NOT_APPROVED),
            PartnershipError::MobilityNotOver { end } => precondition(reason::MOBILITY_NOT_OVER)
                .with_metadata("end_date", end.to_string()),
        }
    }
}
