//! The gRPC services of `edu.partnerships.v1`. Each handler parses the request, authorises
//! the caller ([`access`]), calls the store, and maps the result ([`convert`]); refusals
//! become statuses in one place ([`errors`]).

pub mod access;
mod applications;
mod contracts;
pub mod convert;
pub mod errors;
mod events;
mod forums;
mod groups;
mod progress;
mod schools;
mod years;

use edu_kit::config::Limits;
// Handlers answer through the kit's one mapping of results to tonic.
use edu_kit::error::respond;
use edu_proto::edu::partnerships::v1::application_service_server::{
    self, ApplicationServiceServer,
};
use edu_proto::edu::partnerships::v1::contract_service_server::{self, ContractServiceServer};
use edu_proto::edu::partnerships::v1::event_service_server::{self, EventServiceServer};
use edu_proto::edu::partnerships::v1::forum_service_server::{self, ForumServiceServer};
use edu_proto::edu::partnerships::v1::group_service_server::{self, GroupServiceServer};
use edu_proto::edu::partnerships::v1::programme_year_service_server::{
    self, ProgrammeYearServiceServer,
};
use edu_proto::edu::partnerships::v1::progress_service_server::{self, ProgressServiceServer};
use edu_proto::edu::partnerships::v1::school_service_server::{self, SchoolServiceServer};
use tonic::service::Routes;

use crate::store::Store;

pub use applications::ApplicationsApi;
pub use contracts::ContractsApi;
pub use events::EventsApi;
pub use forums::ForumsApi;
pub use groups::GroupsApi;
pub use progress::ProgressApi;
pub use schools::SchoolsApi;
pub use years::YearsApi;

/// The gRPC services this process serves, by full name.
pub const SERVICE_NAMES: [&str; 8] = [
    programme_year_service_server::SERVICE_NAME,
    school_service_server::SERVICE_NAME,
    application_service_server::SERVICE_NAME,
    contract_service_server::SERVICE_NAME,
    group_service_server::SERVICE_NAME,
    forum_service_server::SERVICE_NAME,
    progress_service_server::SERVICE_NAME,
    event_service_server::SERVICE_NAME,
];

/// The routes of every partnerships service, with the process's message size limit.
pub fn routes(store: Store, limits: &Limits) -> Routes {
    let max = limits.max_message_bytes;
    Routes::new(edu_kit::served!(
        ProgrammeYearServiceServer<_>,
        YearsApi::new(store.clone()),
        max
    ))
    .add_service(edu_kit::served!(
        SchoolServiceServer<_>,
        SchoolsApi::new(store.clone()),
        max
    ))
    .add_service(edu_kit::served!(
        ApplicationServiceServer<_>,
        ApplicationsApi::new(store.clone()),
        max
    ))
    .add_service(edu_kit::served!(
        ContractServiceServer<_>,
        ContractsApi::new(store.clone()),
        max
    ))
    .add_service(edu_kit::served!(
        GroupServiceServer<_>,
        GroupsApi::new(store.clone()),
        max
    ))
    .add_service(edu_kit::served!(
        ForumServiceServer<_>,
        ForumsApi::new(store.clone()),
        max
    ))
    .add_service(edu_kit::served!(
        ProgressServiceServer<_>,
        ProgressApi::new(store.clone()),
        max
    ))
    .add_service(edu_kit::served!(
        EventServiceServer<_>,
        EventsApi::new(store),
        max
    ))
}
