//! The certificates service: personified financing of children's additional education
//! (shared/domain/certificates.md), as in the Mikhailovsky district of Altai Krai under the
//! federal project «Успех каждого ребёнка». Money follows the child.
//!
//! Built in steps (issue 5): the [`domain`] (the money rules as pure Rust) and the [`store`]
//! (the use cases as Postgres transactions, with the concurrency design in its module doc)
//! are here; the gRPC API and the binary follow.

pub mod api;
pub mod demo;
pub mod domain;
pub mod errors;
pub mod store;

/// The service's name in telemetry, its Postgres schema, and its login role.
pub const SERVICE_NAME: &str = "certificates";

/// The service's migrations, applied after the kit's.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
