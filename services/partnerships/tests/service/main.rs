//! The partnerships service against a real Postgres: each test gets a fresh database,
//! provisioned and migrated as in production, and calls the gRPC handlers in-process with a
//! call context like the pipeline builds. Rules, refusals with their reasons, tenant
//! isolation, and the races the store's locking is there for.

mod common;
mod contracts;
mod directory;
mod forums;
mod lifecycle;
mod registry;
mod summary;
mod years;
