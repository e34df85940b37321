//! Typed configuration from the environment. Every variable the suite reads is a named
//! constant here and is parsed here, once, at start-up; nothing else reads the environment.
//! Secrets are wrapped in [`Secret`] so that printing a configuration never shows them.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// `development` or `production` (the default). Development mode accepts the suite's
/// published development signing key and the per-request clock override; production
/// refuses both.
pub const ENVIRONMENT: &str = "EDU_ENVIRONMENT";
/// Address of the gRPC listener, `ip:port`.
pub const GRPC_ADDR: &str = "EDU_GRPC_ADDR";
/// Address of the Prometheus metrics listener, `ip:port`.
pub const METRICS_ADDR: &str = "EDU_METRICS_ADDR";
/// Postgres URL of the service's own login role, for example
/// `postgres://competitions@db:5432/edu`. Without a user the role is the service's name, so
/// that every service can share one URL.
pub const DATABASE_URL: &str = "EDU_DATABASE_URL";
/// The role's password, when it is not in the URL.
pub const DATABASE_PASSWORD: &str = "EDU_DATABASE_PASSWORD";
/// A file holding the role's password (a mounted Kubernetes Secret), instead of
/// [`DATABASE_PASSWORD`]; read once at start-up, a trailing line break ignored.
pub const DATABASE_PASSWORD_FILE: &str = "EDU_DATABASE_PASSWORD_FILE";
/// Largest number of pooled connections of this process.
pub const DATABASE_MAX_CONNECTIONS: &str = "EDU_DATABASE_MAX_CONNECTIONS";
/// How long a call waits for a pooled connection, in milliseconds; keep it below the
/// default deadline.
pub const DATABASE_ACQUIRE_TIMEOUT_MS: &str = "EDU_DATABASE_ACQUIRE_TIMEOUT_MS";
/// `true` (the default) to apply pending migrations at start-up; `false` when a migration
/// job runs the binary's `migrate` command instead.
pub const DATABASE_MIGRATE_ON_START: &str = "EDU_DATABASE_MIGRATE_ON_START";
/// Issuer (`iss`) that tokens must carry.
pub const AUTH_ISSUER: &str = "EDU_AUTH_ISSUER";
/// Audience (`aud`) that tokens must carry.
pub const AUTH_AUDIENCE: &str = "EDU_AUTH_AUDIENCE";
/// Path of a JWKS file (the identity provider's public keys; PEM public keys are accepted
/// too); re-read when it changes, so keys rotate without a restart. The source for
/// air-gapped installations; see [`AUTH_DISCOVERY`] for fetching them from the provider.
pub const AUTH_JWKS_FILE: &str = "EDU_AUTH_JWKS_FILE";
/// A JWKS document given inline, instead of or in addition to the file.
pub const AUTH_JWKS: &str = "EDU_AUTH_JWKS";
/// Tolerated clock skew when checking `exp` and `nbf`, in seconds.
pub const AUTH_LEEWAY_SECS: &str = "EDU_AUTH_LEEWAY_SECS";
/// `true` to fetch the identity provider's keys by OpenID Connect discovery:
/// `<EDU_AUTH_ISSUER>/.well-known/openid-configuration` names the JWKS (`jwks_uri`), which is
/// fetched at start (the process waits up to 60 s for the provider, then stops with the URL
/// and the reason), refreshed every [`AUTH_JWKS_REFRESH_SECS`], and fetched again when a
/// token names an unknown key. The provider must be `https://` outside development. May be
/// combined with [`AUTH_JWKS_FILE`] (the keys of both are trusted).
pub const AUTH_DISCOVERY: &str = "EDU_AUTH_DISCOVERY";
/// The identity provider's JWKS URL, fetched and refreshed like the one discovery finds,
/// for a provider without a discovery document; instead of [`AUTH_DISCOVERY`].
pub const AUTH_JWKS_URI: &str = "EDU_AUTH_JWKS_URI";
/// How often the identity provider's JWKS is fetched again, in seconds (300). A failed
/// fetch keeps the last good keys.
pub const AUTH_JWKS_REFRESH_SECS: &str = "EDU_AUTH_JWKS_REFRESH_SECS";
/// The shortest time between two JWKS fetches, in seconds (30): a token naming an unknown
/// `kid` is refused and asks for a fetch, which happens at most this often however many
/// such tokens arrive, so forged `kid`s cannot make the process hammer the provider.
pub const AUTH_JWKS_MIN_REFETCH_SECS: &str = "EDU_AUTH_JWKS_MIN_REFETCH_SECS";
/// A PEM bundle of the CAs the identity provider's HTTPS certificate is verified against,
/// for a provider under a national or internal CA; the Mozilla roots when unset.
pub const AUTH_PROVIDER_CA_FILE: &str = "EDU_AUTH_PROVIDER_CA_FILE";
/// Further issuers whose tokens are accepted, each with its public key file (a JWKS or PEM
/// public keys, re-read when it changes): `issuer=path`, separated by commas. The services
/// list the gateway's issuer here, so that the tokens it mints for callers it knows by
/// their client certificate are accepted (`EDU_GATEWAY_TOKEN_ISSUER`). Tokens of every
/// issuer must carry [`AUTH_AUDIENCE`].
pub const AUTH_TRUSTED_ISSUERS: &str = "EDU_AUTH_TRUSTED_ISSUERS";
/// OTLP/gRPC endpoint for traces, for example `http://otel-collector:4317`. No export when
/// unset. The standard `OTEL_EXPORTER_OTLP_ENDPOINT` is read when this is unset.
pub const OTLP_ENDPOINT: &str = "EDU_OTLP_ENDPOINT";
/// The standard OpenTelemetry variable, honoured as a fallback for [`OTLP_ENDPOINT`].
pub const OTEL_EXPORTER_OTLP_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
/// Log filter in `tracing` syntax, for example `info,edu_kit=debug`.
pub const LOG: &str = "EDU_LOG";
/// `json` (the default) or `text`.
pub const LOG_FORMAT: &str = "EDU_LOG_FORMAT";
/// A plaintext listener serving only `grpc.health.v1` (the whole process and `liveness`),
/// for the kubelet's gRPC probes, which cannot speak TLS. Unset: probes use the gRPC port.
pub const PROBE_ADDR: &str = "EDU_PROBE_ADDR";
/// The PEM certificate chain (leaf first) of the gRPC listener; with [`TLS_KEY_FILE`] it
/// turns TLS on. Re-read when it changes. Every process requires it outside development
/// (it refuses to serve gRPC in plaintext there).
pub const TLS_CERT_FILE: &str = "EDU_TLS_CERT_FILE";
/// The PEM private key of [`TLS_CERT_FILE`].
pub const TLS_KEY_FILE: &str = "EDU_TLS_KEY_FILE";
/// How often the certificate's files are checked for a rotation, in milliseconds (10 s).
/// The client CA and identities files are checked as often.
pub const TLS_CHECK_INTERVAL_MS: &str = "EDU_TLS_CHECK_INTERVAL_MS";
/// A PEM bundle of the CAs whose client certificates the gRPC listener accepts (mutual
/// TLS, for system callers); needs [`TLS_CERT_FILE`]. A certificate from another CA, or an
/// expired one, fails the handshake before any handler runs. Re-read when it changes.
pub const TLS_CLIENT_CA_FILE: &str = "EDU_TLS_CLIENT_CA_FILE";
/// `optional` (the default with [`TLS_CLIENT_CA_FILE`]: a caller may present a certificate
/// or a bearer token) or `required` (a handshake without a client certificate fails).
pub const TLS_CLIENT_AUTH: &str = "EDU_TLS_CLIENT_AUTH";
/// A YAML (or JSON) list mapping client certificates to callers, by a subject alternative
/// name the certificate carries (a DNS name, or a URI such as `spiffe://…`):
/// `- {san: registry.example.gov, subject: system:registry, roles: [...], scopes: [...]}`.
/// A call with a verified certificate and no token is that caller; a certificate no entry
/// names is refused with PERMISSION_DENIED `CERTIFICATE_NOT_MAPPED`. A call with a token is
/// the token's caller. Re-read when it changes. Needs [`TLS_CLIENT_CA_FILE`].
pub const TLS_CLIENT_IDENTITIES_FILE: &str = "EDU_TLS_CLIENT_IDENTITIES_FILE";
/// Largest accepted or sent gRPC message, in bytes.
pub const MAX_MESSAGE_BYTES: &str = "EDU_MAX_MESSAGE_BYTES";
/// Largest number of calls the process handles at once; calls beyond it are shed with
/// `RESOURCE_EXHAUSTED` (reason `OVERLOADED`) and counted in the per-RPC metrics. 0 for no
/// ceiling.
pub const MAX_CALLS_IN_FLIGHT: &str = "EDU_MAX_CALLS_IN_FLIGHT";
/// Calls a second allowed to one caller (the token's subject, else the peer's address);
/// beyond it, `RESOURCE_EXHAUSTED` (reason `RATE_LIMITED`) with `google.rpc.RetryInfo`.
/// 0 (the default) for no rate limit; the gateway's deployment sets one.
pub const RATE_LIMIT_PER_SECOND: &str = "EDU_RATE_LIMIT_PER_SECOND";
/// Calls one caller may make at once before its rate applies; twice the rate by default.
pub const RATE_LIMIT_BURST: &str = "EDU_RATE_LIMIT_BURST";
/// Largest number of concurrent HTTP/2 streams a client may open on one connection.
pub const MAX_CONCURRENT_STREAMS: &str = "EDU_MAX_CONCURRENT_STREAMS";
/// Worker threads of the process's async runtime; one per core when unset. A process that
/// shares its cores with the database may do better with fewer.
pub const WORKER_THREADS: &str = "EDU_WORKER_THREADS";
/// Deadline of unary calls that set none, and the longest a unary call may set, in
/// milliseconds.
pub const DEFAULT_DEADLINE_MS: &str = "EDU_DEFAULT_DEADLINE_MS";
/// Deadline of streaming calls (event watches, exports) that set none, and the longest one
/// may set, in milliseconds; a consumer resumes from its cursor after it.
pub const MAX_STREAM_MS: &str = "EDU_MAX_STREAM_MS";
/// How long shutdown waits for calls in flight before it stops anyway, in seconds.
pub const SHUTDOWN_TIMEOUT_SECS: &str = "EDU_SHUTDOWN_TIMEOUT_SECS";
/// How long, after SIGTERM, the process keeps serving while reporting NOT_SERVING, so that
/// the gateway's health checks and Kubernetes move traffic elsewhere before it stops
/// accepting calls; in milliseconds.
pub const SHUTDOWN_DELAY_MS: &str = "EDU_SHUTDOWN_DELAY_MS";
/// How often readiness is re-checked (the database, or the gateway's backends), in
/// milliseconds.
pub const HEALTH_CHECK_INTERVAL_MS: &str = "EDU_HEALTH_CHECK_INTERVAL_MS";
/// How often a service seals its new audit records into the hash chain, in milliseconds
/// (1000 by default): the longest a committed record stays alterable without trace.
pub const AUDIT_SEAL_INTERVAL_MS: &str = "EDU_AUDIT_SEAL_INTERVAL_MS";

/// Where the process runs; decides whether development conveniences are allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    /// A developer's machine or a test: the development key and clock override work.
    Development,
    /// Anywhere else. The default, so that forgetting the variable is safe.
    Production,
}

impl Environment {
    /// Whether development conveniences are allowed.
    pub fn is_development(self) -> bool {
        self == Environment::Development
    }
}

/// A value that must never be printed: its `Debug` and `Display` show a placeholder.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret value, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// A configuration value that could not be used; names the variable and says what is wrong.
#[derive(Debug, thiserror::Error)]
#[error("configuration {variable}: {problem}")]
pub struct ConfigError {
    /// The environment variable.
    pub variable: &'static str,
    /// What is wrong with it, in words an operator can act on.
    pub problem: String,
}

/// Reads variables from the process environment or, in tests, from a map.
#[derive(Debug, Clone, Default)]
pub struct Env {
    overrides: Option<HashMap<String, String>>,
}

impl Env {
    /// The process environment.
    pub fn process() -> Self {
        Env { overrides: None }
    }

    /// A fixed set of variables, for tests: the process environment is not consulted.
    pub fn from_map<K: Into<String>, V: Into<String>>(
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Env {
            overrides: Some(
                vars.into_iter()
                    .map(|(k, v)| (k.into(), v.into()))
                    .collect(),
            ),
        }
    }

    /// The variable's value, when set and not empty.
    pub fn get(&self, name: &str) -> Option<String> {
        let value = match &self.overrides {
            Some(map) => map.get(name).cloned(),
            None => std::env::var(name).ok(),
        };
        value.filter(|v| !v.trim().is_empty())
    }

    /// The variable's value, or a [`ConfigError`] saying that it is required.
    pub fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        self.get(name).ok_or_else(|| ConfigError {
            variable: name,
            problem: "is required but not set".into(),
        })
    }

    /// Parses the variable with `FromStr`, or returns `default` when unset.
    pub fn parse_or<T>(&self, name: &'static str, default: T) -> Result<T, ConfigError>
    where
        T: std::str::FromStr,
        T::Err: fmt::Display,
    {
        match self.get(name) {
            None => Ok(default),
            Some(raw) => raw.trim().parse().map_err(|e: T::Err| ConfigError {
                variable: name,
                problem: format!("cannot parse {raw:?}: {e}"),
            }),
        }
    }

    fn millis_or(&self, name: &'static str, default: u64) -> Result<Duration, ConfigError> {
        self.parse_or(name, default).map(Duration::from_millis)
    }

    fn bool_or(&self, name: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self.get(name).map(|v| v.trim().to_ascii_lowercase()) {
            None => Ok(default),
            Some(v) if matches!(v.as_str(), "true" | "1" | "yes") => Ok(true),
            Some(v) if matches!(v.as_str(), "false" | "0" | "no") => Ok(false),
            Some(v) => Err(ConfigError {
                variable: name,
                problem: format!("expected true or false, got {v:?}"),
            }),
        }
    }
}

/// How the process listens and protects itself.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Development or production.
    pub environment: Environment,
    /// The gRPC listener.
    pub grpc_addr: SocketAddr,
    /// The metrics listener.
    pub metrics_addr: SocketAddr,
    /// Message size, concurrency and deadline limits.
    pub limits: Limits,
    /// How long shutdown waits for calls in flight.
    pub shutdown_timeout: Duration,
    /// How long shutdown keeps serving while reporting NOT_SERVING.
    pub shutdown_delay: Duration,
    /// How often readiness is re-checked.
    pub health_check_interval: Duration,
    /// The certificate and key of the gRPC listener; plaintext without them.
    pub tls: Option<crate::tls::TlsFiles>,
    /// The plaintext health-only listener for probes, when set.
    pub probe_addr: Option<SocketAddr>,
    /// Client certificates (mutual TLS), when the listener asks for them.
    pub client_certificates: Option<crate::tls::ClientCertificates>,
}

/// Limits that protect a process from its callers.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest gRPC message accepted or sent.
    pub max_message_bytes: usize,
    /// The ceiling of calls handled at once and the rate limit per caller.
    pub protection: crate::protection::ProtectionLimits,
    /// HTTP/2 streams per connection.
    pub max_concurrent_streams: u32,
    /// Deadline of unary calls that set none.
    pub default_deadline: Duration,
    /// Deadline of streaming calls that set none.
    pub max_stream: Duration,
}

impl ServerConfig {
    /// Reads the server settings; `default_grpc_port` and `default_metrics_port` apply when
    /// the addresses are unset.
    pub fn from_env(
        env: &Env,
        default_grpc_port: u16,
        default_metrics_port: u16,
    ) -> Result<Self, ConfigError> {
        let environment = match env.get(ENVIRONMENT).map(|v| v.to_ascii_lowercase()) {
            None => Environment::Production,
            Some(v) if v == "production" => Environment::Production,
            Some(v) if v == "development" => Environment::Development,
            Some(v) => {
                return Err(ConfigError {
                    variable: ENVIRONMENT,
                    problem: format!("expected development or production, got {v:?}"),
                });
            }
        };
        Ok(ServerConfig {
            environment,
            grpc_addr: env.parse_or(
                GRPC_ADDR,
                SocketAddr::from(([0, 0, 0, 0], default_grpc_port)),
            )?,
            metrics_addr: env.parse_or(
                METRICS_ADDR,
                SocketAddr::from(([0, 0, 0, 0], default_metrics_port)),
            )?,
            limits: Limits {
                max_message_bytes: env.parse_or(MAX_MESSAGE_BYTES, 4 * 1024 * 1024)?,
                protection: {
                    let rate_per_second = env.parse_or(RATE_LIMIT_PER_SECOND, 0)?;
                    crate::protection::ProtectionLimits {
                        max_calls_in_flight: env.parse_or(MAX_CALLS_IN_FLIGHT, 1024)?,
                        rate_per_second,
                        rate_burst: env
                            .parse_or(RATE_LIMIT_BURST, rate_per_second.saturating_mul(2))?,
                    }
                },
                max_concurrent_streams: env.parse_or(MAX_CONCURRENT_STREAMS, 512)?,
                default_deadline: env.millis_or(DEFAULT_DEADLINE_MS, 10_000)?,
                max_stream: env.millis_or(MAX_STREAM_MS, 3_600_000)?,
            },
            shutdown_timeout: Duration::from_secs(env.parse_or(SHUTDOWN_TIMEOUT_SECS, 20)?),
            shutdown_delay: env.millis_or(SHUTDOWN_DELAY_MS, 2_000)?,
            health_check_interval: env.millis_or(HEALTH_CHECK_INTERVAL_MS, 5_000)?,
            probe_addr: match env.get(PROBE_ADDR) {
                None => None,
                Some(_) => Some(env.parse_or(PROBE_ADDR, SocketAddr::from(([0, 0, 0, 0], 0)))?),
            },
            client_certificates: client_certificates(env)?,
            tls: match (env.get(TLS_CERT_FILE), env.get(TLS_KEY_FILE)) {
                (None, None) => None,
                (Some(cert), Some(key)) => Some(crate::tls::TlsFiles {
                    cert: cert.into(),
                    key: key.into(),
                    check_every: env.millis_or(TLS_CHECK_INTERVAL_MS, 10_000)?,
                }),
                (Some(_), None) => {
                    return Err(ConfigError {
                        variable: TLS_KEY_FILE,
                        problem: format!("is required with {TLS_CERT_FILE}"),
                    });
                }
                (None, Some(_)) => {
                    return Err(ConfigError {
                        variable: TLS_CERT_FILE,
                        problem: format!("is required with {TLS_KEY_FILE}"),
                    });
                }
            },
        })
        .and_then(|config| match (&config.client_certificates, &config.tls) {
            (Some(_), None) => Err(ConfigError {
                variable: TLS_CLIENT_CA_FILE,
                problem: format!(
                    "client certificates need TLS: set {TLS_CERT_FILE} and {TLS_KEY_FILE}"
                ),
            }),
            _ => Ok(config),
        })
    }
}

/// The client certificate settings: none without a CA file.
fn client_certificates(env: &Env) -> Result<Option<crate::tls::ClientCertificates>, ConfigError> {
    let identities = env.get(TLS_CLIENT_IDENTITIES_FILE).map(PathBuf::from);
    let mode = env.get(TLS_CLIENT_AUTH);
    let Some(ca_file) = env.get(TLS_CLIENT_CA_FILE) else {
        for (variable, set) in [
            (TLS_CLIENT_AUTH, mode.is_some()),
            (TLS_CLIENT_IDENTITIES_FILE, identities.is_some()),
        ] {
            if set {
                return Err(ConfigError {
                    variable,
                    problem: format!("needs {TLS_CLIENT_CA_FILE}"),
                });
            }
        }
        return Ok(None);
    };
    let required = match mode.map(|m| m.trim().to_ascii_lowercase()).as_deref() {
        None | Some("optional") => false,
        Some("required") => true,
        Some(other) => {
            return Err(ConfigError {
                variable: TLS_CLIENT_AUTH,
                problem: format!("expected optional or required, got {other:?}"),
            });
        }
    };
    Ok(Some(crate::tls::ClientCertificates {
        ca_file: ca_file.into(),
        required,
        identities_file: identities,
    }))
}

/// How a service reaches its own schema.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    /// The connection URL; it may hold the password, so it is kept secret.
    pub url: Secret,
    /// The role's password when given separately.
    pub password: Option<Secret>,
    /// Pool size of this process.
    pub max_connections: u32,
    /// How long a call waits for a connection.
    pub acquire_timeout: Duration,
    /// Whether start-up applies pending migrations.
    pub migrate_on_start: bool,
}

impl DatabaseConfig {
    /// Reads the database settings; the URL is required.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let password = match (env.get(DATABASE_PASSWORD), env.get(DATABASE_PASSWORD_FILE)) {
            (Some(_), Some(_)) => {
                return Err(ConfigError {
                    variable: DATABASE_PASSWORD_FILE,
                    problem: format!(
                        "set either {DATABASE_PASSWORD} or {DATABASE_PASSWORD_FILE}, not both"
                    ),
                });
            }
            (Some(password), None) => Some(Secret::new(password)),
            (None, Some(path)) => Some(Secret::new(read_secret_file(
                DATABASE_PASSWORD_FILE,
                &path,
            )?)),
            (None, None) => None,
        };
        Ok(DatabaseConfig {
            url: Secret::new(env.required(DATABASE_URL)?),
            password,
            max_connections: env.parse_or(DATABASE_MAX_CONNECTIONS, 10)?,
            acquire_timeout: env.millis_or(DATABASE_ACQUIRE_TIMEOUT_MS, 3_000)?,
            migrate_on_start: env.bool_or(DATABASE_MIGRATE_ON_START, true)?,
        })
    }
}

/// The audit trail's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditConfig {
    /// How often new records are sealed into the chain.
    pub seal_interval: Duration,
}

impl AuditConfig {
    /// Reads [`AUDIT_SEAL_INTERVAL_MS`]; it must be between 10 ms and an hour.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let seal_interval = env.millis_or(AUDIT_SEAL_INTERVAL_MS, 1_000)?;
        if seal_interval < Duration::from_millis(10) || seal_interval > Duration::from_secs(3600) {
            return Err(ConfigError {
                variable: AUDIT_SEAL_INTERVAL_MS,
                problem: "must be between 10 and 3600000 milliseconds".into(),
            });
        }
        Ok(AuditConfig { seal_interval })
    }
}

/// Reads a secret from a mounted file; the trailing line break that editors and `echo` add
/// is not part of it.
fn read_secret_file(variable: &'static str, path: &str) -> Result<String, ConfigError> {
    let content = std::fs::read_to_string(path).map_err(|e| ConfigError {
        variable,
        problem: format!("cannot read {path}: {e}"),
    })?;
    let secret = content.trim_end_matches(['\n', '\r']);
    if secret.is_empty() {
        return Err(ConfigError {
            variable,
            problem: format!("{path} is empty"),
        });
    }
    Ok(secret.to_string())
}

/// How callers' tokens are verified.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// Required `iss`.
    pub issuer: String,
    /// Required `aud`.
    pub audience: String,
    /// The JWKS file, re-read when it changes.
    pub jwks_file: Option<PathBuf>,
    /// An inline JWKS document.
    pub jwks_inline: Option<String>,
    /// Clock skew tolerance.
    pub leeway: Duration,
    /// Whether the development key is trusted (development mode only).
    pub trust_development_key: bool,
    /// The identity provider's keys fetched from it (discovery or a JWKS URL), when set.
    pub provider: Option<ProviderConfig>,
    /// Further issuers whose tokens are accepted, with their key files.
    pub trusted_issuers: Vec<TrustedIssuer>,
}

/// Where and how often the identity provider's keys are fetched.
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    /// Discovery from the issuer, or a JWKS URL.
    pub location: ProviderLocation,
    /// How often the JWKS is fetched again.
    pub refresh: Duration,
    /// The shortest time between two fetches, whatever asks for them.
    pub min_refetch: Duration,
    /// The CAs the provider's certificate is verified against; the Mozilla roots if unset.
    pub ca_file: Option<PathBuf>,
    /// Whether plain `http://` is allowed (development mode only, for a local stub).
    pub allow_http: bool,
    /// How long start-up waits for the first key set before it stops.
    pub start_patience: Duration,
    /// The deadline of one request to the provider.
    pub timeout: Duration,
}

impl ProviderConfig {
    /// Discovery (or `jwks_uri`) with the default intervals: refresh every 5 minutes, at
    /// most one fetch per 30 s, 60 s of patience at start, 10 s per request.
    pub fn new(location: ProviderLocation, allow_http: bool) -> Self {
        ProviderConfig {
            location,
            refresh: Duration::from_secs(300),
            min_refetch: Duration::from_secs(30),
            ca_file: None,
            allow_http,
            start_patience: Duration::from_secs(60),
            timeout: Duration::from_secs(10),
        }
    }
}

/// Where the identity provider's JWKS is found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderLocation {
    /// By OpenID Connect discovery under the issuer.
    Discovery,
    /// At this URL.
    JwksUri(String),
}

/// A further issuer whose tokens are accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedIssuer {
    /// Its `iss`.
    pub issuer: String,
    /// Its public keys: a JWKS or PEM public keys, re-read when the file changes.
    pub key_file: PathBuf,
}

impl AuthConfig {
    /// The settings of development mode: the development identity provider's issuer,
    /// audience and key, no other keys.
    pub fn development() -> Self {
        AuthConfig {
            issuer: crate::auth::dev::ISSUER.to_string(),
            audience: crate::auth::dev::AUDIENCE.to_string(),
            jwks_file: None,
            jwks_inline: None,
            leeway: Duration::from_secs(0),
            trust_development_key: true,
            provider: None,
            trusted_issuers: Vec::new(),
        }
    }

    /// Reads the token settings. In production a key source, the issuer and the audience are
    /// required; in development they default to the development identity provider.
    pub fn from_env(env: &Env, environment: Environment) -> Result<Self, ConfigError> {
        let dev = environment.is_development();
        let issuer = match env.get(AUTH_ISSUER) {
            Some(v) => v,
            None if dev => crate::auth::dev::ISSUER.to_string(),
            None => env.required(AUTH_ISSUER)?,
        };
        let audience = match env.get(AUTH_AUDIENCE) {
            Some(v) => v,
            None if dev => crate::auth::dev::AUDIENCE.to_string(),
            None => env.required(AUTH_AUDIENCE)?,
        };
        let jwks_file = env.get(AUTH_JWKS_FILE).map(PathBuf::from);
        let jwks_inline = env.get(AUTH_JWKS);
        let provider = provider_config(env, dev)?;
        if !dev && jwks_file.is_none() && jwks_inline.is_none() && provider.is_none() {
            return Err(ConfigError {
                variable: AUTH_JWKS_FILE,
                problem: format!(
                    "production needs the identity provider's keys: set {AUTH_DISCOVERY}=true, {AUTH_JWKS_URI}, {AUTH_JWKS_FILE} or {AUTH_JWKS}"
                ),
            });
        }
        let trusted_issuers = match env.get(AUTH_TRUSTED_ISSUERS) {
            None => Vec::new(),
            Some(raw) => parse_trusted_issuers(&raw, &issuer).map_err(|problem| ConfigError {
                variable: AUTH_TRUSTED_ISSUERS,
                problem,
            })?,
        };
        Ok(AuthConfig {
            issuer,
            audience,
            jwks_file,
            jwks_inline,
            leeway: Duration::from_secs(env.parse_or(AUTH_LEEWAY_SECS, 30)?),
            trust_development_key: dev,
            provider,
            trusted_issuers,
        })
    }
}

/// The provider settings: none unless discovery is on or a JWKS URL is set.
fn provider_config(env: &Env, dev: bool) -> Result<Option<ProviderConfig>, ConfigError> {
    let discovery = env.bool_or(AUTH_DISCOVERY, false)?;
    let location = match (discovery, env.get(AUTH_JWKS_URI)) {
        (true, Some(_)) => {
            return Err(ConfigError {
                variable: AUTH_JWKS_URI,
                problem: format!("set either {AUTH_DISCOVERY}=true or {AUTH_JWKS_URI}, not both"),
            });
        }
        (true, None) => ProviderLocation::Discovery,
        (false, Some(uri)) => ProviderLocation::JwksUri(uri.trim().to_string()),
        (false, None) => {
            for variable in [
                AUTH_JWKS_REFRESH_SECS,
                AUTH_JWKS_MIN_REFETCH_SECS,
                AUTH_PROVIDER_CA_FILE,
            ] {
                if env.get(variable).is_some() {
                    return Err(ConfigError {
                        variable,
                        problem: format!("needs {AUTH_DISCOVERY}=true or {AUTH_JWKS_URI}"),
                    });
                }
            }
            return Ok(None);
        }
    };
    if !dev {
        let (variable, url) = match &location {
            ProviderLocation::Discovery => (AUTH_ISSUER, env.get(AUTH_ISSUER).unwrap_or_default()),
            ProviderLocation::JwksUri(uri) => (AUTH_JWKS_URI, uri.clone()),
        };
        if !url.starts_with("https://") {
            return Err(ConfigError {
                variable,
                problem: format!(
                    "the identity provider is reached over https outside development, got {url:?}"
                ),
            });
        }
    }
    let mut config = ProviderConfig::new(location, dev);
    config.refresh = Duration::from_secs(env.parse_or(AUTH_JWKS_REFRESH_SECS, 300)?);
    config.min_refetch = Duration::from_secs(env.parse_or(AUTH_JWKS_MIN_REFETCH_SECS, 30)?);
    for (variable, value) in [
        (AUTH_JWKS_REFRESH_SECS, config.refresh),
        (AUTH_JWKS_MIN_REFETCH_SECS, config.min_refetch),
    ] {
        if value.is_zero() {
            return Err(ConfigError {
                variable,
                problem: "must be at least 1".into(),
            });
        }
    }
    config.ca_file = env.get(AUTH_PROVIDER_CA_FILE).map(PathBuf::from);
    Ok(Some(config))
}

/// `issuer=path,issuer=path`: each issuer once, none of them the identity provider's.
fn parse_trusted_issuers(raw: &str, primary: &str) -> Result<Vec<TrustedIssuer>, String> {
    let mut issuers: Vec<TrustedIssuer> = Vec::new();
    for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (issuer, path) = entry
            .split_once('=')
            .map(|(i, p)| (i.trim(), p.trim()))
            .filter(|(i, p)| !i.is_empty() && !p.is_empty())
            .ok_or_else(|| format!("{entry:?} is not issuer=path"))?;
        if issuer == primary {
            return Err(format!(
                "{issuer:?} is the identity provider's issuer ({AUTH_ISSUER}); list only further issuers"
            ));
        }
        if issuers.iter().any(|i| i.issuer == issuer) {
            return Err(format!("{issuer:?} is listed twice"));
        }
        issuers.push(TrustedIssuer {
            issuer: issuer.to_string(),
            key_file: path.into(),
        });
    }
    Ok(issuers)
}

/// Logs and traces.
#[derive(Debug, Clone)]
pub struct TelemetryConfig {
    /// The `service.name` of logs, traces and metrics.
    pub service_name: &'static str,
    /// OTLP/gRPC endpoint; no export when unset.
    pub otlp_endpoint: Option<String>,
    /// Log filter.
    pub log_filter: String,
    /// JSON lines (true) or human-readable text.
    pub json_logs: bool,
}

impl TelemetryConfig {
    /// Reads the telemetry settings.
    pub fn from_env(env: &Env, service_name: &'static str) -> Result<Self, ConfigError> {
        let json_logs = match env.get(LOG_FORMAT).map(|v| v.to_ascii_lowercase()) {
            None => true,
            Some(v) if v == "json" => true,
            Some(v) if v == "text" => false,
            Some(v) => {
                return Err(ConfigError {
                    variable: LOG_FORMAT,
                    problem: format!("expected json or text, got {v:?}"),
                });
            }
        };
        Ok(TelemetryConfig {
            service_name,
            otlp_endpoint: env
                .get(OTLP_ENDPOINT)
                .or_else(|| env.get(OTEL_EXPORTER_OTLP_ENDPOINT)),
            log_filter: env.get(LOG).unwrap_or_else(|| "info".into()),
            json_logs,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret:?} {secret}"), "Secret(***) ***");
    }

    #[test]
    fn production_is_the_default_and_needs_keys() {
        let env = Env::from_map([(GRPC_ADDR, "127.0.0.1:1")]);
        let server = ServerConfig::from_env(&env, 50051, 9090).expect("server config");
        assert_eq!(server.environment, Environment::Production);
        let err = AuthConfig::from_env(&env, server.environment).expect_err("keys are required");
        assert_eq!(err.variable, AUTH_ISSUER);
    }

    #[test]
    fn development_defaults_to_the_development_identity_provider() {
        let env = Env::from_map([(ENVIRONMENT, "development")]);
        let auth = AuthConfig::from_env(&env, Environment::Development).expect("auth config");
        assert!(auth.trust_development_key);
        assert_eq!(auth.issuer, crate::auth::dev::ISSUER);
    }

    #[test]
    fn a_bad_value_names_its_variable() {
        let env = Env::from_map([(DEFAULT_DEADLINE_MS, "soon")]);
        let err = ServerConfig::from_env(&env, 1, 2).expect_err("not a number");
        assert_eq!(err.variable, DEFAULT_DEADLINE_MS);
        assert!(err.to_string().contains("soon"));
    }

    #[test]
    fn client_certificates_need_a_ca_and_tls() {
        let tls = [
            (TLS_CERT_FILE, "/tls/tls.crt"),
            (TLS_KEY_FILE, "/tls/tls.key"),
        ];
        let none = ServerConfig::from_env(&Env::from_map(tls), 1, 2).expect("valid");
        assert_eq!(none.client_certificates, None);

        let optional = Env::from_map([
            tls[0],
            tls[1],
            (TLS_CLIENT_CA_FILE, "/ca/ca.crt"),
            (TLS_CLIENT_IDENTITIES_FILE, "/ids/identities.yaml"),
        ]);
        let clients = ServerConfig::from_env(&optional, 1, 2)
            .expect("valid")
            .client_certificates
            .expect("clients");
        assert!(!clients.required, "optional by default");
        assert!(clients.identities_file.is_some());

        let required = Env::from_map([
            tls[0],
            tls[1],
            (TLS_CLIENT_CA_FILE, "/ca/ca.crt"),
            (TLS_CLIENT_AUTH, "Required"),
        ]);
        assert!(
            ServerConfig::from_env(&required, 1, 2)
                .expect("valid")
                .client_certificates
                .expect("clients")
                .required
        );
        for (env, variable) in [
            (
                Env::from_map([tls[0], tls[1], (TLS_CLIENT_AUTH, "required")]),
                TLS_CLIENT_AUTH,
            ),
            (
                Env::from_map([(TLS_CLIENT_CA_FILE, "/ca/ca.crt")]),
                TLS_CLIENT_CA_FILE,
            ),
            (
                Env::from_map([
                    tls[0],
                    tls[1],
                    (TLS_CLIENT_CA_FILE, "/ca/ca.crt"),
                    (TLS_CLIENT_AUTH, "sometimes"),
                ]),
                TLS_CLIENT_AUTH,
            ),
            (
                Env::from_map([tls[0], tls[1], (TLS_CLIENT_IDENTITIES_FILE, "/i.yaml")]),
                TLS_CLIENT_IDENTITIES_FILE,
            ),
        ] {
            let error = ServerConfig::from_env(&env, 1, 2).expect_err("refused");
            assert_eq!(error.variable, variable, "{error}");
        }
    }

    #[test]
    fn the_identity_provider_is_found_by_discovery_over_https() {
        let env = Env::from_map([
            (AUTH_ISSUER, "https://id.example.gov/realms/edu"),
            (AUTH_AUDIENCE, "edu-suite"),
            (AUTH_DISCOVERY, "true"),
            (AUTH_JWKS_MIN_REFETCH_SECS, "5"),
        ]);
        let auth = AuthConfig::from_env(&env, Environment::Production).expect("valid");
        let provider = auth.provider.expect("provider");
        assert_eq!(provider.location, ProviderLocation::Discovery);
        assert_eq!(provider.refresh, Duration::from_secs(300));
        assert_eq!(provider.min_refetch, Duration::from_secs(5));
        assert!(!provider.allow_http);

        let plain = Env::from_map([
            (AUTH_ISSUER, "http://id.example.gov"),
            (AUTH_AUDIENCE, "edu-suite"),
            (AUTH_DISCOVERY, "true"),
        ]);
        let error = AuthConfig::from_env(&plain, Environment::Production).expect_err("http");
        assert_eq!(error.variable, AUTH_ISSUER);
        assert!(
            AuthConfig::from_env(&plain, Environment::Development)
                .expect("a local stub in development")
                .provider
                .expect("provider")
                .allow_http
        );

        let uri = Env::from_map([
            (AUTH_ISSUER, "https://id.example.gov"),
            (AUTH_AUDIENCE, "edu-suite"),
            (AUTH_JWKS_URI, "http://id.example.gov/jwks"),
        ]);
        let error = AuthConfig::from_env(&uri, Environment::Production).expect_err("http");
        assert_eq!(error.variable, AUTH_JWKS_URI);
        let both = Env::from_map([
            (AUTH_ISSUER, "https://id.example.gov"),
            (AUTH_AUDIENCE, "edu-suite"),
            (AUTH_DISCOVERY, "true"),
            (AUTH_JWKS_URI, "https://id.example.gov/jwks"),
        ]);
        assert!(AuthConfig::from_env(&both, Environment::Production).is_err());
        let stray = Env::from_map([
            (AUTH_ISSUER, "https://id.example.gov"),
            (AUTH_AUDIENCE, "edu-suite"),
            (AUTH_JWKS_FILE, "/keys/jwks.json"),
            (AUTH_JWKS_REFRESH_SECS, "60"),
        ]);
        let error = AuthConfig::from_env(&stray, Environment::Production).expect_err("stray");
        assert_eq!(error.variable, AUTH_JWKS_REFRESH_SECS);
    }

    #[test]
    fn further_issuers_are_listed_with_their_key_files() {
        let env = Env::from_map([(
            AUTH_TRUSTED_ISSUERS,
            "https://gateway.edu-suite.internal=/etc/edu/gateway-token/public.pem, https://b=/b.json",
        )]);
        let auth = AuthConfig::from_env(&env, Environment::Development).expect("valid");
        assert_eq!(auth.trusted_issuers.len(), 2);
        assert_eq!(
            auth.trusted_issuers[0].key_file,
            PathBuf::from("/etc/edu/gateway-token/public.pem")
        );
        for bad in [
            "https://gateway",
            "=/x.pem",
            "https://a=/a.pem,https://a=/b.pem",
            "https://id.dev.edu-suite.local=/x.pem",
        ] {
            let env = Env::from_map([(AUTH_TRUSTED_ISSUERS, bad)]);
            let error = AuthConfig::from_env(&env, Environment::Development).expect_err(bad);
            assert_eq!(error.variable, AUTH_TRUSTED_ISSUERS);
        }
    }

    #[test]
    fn the_database_password_can_come_from_a_mounted_file() {
        let dir = std::env::temp_dir().join(format!("edu-kit-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let file = dir.join("password");
        std::fs::write(&file, "s3cret\n").expect("write");
        let path = file.to_string_lossy().to_string();

        let env = Env::from_map([
            (DATABASE_URL, "postgres://db/edu"),
            (DATABASE_PASSWORD_FILE, &path),
        ]);
        let config = DatabaseConfig::from_env(&env).expect("config");
        assert_eq!(config.password.expect("password").expose(), "s3cret");

        let both = Env::from_map([
            (DATABASE_URL, "postgres://db/edu"),
            (DATABASE_PASSWORD, "other"),
            (DATABASE_PASSWORD_FILE, &path),
        ]);
        let err = DatabaseConfig::from_env(&both).expect_err("ambiguous");
        assert_eq!(err.variable, DATABASE_PASSWORD_FILE);

        let missing = Env::from_map([
            (DATABASE_URL, "postgres://db/edu"),
            (DATABASE_PASSWORD_FILE, "/nonexistent/edu-password"),
        ]);
        let err = DatabaseConfig::from_env(&missing).expect_err("no file");
        assert!(err.to_string().contains("/nonexistent/edu-password"));
        std::fs::remove_dir_all(&dir).expect("clean up");
    }
}
