//! The competitions service: best-practice contests such as «Детство без границ» of the
//! Agency for Strategic Initiatives. Three rooms: [`domain`] holds the programme's rules,
//! [`store`] the Postgres queries and transactions, [`api`] the gRPC services that parse
//! requests, authorise callers and map results.

pub mod api;
pub mod demo;
pub mod domain;
pub mod store;

/// The service's name in telemetry, its Postgres schema, and its login role.
pub const SERVICE_NAME: &str = "competitions";

/// The service's migrations, applied after the kit's.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
