//! The partnerships service: Bulgaria's national programme «Иновации в действие»
//! (shared/domain/partnerships.md). Innovative schools pair with each other, each adds one
//! school that declared interest in its innovation, and the group of four visits both
//! innovative schools.
//!
//! Rooms: the [`domain`] (the rules as pure Rust), the [`store`] (the use cases as
//! Postgres transactions, with the concurrency design in its module doc) and the [`api`]
//! (gRPC handlers: parse, authorise, map).

pub mod api;
pub mod demo;

pub mod domain;
pub mod store;

/// The service's name in telemetry, its Postgres schema, and its login role.
pub const SERVICE_NAME: &str = "partnerships";

/// The service's migrations, applied after the kit's.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
