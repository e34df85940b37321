//! What the rules refuse, as a closed set; the API gives each a gRPC code and a stable
//! reason (`crate::errors`).

use jiff::Timestamp;
use jiff::civil::Date;

use super::year::CapKind;

/// A refusal by a rule of the programme. School, contract and other IDs are resource
/// names (`schools/…`, `years/…/contracts/…`), ready for error metadata.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PartnershipError {
    /// A year's parameters are fixed once its application window has opened.
    #[error("the year's window opened at {opened}; {field} no longer changes")]
    YearOpen {
        /// The first field of the mask that may not change.
        field: String,
        /// When the window opened.
        opened: Timestamp,
        /// The year's time zone.
        zone: String,
    },
    /// Rule 1: applications, interests and contracts start when the window opens.
    #[error("the application window opens at {opens}")]
    WindowNotOpen {
        /// When it opens.
        opens: Timestamp,
        /// The year's time zone.
        zone: String,
    },
    /// Rule 1: nothing is applied for or contracted after the window.
    #[error("the application window closed at {closed}")]
    WindowClosed {
        /// When it closed.
        closed: Timestamp,
        /// The year's time zone.
        zone: String,
    },
    /// Contracts and interests need the school's application for the year.
    #[error("{school} has not applied for this year")]
    NotApplied {
        /// The school without an application.
        school: String,
    },
    /// The two schools share no module.
    #[error("the two schools applied for no common module")]
    ModuleMismatch,
    /// Rule 3: interests are declared by schools not on the List.
    #[error("a school on the List does not declare interest; it contracts directly")]
    SchoolIsInnovative,
    /// The school is not on the List of innovative schools.
    #[error("{school} is not on the List of innovative schools")]
    SchoolNotInnovative {
        /// The school.
        school: String,
    },
    /// A school is not a party to a contract with itself.
    #[error("a school does not contract with itself")]
    SameSchool,
    /// Rules 2 and 3: two non-innovative schools do not contract.
    #[error("two schools that are not on the List do not contract with each other")]
    NoInnovativeSchool,
    /// Rule 2: at most one open contract between two schools.
    #[error("the two schools already have an open contract")]
    ContractExists {
        /// The existing contract.
        contract: String,
    },
    /// Rule 2: an innovative school has at most one innovative partner.
    #[error("{school} already has an innovative partner")]
    AlreadyHasInnovativePartner {
        /// The school that has one.
        school: String,
        /// Its signed contract.
        contract: String,
    },
    /// Rule 3: an innovative school contracts with at most one non-innovative school.
    #[error("{school} already has a partner that is not on the List")]
    AlreadyHasNonInnovativePartner {
        /// The innovative school that has one.
        school: String,
        /// Its signed contract.
        contract: String,
    },
    /// Rule 3: a non-innovative school is in at most one contract.
    #[error("{school} is already in a signed contract")]
    NonInnovativeAlreadyContracted {
        /// The non-innovative school.
        school: String,
        /// Its signed contract.
        contract: String,
    },
    /// Rule 3: only a school that declared interest in the innovation.
    #[error("{school} has not declared interest in {innovation}")]
    InterestNotDeclared {
        /// The non-innovative school.
        school: String,
        /// The innovation.
        innovation: String,
    },
    /// Rule 6: contracting stops when a cap is reached.
    #[error("the cap of {cap} {kind} schools in signed contracts is reached")]
    CapReached {
        /// Which cap.
        kind: CapKind,
        /// Its value.
        cap: u32,
    },
    /// Rule 4: the proposer does not sign its own proposal.
    #[error("the contract is signed by the school it was proposed to")]
    NotTheCounterparty,
    /// Only a PROPOSED contract is signed or withdrawn.
    #[error("the contract is {state}, not PROPOSED")]
    ContractNotProposed {
        /// Its state.
        state: &'static str,
    },
    /// An application is not withdrawn once the school signed a contract.
    #[error("the school is a party to the signed contract {contract}")]
    SchoolHasSignedContract {
        /// The signed contract.
        contract: String,
    },
    /// An interest is not withdrawn while a contract rests on it.
    #[error("the contract {contract} rests on this interest")]
    InterestInUse {
        /// The contract.
        contract: String,
    },
    /// A school joins or leaves the List only outside open contracts.
    #[error("the school is a party to the open contract {contract}")]
    SchoolInContract {
        /// The contract.
        contract: String,
    },
    /// An innovation named by an interest declaration is not deleted.
    #[error("{resource} names this innovation; change its text instead")]
    InnovationInUse {
        /// The interest declaration that names it.
        resource: String,
    },
    /// Only the host changes its mobility.
    #[error("only the host school changes this mobility")]
    NotTheHost,
    /// Rule 7: a visit lasts at most the year's maximum.
    #[error("a mobility of {days} days exceeds the maximum of {max}")]
    MobilityTooLong {
        /// Its length, both ends counted.
        days: i64,
        /// The year's maximum.
        max: u8,
    },
    /// Rule 7: the same four schools cannot be on two visits at once.
    #[error("the dates share a day with {mobility}")]
    MobilitiesOverlap {
        /// The group's other mobility.
        mobility: String,
    },
    /// Rule 8: a filed annex fixes the mobility.
    #[error("the annex is filed; the mobility no longer changes")]
    AnnexAlreadyFiled,
    /// Rule 8: an annex names the dates and the agreed programme.
    #[error("the annex needs the mobility's {field}")]
    MobilityIncomplete {
        /// The first missing field.
        field: &'static str,
    },
    /// Rule 8: no annex after the deadline.
    #[error("the annex deadline passed at {deadline}")]
    AnnexDeadlinePassed {
        /// End of the deadline day.
        deadline: Timestamp,
        /// The year's time zone.
        zone: String,
    },
    /// A mobility is held only after its annex.
    #[error("the mobility has no filed annex")]
    AnnexNotFiled,
    /// A mobility is held only in an approved group.
    #[error("the group is not approved")]
    GroupNotApproved,
    /// A mobility is held once its last day has begun.
    #[error("the mobility ends on {end}; it cannot be marked held before")]
    MobilityNotOver {
        /// Its last day.
        end: Date,
    },
}
