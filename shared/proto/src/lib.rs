//! The suite's contracts as Rust: prost messages and tonic clients and servers generated from
//! `proto/` at build time, and the encoded descriptor set that server reflection serves.
//! Services depend on this crate, never on each other.

#![allow(
    missing_docs,
    clippy::all,
    clippy::pedantic,
    missing_debug_implementations
)]

include!(concat!(env!("OUT_DIR"), "/edu_includes.rs"));

pub mod codec;
pub mod limits;
pub mod quote;
pub mod refusal;

/// Every file of `proto/` and its imports, encoded as a `google.protobuf.FileDescriptorSet`
/// with source comments, for server reflection and for tools that need the schemas.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/edu_descriptor.bin"));

/// Methods that answer without a token: the public catalogues (practices, programmes) and
/// announced results. The
/// serving service and the gateway both read this list, so they never disagree on what is
/// public. Everything else needs a bearer token (health and reflection aside).
pub const PUBLIC_METHODS: &[&str] = &[
    "/edu.competitions.v1.CatalogueService/GetPractice",
    "/edu.competitions.v1.CatalogueService/SearchPractices",
    "/edu.competitions.v1.ResultsService/GetRanking",
    "/edu.competitions.v1.ResultsService/GetResults",
    "/edu.competitions.v1.ResultsService/ExportResults",
    "/edu.certificates.v1.ProgrammeService/GetProgramme",
    "/edu.certificates.v1.ProgrammeService/SearchProgrammes",
];
