//! The server kit every process of the suite starts from, so that no service writes its own
//! start-up: typed configuration ([`config`]), logs and traces ([`telemetry`]), metrics
//! ([`metrics`]), token verification ([`auth`]), the per-call pipeline ([`pipeline`]) and the
//! context it gives handlers ([`context`]), errors as gRPC statuses with details ([`error`]),
//! the database ([`db`]), the clock ([`clock`]), idempotent creation ([`idempotency`]), the
//! audit log ([`audit`]), the outbox of change events and its stream ([`outbox`]), resource names ([`resource`]), pagination ([`paging`]), outgoing
//! calls ([`client`]), Russian text for refusals ([`russian`]), and the process runner
//! ([`server`]).

pub mod app;
pub mod audit;
pub mod auth;
pub mod client;
pub mod clock;
pub mod config;
pub mod context;
pub mod db;
pub mod error;
pub mod etag;
pub mod framing;
pub mod idempotency;
pub mod metrics;
pub mod names;
pub mod outbox;
pub mod paging;
pub mod pipeline;
pub mod protection;
pub mod region;
pub mod resource;
pub mod russian;
pub mod server;
pub mod telemetry;
pub mod testing;
pub mod tls;
pub mod wire;

pub use context::CallContext;
pub use error::ApiError;
