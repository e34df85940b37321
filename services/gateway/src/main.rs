//! The gateway binary. Configuration comes from `EDU_*` variables: the kit's server, TLS and
//! token settings, and the gateway's own (`EDU_GATEWAY_*`, see edu_gateway::config).

use std::process::ExitCode;
use std::sync::Arc;

use edu_gateway::backends::{BackendTls, Backends};
use edu_gateway::config::{self as gateway_config, GatewayConfig};
use edu_gateway::minting::TokenMinter;
use edu_gateway::{SERVICE_NAME, routes};
use edu_kit::auth::TokenVerifier;
use edu_kit::clock::Clock;
use edu_kit::config::{AuthConfig, Env, ServerConfig, TelemetryConfig};
use edu_kit::server::Server;
use edu_proto::edu::gateway::v1::gateway_service_server;

fn main() -> ExitCode {
    let runtime = match edu_kit::app::runtime() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("{SERVICE_NAME}: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "stopped with an error");
            eprintln!("{SERVICE_NAME}: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let env = Env::process();
    let _telemetry = edu_kit::telemetry::init(&TelemetryConfig::from_env(&env, SERVICE_NAME)?)?;
    let config = ServerConfig::from_env(&env, 50051, 9090)?;
    let development = config.environment.is_development();
    // The suite's public entry carries children's data: plaintext only on a developer's
    // machine (the kit's runner refuses it too; this says so before anything starts).
    anyhow::ensure!(
        config.tls.is_some() || development,
        "the gateway serves TLS outside development: set {} and {}",
        edu_kit::config::TLS_CERT_FILE,
        edu_kit::config::TLS_KEY_FILE
    );
    let gateway = GatewayConfig::from_env(&env)?;
    // The services serve TLS only outside development: the gateway must verify them.
    anyhow::ensure!(
        gateway.backend_ca_file.is_some() || development,
        "the gateway calls its backends over TLS outside development: set {}",
        gateway_config::BACKEND_CA_FILE
    );
    let auth = AuthConfig::from_env(&env, config.environment)?;
    // A caller known by its certificate reaches the services with a token the gateway
    // mints; without a key its calls would arrive with no caller at all.
    let maps_certificates = config
        .client_certificates
        .as_ref()
        .is_some_and(|c| c.identities_file.is_some());
    anyhow::ensure!(
        !maps_certificates || gateway.token_signing.is_some(),
        "{} needs {} and {}: the gateway vouches for callers known by their certificate with a token of its own",
        edu_kit::config::TLS_CLIENT_IDENTITIES_FILE,
        gateway_config::TOKEN_KEY_FILE,
        gateway_config::TOKEN_ISSUER
    );
    let minter = match &gateway.token_signing {
        Some(signing) => {
            let minter = TokenMinter::load(signing, &auth.audience)?;
            tracing::info!(issuer = %minter.issuer(), kid = ?minter.public_jwk().common.key_id, "minting tokens for callers known by their client certificate");
            Some(Arc::new(minter))
        }
        None => None,
    };
    let backend_tls = match &gateway.backend_ca_file {
        Some(path) => Some(
            BackendTls::load(path)
                .map_err(|e| anyhow::anyhow!("{}: {e}", gateway_config::BACKEND_CA_FILE))?,
        ),
        None => None,
    };
    let verifier = TokenVerifier::start(&auth, std::time::Duration::from_secs(30)).await?;

    let backends = Arc::new(Backends::with_tls(&gateway, backend_tls));
    let limits = config.limits;
    let mut server = Server::new(SERVICE_NAME, config, verifier, Clock::system())
        .advertise(gateway_service_server::SERVICE_NAME)
        .advertise(edu_kit::audit::service::SERVICE_NAME);
    for method in edu_proto::PUBLIC_METHODS {
        server = server.allow_anonymous(method);
    }
    for service in backends.routed_services() {
        server = server.reflect(&service);
    }
    backends.register_metrics(server.metrics());
    Arc::clone(&backends).spawn_monitor(server.health(), gateway.check_interval);
    server
        .run_until_signalled(routes(backends, &gateway, &limits, minter))
        .await?;
    Ok(())
}
