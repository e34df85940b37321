//! One small HTTPS client for one job: GET a JSON document from the identity provider
//! (its OpenID Connect discovery document and its JWKS). HTTP/1.1 over tokio-rustls with
//! hyper's connection-level client, so the suite carries no second HTTP stack: no redirects,
//! no proxies, no cookies, a deadline on the whole exchange and a ceiling on the body.
//! Plain `http://` is refused unless the caller allows it (development mode only, for a
//! local stub).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};

/// The largest document accepted; a JWKS is a few kilobytes.
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Why a document could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The URL is not `https://host[:port]/path` (or `http://` where allowed).
    #[error("{url}: {problem}")]
    Url {
        /// The URL.
        url: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The CA file could not be used.
    #[error("{path}: {problem}")]
    Ca {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// Connecting, the TLS handshake, or the exchange failed or took too long.
    #[error("{url}: {problem}")]
    Transport {
        /// The URL.
        url: String,
        /// What went wrong.
        problem: String,
    },
    /// The provider answered, but not 200 with a body under the ceiling.
    #[error("{url}: {problem}")]
    Answer {
        /// The URL.
        url: String,
        /// What the answer was.
        problem: String,
    },
}

/// Fetches documents; cheap to clone.
#[derive(Clone)]
pub struct Fetcher {
    tls: Arc<ClientConfig>,
    allow_http: bool,
    timeout: Duration,
}

impl std::fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetcher")
            .field("allow_http", &self.allow_http)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Fetcher {
    /// A client trusting the certificates of `ca_file` (PEM) when given, else the Mozilla
    /// roots; `allow_http` lets it speak plain HTTP too.
    pub fn new(
        ca_file: Option<&Path>,
        allow_http: bool,
        timeout: Duration,
    ) -> Result<Self, FetchError> {
        let mut roots = rustls::RootCertStore::empty();
        match ca_file {
            Some(path) => {
                let problem = |problem: String| FetchError::Ca {
                    path: path.to_path_buf(),
                    problem,
                };
                let certificates = CertificateDer::pem_file_iter(path)
                    .map_err(|e| problem(e.to_string()))?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| problem(e.to_string()))?;
                if certificates.is_empty() {
                    return Err(problem("no certificate in the file".into()));
                }
                for certificate in certificates {
                    roots.add(certificate).map_err(|e| problem(e.to_string()))?;
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut tls = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| FetchError::Ca {
                path: ca_file.map(Path::to_path_buf).unwrap_or_default(),
                problem: e.to_string(),
            })?
            .with_root_certificates(roots)
            .with_no_client_auth();
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Fetcher {
            tls: Arc::new(tls),
            allow_http,
            timeout,
        })
    }

    /// Whether `url` is one this client would fetch.
    pub fn check_url(&self, url: &str) -> Result<(), FetchError> {
        Target::parse(url, self.allow_http).map(|_| ())
    }

    /// GETs `url` and returns its body: 200 only, at most 1 MiB, within the timeout.
    pub async fn get(&self, url: &str) -> Result<bytes::Bytes, FetchError> {
        let target = Target::parse(url, self.allow_http)?;
        match tokio::time::timeout(self.timeout, self.exchange(url, &target)).await {
            Ok(result) => result,
            Err(_) => Err(FetchError::Transport {
                url: url.to_string(),
                problem: format!("no answer within {:?}", self.timeout),
            }),
        }
    }

    async fn exchange(&self, url: &str, target: &Target) -> Result<bytes::Bytes, FetchError> {
        let transport = |problem: String| FetchError::Transport {
            url: url.to_string(),
            problem,
        };
        let tcp = tokio::net::TcpStream::connect((target.host.as_str(), target.port))
            .await
            .map_err(|e| transport(format!("cannot connect: {e}")))?;
        let _ = tcp.set_nodelay(true);
        let request = http::Request::get(target.path.as_str())
            .header(http::header::HOST, target.authority.as_str())
            .header(http::header::ACCEPT, "application/json")
            .header(http::header::USER_AGENT, "edu-suite")
            .body(Empty::<bytes::Bytes>::new())
            .map_err(|e| transport(e.to_string()))?;
        let response = if target.https {
            let name = ServerName::try_from(target.host.clone())
                .map_err(|e| transport(format!("not a server name: {e}")))?;
            let tls = tokio_rustls::TlsConnector::from(Arc::clone(&self.tls))
                .connect(name, tcp)
                .await
                .map_err(|e| transport(format!("TLS handshake: {e}")))?;
            send(TokioIo::new(tls), request).await.map_err(transport)?
        } else {
            send(TokioIo::new(tcp), request).await.map_err(transport)?
        };
        let answer = |problem: String| FetchError::Answer {
            url: url.to_string(),
            problem,
        };
        if response.status() != http::StatusCode::OK {
            return Err(answer(format!("answered {}", response.status())));
        }
        let body = Limited::new(response.into_body(), MAX_BODY_BYTES)
            .collect()
            .await
            .map_err(|e| answer(format!("reading the body: {e}")))?;
        Ok(body.to_bytes())
    }
}

/// One request on a fresh HTTP/1.1 connection, closed when the answer has been read.
async fn send<I>(
    io: I,
    request: http::Request<Empty<bytes::Bytes>>,
) -> Result<http::Response<hyper::body::Incoming>, String>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| format!("HTTP handshake: {e}"))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "identity provider connection ended");
        }
    });
    sender
        .send_request(request)
        .await
        .map_err(|e| format!("request: {e}"))
}

/// Where a URL points.
#[derive(Debug)]
struct Target {
    https: bool,
    host: String,
    port: u16,
    authority: String,
    path: String,
}

impl Target {
    fn parse(url: &str, allow_http: bool) -> Result<Self, FetchError> {
        let problem = |problem: &str| FetchError::Url {
            url: url.to_string(),
            problem: problem.to_string(),
        };
        let uri: http::Uri = url.parse().map_err(|_| problem("not a URL"))?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") if allow_http => false,
            Some("http") => {
                return Err(problem(
                    "plain http is allowed in development mode only; use https",
                ));
            }
            _ => return Err(problem("not an https URL")),
        };
        let authority = uri.authority().ok_or_else(|| problem("no host"))?;
        if authority.as_str().contains('@') {
            return Err(problem("credentials in the URL are not supported"));
        }
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        if host.is_empty() {
            return Err(problem("no host"));
        }
        Ok(Target {
            https,
            host: host.to_string(),
            port: authority.port_u16().unwrap_or(if https { 443 } else { 80 }),
            authority: authority.as_str().to_string(),
            path: uri
                .path_and_query()
                .map_or_else(|| "/".to_string(), |p| p.as_str().to_string()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_urls_unless_development_allows_http() {
        let https =
            Target::parse("https://id.example.gov/realms/edu/jwks?x=1", false).expect("https");
        assert!(https.https);
        assert_eq!(https.port, 443);
        assert_eq!(https.path, "/realms/edu/jwks?x=1");
        assert!(Target::parse("http://127.0.0.1:8080/jwks", false).is_err());
        let local = Target::parse("http://127.0.0.1:8080/jwks", true).expect("allowed");
        assert_eq!((local.https, local.port), (false, 8080));
        for bad in [
            "ftp://x/y",
            "id.example.gov/jwks",
            "https://user:pw@x/y",
            "",
        ] {
            assert!(Target::parse(bad, true).is_err(), "{bad:?} accepted");
        }
    }
}
