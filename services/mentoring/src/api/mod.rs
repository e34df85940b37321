//! The gRPC services of `edu.mentoring.v1`. Each handler parses the request, finds who the
//! caller is in the institution ([`access`]), calls the store, and maps the result (shared
//! mappings in [`convert`]); refusals become statuses in one place ([`errors`]).

pub mod access;
mod agreements;
pub mod convert;
pub mod errors;
mod report_csv;
mod reports;

pub use reports::ReportsApi;
mod participants;

pub use participants::ParticipantsApi;
mod pairs;
mod petitions;

pub use pairs::PairsApi;
mod plans;

pub use agreements::AgreementsApi;
pub use plans::PlansApi;

// Handlers answer through the kit's one mapping of results to tonic.
#[allow(unused_imports)]
use edu_kit::error::respond;

mod events;
pub use events::EventsApi;
mod monitoring;
pub use monitoring::MonitoringApi;
mod institutions;
mod publications;

pub use institutions::InstitutionsApi;
pub use publications::PublicationsApi;
