//! The aid service against a real Postgres: each test gets a fresh database, provisioned
//! and migrated as in production, and calls the gRPC handlers in-process with a call
//! context like the pipeline builds. Rules, refusals with their reasons, tenant isolation,
//! and the races the store's locking is there for.

mod appeals;
mod attendance;
mod campaigns;
mod child_records;
mod children;
mod common;
mod donations;
mod headquarters;
mod imports;
mod needs;
mod prices;
mod reports;
