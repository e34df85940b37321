//! The certificates store against a real Postgres: each test gets a fresh database,
//! provisioned and migrated as in production, and runs the use cases as the API will, one
//! transaction each. The races the concurrency design is there for are run with many
//! simultaneous callers, without sleeps.

mod common;
mod concurrency;
mod rules;
