//! Runs the whole suite on one machine, for a newcomer (`cargo suite up`) and for the
//! end-to-end tests: finds or starts Postgres ([`postgres`]), provisions and starts the real
//! binaries ([`suite`], [`process`]), and mints development tokens ([`edu_kit::auth::dev`]).

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

/// Builds the service binaries with the cargo that runs us, in our own profile, so that
/// nothing starts stale ones (`cargo suite up`, the benchmarks).
#[allow(clippy::print_stdout)]
pub fn build_binaries() -> anyhow::Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = std::process::Command::new(cargo);
    command.args(["build", "--bins"]);
    // `cargo run` hands us the variables it sets for the binary it runs; passed on, they
    // change what some build scripts see, and the dependencies would be rebuilt on every run
    // (and again by the next `cargo run`).
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy().to_string();
        if name.starts_with("CARGO_PKG_")
            || matches!(
                name.as_str(),
                "CARGO_MANIFEST_DIR"
                    | "CARGO_MANIFEST_PATH"
                    | "CARGO_CRATE_NAME"
                    | "CARGO_BIN_NAME"
                    | "CARGO_PRIMARY_PACKAGE"
                    | "LD_LIBRARY_PATH"
            )
        {
            command.env_remove(&name);
        }
    }
    // The binaries beside us are the ones started: build them in our own profile.
    if !cfg!(debug_assertions) {
        command.arg("--release");
    }
    for service in suite::SERVICES {
        command.args(["-p", &format!("edu-{}", service.name)]);
    }
    command.args(["-p", "edu-gateway"]);
    println!("building the service binaries…");
    let status = command.status()?;
    anyhow::ensure!(status.success(), "building the service binaries failed");
    Ok(())
}
