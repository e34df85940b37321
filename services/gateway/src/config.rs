//! The gateway's own settings, beside the kit's server settings. A new service behind the
//! gateway is one more entry in [`BACKENDS`], not code.

use std::path::PathBuf;
use std::time::Duration;

use edu_kit::config::{ConfigError, Env};

/// The backends, `name=host:port` separated by commas, for example
/// `competitions=competitions:50051,certificates=certificates:50051`. Calls to the
/// protobuf packages `edu.<name>.*` go to backend `<name>`. A host that resolves to several
/// addresses (a headless Kubernetes Service) gives one endpoint per address; several targets
/// joined by `+` (`certificates=10.0.0.7:50051+10.0.0.8:50051`) give one endpoint each, for
/// places without such a name.
pub const BACKENDS: &str = "EDU_GATEWAY_BACKENDS";
/// HTTP/2 connections the gateway keeps to each backend endpoint (one connection carries
/// every call on one stream set; several spread the load on a busy gateway).
pub const CONNECTIONS_PER_ENDPOINT: &str = "EDU_GATEWAY_CONNECTIONS_PER_ENDPOINT";
/// How often backends are re-resolved and health-checked, in milliseconds; keep it under
/// half the services' `EDU_SHUTDOWN_DELAY_MS`, so that a stopping replica leaves rotation
/// before it stops accepting calls.
pub const CHECK_INTERVAL_MS: &str = "EDU_GATEWAY_CHECK_INTERVAL_MS";
/// How long a cross-service view (the region summary, a child's view) waits for each
/// service's part, in milliseconds (2000 by default); never longer than the caller's own
/// deadline allows. A part not answered by then
/// is reported missing, so one slow service cannot hold up the others' parts.
pub const SUMMARY_PART_TIMEOUT_MS: &str = "EDU_GATEWAY_SUMMARY_PART_TIMEOUT_MS";
/// A PEM bundle of the CA(s) that sign the services' certificates: with it the gateway
/// calls its backends over TLS, verifying each against the host name of its target in
/// [`BACKENDS`] (`mentoring-headless` for `mentoring=mentoring-headless:50051`, though it
/// connects to the pod addresses that name resolves to), so the services' certificates carry
/// their headless Service names. Required outside development, where the services serve
/// TLS only. Read at start.
pub const BACKEND_CA_FILE: &str = "EDU_GATEWAY_BACKEND_CA_FILE";
/// The gateway's own signing key (PKCS#8 PEM, Ed25519 or ECDSA P-256), for the short-lived
/// tokens it mints for callers known by their client certificate (`EDU_TLS_CLIENT_*`): a
/// forwarded call of such a caller carries this token instead of none, so the services,
/// which verify every caller's token themselves, know the caller. The services trust it
/// through `EDU_AUTH_TRUSTED_ISSUERS` (`<issuer>=<the public key file>`). Required with
/// `EDU_TLS_CLIENT_IDENTITIES_FILE`. Read at start.
pub const TOKEN_KEY_FILE: &str = "EDU_GATEWAY_TOKEN_KEY_FILE";
/// The issuer (`iss`) of the tokens the gateway mints, for example
/// `https://gateway.edu-suite.internal`; required with [`TOKEN_KEY_FILE`]. The audience is the
/// suite's (`EDU_AUTH_AUDIENCE`).
pub const TOKEN_ISSUER: &str = "EDU_GATEWAY_TOKEN_ISSUER";
/// The lifetime of a minted token, in seconds (60, at least 10). A token is reused for the
/// same caller until a quarter of its lifetime remains.
pub const TOKEN_LIFETIME_SECS: &str = "EDU_GATEWAY_TOKEN_LIFETIME_SECS";

/// One backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendConfig {
    /// The backend's name, also the second part of its packages (`edu.<name>.v1`).
    pub name: String,
    /// `host:port`, or several joined by `+`.
    pub target: String,
}

impl BackendConfig {
    /// Each `host:port` of the target.
    pub fn targets(&self) -> impl Iterator<Item = &str> {
        self.target.split('+').map(str::trim)
    }
}

/// The gateway's settings.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// The backends, by name.
    pub backends: Vec<BackendConfig>,
    /// Connections per endpoint.
    pub connections_per_endpoint: usize,
    /// Resolution and health-check interval.
    pub check_interval: Duration,
    /// A cross-service view's deadline for each service's part.
    pub summary_part_timeout: Duration,
    /// The CA of the backends' certificates: TLS to the backends when set.
    pub backend_ca_file: Option<PathBuf>,
    /// How the gateway signs tokens for callers known by their certificate, when it does.
    pub token_signing: Option<TokenSigning>,
}

/// The gateway's own tokens, for callers known by their client certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSigning {
    /// The PKCS#8 PEM private key.
    pub key_file: PathBuf,
    /// The `iss` of the tokens.
    pub issuer: String,
    /// How long each token is valid.
    pub lifetime: Duration,
}

impl GatewayConfig {
    /// Reads the gateway's settings.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let raw = env.required(BACKENDS)?;
        let backends = parse_backends(&raw).map_err(|problem| ConfigError {
            variable: BACKENDS,
            problem,
        })?;
        let connections_per_endpoint: usize = env.parse_or(CONNECTIONS_PER_ENDPOINT, 4)?;
        if connections_per_endpoint == 0 {
            return Err(ConfigError {
                variable: CONNECTIONS_PER_ENDPOINT,
                problem: "must be at least 1".into(),
            });
        }
        let summary_part_timeout =
            Duration::from_millis(env.parse_or(SUMMARY_PART_TIMEOUT_MS, 2_000)?);
        if summary_part_timeout.is_zero() {
            return Err(ConfigError {
                variable: SUMMARY_PART_TIMEOUT_MS,
                problem: "must be at least 1".into(),
            });
        }
        Ok(GatewayConfig {
            backends,
            connections_per_endpoint,
            check_interval: Duration::from_millis(env.parse_or(CHECK_INTERVAL_MS, 1_000)?),
            summary_part_timeout,
            backend_ca_file: env.get(BACKEND_CA_FILE).map(PathBuf::from),
            token_signing: token_signing(env)?,
        })
    }
}

fn token_signing(env: &Env) -> Result<Option<TokenSigning>, ConfigError> {
    let lifetime = Duration::from_secs(env.parse_or(TOKEN_LIFETIME_SECS, 60)?);
    match (env.get(TOKEN_KEY_FILE), env.get(TOKEN_ISSUER)) {
        (None, None) => Ok(None),
        (Some(_), None) => Err(ConfigError {
            variable: TOKEN_ISSUER,
            problem: format!("is required with {TOKEN_KEY_FILE}"),
        }),
        (None, Some(_)) => Err(ConfigError {
            variable: TOKEN_KEY_FILE,
            problem: format!("is required with {TOKEN_ISSUER}"),
        }),
        (Some(_), Some(_)) if lifetime < Duration::from_secs(10) => Err(ConfigError {
            variable: TOKEN_LIFETIME_SECS,
            problem: "must be at least 10".into(),
        }),
        (Some(key_file), Some(issuer)) => Ok(Some(TokenSigning {
            key_file: key_file.into(),
            issuer: issuer.trim().to_string(),
            lifetime,
        })),
    }
}

fn parse_backends(raw: &str) -> Result<Vec<BackendConfig>, String> {
    let mut backends: Vec<BackendConfig> = Vec::new();
    for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (name, target) = entry
            .split_once('=')
            .ok_or_else(|| format!("{entry:?} is not name=host:port"))?;
        let (name, target) = (name.trim(), target.trim());
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(format!(
                "{name:?} is not a service name (lower-case letters, digits, underscores)"
            ));
        }
        for one in target.split('+').map(str::trim) {
            match one.rsplit_once(':') {
                Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {}
                _ => return Err(format!("{one:?} is not host:port")),
            }
        }
        if backends.iter().any(|b| b.name == name) {
            return Err(format!("backend {name:?} is listed twice"));
        }
        backends.push(BackendConfig {
            name: name.to_string(),
            target: target.to_string(),
        });
    }
    if backends.is_empty() {
        return Err("no backends: list at least one name=host:port".into());
    }
    Ok(backends)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backends_parse_from_one_variable() {
        let parsed = parse_backends("competitions=competitions:50051, certificates=10.0.0.7:50051")
            .expect("valid");
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[1].target, "10.0.0.7:50051");
        let replicas = parse_backends("certificates=10.0.0.7:50051+10.0.0.8:50051").expect("valid");
        assert_eq!(
            replicas[0].targets().collect::<Vec<_>>(),
            ["10.0.0.7:50051", "10.0.0.8:50051"]
        );
    }

    #[test]
    fn the_summary_part_timeout_defaults_to_two_seconds_and_must_be_positive() {
        let backends = (BACKENDS, "competitions=competitions:50051");
        let config = GatewayConfig::from_env(&Env::from_map([backends])).expect("valid");
        assert_eq!(config.summary_part_timeout, Duration::from_secs(2));
        let set = Env::from_map([backends, (SUMMARY_PART_TIMEOUT_MS, "300")]);
        assert_eq!(
            GatewayConfig::from_env(&set)
                .expect("valid")
                .summary_part_timeout,
            Duration::from_millis(300)
        );
        for bad in ["0", "-1", "soon"] {
            let env = Env::from_map([backends, (SUMMARY_PART_TIMEOUT_MS, bad)]);
            let error = GatewayConfig::from_env(&env).expect_err(bad);
            assert_eq!(error.variable, SUMMARY_PART_TIMEOUT_MS);
        }
    }

    #[test]
    fn token_signing_needs_its_key_and_issuer_together() {
        let backends = (BACKENDS, "competitions=competitions:50051");
        let none = GatewayConfig::from_env(&Env::from_map([backends])).expect("valid");
        assert_eq!(none.token_signing, None);
        assert_eq!(none.backend_ca_file, None);
        let both = Env::from_map([
            backends,
            (TOKEN_KEY_FILE, "/etc/edu/gateway-token/key.pem"),
            (TOKEN_ISSUER, "https://gateway.edu-suite.internal"),
        ]);
        let signing = GatewayConfig::from_env(&both)
            .expect("valid")
            .token_signing
            .expect("signing");
        assert_eq!(signing.lifetime, Duration::from_secs(60));
        let alone = Env::from_map([backends, (TOKEN_KEY_FILE, "/k.pem")]);
        assert_eq!(
            GatewayConfig::from_env(&alone)
                .expect_err("no issuer")
                .variable,
            TOKEN_ISSUER
        );
        let short = Env::from_map([
            backends,
            (TOKEN_KEY_FILE, "/k.pem"),
            (TOKEN_ISSUER, "https://gw"),
            (TOKEN_LIFETIME_SECS, "5"),
        ]);
        assert_eq!(
            GatewayConfig::from_env(&short)
                .expect_err("too short")
                .variable,
            TOKEN_LIFETIME_SECS
        );
    }

    #[test]
    fn malformed_backends_are_refused() {
        for bad in [
            "",
            "competitions",
            "Comp=x:1",
            "c=host",
            "c=host:port",
            "c=a:1,c=b:2",
            "c=a:1+b",
        ] {
            assert!(parse_backends(bad).is_err(), "{bad:?} accepted");
        }
    }
}
