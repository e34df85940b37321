//! The gRPC services of `edu.mentoring.v1`. Each handler parses the request, finds who the
//! caller is in the institution ([`access`]), calls the store, and maps the result (shared
//! mappings in [`convert`]); refusals become statuses in one place ([`errors`]).

pub mod access;
pub mod convert;
pub mod errors;

// Handlers answer through the kit's one mapping of results to tonic.
#[allow(unused_imports)]
use edu_kit::error::respond;

mod institutions;
mod publications;

pub use institutions::InstitutionsApi;
pub use publications::PublicationsApi;
