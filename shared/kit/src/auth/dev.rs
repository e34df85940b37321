//! The suite's development identity provider: a published Ed25519 key pair that signs tokens
//! for local runs and tests. Services trust it only in development mode
//! (`EDU_ENVIRONMENT=development`); in production it is never loaded. The private key is in
//! this file on purpose: it protects nothing.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde::Serialize;

use super::Claims;

/// The issuer of development tokens, and the default issuer in development mode.
pub const ISSUER: &str = "https://id.dev.edu-suite.local";
/// The audience of development tokens, and the default audience in development mode.
pub const AUDIENCE: &str = "edu-suite";
/// The `kid` of the development key.
pub const KEY_ID: &str = "edu-development-1";

const PRIVATE_KEY_PEM: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIFBUwPKXx2oguRn8bv1h5v9+/N38bEFVPRhjWzsjn202
-----END PRIVATE KEY-----
";
const PUBLIC_KEY_X: &str = "QkbOfuXx-mpR5mVqJepzM6IBiKbAw9C0dF6m1tdgmfg";

/// The development key as a JWKS document.
pub fn public_jwks() -> String {
    format!(
        r#"{{"keys":[{{"kty":"OKP","crv":"Ed25519","use":"sig","alg":"EdDSA","kid":"{KEY_ID}","x":"{PUBLIC_KEY_X}"}}]}}"#
    )
}

#[derive(Serialize)]
struct SignedClaims<'a> {
    iss: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
    #[serde(flatten)]
    claims: &'a Claims,
}

/// A development token being put together; [`DevToken::sign`] signs it.
#[derive(Debug, Clone)]
pub struct DevToken {
    claims: Claims,
    issuer: String,
    audience: String,
    lifetime_secs: f64,
}

impl DevToken {
    /// A token for `subject`, valid for twelve hours, with no roles or scopes yet.
    pub fn new(subject: impl Into<String>) -> Self {
        DevToken {
            claims: Claims {
                sub: subject.into(),
                name: None,
                roles: Vec::new(),
                scopes: Vec::new(),
            },
            issuer: ISSUER.into(),
            audience: AUDIENCE.into(),
            lifetime_secs: Duration::from_secs(12 * 3600).as_secs_f64(),
        }
    }

    /// Grants a role, for example `competitions.organiser`.
    pub fn role(mut self, role: impl Into<String>) -> Self {
        self.claims.roles.push(role.into());
        self
    }

    /// Grants a tenant scope, for example `region:RU-ALT`.
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.claims.scopes.push(scope.into());
        self
    }

    /// Sets the display name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.claims.name = Some(name.into());
        self
    }

    /// Sets the lifetime in seconds from now; negative for a token that has already expired.
    pub fn expires_in(mut self, seconds: f64) -> Self {
        self.lifetime_secs = seconds;
        self
    }

    /// Overrides the issuer (to test refusals).
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = issuer.into();
        self
    }

    /// Overrides the audience (to test refusals).
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = audience.into();
        self
    }

    /// Signs the token with the development key.
    #[allow(clippy::expect_used)]
    pub fn sign(&self) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let exp = (now as f64 + self.lifetime_secs).max(0.0) as u64;
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(KEY_ID.into());
        let key = EncodingKey::from_ed_pem(PRIVATE_KEY_PEM.as_bytes())
            .expect("the development key is valid PEM");
        let claims = SignedClaims {
            iss: &self.issuer,
            aud: &self.audience,
            iat: now,
            exp,
            claims: &self.claims,
        };
        encode(&header, &claims, &key).expect("signing with a valid Ed25519 key cannot fail")
    }
}
