//! The rules of «Иновации в действие» as pure Rust: no I/O, no proto types. The store runs
//! them under the locks that make them hold for concurrent callers.

pub mod directory;
pub mod error;
pub mod mobility;
pub mod pairing;
pub mod regions;
pub mod year;

pub use error::PartnershipError;
pub use pairing::{ContractKind, SchoolKind};
pub use year::{Caps, Module, ProgrammeYear};
