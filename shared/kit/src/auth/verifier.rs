//! Verifies bearer JWTs against the public keys of the issuers the process trusts: the
//! identity provider's (a JWKS file re-read when it changes, an inline JWKS, and/or the
//! provider's own JWKS found by OpenID Connect discovery and refreshed, see
//! [`super::provider`]), further issuers with their key files (the gateway, which mints
//! short-lived tokens for callers it knows by their client certificate), and, in
//! development mode only, the suite's development key.
//!
//! A token names its issuer (`iss`); it is checked with that issuer's keys only, so one
//! issuer's keys can never vouch for another's tokens.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, Jwk, JwkSet, PublicKeyUse, ThumbprintHash,
};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};

use super::provider::Provider;
use super::{Caller, Claims, dev};
use crate::config::AuthConfig;
use crate::error::{ApiError, ErrorKind, reason};

/// Why a token was refused. The message is for logs and developers; callers see
/// `UNAUTHENTICATED` with reason `TOKEN_INVALID`.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Not three base64url parts with a JSON header and claims.
    #[error("token is malformed")]
    Malformed,
    /// Signed with a key we do not know (or without `kid` when several keys are known).
    #[error(
        "token is signed with an unknown key {}",
        crate::error::quote(.0.as_deref().unwrap_or_default())
    )]
    UnknownKey(Option<String>),
    /// The header's algorithm is not the one the key is for.
    #[error("token algorithm {0:?} does not match its key")]
    AlgorithmMismatch(Algorithm),
    /// Signature, expiry, issuer, audience or a required claim is wrong.
    #[error("token rejected: {0}")]
    Rejected(jsonwebtoken::errors::Error),
}

impl From<TokenError> for ApiError {
    fn from(error: TokenError) -> Self {
        ApiError::new(
            ErrorKind::Unauthenticated,
            reason::TOKEN_INVALID,
            error.to_string(),
        )
    }
}

/// Why the configured keys could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeyLoadError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The key file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The document is not a JWKS.
    #[error("not a JWKS document: {0}")]
    Parse(serde_json::Error),
    /// A key could not be used.
    #[error("key {kid:?}: {problem}")]
    Key {
        /// The key's `kid`.
        kid: Option<String>,
        /// What is wrong.
        problem: String,
    },
    /// No usable key at all.
    #[error("no signing keys configured")]
    Empty,
    /// A further trusted issuer has no usable key.
    #[error("no signing keys for the trusted issuer {0}")]
    EmptyIssuer(String),
    /// The identity provider's keys could not be fetched.
    #[error("the identity provider's keys: {0}")]
    Provider(String),
}

/// One public key and the one algorithm it verifies.
#[derive(Clone)]
pub(super) struct VerifyingKey {
    kid: Option<String>,
    algorithm: Algorithm,
    key: DecodingKey,
}

/// The keys of one source, by `kid`.
#[derive(Clone, Default)]
pub(super) struct KeyRing {
    keys: Vec<VerifyingKey>,
    by_kid: HashMap<String, usize>,
}

impl KeyRing {
    fn add(&mut self, key: VerifyingKey) {
        if let Some(kid) = &key.kid {
            self.by_kid.insert(kid.clone(), self.keys.len());
        }
        self.keys.push(key);
    }

    fn by_kid(&self, kid: &str) -> Option<&VerifyingKey> {
        self.by_kid.get(kid).and_then(|&i| self.keys.get(i))
    }

    pub(super) fn len(&self) -> usize {
        self.keys.len()
    }
}

/// How many verified tokens are remembered; beyond it the oldest half is forgotten.
const CACHED_TOKENS: usize = 4_096;

/// Tokens verified already, by their exact text, with their caller and expiry: a caller
/// presents the same token on every call until it expires, and checking its signature once
/// is enough. A forged variant of a token is other text, so it is verified on its own; a
/// change of the keys forgets everything, so a withdrawn key stops its tokens at once.
#[derive(Default)]
pub(super) struct VerifiedTokens {
    entries: RwLock<HashMap<Box<str>, (Caller, SystemTime, u64)>>,
    inserted: std::sync::atomic::AtomicU64,
}

impl VerifiedTokens {
    fn get(&self, token: &str, now: SystemTime) -> Option<Caller> {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        entries
            .get(token)
            .filter(|(_, expires, _)| now < *expires)
            .map(|(caller, _, _)| caller.clone())
    }

    fn put(&self, token: &str, caller: Caller, expires: SystemTime) {
        let order = self
            .inserted
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= CACHED_TOKENS {
            // Forget the older half (and whatever expired), keeping memory bounded.
            let now = SystemTime::now();
            let cutoff = order.saturating_sub(CACHED_TOKENS as u64 / 2);
            entries.retain(|_, (_, expires, at)| *expires > now && *at >= cutoff);
        }
        entries.insert(token.into(), (caller, expires, order));
    }

    pub(super) fn clear(&self) {
        self.entries
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

/// The claims a token is checked for, with its expiry.
#[derive(serde::Deserialize)]
struct TokenClaims {
    #[serde(flatten)]
    claims: Claims,
    exp: u64,
}

/// The one claim read before the signature is checked: which issuer's keys to check it with.
#[derive(serde::Deserialize)]
struct NamedIssuer {
    #[serde(default)]
    iss: Option<String>,
}

/// One trusted issuer and its keys: those of its files (and, for the identity provider,
/// the inline JWKS and in development the development key), and those its provider
/// published, fetched in the background.
pub(super) struct Issuer {
    pub(super) name: String,
    files: Vec<PathBuf>,
    inline: Option<String>,
    development_key: bool,
    local: RwLock<Arc<KeyRing>>,
    pub(super) fetched: RwLock<Arc<KeyRing>>,
    pub(super) provider: Option<Arc<Provider>>,
}

impl Issuer {
    fn local_keys(&self) -> Result<KeyRing, KeyLoadError> {
        let mut ring = KeyRing::default();
        for path in &self.files {
            let text = std::fs::read_to_string(path).map_err(|source| KeyLoadError::Read {
                path: path.clone(),
                source,
            })?;
            add_key_document(&mut ring, &text)?;
        }
        if let Some(text) = &self.inline {
            add_key_document(&mut ring, text)?;
        }
        if self.development_key {
            add_jwks(&mut ring, &dev::public_jwks(), Strictness::Strict)?;
        }
        Ok(ring)
    }

    fn key(&self, kid: Option<&str>) -> Option<VerifyingKey> {
        let local = Arc::clone(&self.local.read().unwrap_or_else(|p| p.into_inner()));
        let fetched = Arc::clone(&self.fetched.read().unwrap_or_else(|p| p.into_inner()));
        match kid {
            Some(kid) => local.by_kid(kid).or_else(|| fetched.by_kid(kid)).cloned(),
            // Without a kid the token is only unambiguous when exactly one key is known.
            None => match (local.keys.as_slice(), fetched.keys.as_slice()) {
                ([only], []) | ([], [only]) => Some(only.clone()),
                _ => None,
            },
        }
    }
}

/// Verifies tokens; cheap to clone, shared by every call.
#[derive(Clone)]
pub struct TokenVerifier {
    /// The identity provider first, then the further trusted issuers.
    pub(super) issuers: Arc<[Arc<Issuer>]>,
    pub(super) verified: Arc<VerifiedTokens>,
    audience: String,
    leeway: Duration,
}

impl std::fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let issuers: Vec<&str> = self.issuers.iter().map(|i| i.name.as_str()).collect();
        f.debug_struct("TokenVerifier")
            .field("issuers", &issuers)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

impl TokenVerifier {
    /// Loads the configured key files. Fails when none is usable, so that a misconfigured
    /// process stops at start-up instead of refusing every call. Keys from the identity
    /// provider (OpenID Connect discovery) are not fetched here: [`TokenVerifier::start`]
    /// fetches them and keeps them fresh.
    pub fn from_config(config: &AuthConfig) -> Result<Self, KeyLoadError> {
        let provider = match &config.provider {
            Some(provider) => Some(Arc::new(Provider::new(&config.issuer, provider)?)),
            None => None,
        };
        let primary = Issuer {
            name: config.issuer.clone(),
            files: config.jwks_file.iter().cloned().collect(),
            inline: config.jwks_inline.clone(),
            development_key: config.trust_development_key,
            local: RwLock::default(),
            fetched: RwLock::default(),
            provider,
        };
        let mut issuers = vec![Arc::new(primary)];
        for trusted in &config.trusted_issuers {
            issuers.push(Arc::new(Issuer {
                name: trusted.issuer.clone(),
                files: vec![trusted.key_file.clone()],
                inline: None,
                development_key: false,
                local: RwLock::default(),
                fetched: RwLock::default(),
                provider: None,
            }));
        }
        let verifier = TokenVerifier {
            issuers: issuers.into(),
            verified: Arc::default(),
            audience: config.audience.clone(),
            leeway: config.leeway,
        };
        verifier.reload()?;
        Ok(verifier)
    }

    /// [`TokenVerifier::from_config`], then what a serving process needs: the identity
    /// provider's keys fetched (waiting for the provider up to the configured patience, and
    /// failing with the URL and the reason after it), refreshed on schedule and on demand,
    /// and the key files checked for a change every `file_check`.
    pub async fn start(config: &AuthConfig, file_check: Duration) -> Result<Self, KeyLoadError> {
        let verifier = TokenVerifier::from_config(config)?;
        for issuer in verifier.issuers.iter() {
            if let Some(provider) = &issuer.provider {
                provider.first_fetch(issuer, &verifier.verified).await?;
                super::provider::spawn_refresh(
                    Arc::downgrade(issuer),
                    Arc::clone(provider),
                    Arc::downgrade(&verifier.verified),
                );
            }
        }
        verifier.spawn_reload(file_check);
        Ok(verifier)
    }

    /// Re-reads every key file and swaps the key rings atomically; on error the old rings
    /// stay in force. Keys fetched from the identity provider are kept.
    pub fn reload(&self) -> Result<(), KeyLoadError> {
        let mut rings = Vec::with_capacity(self.issuers.len());
        for (index, issuer) in self.issuers.iter().enumerate() {
            let ring = issuer.local_keys()?;
            if ring.keys.is_empty() && issuer.provider.is_none() {
                return Err(match index {
                    0 => KeyLoadError::Empty,
                    _ => KeyLoadError::EmptyIssuer(issuer.name.clone()),
                });
            }
            rings.push(ring);
        }
        for (issuer, ring) in self.issuers.iter().zip(rings) {
            *issuer.local.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(ring);
        }
        self.verified.clear();
        Ok(())
    }

    /// Re-reads the key files whenever one's modification time changes, checking every
    /// `interval`, so that rotated keys take effect without a restart. `None` when there is
    /// no file to watch.
    pub fn spawn_reload(&self, interval: Duration) -> Option<tokio::task::JoinHandle<()>> {
        let paths: Vec<PathBuf> = self
            .issuers
            .iter()
            .flat_map(|i| i.files.iter().cloned())
            .collect();
        if paths.is_empty() {
            return None;
        }
        let verifier = self.clone();
        Some(tokio::spawn(async move {
            let stamps = |paths: &[PathBuf]| paths.iter().map(|p| modified(p)).collect::<Vec<_>>();
            let mut seen = stamps(&paths);
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                let now = stamps(&paths);
                if now == seen {
                    continue;
                }
                seen = now;
                match verifier.reload() {
                    Ok(()) => tracing::info!("reloaded token keys"),
                    Err(e) => {
                        tracing::error!(error = %e, "could not reload token keys; keeping the previous ones")
                    }
                }
            }
        }))
    }

    /// Verifies a compact JWT and returns its caller: from the cache when this very token
    /// was verified before and has not expired. A token of the identity provider signed
    /// with a key it does not know is refused, and asks the background refresh to fetch the
    /// provider's keys again (at most once per the configured interval), so that a key the
    /// provider has just started using is accepted on the next call.
    pub fn verify(&self, token: &str) -> Result<Caller, TokenError> {
        let now = SystemTime::now();
        if let Some(caller) = self.verified.get(token, now) {
            return Ok(caller);
        }
        let (caller, exp) = self.verify_signature(token)?;
        let expires = SystemTime::UNIX_EPOCH + Duration::from_secs(exp);
        self.verified.put(token, caller.clone(), expires);
        Ok(caller)
    }

    fn verify_signature(&self, token: &str) -> Result<(Caller, u64), TokenError> {
        let header = decode_header(token).map_err(|_| TokenError::Malformed)?;
        let named: NamedIssuer = jsonwebtoken::dangerous::insecure_decode_claims(token)
            .map_err(|_| TokenError::Malformed)?;
        let issuer = named
            .iss
            .as_deref()
            .and_then(|iss| self.issuers.iter().find(|i| i.name == iss))
            .ok_or_else(|| {
                TokenError::Rejected(jsonwebtoken::errors::ErrorKind::InvalidIssuer.into())
            })?;
        let Some(key) = issuer.key(header.kid.as_deref()) else {
            if let (Some(provider), Some(_)) = (&issuer.provider, &header.kid) {
                provider.want_refetch();
            }
            return Err(TokenError::UnknownKey(header.kid));
        };
        if header.alg != key.algorithm {
            return Err(TokenError::AlgorithmMismatch(header.alg));
        }
        let mut validation = Validation::new(key.algorithm);
        validation.set_issuer(&[&issuer.name]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = self.leeway.as_secs();
        let data =
            decode::<TokenClaims>(token, &key.key, &validation).map_err(TokenError::Rejected)?;
        Ok((Caller::from_claims(data.claims.claims), data.claims.exp))
    }

    /// How many times the identity provider's JWKS has been fetched since start (for tests
    /// and diagnostics); 0 without a provider.
    pub fn provider_fetches(&self) -> u64 {
        self.issuers
            .iter()
            .filter_map(|i| i.provider.as_ref())
            .map(|p| p.fetches())
            .sum()
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// How a JWKS with an unusable key is taken: a configured file must be right as a whole
/// (a mistake stops the start or keeps the previous keys); a provider's published set may
/// carry keys this build does not use (another algorithm, a future key type), which are
/// skipped as long as one usable key remains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Strictness {
    Strict,
    SkipUnusable,
}

/// A key file's content: a JWKS document, or PEM public keys (`-----BEGIN PUBLIC KEY-----`,
/// Ed25519 or ECDSA P-256/P-384, as `openssl pkey -pubout` writes them), each named by its
/// RFC 7638 thumbprint, which is the `kid` the gateway puts on the tokens it mints.
fn add_key_document(ring: &mut KeyRing, text: &str) -> Result<(), KeyLoadError> {
    if text.trim_start().starts_with("-----BEGIN") {
        for jwk in pem_public_keys(text)? {
            add_jwk(ring, &jwk)?;
        }
        Ok(())
    } else {
        add_jwks(ring, text, Strictness::Strict)
    }
}

/// The public keys of a PEM text as JWKs named by their thumbprints.
pub fn pem_public_keys(text: &str) -> Result<Vec<Jwk>, KeyLoadError> {
    const END: &str = "-----END PUBLIC KEY-----";
    let mut keys = Vec::new();
    let mut rest = text;
    while let Some(begin) = rest.find("-----BEGIN") {
        let block = &rest[begin..];
        let Some(end) = block.find("-----END") else {
            return Err(pem_problem("a PEM block without its END line"));
        };
        let Some(block_end) = block.find(END).filter(|&e| e == end) else {
            return Err(pem_problem(
                "only PUBLIC KEY blocks are accepted in a key file",
            ));
        };
        let pem = &block[..block_end + END.len()];
        keys.push(public_key_jwk(pem.as_bytes())?);
        rest = &block[block_end + END.len()..];
    }
    if keys.is_empty() {
        return Err(pem_problem("no PUBLIC KEY block"));
    }
    Ok(keys)
}

/// One PEM public key as a JWK with its thumbprint as `kid` and its algorithm.
pub fn public_key_jwk(pem: &[u8]) -> Result<Jwk, KeyLoadError> {
    let (key, algorithm) = if let Ok(key) = DecodingKey::from_ed_pem(pem) {
        (key, Algorithm::EdDSA)
    } else if let Ok(key) = DecodingKey::from_ec_pem(pem) {
        (key, Algorithm::ES256)
    } else {
        return Err(pem_problem("not an Ed25519 or ECDSA public key"));
    };
    let mut jwk =
        Jwk::from_decoding_key(&key, Some(algorithm)).map_err(|e| pem_problem(&e.to_string()))?;
    if let AlgorithmParameters::EllipticCurve(ec) = &jwk.algorithm {
        let algorithm = match ec.curve {
            EllipticCurve::P256 => Algorithm::ES256,
            EllipticCurve::P384 => Algorithm::ES384,
            _ => return Err(pem_problem("unsupported elliptic curve")),
        };
        jwk.common.key_algorithm = Some(algorithm.into());
    }
    jwk.common.key_id = Some(
        jwk.thumbprint(ThumbprintHash::SHA256)
            .map_err(|e| pem_problem(&e.to_string()))?,
    );
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    Ok(jwk)
}

fn pem_problem(problem: &str) -> KeyLoadError {
    KeyLoadError::Key {
        kid: None,
        problem: format!("PEM: {problem}"),
    }
}

/// Adds the keys of a JWKS document.
pub(super) fn add_jwks(
    ring: &mut KeyRing,
    text: &str,
    strictness: Strictness,
) -> Result<(), KeyLoadError> {
    let set: JwkSet = serde_json::from_str(text).map_err(KeyLoadError::Parse)?;
    add_jwk_set(ring, &set, strictness)
}

/// Adds the keys of a parsed JWKS.
pub(super) fn add_jwk_set(
    ring: &mut KeyRing,
    set: &JwkSet,
    strictness: Strictness,
) -> Result<(), KeyLoadError> {
    for jwk in &set.keys {
        match add_jwk(ring, jwk) {
            Ok(()) => {}
            Err(e) if strictness == Strictness::SkipUnusable => {
                tracing::warn!(error = %e, "skipping a key of the identity provider's JWKS")
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn add_jwk(ring: &mut KeyRing, jwk: &Jwk) -> Result<(), KeyLoadError> {
    if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
        return Ok(());
    }
    let kid = jwk.common.key_id.clone();
    let algorithm = signing_algorithm(jwk).map_err(|problem| KeyLoadError::Key {
        kid: kid.clone(),
        problem,
    })?;
    let key = DecodingKey::from_jwk(jwk).map_err(|e| KeyLoadError::Key {
        kid: kid.clone(),
        problem: e.to_string(),
    })?;
    ring.add(VerifyingKey {
        kid,
        algorithm,
        key,
    });
    Ok(())
}

/// The one algorithm a key verifies: from its `alg`, else from its type and curve. Shared
/// secrets are refused: a JWKS of an identity provider publishes public keys.
fn signing_algorithm(jwk: &Jwk) -> Result<Algorithm, String> {
    let inferred = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
            EllipticCurve::P256 => Algorithm::ES256,
            EllipticCurve::P384 => Algorithm::ES384,
            _ => return Err("unsupported elliptic curve".into()),
        },
        AlgorithmParameters::OctetKeyPair(okp) if okp.curve == EllipticCurve::Ed25519 => {
            Algorithm::EdDSA
        }
        AlgorithmParameters::OctetKey(_) => {
            return Err("shared-secret keys are not accepted".into());
        }
        _ => return Err("unsupported key type".into()),
    };
    match jwk.common.key_algorithm {
        None => Ok(inferred),
        Some(declared) => {
            let declared = Algorithm::try_from(declared).map_err(|e| e.to_string())?;
            if matches!(
                declared,
                Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
            ) {
                return Err("shared-secret algorithms are not accepted".into());
            }
            Ok(declared)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AuthConfig;

    fn dev_config() -> AuthConfig {
        AuthConfig::development()
    }

    #[test]
    fn a_development_token_verifies_in_development_mode() {
        let verifier = TokenVerifier::from_config(&dev_config()).expect("keys");
        let token = dev::DevToken::new("alice")
            .role("competitions.organiser")
            .scope("region:RU-MOW")
            .name("Алиса")
            .sign();
        let caller = verifier.verify(&token).expect("valid token");
        assert_eq!(caller.subject(), "alice");
        assert!(caller.has_role("competitions.organiser"));
        assert_eq!(caller.display_name(), Some("Алиса"));
        assert_eq!(caller.scopes().len(), 1);
    }

    #[test]
    fn a_verified_token_is_remembered_but_a_forged_variant_is_not() {
        let verifier = TokenVerifier::from_config(&dev_config()).expect("keys");
        let token = dev::DevToken::new("alice")
            .role("certificates.parent")
            .sign();
        let first = verifier.verify(&token).expect("valid");
        let second = verifier.verify(&token).expect("remembered");
        assert_eq!(first, second);
        // The same header and claims with another signature: other text, verified anew.
        let (signed, _) = token.rsplit_once('.').expect("three parts");
        let forged = format!("{signed}.AAAA");
        assert!(verifier.verify(&forged).is_err());
        let expired = dev::DevToken::new("bob").expires_in(-120.0).sign();
        assert!(
            verifier.verify(&expired).is_err(),
            "never cached when expired"
        );
        verifier.reload().expect("reload");
        assert_eq!(verifier.verify(&token).expect("verified again"), first);
    }

    #[test]
    fn production_without_keys_refuses_to_start() {
        let config = AuthConfig {
            trust_development_key: false,
            ..dev_config()
        };
        assert!(matches!(
            TokenVerifier::from_config(&config),
            Err(KeyLoadError::Empty)
        ));
    }

    #[test]
    fn the_development_key_is_not_trusted_in_production() {
        let other = r#"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"idp-1","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;
        let config = AuthConfig {
            trust_development_key: false,
            jwks_inline: Some(other.into()),
            ..dev_config()
        };
        let verifier = TokenVerifier::from_config(&config).expect("keys");
        let token = dev::DevToken::new("mallory")
            .role("competitions.organiser")
            .sign();
        assert!(matches!(
            verifier.verify(&token),
            Err(TokenError::UnknownKey(_))
        ));
    }

    #[test]
    fn expired_tokens_and_foreign_audiences_are_refused() {
        let verifier = TokenVerifier::from_config(&dev_config()).expect("keys");
        let expired = dev::DevToken::new("bob")
            .expires_in(-Duration::from_secs(120).as_secs_f64())
            .sign();
        assert!(matches!(
            verifier.verify(&expired),
            Err(TokenError::Rejected(_))
        ));

        let foreign = dev::DevToken::new("bob").audience("another-system").sign();
        assert!(matches!(
            verifier.verify(&foreign),
            Err(TokenError::Rejected(_))
        ));

        let foreign_issuer = dev::DevToken::new("bob")
            .issuer("https://evil.example")
            .sign();
        assert!(matches!(
            verifier.verify(&foreign_issuer),
            Err(TokenError::Rejected(_))
        ));
    }

    #[test]
    fn garbage_and_tampered_tokens_are_refused() {
        let verifier = TokenVerifier::from_config(&dev_config()).expect("keys");
        assert!(matches!(
            verifier.verify("not-a-token"),
            Err(TokenError::Malformed)
        ));

        let token = dev::DevToken::new("bob").role("competitions.team").sign();
        let mut parts: Vec<String> = token.split('.').map(String::from).collect();
        // Swap in claims that grant another role, keeping the original signature.
        let forged = dev::DevToken::new("bob")
            .role("competitions.organiser")
            .sign();
        parts[1] = forged.split('.').nth(1).expect("payload").to_string();
        assert!(matches!(
            verifier.verify(&parts.join(".")),
            Err(TokenError::Rejected(_))
        ));
    }

    #[test]
    fn shared_secret_keys_are_refused() {
        let config = AuthConfig {
            jwks_inline: Some(r#"{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"hs"}]}"#.into()),
            ..dev_config()
        };
        assert!(matches!(
            TokenVerifier::from_config(&config),
            Err(KeyLoadError::Key { .. })
        ));
    }

    #[test]
    fn rotated_keys_are_picked_up_by_reload() {
        let dir = std::env::temp_dir().join(format!("edu-jwks-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("jwks.json");
        std::fs::write(&path, r#"{"keys":[]}"#).expect("write");
        let config = AuthConfig {
            jwks_file: Some(path.clone()),
            trust_development_key: false,
            ..dev_config()
        };
        assert!(
            TokenVerifier::from_config(&config).is_err(),
            "an empty JWKS is no key"
        );

        std::fs::write(&path, dev::public_jwks()).expect("write");
        let verifier = TokenVerifier::from_config(&config).expect("keys");
        let token = dev::DevToken::new("carol").sign();
        assert!(verifier.verify(&token).is_ok());

        std::fs::write(&path, r#"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"idp-2","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#)
            .expect("write");
        verifier.reload().expect("reload");
        assert!(
            verifier.verify(&token).is_err(),
            "the rotated-out key no longer verifies"
        );
        std::fs::remove_dir_all(dir).ok();
    }

    /// A key pair made now, its public key as PEM, and a token signer for it.
    struct TestIssuer {
        name: String,
        private_pem: String,
        public_pem: String,
        algorithm: Algorithm,
    }

    impl TestIssuer {
        fn new(name: &str, algorithm: &'static rcgen::SignatureAlgorithm) -> Self {
            let pair = rcgen::KeyPair::generate_for(algorithm).expect("key");
            TestIssuer {
                name: name.to_string(),
                private_pem: pair.serialize_pem(),
                public_pem: pair.public_key_pem(),
                algorithm: if algorithm == &rcgen::PKCS_ED25519 {
                    Algorithm::EdDSA
                } else {
                    Algorithm::ES256
                },
            }
        }

        fn sign(&self, issuer: &str, subject: &str) -> String {
            let kid = public_key_jwk(self.public_pem.as_bytes())
                .expect("jwk")
                .common
                .key_id;
            let mut header = jsonwebtoken::Header::new(self.algorithm);
            header.kid = kid;
            let key = match self.algorithm {
                Algorithm::EdDSA => {
                    jsonwebtoken::EncodingKey::from_ed_pem(self.private_pem.as_bytes())
                }
                _ => jsonwebtoken::EncodingKey::from_ec_pem(self.private_pem.as_bytes()),
            }
            .expect("private key");
            let exp = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .expect("clock")
                .as_secs()
                + 300;
            let claims = serde_json::json!({
                "iss": issuer, "aud": dev::AUDIENCE, "sub": subject, "exp": exp,
                "roles": ["competitions.observer"],
            });
            jsonwebtoken::encode(&header, &claims, &key).expect("sign")
        }
    }

    #[test]
    fn a_further_issuer_is_trusted_with_its_own_keys_only() {
        let dir = std::env::temp_dir().join(format!("edu-issuers-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let gateway = TestIssuer::new("https://gateway.test", &rcgen::PKCS_ED25519);
        let other = TestIssuer::new("https://other.test", &rcgen::PKCS_ECDSA_P256_SHA256);
        let (gateway_file, other_file) = (dir.join("gateway.pub"), dir.join("other.pub"));
        std::fs::write(&gateway_file, &gateway.public_pem).expect("write");
        std::fs::write(&other_file, &other.public_pem).expect("write");
        let config = AuthConfig {
            trusted_issuers: vec![
                crate::config::TrustedIssuer {
                    issuer: gateway.name.clone(),
                    key_file: gateway_file,
                },
                crate::config::TrustedIssuer {
                    issuer: other.name.clone(),
                    key_file: other_file,
                },
            ],
            ..dev_config()
        };
        let verifier = TokenVerifier::from_config(&config).expect("keys");

        let caller = verifier
            .verify(&gateway.sign(&gateway.name, "system:registry"))
            .expect("the gateway's token");
        assert_eq!(caller.subject(), "system:registry");
        assert!(caller.has_role("competitions.observer"));
        verifier
            .verify(&other.sign(&other.name, "system:other"))
            .expect("an ECDSA issuer's token");
        // One issuer's key never vouches for another issuer's tokens.
        for forged in [
            gateway.sign(&other.name, "mallory"),
            gateway.sign(dev::ISSUER, "mallory"),
        ] {
            assert!(
                matches!(verifier.verify(&forged), Err(TokenError::UnknownKey(_))),
                "accepted under a foreign issuer"
            );
        }
        let dev_token_as_gateway = dev::DevToken::new("mallory").issuer(&gateway.name).sign();
        assert!(verifier.verify(&dev_token_as_gateway).is_err());
        assert!(matches!(
            verifier.verify(&gateway.sign("https://unknown.test", "mallory")),
            Err(TokenError::Rejected(_))
        ));
        // The identity provider's own tokens still verify.
        verifier
            .verify(&dev::DevToken::new("alice").sign())
            .expect("the provider's token");
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn a_further_issuer_without_keys_stops_the_start() {
        let dir = std::env::temp_dir().join(format!("edu-issuers-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let file = dir.join("gateway.pub");
        std::fs::write(
            &file,
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        )
        .expect("write");
        let config = AuthConfig {
            trusted_issuers: vec![crate::config::TrustedIssuer {
                issuer: "https://gateway.test".into(),
                key_file: file.clone(),
            }],
            ..dev_config()
        };
        assert!(
            TokenVerifier::from_config(&config).is_err(),
            "not a public key"
        );
        std::fs::write(&file, r#"{"keys":[]}"#).expect("write");
        assert!(matches!(
            TokenVerifier::from_config(&config),
            Err(KeyLoadError::EmptyIssuer(_))
        ));
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn pem_keys_are_named_by_their_thumbprint() {
        let issuer = TestIssuer::new("https://gateway.test", &rcgen::PKCS_ED25519);
        let jwk = public_key_jwk(issuer.public_pem.as_bytes()).expect("jwk");
        let kid = jwk.common.key_id.clone().expect("kid");
        assert_eq!(kid.len(), 43, "a base64url SHA-256");
        let two = format!(
            "{}{}",
            issuer.public_pem,
            TestIssuer::new("x", &rcgen::PKCS_ECDSA_P256_SHA256).public_pem
        );
        let keys = pem_public_keys(&two).expect("two keys");
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[0].common.key_id.as_deref(), Some(kid.as_str()));
    }
}
