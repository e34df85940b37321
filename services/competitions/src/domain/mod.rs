//! The rules of best-practice contests (shared/domain/competitions.md), as pure Rust: no
//! I/O, no proto types. Each rule lives in one function named after it, and its tests name
//! it too.

pub mod application;
pub mod assignment;
pub mod contest;
pub mod deadline;
pub mod error;
pub mod expert;
pub mod follow_up;
pub mod replication;
pub mod results;
pub mod review;
pub mod scoring;
pub mod team;

pub use application::{Application, ApplicationContent, ApplicationState};
pub use contest::{Contest, ContestSpec, ContestState, Criterion, Nomination};
pub use deadline::Deadline;
pub use error::{CompetitionError, FieldError};
pub use review::{Review, ReviewState};
pub use team::{MemberSpec, Municipality, Team, TeamLevel, TeamMember, TeamMemberRole, TeamSpec};

/// Whether a state transition changed anything: repeating a transition that already
/// happened is a no-op, so that retried calls are safe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// The state changed; record it.
    Changed,
    /// Already in the target state; nothing to record.
    Unchanged,
}
