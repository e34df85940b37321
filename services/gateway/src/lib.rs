//! The gateway: the suite's one public address. It serves every service's API unchanged by
//! routing on the gRPC path ([`proxy`], over its own connections, [`upstream`]) to the
//! backends of its configuration ([`config`], [`backends`]), verifies tokens at the edge
//! with the kit's call pipeline, and serves its own API ([`api`], with the region summary
//! of [`summary`] and the child's view of [`child_view`], both built on [`fanout`]), the
//! audit trails of every service for inspectors ([`audit`]), and the health of its
//! backends.

pub mod api;
pub mod audit;
pub mod backends;
pub mod child_view;
pub mod config;
pub mod fanout;
pub mod minting;
pub mod proxy;
pub mod summary;
pub mod upstream;

use std::sync::Arc;

use edu_kit::config::Limits;
use edu_proto::edu::gateway::v1::gateway_service_server::GatewayServiceServer;
use tonic::service::Routes;

use crate::backends::Backends;
use crate::config::GatewayConfig;

/// The gateway's name in telemetry.
pub const SERVICE_NAME: &str = "gateway";

/// The gateway's routes: its own API, the audit API, and the proxy for every other path. Calls of callers
/// known by their client certificate carry a token `minter` mints for them (see
/// [`minting`]).
pub fn routes(
    backends: Arc<Backends>,
    config: &GatewayConfig,
    limits: &Limits,
    minter: Option<Arc<minting::TokenMinter>>,
) -> Routes {
    let own = GatewayServiceServer::new(api::GatewayApi::new(
        Arc::clone(&backends),
        config.summary_part_timeout,
    ))
    .max_decoding_message_size(limits.max_message_bytes)
    .max_encoding_message_size(limits.max_message_bytes);
    let audit = audit::AuditGateway::new(Arc::clone(&backends), limits).server();
    let router = Routes::new(own)
        .add_service(audit)
        .into_axum_router()
        .fallback_service(proxy::Proxy::new(backends))
        .layer(axum::middleware::from_fn_with_state(minter, minting::vouch));
    Routes::from(router)
}
