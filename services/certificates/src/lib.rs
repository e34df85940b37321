//! The certificates service: personified financing of children's additional education
//! (shared/domain/certificates.md), as in the Mikhailovsky district of Altai Krai under the
//! federal project «Успех каждого ребёнка». Money follows the child.
//!
//! Built in steps (issue 5). This first step is the [`domain`]: the money rules as pure Rust,
//! proven by unit and property tests. The store, the gRPC API and the binary follow.

pub mod domain;
