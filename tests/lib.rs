//! End-to-end tests of the suite live in `suite/`: each starts the real binaries on a fresh
//! database (with `edu-devstack`, as the local run command does) and calls them through the
//! gateway over gRPC. The binaries must be built first; `cargo test --workspace` builds them
//! because the service crates have integration tests of their own.
