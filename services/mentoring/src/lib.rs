//! The mentoring service: the regulation on mentoring of the children's centre «Мечта»
//! (shared/domain/mentoring.md), Russia's target model of mentoring. Pairs and groups of
//! mentors and mentees, run by a curator, fixed by the director's order, monitored twice a
//! year and reported yearly; nothing about a person is kept before their consent.
//!
//! Rooms: the [`domain`] (the rules as pure Rust), the [`store`] (the use cases as
//! Postgres transactions, with the concurrency design in its module doc) and the [`api`]
//! (gRPC handlers: parse, authorise, map; the contract is `proto/edu/mentoring/v1`).

pub mod api;
pub mod demo;
pub mod domain;
pub mod store;

/// The service's name in telemetry, its Postgres schema, and its login role.
pub const SERVICE_NAME: &str = "mentoring";

/// The service's migrations, applied after the kit's.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
