//! The gRPC services of `edu.competitions.v1`. Each handler parses the request into domain
//! values, authorises the caller ([`access`]), calls the store, and maps the result
//! ([`convert`]); refusals become statuses in one place ([`errors`]).

pub mod access;
mod applications;
mod catalogue;
mod contests;
pub mod convert;
pub mod errors;
mod events;
mod follow_ups;
mod results;
mod reviews;
mod teams;

use edu_kit::config::Limits;
// Handlers answer through the kit's one mapping of results to tonic.
use edu_kit::error::respond;
use edu_proto::edu::competitions::v1::application_service_server::{
    self, ApplicationServiceServer,
};
use edu_proto::edu::competitions::v1::catalogue_service_server::{self, CatalogueServiceServer};
use edu_proto::edu::competitions::v1::contest_service_server::{self, ContestServiceServer};
use edu_proto::edu::competitions::v1::event_service_server::{self, EventServiceServer};
use edu_proto::edu::competitions::v1::follow_up_service_server::{self, FollowUpServiceServer};
use edu_proto::edu::competitions::v1::results_service_server::{self, ResultsServiceServer};
use edu_proto::edu::competitions::v1::review_service_server::{self, ReviewServiceServer};
use edu_proto::edu::competitions::v1::team_service_server::{self, TeamServiceServer};
use tonic::service::Routes;

use crate::store::Store;

pub use applications::ApplicationsApi;
pub use catalogue::CatalogueApi;
pub use contests::ContestsApi;
pub use events::EventsApi;
pub use follow_ups::FollowUpsApi;
pub use results::ResultsApi;
pub use reviews::ReviewsApi;
pub use teams::TeamsApi;

/// The gRPC services this process serves, by full name.
pub const SERVICE_NAMES: [&str; 8] = [
    contest_service_server::SERVICE_NAME,
    team_service_server::SERVICE_NAME,
    application_service_server::SERVICE_NAME,
    review_service_server::SERVICE_NAME,
    results_service_server::SERVICE_NAME,
    catalogue_service_server::SERVICE_NAME,
    follow_up_service_server::SERVICE_NAME,
    event_service_server::SERVICE_NAME,
];

/// The routes of every competitions service, with the process's message size limit.
pub fn routes(store: Store, limits: &Limits) -> Routes {
    let max = limits.max_message_bytes;
    Routes::new(edu_kit::served!(
        ContestServiceServer<_>,
        ContestsApi::new(store.clone()),
        max
    ))
    .add_service(edu_kit::served!(
        TeamServiceServer<_>,
        TeamsApi::new(store.clone()),
        max
    ))
    .add_service(edu_kit::served!(
        ApplicationServiceServer<_>,
        ApplicationsApi::new(store.clone()),
        max
    ))
    .add_service(edu_kit::served!(
        ReviewServiceServer<_>,
        ReviewsApi::new(store.clone()),
        max
    ))
    .add_service(edu_kit::served!(
        ResultsServiceServer<_>,
        ResultsApi::new(store.clone()),
        max
    ))
    .add_service(edu_kit::served!(
        CatalogueServiceServer<_>,
        CatalogueApi::new(store.clone()),
        max
    ))
    .add_service(edu_kit::served!(
        FollowUpServiceServer<_>,
        FollowUpsApi::new(store.clone()),
        max
    ))
    .add_service(edu_kit::served!(
        EventServiceServer<_>,
        EventsApi::new(store),
        max
    ))
}
