//! TLS for a process's gRPC listener (issue 18): the certificate chain and key come from PEM
//! files and are read again when the files change, because Kubernetes (and cert-manager)
//! rotate a mounted Secret in place. A rotation needs no restart and drops no connection:
//! a connection keeps the session it made, and each new handshake gets the certificate
//! current at that moment. rustls speaks TLS 1.2 and 1.3 only; ALPN offers `h2` only, as
//! gRPC needs.
//!
//! [`listen`] turns a TCP listener into a stream of finished TLS connections for tonic: every
//! handshake runs in a task of its own under a deadline, so a slow or hostile client delays
//! nobody else, and a failed handshake is logged and dropped, never ending the listener.
//!
//! **Client certificates** (mutual TLS, issue 18 item 2): with [`ClientCertificates`] the
//! listener asks for a certificate from the CAs of a PEM bundle (rustls's
//! `WebPkiClientVerifier`: the chain, the validity period, the client-auth key usage).
//! `optional` lets a client without one through (it then needs a token); `required` fails
//! the handshake without one. A certificate from another CA or an expired one always fails
//! the handshake, before any handler runs. The verified chain reaches every request of the
//! connection (tonic's `TlsConnectInfo`, `Request::peer_certs`), where the call pipeline
//! maps it to a caller ([`crate::auth::certificate`]). The CA bundle and the identities file
//! are re-read when they change, as the certificate is.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{ServerConfig, version};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_stream::wrappers::ReceiverStream;

/// How long a client has to finish its handshake.
const HANDSHAKE_DEADLINE: Duration = Duration::from_secs(10);
/// Finished connections waiting for the server to take them.
const ACCEPTED_QUEUE: usize = 64;
/// Handshakes under way at once; a connection beyond it is closed at once.
const HANDSHAKES_AT_ONCE: usize = 512;

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read or holds no usable PEM.
    #[error("{path}: {problem}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// The key does not belong to the certificate, or rustls refused the configuration.
    #[error("TLS: {0}")]
    Rustls(#[from] rustls::Error),
    /// The client CA bundle cannot verify client certificates.
    #[error("{path}: {problem}")]
    ClientCa {
        /// The CA file.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// The identities file of client certificates is unusable.
    #[error(transparent)]
    Identities(#[from] crate::auth::certificate::IdentitiesError),
}

/// Which client certificates the listener accepts, and who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCertificates {
    /// The CAs (PEM bundle) whose certificates are accepted.
    pub ca_file: PathBuf,
    /// Whether a handshake without a client certificate fails (`required`) or goes on, the
    /// caller then needing a token (`optional`).
    pub required: bool,
    /// The identities file mapping certificates to callers; without it no certificate names
    /// a caller by itself.
    pub identities_file: Option<PathBuf>,
}

/// Where the certificate chain (leaf first) and its private key are, both PEM, and how
/// often they are checked for a rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain, leaf first (`tls.crt` of a Kubernetes TLS Secret).
    pub cert: PathBuf,
    /// The private key (`tls.key`).
    pub key: PathBuf,
    /// How often the files are checked for a change.
    pub check_every: Duration,
}

/// The server's certificate, replaced when its files change; what every handshake presents.
#[derive(Debug)]
pub struct ReloadingCertificate {
    files: TlsFiles,
    provider: Arc<CryptoProvider>,
    current: RwLock<Arc<CertifiedKey>>,
    /// The files' modification times when last read.
    seen: Mutex<(Option<SystemTime>, Option<SystemTime>)>,
}

impl ReloadingCertificate {
    /// Reads the files; fails when they are missing, unreadable, or do not match.
    pub fn load(files: TlsFiles) -> Result<Arc<Self>, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let seen = modified(&files);
        let key = read_certified_key(&files, &provider)?;
        Ok(Arc::new(ReloadingCertificate {
            files,
            provider,
            current: RwLock::new(Arc::new(key)),
            seen: Mutex::new(seen),
        }))
    }

    /// Reads the files again if either changed since the last read. `Ok(true)` when the
    /// certificate was replaced; on an error the previous certificate stays in use (a
    /// rotation caught half-written is read on the next check).
    pub fn reload_if_changed(&self) -> Result<bool, TlsError> {
        let now = modified(&self.files);
        {
            let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
            if *seen == now {
                return Ok(false);
            }
        }
        let key = read_certified_key(&self.files, &self.provider)?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(key);
        *self.seen.lock().unwrap_or_else(|p| p.into_inner()) = now;
        Ok(true)
    }

    /// Checks the files every `every` for as long as the process runs.
    pub fn spawn_watch(self: &Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        let certificate = Arc::clone(self);
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(every);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                match certificate.reload_if_changed() {
                    Ok(true) => tracing::info!(
                        cert = %certificate.files.cert.display(),
                        "reloaded the TLS certificate"
                    ),
                    Ok(false) => {}
                    Err(e) => tracing::error!(
                        error = %e,
                        "could not reload the TLS certificate; keeping the previous one"
                    ),
                }
            }
        })
    }

    /// The certificate presented now.
    pub fn current(&self) -> Arc<CertifiedKey> {
        Arc::clone(&self.current.read().unwrap_or_else(|p| p.into_inner()))
    }
}

impl ResolvesServerCert for ReloadingCertificate {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

/// The rustls configuration of a gRPC server presenting `certificate`: TLS 1.2 and 1.3,
/// ALPN `h2`, no client certificate asked for.
pub fn server_config(certificate: Arc<ReloadingCertificate>) -> Result<ServerConfig, TlsError> {
    server_config_for_clients(certificate, None)
}

/// [`server_config`], asking for client certificates from the CAs of `clients` when given.
pub fn server_config_for_clients(
    certificate: Arc<ReloadingCertificate>,
    clients: Option<&ClientCertificates>,
) -> Result<ServerConfig, TlsError> {
    let provider = Arc::clone(&certificate.provider);
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&[&version::TLS13, &version::TLS12])?;
    let builder = match clients {
        None => builder.with_no_client_auth(),
        Some(clients) => builder.with_client_cert_verifier(client_verifier(clients, provider)?),
    };
    let mut config = builder.with_cert_resolver(certificate);
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(config)
}

fn client_verifier(
    clients: &ClientCertificates,
    provider: Arc<CryptoProvider>,
) -> Result<Arc<dyn rustls::server::danger::ClientCertVerifier>, TlsError> {
    let problem = |problem: String| TlsError::ClientCa {
        path: clients.ca_file.clone(),
        problem,
    };
    let certificates = CertificateDer::pem_file_iter(&clients.ca_file)
        .map_err(|e| problem(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| problem(e.to_string()))?;
    if certificates.is_empty() {
        return Err(problem("no certificate in the file".into()));
    }
    let mut roots = rustls::RootCertStore::empty();
    for certificate in certificates {
        roots.add(certificate).map_err(|e| problem(e.to_string()))?;
    }
    let builder = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
    let builder = match clients.required {
        true => builder,
        false => builder.allow_unauthenticated(),
    };
    builder.build().map_err(|e| problem(e.to_string()))
}

/// A listener's TLS: the certificate it presents and, with client certificates, the CAs it
/// accepts and the identities they map to, each re-read when its file changes.
#[derive(Debug)]
pub struct ServerTls {
    files: TlsFiles,
    certificate: Arc<ReloadingCertificate>,
    clients: Option<ClientCertificates>,
    identities: Option<Arc<crate::auth::CertificateIdentities>>,
    config: RwLock<Arc<ServerConfig>>,
    ca_seen: Mutex<Option<SystemTime>>,
}

impl ServerTls {
    /// Reads every file; fails when one is missing or unusable.
    pub fn load(
        files: TlsFiles,
        clients: Option<ClientCertificates>,
    ) -> Result<Arc<Self>, TlsError> {
        let certificate = ReloadingCertificate::load(files.clone())?;
        let config = server_config_for_clients(Arc::clone(&certificate), clients.as_ref())?;
        let identities = match &clients {
            Some(clients) => Some(crate::auth::CertificateIdentities::load(
                clients.identities_file.as_deref(),
            )?),
            None => None,
        };
        let ca_seen = clients.as_ref().and_then(|c| modified_one(&c.ca_file));
        Ok(Arc::new(ServerTls {
            files,
            certificate,
            clients,
            identities,
            config: RwLock::new(Arc::new(config)),
            ca_seen: Mutex::new(ca_seen),
        }))
    }

    /// The configuration the next handshake uses.
    pub fn current(&self) -> Arc<ServerConfig> {
        Arc::clone(&self.config.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// The callers client certificates map to, when client certificates are asked for.
    pub fn identities(&self) -> Option<Arc<crate::auth::CertificateIdentities>> {
        self.identities.clone()
    }

    /// The certificate and key files.
    pub fn files(&self) -> &TlsFiles {
        &self.files
    }

    /// Reads the client CA bundle again if it changed; `Ok(true)` when the configuration
    /// was replaced (new handshakes use it; open connections keep theirs).
    pub fn reload_client_ca_if_changed(&self) -> Result<bool, TlsError> {
        let Some(clients) = &self.clients else {
            return Ok(false);
        };
        let now = modified_one(&clients.ca_file);
        if *self.ca_seen.lock().unwrap_or_else(|p| p.into_inner()) == now {
            return Ok(false);
        }
        let config = server_config_for_clients(Arc::clone(&self.certificate), Some(clients))?;
        *self.config.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(config);
        *self.ca_seen.lock().unwrap_or_else(|p| p.into_inner()) = now;
        Ok(true)
    }

    /// Checks every file every `every` for as long as the process runs.
    pub fn spawn_watch(self: &Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        let tls = Arc::clone(self);
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(every);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                match tls.certificate.reload_if_changed() {
                    Ok(true) => tracing::info!(
                        cert = %tls.files.cert.display(),
                        "reloaded the TLS certificate"
                    ),
                    Ok(false) => {}
                    Err(e) => tracing::error!(
                        error = %e,
                        "could not reload the TLS certificate; keeping the previous one"
                    ),
                }
                match tls.reload_client_ca_if_changed() {
                    Ok(true) => tracing::info!("reloaded the client CA bundle"),
                    Ok(false) => {}
                    Err(e) => tracing::error!(
                        error = %e,
                        "could not reload the client CA bundle; keeping the previous one"
                    ),
                }
                if let Some(identities) = &tls.identities {
                    match identities.reload_if_changed() {
                        Ok(true) => tracing::info!("reloaded the client certificate identities"),
                        Ok(false) => {}
                        Err(e) => tracing::error!(
                            error = %e,
                            "could not reload the client certificate identities; keeping the previous ones"
                        ),
                    }
                }
            }
        })
    }
}

/// The finished TLS connections of `listener`, for `tonic`'s `serve_with_incoming`. The
/// stream never yields an error: a connection whose handshake fails or takes longer than
/// its deadline is dropped and logged at debug level.
pub fn listen(
    listener: TcpListener,
    config: Arc<ServerConfig>,
) -> ReceiverStream<Result<TlsStream<TcpStream>, std::io::Error>> {
    listen_with(listener, move || Arc::clone(&config))
}

/// [`listen`] with the configuration current at each handshake (a [`ServerTls`]), so that a
/// reloaded client CA applies to new connections.
pub fn listen_reloading(
    listener: TcpListener,
    tls: Arc<ServerTls>,
) -> ReceiverStream<Result<TlsStream<TcpStream>, std::io::Error>> {
    listen_with(listener, move || tls.current())
}

fn listen_with(
    listener: TcpListener,
    config: impl Fn() -> Arc<ServerConfig> + Send + 'static,
) -> ReceiverStream<Result<TlsStream<TcpStream>, std::io::Error>> {
    let (sender, receiver) = tokio::sync::mpsc::channel(ACCEPTED_QUEUE);
    let handshakes = Arc::new(tokio::sync::Semaphore::new(HANDSHAKES_AT_ONCE));
    tokio::spawn(async move {
        loop {
            // The server dropped the stream (it stopped): stop accepting, which releases
            // the port.
            let accepted = tokio::select! {
                () = sender.closed() => return,
                accepted = listener.accept() => accepted,
            };
            let (stream, peer) = match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little rather than spin.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            // Too many handshakes under way (clients that connect and say nothing): this
            // connection is closed at once rather than holding a descriptor for the deadline.
            let Ok(place) = Arc::clone(&handshakes).try_acquire_owned() else {
                tracing::debug!(%peer, "too many TLS handshakes under way; connection closed");
                continue;
            };
            let _ = stream.set_nodelay(true);
            let acceptor = TlsAcceptor::from(config());
            let sender = sender.clone();
            tokio::spawn(async move {
                let handshake =
                    tokio::time::timeout(HANDSHAKE_DEADLINE, acceptor.accept(stream)).await;
                drop(place);
                match handshake {
                    Ok(Ok(connection)) => {
                        let _ = sender.send(Ok(connection)).await;
                    }
                    Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                    Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                }
            });
        }
    });
    ReceiverStream::new(receiver)
}

fn modified(files: &TlsFiles) -> (Option<SystemTime>, Option<SystemTime>) {
    (modified_one(&files.cert), modified_one(&files.key))
}

fn modified_one(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

fn read_certified_key(
    files: &TlsFiles,
    provider: &CryptoProvider,
) -> Result<CertifiedKey, TlsError> {
    let problem = |path: &Path, problem: String| TlsError::File {
        path: path.to_path_buf(),
        problem,
    };
    let chain = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| problem(&files.cert, e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| problem(&files.cert, e.to_string()))?;
    if chain.is_empty() {
        return Err(problem(&files.cert, "no certificate in the file".into()));
    }
    let key =
        PrivateKeyDer::from_pem_file(&files.key).map_err(|e| problem(&files.key, e.to_string()))?;
    // Checks that the key is the certificate's.
    Ok(CertifiedKey::from_der(chain, key, provider)?)
}
