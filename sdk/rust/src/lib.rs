//! Rust client of the children's programmes suite.
//!
//! The messages and tonic clients generated from the contracts in `proto/` (one module per
//! package: [`competitions::v1`], [`certificates::v1`], [`partnerships::v1`], [`aid::v1`],
//! [`mentoring::v1`], [`gateway::v1`]), and a small helper around them:
//!
//! - [`Gateway`] connects to the suite's one public address, in plaintext or over TLS, and
//!   hands out a [`GatewayChannel`] that puts the bearer token and, in development, the clock
//!   header `x-edu-clock` on every call;
//! - [`at_instant`] sets the clock header on one request;
//! - [`Refusal`] and [`reason`] read the `google.rpc` details the suite sends with every error:
//!   the stable reason of `ErrorInfo` (domain `edu.suite`), the fields of `BadRequest` and the
//!   Russian `LocalizedMessage`.
//!
//! ```no_run
//! use edu_client::competitions::v1::GetContestRequest;
//! use edu_client::competitions::v1::contest_service_client::ContestServiceClient;
//!
//! # async fn run(token: &str) -> Result<(), Box<dyn std::error::Error>> {
//! let gateway = edu_client::Gateway::connect("127.0.0.1:50051")
//!     .await?
//!     .with_token(token)?;
//! let mut contests = ContestServiceClient::new(gateway.channel());
//! match contests
//!     .get_contest(GetContestRequest {
//!         name: "contests/detstvo-bez-granits-2027".into(),
//!     })
//!     .await
//! {
//!     Ok(contest) => println!("{}", contest.into_inner().title),
//!     Err(status) => println!("refused: {}", edu_client::Refusal::of(&status)),
//! }
//! # Ok(())
//! # }
//! ```

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use tonic::metadata::AsciiMetadataValue;
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};
use tonic::{Code, Request, Status};
use tonic_types::StatusExt;

pub use edu_proto::edu::*;
pub use edu_proto::google;
/// The tonic and tonic-types versions the generated clients are built with.
pub use {tonic, tonic_types};

/// The gateway of a local suite (`cargo suite up`).
pub const LOCAL_GATEWAY: &str = "http://127.0.0.1:50051";

/// The header that asks a development-mode suite to judge a call at another instant
/// (RFC 3339, e.g. `2025-01-31T23:59:00+03:00`); production ignores it.
pub const CLOCK_HEADER: &str = "x-edu-clock";

/// The domain of every `google.rpc.ErrorInfo` the suite sends.
pub const ERROR_DOMAIN: &str = "edu.suite";

const AUTHORIZATION: &str = "authorization";

/// What can go wrong before a call is made.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The gateway's address is not a URI (`host:port`, `http://…` or `https://…`).
    #[error("gateway address {address:?}: {source}")]
    Address {
        /// The address given.
        address: String,
        /// Why it is not one.
        source: tonic::transport::Error,
    },
    /// The connection or its TLS set-up failed.
    #[error("cannot connect to the gateway {address}: {source}")]
    Connect {
        /// The address given.
        address: String,
        /// What the transport said.
        source: tonic::transport::Error,
    },
    /// A header value is not printable ASCII (a token or an instant with spaces or
    /// non-ASCII characters).
    #[error("the {0} is not a valid header value")]
    Header(&'static str),
}

/// The headers a [`Gateway`] puts on every call: the bearer token and the development clock.
/// A header the request sets itself (for example with [`at_instant`]) is left as it is.
#[derive(Clone, Default)]
pub struct CallHeaders {
    authorization: Option<AsciiMetadataValue>,
    clock: Option<AsciiMetadataValue>,
}

impl fmt::Debug for CallHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallHeaders")
            .field("token", &self.authorization.as_ref().map(|_| "…"))
            .field("clock", &self.clock)
            .finish()
    }
}

impl Interceptor for CallHeaders {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        let metadata = request.metadata_mut();
        if let Some(value) = &self.authorization
            && !metadata.contains_key(AUTHORIZATION)
        {
            metadata.insert(AUTHORIZATION, value.clone());
        }
        if let Some(value) = &self.clock
            && !metadata.contains_key(CLOCK_HEADER)
        {
            metadata.insert(CLOCK_HEADER, value.clone());
        }
        Ok(request)
    }
}

/// A channel to the gateway whose calls carry the [`Gateway`]'s headers; every generated
/// client takes it: `ContestServiceClient::new(gateway.channel())`.
pub type GatewayChannel = InterceptedService<Channel, CallHeaders>;

/// A connection to the suite's gateway and the headers its calls carry.
#[derive(Debug, Clone)]
pub struct Gateway {
    channel: Channel,
    headers: CallHeaders,
}

impl Gateway {
    /// Connects in plaintext to `address` (`host:port` or `http://host:port`), as to a local
    /// suite. For TLS use [`Gateway::connect_tls`].
    pub async fn connect(address: impl AsRef<str>) -> Result<Gateway, Error> {
        let uri = uri(address.as_ref(), "http");
        let endpoint = endpoint(&uri)?;
        let channel = endpoint.connect().await.map_err(|source| Error::Connect {
            address: uri.clone(),
            source,
        })?;
        Ok(Gateway::from_channel(channel))
    }

    /// Connects over TLS to `address` (`host:port` or `https://host:port`), trusting the
    /// certificate authority in `ca_pem` (PEM). `domain` overrides the name the server's
    /// certificate must carry (by default the address's host).
    pub async fn connect_tls(
        address: impl AsRef<str>,
        ca_pem: impl AsRef<[u8]>,
        domain: Option<&str>,
    ) -> Result<Gateway, Error> {
        let uri = uri(address.as_ref(), "https");
        let mut tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(ca_pem));
        if let Some(domain) = domain {
            tls = tls.domain_name(domain);
        }
        let endpoint = endpoint(&uri)?
            .tls_config(tls)
            .map_err(|source| Error::Connect {
                address: uri.clone(),
                source,
            })?;
        let channel = endpoint.connect().await.map_err(|source| Error::Connect {
            address: uri.clone(),
            source,
        })?;
        Ok(Gateway::from_channel(channel))
    }

    /// Wraps a channel made elsewhere (with other transport settings, or lazily connected).
    pub fn from_channel(channel: Channel) -> Gateway {
        Gateway {
            channel,
            headers: CallHeaders::default(),
        }
    }

    /// Every call carries `authorization: Bearer <token>`.
    pub fn with_token(mut self, token: &str) -> Result<Gateway, Error> {
        let value = format!("Bearer {}", token.trim());
        self.headers.authorization = Some(value.parse().map_err(|_| Error::Header("token"))?);
        Ok(self)
    }

    /// Every call carries `x-edu-clock: <instant>` (RFC 3339): a development-mode suite
    /// judges it at that instant, which is how deadlines are tried out. Production ignores it.
    pub fn at_instant(mut self, instant: &str) -> Result<Gateway, Error> {
        self.headers.clock = Some(instant.parse().map_err(|_| Error::Header("instant"))?);
        Ok(self)
    }

    /// A channel for the generated clients; cheap to clone, and all share one connection.
    pub fn channel(&self) -> GatewayChannel {
        InterceptedService::new(self.channel.clone(), self.headers.clone())
    }
}

fn uri(address: &str, scheme: &str) -> String {
    if address.contains("://") {
        address.to_string()
    } else {
        format!("{scheme}://{address}")
    }
}

fn endpoint(uri: &str) -> Result<Endpoint, Error> {
    let endpoint = Endpoint::from_shared(uri.to_string()).map_err(|source| Error::Address {
        address: uri.to_string(),
        source,
    })?;
    Ok(endpoint
        .tcp_nodelay(true)
        .connect_timeout(Duration::from_secs(5))
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_timeout(Duration::from_secs(10)))
}

/// Sets the development clock header on one request, over the [`Gateway`]'s own.
pub fn at_instant<T>(mut request: Request<T>, instant: &str) -> Result<Request<T>, Error> {
    let value = instant.parse().map_err(|_| Error::Header("instant"))?;
    request.metadata_mut().insert(CLOCK_HEADER, value);
    Ok(request)
}

/// Why the suite refused a call, read from the `google.rpc` details of its status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The gRPC code.
    pub code: Code,
    /// The status message (English, for logs).
    pub message: String,
    /// `ErrorInfo.reason`: the stable, machine-readable reason (`ALREADY_EXISTS`,
    /// `DEADLINE_PASSED`, `INVALID_FIELDS`, `TOKEN_MISSING`, …); `None` when the status
    /// carries no `ErrorInfo` (a transport failure, or a status from elsewhere).
    pub reason: Option<String>,
    /// `ErrorInfo.domain`: [`ERROR_DOMAIN`] for the suite's own refusals.
    pub domain: Option<String>,
    /// `ErrorInfo.metadata`.
    pub metadata: HashMap<String, String>,
    /// `BadRequest`: each offending field of a malformed request and what is wrong with it.
    pub fields: Vec<(String, String)>,
    /// `LocalizedMessage` (Russian, `ru-RU`): text an operator can be shown as is.
    pub localized: Option<String>,
}

impl Refusal {
    /// Reads the refusal out of a status.
    pub fn of(status: &Status) -> Refusal {
        let details = status.get_error_details();
        let info = details.error_info();
        Refusal {
            code: status.code(),
            message: status.message().to_string(),
            reason: info.map(|i| i.reason.clone()),
            domain: info.map(|i| i.domain.clone()),
            metadata: info.map(|i| i.metadata.clone()).unwrap_or_default(),
            fields: details
                .bad_request()
                .map(|b| {
                    b.field_violations
                        .iter()
                        .map(|v| (v.field.clone(), v.description.clone()))
                        .collect()
                })
                .unwrap_or_default(),
            localized: details.localized_message().map(|m| m.message.clone()),
        }
    }

    /// Whether the suite refused with this reason.
    pub fn is(&self, reason: &str) -> bool {
        self.reason.as_deref() == Some(reason)
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} {}",
            self.code,
            self.reason.as_deref().unwrap_or("(no reason)")
        )?;
        for (field, description) in &self.fields {
            write!(f, " [{field}: {description}]")?;
        }
        match &self.localized {
            Some(text) => write!(f, ": {text}"),
            None => write!(f, ": {}", self.message),
        }
    }
}

/// The stable reason of a refusal (`ErrorInfo.reason`), if the status carries one.
pub fn reason(status: &Status) -> Option<String> {
    status.get_details_error_info().map(|info| info.reason)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic_types::{ErrorDetails, StatusExt};

    #[test]
    fn a_refusal_reads_reason_fields_and_text() {
        let mut details =
            ErrorDetails::with_error_info("INVALID_FIELDS", ERROR_DOMAIN, HashMap::new());
        details.add_bad_request_violation("contest.title", "must not be empty");
        details.set_localized_message("ru-RU", "Запрос заполнен неверно.");
        let status = Status::with_error_details(Code::InvalidArgument, "bad request", details);
        let refusal = Refusal::of(&status);
        assert!(refusal.is("INVALID_FIELDS"));
        assert_eq!(refusal.domain.as_deref(), Some(ERROR_DOMAIN));
        assert_eq!(
            refusal.fields,
            [("contest.title".to_string(), "must not be empty".to_string())]
        );
        assert_eq!(
            refusal.to_string(),
            "InvalidArgument INVALID_FIELDS [contest.title: must not be empty]: Запрос заполнен неверно."
        );
        assert_eq!(reason(&status).as_deref(), Some("INVALID_FIELDS"));
        assert_eq!(reason(&Status::unavailable("down")), None);
    }

    #[test]
    fn headers_go_on_every_call_unless_the_request_sets_its_own() {
        let mut headers = CallHeaders {
            authorization: Some("Bearer t".parse().expect("ascii")),
            clock: Some("2030-01-10T10:00:00+03:00".parse().expect("ascii")),
        };
        let plain = headers.call(Request::new(())).expect("intercepted");
        assert_eq!(
            plain.metadata().get(AUTHORIZATION).expect("token"),
            "Bearer t"
        );
        assert_eq!(
            plain.metadata().get(CLOCK_HEADER).expect("clock"),
            "2030-01-10T10:00:00+03:00"
        );
        let own = at_instant(Request::new(()), "2030-02-05T10:00:00+03:00").expect("instant");
        let own = headers.call(own).expect("intercepted");
        assert_eq!(
            own.metadata().get(CLOCK_HEADER).expect("clock"),
            "2030-02-05T10:00:00+03:00"
        );
        let shown = format!("{headers:?}");
        assert!(shown.contains('…') && !shown.contains("Bearer"), "{shown}");
    }

    #[test]
    fn addresses_without_a_scheme_get_one() {
        assert_eq!(uri("127.0.0.1:50051", "http"), "http://127.0.0.1:50051");
        assert_eq!(
            uri("https://edu.example:443", "http"),
            "https://edu.example:443"
        );
    }
}
