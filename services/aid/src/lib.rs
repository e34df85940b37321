//! The aid service: Kazakhstan's campaign «Дорога в школу» (shared/domain/aid.md). Schools
//! list children at risk of missing school into the data bank, their needs are covered by
//! donations traceable to each child and by the budget, citizens' appeals are answered in
//! time, prices are watched, and attendance is checked when school starts.
//!
//! Rooms: the [`domain`] (the rules as pure Rust), the [`store`] (the use cases as
//! Postgres transactions, with the concurrency design in its module doc) and the [`api`]
//! (gRPC handlers: parse, authorise, map).

pub mod api;
pub mod demo;
pub mod domain;
pub mod print;
pub mod store;

/// The service's name in telemetry, its Postgres schema, and its login role.
pub const SERVICE_NAME: &str = "aid";

/// The service's migrations, applied after the kit's.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
