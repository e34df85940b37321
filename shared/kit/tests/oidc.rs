//! The identity provider's keys by OpenID Connect discovery (issue 18, item 4), against a
//! local provider stub serving the discovery document and a JWKS whose keys the test
//! switches: keys rotated at the provider are picked up without restarting the verifier
//! (by a token naming the new key, and by the scheduled refresh), a flood of tokens with
//! unknown `kid`s makes at most the configured number of JWKS fetches, the last good key
//! set survives the provider going down, and a start without the provider, with a
//! discovery document of another issuer, or over HTTPS with a wrong CA fails clearly.

mod pki;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use edu_kit::auth::{TokenError, TokenVerifier};
use edu_kit::config::{AuthConfig, ProviderConfig, ProviderLocation};
use pki::{Authority, SigningKey, jwks};

/// What the stub serves, switchable while it runs.
#[derive(Clone)]
struct Stub {
    /// The issuer the discovery document names (its own URL unless a test says otherwise).
    issuer: Arc<RwLock<String>>,
    jwks_uri: Arc<RwLock<String>>,
    jwks: Arc<RwLock<String>>,
    jwks_hits: Arc<AtomicU64>,
}

impl Stub {
    fn set_keys(&self, keys: &[&SigningKey]) {
        *self.jwks.write().expect("lock") = jwks(keys);
    }

    fn hits(&self) -> u64 {
        self.jwks_hits.load(Ordering::SeqCst)
    }
}

/// A running stub at `url`.
struct Provider {
    url: String,
    stub: Stub,
    task: tokio::task::JoinHandle<()>,
}

impl Provider {
    fn down(&self) {
        self.task.abort();
    }
}

async fn discovery(State(stub): State<Stub>) -> ([(http::HeaderName, &'static str); 1], String) {
    let document = serde_json::json!({
        "issuer": *stub.issuer.read().expect("lock"),
        "jwks_uri": *stub.jwks_uri.read().expect("lock"),
        "id_token_signing_alg_values_supported": ["EdDSA"],
    });
    (
        [(http::header::CONTENT_TYPE, "application/json")],
        document.to_string(),
    )
}

async fn keys(State(stub): State<Stub>) -> ([(http::HeaderName, &'static str); 1], String) {
    stub.jwks_hits.fetch_add(1, Ordering::SeqCst);
    (
        [(http::header::CONTENT_TYPE, "application/json")],
        stub.jwks.read().expect("lock").clone(),
    )
}

fn router(stub: Stub) -> Router {
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/protocol/openid-connect/certs", get(keys))
        .with_state(stub)
}

/// The stub over plain HTTP (allowed in development) with `initial` keys.
async fn provider(initial: &[&SigningKey]) -> Provider {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let url = format!("http://{addr}");
    let stub = stub_for(&url, initial);
    let app = router(stub.clone());
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Provider { url, stub, task }
}

fn stub_for(url: &str, initial: &[&SigningKey]) -> Stub {
    Stub {
        issuer: Arc::new(RwLock::new(url.to_string())),
        jwks_uri: Arc::new(RwLock::new(format!("{url}/protocol/openid-connect/certs"))),
        jwks: Arc::new(RwLock::new(jwks(initial))),
        jwks_hits: Arc::default(),
    }
}

/// The verifier's settings for the stub at `issuer`.
fn config(issuer: &str, refresh: Duration, min_refetch: Duration) -> AuthConfig {
    let mut provider = ProviderConfig::new(ProviderLocation::Discovery, true);
    provider.refresh = refresh;
    provider.min_refetch = min_refetch;
    provider.start_patience = Duration::from_secs(1);
    provider.timeout = Duration::from_secs(2);
    AuthConfig {
        issuer: issuer.to_string(),
        trust_development_key: false,
        provider: Some(provider),
        ..AuthConfig::development()
    }
}

async fn start(config: &AuthConfig) -> TokenVerifier {
    TokenVerifier::start(config, Duration::from_secs(30))
        .await
        .expect("the provider's keys")
}

/// Calls `verify` until it accepts (each refusal asks for a fetch), for up to `patience`.
async fn accepted_within(verifier: &TokenVerifier, token: &str, patience: Duration) -> bool {
    let until = Instant::now() + patience;
    while Instant::now() < until {
        if verifier.verify(token).is_ok() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

#[tokio::test]
async fn a_key_rotated_at_the_provider_is_picked_up_without_a_restart() {
    let (old, new) = (SigningKey::ed25519(), SigningKey::ed25519());
    let idp = provider(&[&old]).await;
    let verifier = start(&config(
        &idp.url,
        Duration::from_secs(3600),
        Duration::from_millis(200),
    ))
    .await;
    assert_eq!(idp.stub.hits(), 1, "one fetch at start");
    let before = old.sign(&idp.url, "alice", None);
    assert_eq!(
        verifier.verify(&before).expect("the current key").subject(),
        "alice"
    );

    // The provider publishes a new key and signs with it.
    idp.stub.set_keys(&[&old, &new]);
    let after = new.sign(&idp.url, "bob", None);
    assert!(
        matches!(verifier.verify(&after), Err(TokenError::UnknownKey(_))),
        "not known until fetched"
    );
    assert!(
        accepted_within(&verifier, &after, Duration::from_secs(5)).await,
        "the new key is fetched because a token named it"
    );
    assert!(
        idp.stub.hits() <= 1 + 5_000 / 200 + 1,
        "fetches stay rate-limited: {}",
        idp.stub.hits()
    );

    // The old key is withdrawn: its tokens stop, the cache notwithstanding, once the set
    // is fetched again.
    idp.stub.set_keys(&[&new]);
    let forged = new.sign(&idp.url, "mallory", Some("no-such-key"));
    let until = Instant::now() + Duration::from_secs(5);
    while verifier.verify(&before).is_ok() && Instant::now() < until {
        let _ = verifier.verify(&forged);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        verifier.verify(&before).is_err(),
        "a withdrawn key's token is refused"
    );
    verifier.verify(&after).expect("the new key stays");
    idp.down();
}

#[tokio::test]
async fn the_scheduled_refresh_picks_up_new_keys() {
    let (old, new) = (SigningKey::ed25519(), SigningKey::ed25519());
    let idp = provider(&[&old]).await;
    let verifier = start(&config(
        &idp.url,
        Duration::from_millis(300),
        Duration::from_secs(60),
    ))
    .await;
    idp.stub.set_keys(&[&old, &new]);
    let fetched = idp.stub.hits();
    let until = Instant::now() + Duration::from_secs(5);
    while idp.stub.hits() < fetched + 2 && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Two fetches later the new set is certainly in force; no token asked for it.
    verifier
        .verify(&new.sign(&idp.url, "carol", None))
        .expect("accepted at the first try");
    idp.down();
}

#[tokio::test]
async fn an_unknown_kid_flood_makes_at_most_the_configured_number_of_fetches() {
    let key = SigningKey::ed25519();

    // At most one fetch per minute: a flood right after start makes none.
    let idp = provider(&[&key]).await;
    let verifier = start(&config(
        &idp.url,
        Duration::from_secs(3600),
        Duration::from_secs(60),
    ))
    .await;
    let forged_here: Vec<String> = (0..1_000)
        .map(|i| key.sign(&idp.url, "mallory", Some(&format!("forged-{i}"))))
        .collect();
    for token in &forged_here {
        assert!(matches!(
            verifier.verify(token),
            Err(TokenError::UnknownKey(_))
        ));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        idp.stub.hits(),
        1,
        "1 000 unknown kids, no fetch beyond the first"
    );
    verifier
        .verify(&key.sign(&idp.url, "alice", None))
        .expect("the real key still verifies");
    idp.down();

    // At most one fetch per 250 ms: a flood of 2 s makes at most 2 000 / 250 + 1 of them.
    let idp = provider(&[&key]).await;
    let interval = Duration::from_millis(250);
    let started = Instant::now();
    let verifier = start(&config(&idp.url, Duration::from_secs(3600), interval)).await;
    let forged: Vec<String> = (0..200)
        .map(|i| key.sign(&idp.url, "mallory", Some(&format!("forged-{i}"))))
        .collect();
    let mut refused = 0_u64;
    while started.elapsed() < Duration::from_secs(2) {
        for token in &forged {
            if verifier.verify(token).is_err() {
                refused += 1;
            }
        }
        tokio::task::yield_now().await;
    }
    let elapsed = started.elapsed();
    let hits = idp.stub.hits();
    let allowed = 1 + (elapsed.as_millis() / interval.as_millis()) as u64 + 1;
    assert!(refused > 1_000, "a flood: {refused} tokens refused");
    assert!(hits >= 2, "unknown kids do ask for fetches: {hits}");
    assert!(
        hits <= allowed,
        "{refused} refused tokens in {elapsed:?} made {hits} fetches; at most {allowed} allowed"
    );
    idp.down();
}

#[tokio::test]
async fn the_last_good_keys_survive_the_provider_going_down() {
    let key = SigningKey::ed25519();
    let idp = provider(&[&key]).await;
    let verifier = start(&config(
        &idp.url,
        Duration::from_millis(100),
        Duration::from_millis(50),
    ))
    .await;
    verifier
        .verify(&key.sign(&idp.url, "alice", None))
        .expect("verified");
    idp.down();
    // Several scheduled refreshes and a requested one fail meanwhile.
    let _ = verifier.verify(&key.sign(&idp.url, "mallory", Some("unknown")));
    tokio::time::sleep(Duration::from_millis(800)).await;
    let fresh = key.sign(&idp.url, "bob", None);
    assert_eq!(
        verifier
            .verify(&fresh)
            .expect("the last good keys stay in force")
            .subject(),
        "bob"
    );
}

#[tokio::test]
async fn a_start_without_the_provider_or_with_another_issuers_document_fails_clearly() {
    let nobody = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", nobody.local_addr().expect("addr"));
    drop(nobody);
    let started = Instant::now();
    let error = TokenVerifier::start(
        &config(&url, Duration::from_secs(60), Duration::from_secs(1)),
        Duration::from_secs(30),
    )
    .await
    .expect_err("no provider");
    let message = error.to_string();
    assert!(
        message.contains(&format!("{url}/.well-known/openid-configuration")),
        "{message}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "within its patience"
    );

    let key = SigningKey::ed25519();
    let idp = provider(&[&key]).await;
    *idp.stub.issuer.write().expect("lock") = "https://id.evil.example".into();
    let error = TokenVerifier::start(
        &config(&idp.url, Duration::from_secs(60), Duration::from_secs(1)),
        Duration::from_secs(30),
    )
    .await
    .expect_err("another issuer's document");
    assert!(error.to_string().contains("id.evil.example"), "{error}");
    idp.down();
}

/// The stub over HTTPS with a certificate of `authority` for `localhost`.
async fn https_provider(authority: &Authority, initial: &[&SigningKey]) -> Provider {
    struct TlsListener {
        tcp: tokio::net::TcpListener,
        acceptor: tokio_rustls::TlsAcceptor,
    }
    impl axum::serve::Listener for TlsListener {
        type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
        type Addr = SocketAddr;

        async fn accept(&mut self) -> (Self::Io, Self::Addr) {
            loop {
                let Ok((tcp, addr)) = self.tcp.accept().await else {
                    continue;
                };
                if let Ok(tls) = self.acceptor.accept(tcp).await {
                    return (tls, addr);
                }
            }
        }

        fn local_addr(&self) -> std::io::Result<SocketAddr> {
            self.tcp.local_addr()
        }
    }
    use rustls_pki_types::pem::PemObject;
    let issued = authority.server(&["localhost"]);
    let chain = rustls_pki_types::CertificateDer::pem_slice_iter(issued.cert.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .expect("chain");
    let key = rustls_pki_types::PrivateKeyDer::from_pem_slice(issued.key.as_bytes()).expect("key");
    let mut tls = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .expect("certificate");
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!(
        "https://localhost:{}",
        tcp.local_addr().expect("addr").port()
    );
    let stub = stub_for(&url, initial);
    let listener = TlsListener {
        tcp,
        acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(tls)),
    };
    let app = router(stub.clone());
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Provider { url, stub, task }
}

#[tokio::test]
async fn keys_come_over_https_verified_against_the_configured_ca() {
    let (authority, stranger) = (Authority::new("provider CA"), Authority::new("another CA"));
    let dir = pki::scratch("oidc-ca");
    let key = SigningKey::ed25519();
    let idp = https_provider(&authority, &[&key]).await;

    let mut trusting = config(&idp.url, Duration::from_secs(60), Duration::from_secs(1));
    let mut provider = trusting.provider.take().expect("provider");
    provider.allow_http = false;
    provider.ca_file = Some(pki::write(&dir, "ca.pem", &authority.pem()));
    trusting.provider = Some(provider.clone());
    let verifier = start(&trusting).await;
    verifier
        .verify(&key.sign(&idp.url, "alice", None))
        .expect("keys fetched over HTTPS");

    provider.ca_file = Some(pki::write(&dir, "other.pem", &stranger.pem()));
    trusting.provider = Some(provider);
    let error = TokenVerifier::start(&trusting, Duration::from_secs(30))
        .await
        .expect_err("a certificate from another CA");
    assert!(error.to_string().contains("TLS"), "{error}");
    idp.down();
    std::fs::remove_dir_all(dir).ok();
}
