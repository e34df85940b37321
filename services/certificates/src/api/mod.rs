//! The gRPC services of `edu.certificates.v1`. Each handler parses the request, authorises
//! the caller ([`access`]), runs the use case in one transaction with its idempotency key,
//! and maps the result; refusals become statuses in [`crate::errors`].

pub mod access;
mod certificates;
mod enrolments;
mod periods;
mod programmes;
mod reports;

use edu_kit::ApiError;
use edu_kit::config::Limits;
use edu_proto::edu::certificates::v1::certificate_service_server::{
    self, CertificateServiceServer,
};
use edu_proto::edu::certificates::v1::enrolment_service_server::{self, EnrolmentServiceServer};
use edu_proto::edu::certificates::v1::period_service_server::{self, PeriodServiceServer};
use edu_proto::edu::certificates::v1::programme_service_server::{self, ProgrammeServiceServer};
use edu_proto::edu::certificates::v1::report_service_server::{self, ReportServiceServer};
use tonic::service::Routes;
use tonic::{Response, Status};

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
    macro_rules! limited {
        ($server:ty, $api:expr) => {
            <$server>::new($api)
                .max_decoding_message_size(max)
                .max_encoding_message_size(max)
        };
    }
    Routes::new(limited!(
        PeriodServiceServer<_>,
        PeriodsApi::new(store.clone())
    ))
    .add_service(limited!(
        CertificateServiceServer<_>,
        CertificatesApi::new(store.clone())
    ))
    .add_service(limited!(
        ProgrammeServiceServer<_>,
        ProgrammesApi::new(store.clone())
    ))
    .add_service(limited!(
        EnrolmentServiceServer<_>,
        EnrolmentsApi::new(store.clone())
    ))
    .add_service(limited!(ReportServiceServer<_>, ReportsApi::new(store)))
}

/// A handler's result as tonic wants it.
fn respond<T>(result: Result<T, ApiError>) -> Result<Response<T>, Status> {
    result.map(Response::new).map_err(Status::from)
}
