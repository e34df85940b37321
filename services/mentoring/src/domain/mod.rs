//! The rules of the «Мечта» regulation on mentoring (shared/domain/mentoring.md, rules 1–12)
//! as pure Rust: no I/O, no proto types, no store. Each function takes what the store found
//! and answers with the first refusal the contract (`proto/edu/mentoring/v1`) orders, so the
//! store only has to run it under the locks that make it hold for concurrent callers.
//!
//! Rooms, one concern each:
//! - [`roles`]: the eight roles of rule 1, staff, the curator's appointment;
//! - [`consent`]: consent first, minors and guardians, revocation (rule 1);
//! - [`receipt`]: the receipt a person keeps for a consent or its revocation;
//! - [`redaction`]: what a person whose consent is revoked shows;
//! - [`banks`]: the banks of mentors and mentees and the mentors' training (rule 2);
//! - [`pairs`]: forms, pair types and their fit, kinds, states, forming, activation,
//!   meetings (rules 3–5);
//! - [`agreement`]: duration, extension, termination after systematic violations (rule 6);
//! - [`plan`]: the individual plan's activities (rule 7);
//! - [`completion`]: completion reasons and initiators (rule 8);
//! - [`monitoring`]: the half-yearly rounds (rule 10);
//! - [`road_map`]: the road map's seven stages (rule 11);
//! - [`publication`]: information support and its windows (rule 12);
//! - [`deadlines`]: "due by day D" in the institution's zone, for rounds, the yearly
//!   report and publications (rules 10, 12);
//! - [`error`]: the closed set of refusals with their stable reason codes.

pub mod agreement;
pub mod banks;
pub mod completion;
pub mod consent;
pub mod deadlines;
pub mod error;
pub mod monitoring;
pub mod pairs;
pub mod plan;
pub mod publication;
pub mod receipt;
pub mod redaction;
pub mod road_map;
pub mod roles;

pub use error::{FieldError, MentoringError};
pub use pairs::{MentoringForm, PairKind, PairSide, PairState, PairType};
pub use roles::ParticipantRole;

/// Whether a step changed anything: repeating a step that already happened (cancelling a
/// CANCELLED pair, revoking a REVOKED consent) answers with the resource unchanged, so that
/// retried calls are safe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// The state changed; record it.
    Changed,
    /// Already in the target state; nothing to record.
    Unchanged,
}
