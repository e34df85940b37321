//! The gRPC services of `edu.competitions.v1`. Each handler parses the request into domain
//! values, authorises the caller ([`access`]), calls the store, and maps the result
//! ([`convert`]); refusals become statuses in one place ([`errors`]).

pub mod access;
mod applications;
mod contests;
pub mod convert;
pub mod errors;
mod teams;

use edu_kit::ApiError;
use edu_kit::config::Limits;
use edu_proto::edu::competitions::v1::application_service_server::{
    self, ApplicationServiceServer,
};
use edu_proto::edu::competitions::v1::contest_service_server::{self, ContestServiceServer};
use edu_proto::edu::competitions::v1::team_service_server::{self, TeamServiceServer};
use tonic::service::Routes;
use tonic::{Response, Status};

use crate::store::Store;

pub use applications::ApplicationsApi;
pub use contests::ContestsApi;
pub use teams::TeamsApi;

/// The gRPC services this process serves, by full name.
pub const SERVICE_NAMES: [&str; 3] = [
    contest_service_server::SERVICE_NAME,
    team_service_server::SERVICE_NAME,
    application_service_server::SERVICE_NAME,
];

/// The routes of every competitions service, with the process's message size limit.
pub fn routes(store: Store, limits: &Limits) -> Routes {
    let max = limits.max_message_bytes;
    Routes::new(
        ContestServiceServer::new(ContestsApi::new(store.clone()))
            .max_decoding_message_size(max)
            .max_encoding_message_size(max),
    )
    .add_service(
        TeamServiceServer::new(TeamsApi::new(store.clone()))
            .max_decoding_message_size(max)
            .max_encoding_message_size(max),
    )
    .add_service(
        ApplicationServiceServer::new(ApplicationsApi::new(store))
            .max_decoding_message_size(max)
            .max_encoding_message_size(max),
    )
}

/// A handler's result as tonic wants it.
fn respond<T>(result: Result<T, ApiError>) -> Result<Response<T>, Status> {
    result.map(Response::new).map_err(Status::from)
}
