//! The rules of «Дорога в школу» as pure Rust: no I/O, no proto types. The store runs them
//! under the locks that make them hold for concurrent callers.

pub mod appeal;
pub mod campaign;
pub mod error;
pub mod iin;
/// Names as the data bank compares them (rule 2), the suite's rule, kept in the kit.
pub use edu_kit::names;
pub mod regions;

pub use error::AidError;
