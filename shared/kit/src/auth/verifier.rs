//! Verifies bearer JWTs against the identity provider's public keys (a JWKS, from a file that
//! is re-read when it changes, or inline) and, in development mode only, the suite's
//! development key.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};

use super::{Caller, Claims, dev};
use crate::config::AuthConfig;
use crate::error::{ApiError, ErrorKind, reason};

/// Why a token was refused. The message is for logs and developers; callers see
/// `UNAUTHENTICATED` with reason `TOKEN_INVALID`.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Not three base64url parts with a JSON header.
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
        /// The JWKS file.
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
}

#[derive(Clone)]
struct VerifyingKey {
    kid: Option<String>,
    algorithm: Algorithm,
    key: DecodingKey,
}

#[derive(Clone, Default)]
struct KeyRing {
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

    fn find(&self, kid: Option<&str>) -> Option<&VerifyingKey> {
        match kid {
            Some(kid) => self.by_kid.get(kid).map(|&i| &self.keys[i]),
            // Without a kid the token is only unambiguous when exactly one key is known.
            None if self.keys.len() == 1 => self.keys.first(),
            None => None,
        }
    }
}

/// How many verified tokens are remembered; beyond it the oldest half is forgotten.
const CACHED_TOKENS: usize = 4_096;

/// Tokens verified already, by their exact text, with their caller and expiry: a caller
/// presents the same token on every call until it expires, and checking its signature once
/// is enough. A forged variant of a token is other text, so it is verified on its own; a
/// reload of the keys forgets everything, so a withdrawn key stops its tokens at once.
#[derive(Default)]
struct VerifiedTokens {
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

    fn clear(&self) {
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

/// Verifies tokens; cheap to clone, shared by every call.
#[derive(Clone)]
pub struct TokenVerifier {
    ring: Arc<RwLock<Arc<KeyRing>>>,
    verified: Arc<VerifiedTokens>,
    issuer: String,
    audience: String,
    leeway: Duration,
    jwks_file: Option<PathBuf>,
    jwks_inline: Option<String>,
    trust_development_key: bool,
}

impl std::fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenVerifier")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("jwks_file", &self.jwks_file)
            .field("trust_development_key", &self.trust_development_key)
            .finish_non_exhaustive()
    }
}

impl TokenVerifier {
    /// Loads the configured keys. Fails when none is usable, so that a misconfigured process
    /// stops at start-up instead of refusing every call.
    pub fn from_config(config: &AuthConfig) -> Result<Self, KeyLoadError> {
        let verifier = TokenVerifier {
            ring: Arc::default(),
            verified: Arc::default(),
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            leeway: config.leeway,
            jwks_file: config.jwks_file.clone(),
            jwks_inline: config.jwks_inline.clone(),
            trust_development_key: config.trust_development_key,
        };
        verifier.reload()?;
        Ok(verifier)
    }

    /// Re-reads every key source and swaps the key ring atomically; on error the old ring
    /// stays in force.
    pub fn reload(&self) -> Result<(), KeyLoadError> {
        let mut ring = KeyRing::default();
        if let Some(path) = &self.jwks_file {
            let text = std::fs::read_to_string(path).map_err(|source| KeyLoadError::Read {
                path: path.clone(),
                source,
            })?;
            add_jwks(&mut ring, &text)?;
        }
        if let Some(text) = &self.jwks_inline {
            add_jwks(&mut ring, text)?;
        }
        if self.trust_development_key {
            add_jwks(&mut ring, &dev::public_jwks())?;
        }
        if ring.keys.is_empty() {
            return Err(KeyLoadError::Empty);
        }
        let mut current = self
            .ring
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *current = Arc::new(ring);
        drop(current);
        self.verified.clear();
        Ok(())
    }

    /// Re-reads the JWKS file whenever its modification time changes, checking every
    /// `interval`, so that rotated keys take effect without a restart.
    pub fn spawn_reload(&self, interval: Duration) -> Option<tokio::task::JoinHandle<()>> {
        let path = self.jwks_file.clone()?;
        let verifier = self.clone();
        Some(tokio::spawn(async move {
            let mut seen = modified(&path);
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                let now = modified(&path);
                if now == seen {
                    continue;
                }
                seen = now;
                match verifier.reload() {
                    Ok(()) => tracing::info!(path = %path.display(), "reloaded token keys"),
                    Err(e) => {
                        tracing::error!(error = %e, "could not reload token keys; keeping the previous ones")
                    }
                }
            }
        }))
    }

    /// Verifies a compact JWT and returns its caller: from the cache when this very token
    /// was verified before and has not expired.
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
        let ring = Arc::clone(
            &self
                .ring
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
        let key = ring
            .find(header.kid.as_deref())
            .ok_or_else(|| TokenError::UnknownKey(header.kid.clone()))?;
        if header.alg != key.algorithm {
            return Err(TokenError::AlgorithmMismatch(header.alg));
        }
        let mut validation = Validation::new(key.algorithm);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = self.leeway.as_secs();
        let data =
            decode::<TokenClaims>(token, &key.key, &validation).map_err(TokenError::Rejected)?;
        Ok((Caller::from_claims(data.claims.claims), data.claims.exp))
    }
}

fn modified(path: &PathBuf) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

fn add_jwks(ring: &mut KeyRing, text: &str) -> Result<(), KeyLoadError> {
    let set: JwkSet = serde_json::from_str(text).map_err(KeyLoadError::Parse)?;
    for jwk in &set.keys {
        if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
            continue;
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
    }
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
}
