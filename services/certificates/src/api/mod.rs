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
use tonic::{Response, Status};

pub use certificates::CertificatesApi;
pub use enrolments::EnrolmentsApi;
pub use periods::PeriodsApi;
pub use programmes::ProgrammesApi;
pub use reports::ReportsApi;

/// A handler's result as tonic wants it.
fn respond<T>(result: Result<T, ApiError>) -> Result<Response<T>, Status> {
    result.map(Response::new).map_err(Status::from)
}
