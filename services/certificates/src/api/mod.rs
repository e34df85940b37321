//! The gRPC services of `edu.certificates.v1`. Each handler parses the request, authorises
//! the caller ([`access`]), runs the use case in one transaction with its idempotency key,
//! and maps the result; refusals become statuses in [`crate::errors`].

pub mod access;
mod certificates;
mod enrolments;
mod periods;
mod programmes;
mod reports;

use edu_kit::config::Limits;
// Handlers answer through the kit's one mapping of results to tonic.
use edu_kit::error::respond;
use edu_proto::edu::certificates::v1::certificate_service_server::{
    self, CertificateServiceServer,
};
use edu_proto::edu::certificates::v1::enrolment_service_server::{self, EnrolmentServiceServer};
use edu_proto::edu::certificates::v1::period_service_server::{self, PeriodServiceServer};
use edu_proto::edu::certificates::v1::programme_service_server::{self, ProgrammeServiceServer};
use edu_proto::edu::certificates::v1::report_service_server::{self, ReportServiceServer};
use tonic::service::Routes;

use crate::store::Store;

pub use certificates::CertificatesApi;
pub use enrolments::EnrolmentsApi;
pub use periods::PeriodsApi;
pub use programmes::ProgrammesApi;
pub use reports::ReportsApi;

/// The gRPC services this process serves, by full name.
pub const SERVICE_NAMES: [&str; 5] = [
    period_service_server::SERVICE_NAME,
    certificate_service_server::SERVICE_NAME,
    programme_service_server::SERVICE_NAME,
    enrolment_service_server::SERVICE_NAME,
    report_service_server::SERVICE_NAME,
];

/// The routes of every certificates service, with the process's message size limit.
pub fn routes(store: Store, limits: &Limits) -> Routes {
    let max = limits.max_message_bytes;
    Routes::new(edu_kit::served!(
        PeriodServiceServer<_>,
        PeriodsApi::new(store.clone()),
        max
    ))
    .add_service(edu_kit::served!(
        CertificateServiceServer<_>,
        CertificatesApi::new(store.clone()),
        max
    ))
    .add_service(edu_kit::served!(
        ProgrammeServiceServer<_>,
        ProgrammesApi::new(store.clone()),
        max
    ))
    .add_service(edu_kit::served!(
        EnrolmentServiceServer<_>,
        EnrolmentsApi::new(store.clone()),
        max
    ))
    .add_service(edu_kit::served!(
        ReportServiceServer<_>,
        ReportsApi::new(store),
        max
    ))
}
