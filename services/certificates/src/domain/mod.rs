//! The rules of certificates, as pure Rust: no I/O, no proto types. Money is whole kopecks
//! ([`money::Money`]), never floating point.

pub mod enrolment;
pub mod error;
pub mod ledger;
pub mod money;
pub mod period;

pub use error::CertificateError;
pub use ledger::{Balance, Ledger};
pub use money::Money;

/// Whether a step changed anything: repeating a step that already happened is a no-op, so
/// that retried calls are safe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// Something changed; record it.
    Changed,
    /// Already done; nothing to record.
    Unchanged,
}
