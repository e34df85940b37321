//! The gateway binary. Configuration comes from `EDU_*` variables: the kit's server and
//! token settings, and `EDU_GATEWAY_BACKENDS` (see edu_gateway::config).

use std::process::ExitCode;
use std::sync::Arc;

use edu_gateway::backends::Backends;
use edu_gateway::config::GatewayConfig;
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
    // The suite's public entry carries children's data: plaintext only on a developer's
    // machine.
    anyhow::ensure!(
        config.tls.is_some() || config.environment.is_development(),
        "the gateway serves TLS outside development: set {} and {}",
        edu_kit::config::TLS_CERT_FILE,
        edu_kit::config::TLS_KEY_FILE
    );
    let gateway = GatewayConfig::from_env(&env)?;
    let verifier = TokenVerifier::from_config(&AuthConfig::from_env(&env, config.environment)?)?;
    verifier.spawn_reload(std::time::Duration::from_secs(30));

    let backends = Arc::new(Backends::new(&gateway));
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
        .run_until_signalled(routes(backends, &gateway, &limits))
        .await?;
    Ok(())
}
