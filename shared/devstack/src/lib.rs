//! Runs the whole suite on one machine, for a newcomer (`cargo suite up`) and for the
//! end-to-end tests: finds or starts Postgres ([`postgres`]), provisions and starts the real
//! binaries ([`suite`], [`process`]), and mints development tokens ([`edu_kit::auth::dev`]).

pub mod bench;
pub mod postgres;
pub mod process;
pub mod suite;

use std::path::PathBuf;

/// Why the local suite could not run.
#[derive(Debug, thiserror::Error)]
pub enum DevError {
    /// Postgres could not be found, started or used.
    #[error("{0}")]
    Postgres(String),
    /// A file or program could not be used.
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
    /// A service binary is missing.
    #[error("{} is missing: build the binaries first (`cargo build --workspace --bins`; the README's commands do it)", .0.display())]
    MissingBinary(PathBuf),
    /// A process did not become ready in time.
    #[error("{0} is not ready: {1}")]
    NotReady(String, String),
    /// A process exited.
    #[error("{0} exited ({1}){2}")]
    Exited(String, String, String),
}

/// Where the service binaries of this build are: beside the running executable (a binary
/// in `target/<profile>/`, or a test in `target/<profile>/deps/`).
pub fn binaries_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    let dir = exe.parent().map(PathBuf::from).unwrap_or_default();
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir.parent().map(PathBuf::from).unwrap_or(dir)
    } else {
        dir
    }
}
