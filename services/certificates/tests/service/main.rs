//! The certificates service against a real Postgres: each test gets a fresh database,
//! provisioned and migrated as in production. `concurrency` and `rules` run the store's use
//! cases one transaction each, as the API does, with the races the concurrency design is
//! there for run by many simultaneous callers, without sleeps; `api` calls the gRPC handlers
//! in-process with a call context like the pipeline builds, for authorisation, tenant
//! isolation and idempotency; `calendar` proves the fixes of issue 11 (back-dated starts,
//! overlapping periods, reports that grow, the fair waiting list); `child_records` is the
//! certificates part of a child's cross-programme view (issue 17).

mod api;
mod audit;
mod calendar;
mod child_records;
mod common;
mod concurrency;
mod invariants;
mod rules;
