//! Tokens the gateway mints for callers it knows by their client certificate (issue 18,
//! item 2). A government system calls with a certificate and no token; the kit's pipeline
//! maps the certificate to a caller (`EDU_TLS_CLIENT_IDENTITIES_FILE`). The services behind
//! the gateway verify every caller's token themselves, so the gateway vouches for this
//! caller with a short-lived token of its own — signed with its key
//! ([`crate::config::TOKEN_KEY_FILE`]), under its own issuer, for the suite's audience,
//! carrying the caller's subject, roles and scopes — which replaces the call's
//! `authorization` metadata on its way to the backend ([`layer`]). The services trust the
//! gateway's issuer with its public key (`EDU_AUTH_TRUSTED_ISSUERS`).
//!
//! A token is named (`kid`) by the RFC 7638 thumbprint of the gateway's public key, which is
//! what a service computes from the PEM public key file it is given, so keys can rotate by
//! listing the new public key beside the old one first. Tokens are reused for the same
//! caller until a quarter of their lifetime remains.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine;
use edu_kit::auth::{Authentication, Caller, Claims};
use edu_kit::{ApiError, CallContext};
use http::HeaderValue;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject;
use serde::Serialize;

use crate::config::TokenSigning;

/// The most tokens remembered; beyond it the cache starts afresh (there are as many
/// entries as system callers in the identities file).
const CACHED_TOKENS: usize = 1024;

/// Why the signing key cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {problem}")]
pub struct KeyError {
    path: String,
    problem: String,
}

#[derive(Serialize)]
struct MintedClaims<'a> {
    iss: &'a str,
    aud: &'a str,
    iat: u64,
    nbf: u64,
    exp: u64,
    #[serde(flatten)]
    claims: &'a Claims,
}

/// Mints and remembers tokens; shared by every call.
pub struct TokenMinter {
    issuer: String,
    audience: String,
    lifetime: Duration,
    algorithm: Algorithm,
    kid: String,
    key: EncodingKey,
    public: Jwk,
    cache: Mutex<HashMap<String, (Arc<str>, SystemTime)>>,
}

impl std::fmt::Debug for TokenMinter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenMinter")
            .field("issuer", &self.issuer)
            .field("algorithm", &self.algorithm)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl TokenMinter {
    /// Reads the key (PKCS#8 PEM, Ed25519 or ECDSA P-256) and checks that a token it signs
    /// verifies with the public key the services will be given; tokens carry `audience`.
    pub fn load(signing: &TokenSigning, audience: &str) -> Result<Self, KeyError> {
        let path = signing.key_file.as_path();
        let problem = |problem: String| KeyError {
            path: path.display().to_string(),
            problem,
        };
        let pem = std::fs::read(path).map_err(|e| problem(e.to_string()))?;
        let (key, algorithm) = if let Ok(key) = EncodingKey::from_ed_pem(&pem) {
            (key, Algorithm::EdDSA)
        } else if let Ok(key) = EncodingKey::from_ec_pem(&pem) {
            (key, Algorithm::ES256)
        } else {
            return Err(problem(
                "not a PKCS#8 Ed25519 or ECDSA P-256 private key (BEGIN PRIVATE KEY)".into(),
            ));
        };
        let public = public_jwk(path, &pem).map_err(problem)?;
        let kid = public
            .common
            .key_id
            .clone()
            .ok_or_else(|| problem("the public key has no thumbprint".into()))?;
        let minter = TokenMinter {
            issuer: signing.issuer.clone(),
            audience: audience.to_string(),
            lifetime: signing.lifetime,
            algorithm,
            kid,
            key,
            public,
            cache: Mutex::new(HashMap::new()),
        };
        // A token signed now must verify with the public key: the key pair is whole and the
        // algorithm is the one the curve allows (a P-384 key fails here, not per call).
        let probe = Caller::from_certificate(Claims {
            sub: "gateway-self-check".into(),
            name: None,
            roles: Vec::new(),
            scopes: Vec::new(),
        });
        let (token, _) = minter
            .sign(&probe.claims(), SystemTime::now())
            .map_err(|e| problem(format!("cannot sign: {e}")))?;
        let decoding = DecodingKey::from_jwk(&minter.public).map_err(|e| problem(e.to_string()))?;
        let mut validation = Validation::new(algorithm);
        validation.set_issuer(&[&minter.issuer]);
        validation.set_audience(&[&minter.audience]);
        jsonwebtoken::decode::<serde_json::Value>(&token, &decoding, &validation)
            .map_err(|e| problem(format!("a signed token does not verify: {e}")))?;
        Ok(minter)
    }

    /// The public key as a JWK (with its `kid`), for the services' trust.
    pub fn public_jwk(&self) -> &Jwk {
        &self.public
    }

    /// The issuer of the minted tokens.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// A token vouching for `caller`: a remembered one while more than a quarter of its
    /// lifetime remains, else a new one.
    pub fn token_for(&self, caller: &Caller) -> Result<Arc<str>, ApiError> {
        let claims = caller.claims();
        let cache_key = serde_json::to_string(&claims).map_err(|e| ApiError::internal(&e))?;
        let now = SystemTime::now();
        {
            let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((token, expires)) = cache.get(&cache_key)
                && expires
                    .duration_since(now)
                    .is_ok_and(|left| left > self.lifetime / 4)
            {
                return Ok(Arc::clone(token));
            }
        }
        let (token, expires) = self
            .sign(&claims, now)
            .map_err(|e| ApiError::internal(&e))?;
        let token: Arc<str> = token.into();
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= CACHED_TOKENS {
            cache.clear();
        }
        cache.insert(cache_key, (Arc::clone(&token), expires));
        Ok(token)
    }

    fn sign(
        &self,
        claims: &Claims,
        now: SystemTime,
    ) -> Result<(String, SystemTime), jsonwebtoken::errors::Error> {
        let iat = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let exp = iat + self.lifetime.as_secs();
        let mut header = Header::new(self.algorithm);
        header.kid = Some(self.kid.clone());
        let token = jsonwebtoken::encode(
            &header,
            &MintedClaims {
                iss: &self.issuer,
                aud: &self.audience,
                iat,
                nbf: iat,
                exp,
                claims,
            },
            &self.key,
        )?;
        Ok((token, UNIX_EPOCH + Duration::from_secs(exp)))
    }
}

/// The public key of a PKCS#8 private key as a JWK named by its thumbprint, the same JWK a
/// service derives from the PEM public key (`openssl pkey -pubout`).
fn public_jwk(path: &Path, pem: &[u8]) -> Result<Jwk, String> {
    let der = PrivateKeyDer::from_pem_slice(pem).map_err(|e| e.to_string())?;
    let signing = rustls::crypto::ring::sign::any_supported_type(&der)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let spki = signing
        .public_key()
        .ok_or_else(|| "the key's public half cannot be derived".to_string())?;
    let encoded = base64::engine::general_purpose::STANDARD.encode(spki.as_ref());
    let mut public_pem = String::from("-----BEGIN PUBLIC KEY-----\n");
    for line in encoded.as_bytes().chunks(64) {
        public_pem.push_str(&String::from_utf8_lossy(line));
        public_pem.push('\n');
    }
    public_pem.push_str("-----END PUBLIC KEY-----\n");
    edu_kit::auth::public_key_jwk(public_pem.as_bytes()).map_err(|e| e.to_string())
}

/// What the gateway puts in front of its routes (`axum::middleware::from_fn_with_state`): a
/// call of a caller known by its client certificate gets `authorization: Bearer <a token
/// minted for it>`, so that the proxy and the region summary, which forward the call's
/// `authorization`, carry the gateway's word for the caller. Calls with a token of their own
/// pass unchanged.
pub async fn vouch(
    State(minter): State<Option<Arc<TokenMinter>>>,
    mut request: Request,
    next: Next,
) -> Response {
    let caller = request
        .extensions()
        .get::<CallContext>()
        .and_then(CallContext::caller_if_any)
        .filter(|caller| caller.authenticated_by() == Authentication::Certificate)
        .cloned();
    if let (Some(caller), Some(minter)) = (caller, minter) {
        let bearer = minter.token_for(&caller).and_then(|token| {
            HeaderValue::from_str(&format!("Bearer {token}")).map_err(|e| ApiError::internal(&e))
        });
        match bearer {
            Ok(value) => {
                request
                    .headers_mut()
                    .insert(http::header::AUTHORIZATION, value);
            }
            Err(error) => return tonic::Status::from(error).into_http::<axum::body::Body>(),
        }
    }
    next.run(request).await
}
