//! The mentoring store against a real Postgres: each test gets a fresh database, migrated
//! as in production, and runs the store's use cases one transaction each, as the API will.
//! `rules` proves each rule's refusal with its reason code; `concurrency` the races the
//! store's lock order is there for, many rounds each, without sleeps.

mod common;
mod concurrency;
mod lists;
mod pages;
mod rules;
mod work;
