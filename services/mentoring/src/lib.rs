//! The mentoring service: the regulation on mentoring of the children's centre «Мечта»
//! (shared/domain/mentoring.md), Russia's target model of mentoring. Pairs and groups of
//! mentors and mentees, run by a curator, fixed by the director's order, monitored twice a
//! year and reported yearly; nothing about a person is kept before their consent.
//!
//! Rooms: the [`domain`] (the rules as pure Rust); the store and the API follow the shape of
//! the other services as they are built (the contract is in `contract-pending/`).

pub mod domain;
