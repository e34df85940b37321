//! The gRPC services of `edu.mentoring.v1`. Each handler parses the request (resource names
//! through [`names`]), finds who the caller is in the institution and what they may do
//! ([`access`]), calls the store, and maps the result (shared mappings and field checks in
//! [`convert`]); refusals become statuses in one place ([`errors`]).

pub mod access;
mod agreements;
pub mod convert;
pub mod errors;
mod events;
mod institutions;
mod monitoring;
pub mod names;
mod pairs;
mod participants;
mod petitions;
mod plans;
mod publications;
mod report_csv;
mod reports;

use edu_kit::ApiError;
use edu_kit::config::Limits;
// Handlers answer through the kit's one mapping of results to tonic.
use edu_kit::error::respond;
use edu_kit::idempotency::{self, IdempotencyKey};
use edu_proto::edu::mentoring::v1::agreement_service_server::{self, AgreementServiceServer};
use edu_proto::edu::mentoring::v1::event_service_server::{self, EventServiceServer};
use edu_proto::edu::mentoring::v1::institution_service_server::{self, InstitutionServiceServer};
use edu_proto::edu::mentoring::v1::monitoring_service_server::{self, MonitoringServiceServer};
use edu_proto::edu::mentoring::v1::pair_service_server::{self, PairServiceServer};
use edu_proto::edu::mentoring::v1::participant_service_server::{self, ParticipantServiceServer};
use edu_proto::edu::mentoring::v1::plan_service_server::{self, PlanServiceServer};
use edu_proto::edu::mentoring::v1::publication_service_server::{self, PublicationServiceServer};
use edu_proto::edu::mentoring::v1::report_service_server::{self, ReportServiceServer};
use jiff::Timestamp;
use sqlx::PgConnection;
use tonic::service::Routes;

use crate::store::Store;

pub use agreements::AgreementsApi;
pub use events::EventsApi;
pub use institutions::InstitutionsApi;
pub use monitoring::MonitoringApi;
pub use pairs::PairsApi;
pub use participants::ParticipantsApi;
pub use plans::PlansApi;
pub use publications::PublicationsApi;
pub use reports::ReportsApi;

/// The gRPC services this process serves, by full name.
pub const SERVICE_NAMES: [&str; 9] = [
    institution_service_server::SERVICE_NAME,
    participant_service_server::SERVICE_NAME,
    pair_service_server::SERVICE_NAME,
    agreement_service_server::SERVICE_NAME,
    plan_service_server::SERVICE_NAME,
    monitoring_service_server::SERVICE_NAME,
    report_service_server::SERVICE_NAME,
    publication_service_server::SERVICE_NAME,
    event_service_server::SERVICE_NAME,
];

/// A change guarded by its request ID (`key`), in a transaction of its own: `work` is done
/// and its answer kept at most once, and a retry is answered with what the first call
/// answered ([`idempotency::once`]). Handlers that read more in the same transaction after
/// the change open their own.
async fn once<R, W>(
    store: &Store,
    key: Option<&IdempotencyKey>,
    now: Timestamp,
    work: W,
) -> Result<R, ApiError>
where
    R: prost::Message + Default,
    W: AsyncFnOnce(&mut PgConnection) -> Result<R, ApiError>,
{
    let mut tx = store.begin().await?;
    let done = idempotency::once(&mut tx, key, now, work).await?;
    tx.commit().await?;
    Ok(done)
}

/// The routes of every mentoring service, with the process's message size limit.
pub fn routes(store: Store, limits: &Limits) -> Routes {
    let max = limits.max_message_bytes;
    Routes::new(edu_kit::served!(
        InstitutionServiceServer<_>,
        InstitutionsApi::new(store.clone()),
        max
    ))
    .add_service(edu_kit::served!(
        ParticipantServiceServer<_>,
        ParticipantsApi::new(store.clone()),
        max
    ))
    .add_service(edu_kit::served!(
        PairServiceServer<_>,
        PairsApi::new(store.clone()),
        max
    ))
    .add_service(edu_kit::served!(
        AgreementServiceServer<_>,
        AgreementsApi::new(store.clone()),
        max
    ))
    .add_service(edu_kit::served!(
        PlanServiceServer<_>,
        PlansApi::new(store.clone()),
        max
    ))
    .add_service(edu_kit::served!(
        MonitoringServiceServer<_>,
        MonitoringApi::new(store.clone()),
        max
    ))
    .add_service(edu_kit::served!(
        ReportServiceServer<_>,
        ReportsApi::new(store.clone()),
        max
    ))
    .add_service(edu_kit::served!(
        PublicationServiceServer<_>,
        PublicationsApi::new(store.clone()),
        max
    ))
    .add_service(edu_kit::served!(
        EventServiceServer<_>,
        EventsApi::new(store),
        max
    ))
}
