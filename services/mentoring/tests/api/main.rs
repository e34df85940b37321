//! The mentoring API against a real Postgres: each test gets a fresh database with the
//! «Мечта» centre, sets the scene through the store (the fixtures of the store tests), and
//! calls the gRPC handlers in-process with a call context like the pipeline builds, as each
//! kind of caller. Every RPC's rules, refusals with their reasons, tenancy, redaction.

mod audit;
mod callers;
mod child_records;
#[path = "../store/common.rs"]
mod common;
mod monitoring;
mod pairs;
mod participants;
mod reports;

mod agreements;
mod institutions;
mod plans;
mod publications;
mod redaction;
