//! Who is calling: bearer JWTs verified against configured keys into a [`Caller`] with a
//! subject, roles and tenant scopes, or, where the listener asks for client certificates,
//! a verified certificate mapped to a caller by configuration ([`certificate`]). Each service
//! authorises every object against the caller; this module only says who the caller is and
//! what the token or the certificate grants.

pub mod certificate;
pub mod dev;
mod fetch;
mod provider;
mod verifier;

pub use certificate::{CERTIFICATE_NOT_MAPPED, CertificateIdentities};
pub use provider::{DISCOVERY_PATH, discovery_url};
pub use verifier::{KeyLoadError, TokenError, TokenVerifier, pem_public_keys, public_key_jwk};

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{ApiError, reason};
use crate::region::RegionCode;

/// The claims the suite reads from a token beyond the registered ones (`iss`, `aud`, `exp`,
/// `nbf`), which the verifier checks.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// The person or system, as the identity provider names it.
    pub sub: String,
    /// The person's display name (OpenID Connect `name`), when the provider gives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Roles, each `<service>.<role>`, for example `competitions.organiser`.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Tenant scopes, each `<kind>:<value>`, for example `region:RU-ALT`.
    #[serde(default)]
    pub scopes: Vec<String>,
}

/// One tenant the caller acts for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// A whole region: `region:RU-ALT`.
    Region(RegionCode),
    /// One municipality of a region: `municipality:RU-ALT/01601000`.
    Municipality {
        /// The region the municipality belongs to.
        region: RegionCode,
        /// The municipality's code.
        code: String,
    },
    /// One school: `school:<id>`.
    School(String),
    /// One provider of clubs and sections: `provider:<id>`.
    Provider(String),
    /// One institution (a children's centre): `institution:<id>`.
    Institution(String),
    /// One child, for a parent or guardian: `child:<id>`.
    Child(String),
}

/// Why a scope string was not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("scope {} is not <kind>:<value> with a known kind", crate::error::quote(.0))]
pub struct InvalidScope(pub String);

impl Scope {
    /// Parses `<kind>:<value>`.
    pub fn parse(raw: &str) -> Result<Self, InvalidScope> {
        let invalid = || InvalidScope(raw.to_string());
        let (kind, value) = raw.split_once(':').ok_or_else(invalid)?;
        if value.is_empty() {
            return Err(invalid());
        }
        Ok(match kind {
            "region" => Scope::Region(RegionCode::parse(value).map_err(|_| invalid())?),
            "municipality" => {
                let (region, code) = value.split_once('/').ok_or_else(invalid)?;
                if code.is_empty() {
                    return Err(invalid());
                }
                Scope::Municipality {
                    region: RegionCode::parse(region).map_err(|_| invalid())?,
                    code: code.to_string(),
                }
            }
            "school" => Scope::School(value.to_string()),
            "provider" => Scope::Provider(value.to_string()),
            "institution" => Scope::Institution(value.to_string()),
            "child" => Scope::Child(value.to_string()),
            _ => return Err(invalid()),
        })
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::Region(region) => write!(f, "region:{region}"),
            Scope::Municipality { region, code } => write!(f, "municipality:{region}/{code}"),
            Scope::School(id) => write!(f, "school:{id}"),
            Scope::Provider(id) => write!(f, "provider:{id}"),
            Scope::Institution(id) => write!(f, "institution:{id}"),
            Scope::Child(id) => write!(f, "child:{id}"),
        }
    }
}

/// The verified caller of a request; cheap to clone (verified tokens are cached and their
/// callers shared by every call that presents the same token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller(std::sync::Arc<CallerData>);

#[derive(Debug, PartialEq, Eq)]
struct CallerData {
    subject: String,
    display_name: Option<String>,
    roles: BTreeSet<String>,
    scopes: Vec<Scope>,
    authenticated_by: Authentication,
}

/// How a caller proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authentication {
    /// A bearer token.
    Token,
    /// A client certificate, mapped to the caller by the identities file; the call carried
    /// no token. Whoever forwards such a call must vouch for the caller itself (the gateway
    /// mints a token for it).
    Certificate,
}

impl Caller {
    /// Builds a caller from verified claims. Scopes of unknown kinds are dropped (a newer
    /// identity provider may grant kinds this build does not know), never widened.
    pub fn from_claims(claims: Claims) -> Self {
        Caller::build(claims, Authentication::Token)
    }

    /// Builds a caller known by its client certificate, from its entry of the identities
    /// file.
    pub fn from_certificate(claims: Claims) -> Self {
        Caller::build(claims, Authentication::Certificate)
    }

    fn build(claims: Claims, authenticated_by: Authentication) -> Self {
        let scopes = claims
            .scopes
            .iter()
            .filter_map(|raw| match Scope::parse(raw) {
                Ok(scope) => Some(scope),
                Err(e) => {
                    tracing::debug!(error = %e, "ignoring scope");
                    None
                }
            })
            .collect();
        Caller(std::sync::Arc::new(CallerData {
            subject: claims.sub,
            display_name: claims.name.filter(|n| !n.trim().is_empty()),
            roles: claims.roles.into_iter().collect(),
            scopes,
            authenticated_by,
        }))
    }

    /// How the caller proved who it is.
    pub fn authenticated_by(&self) -> Authentication {
        self.0.authenticated_by
    }

    /// The caller as token claims (subject, display name, roles, scopes), for a token that
    /// vouches for it to the next hop.
    pub fn claims(&self) -> Claims {
        Claims {
            sub: self.0.subject.clone(),
            name: self.0.display_name.clone(),
            roles: self.0.roles.iter().cloned().collect(),
            scopes: self.0.scopes.iter().map(Scope::to_string).collect(),
        }
    }

    /// The subject (`sub`) of the token.
    pub fn subject(&self) -> &str {
        &self.0.subject
    }

    /// The display name, when the token carries one.
    pub fn display_name(&self) -> Option<&str> {
        self.0.display_name.as_deref()
    }

    /// Whether the token grants `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.0.roles.contains(role)
    }

    /// `Ok` when the token grants `role`, else `PERMISSION_DENIED` with reason
    /// `ROLE_REQUIRED`.
    pub fn require_role(&self, role: &str) -> Result<(), ApiError> {
        if self.has_role(role) {
            Ok(())
        } else {
            Err(ApiError::permission_denied(
                reason::ROLE_REQUIRED,
                format!("this call needs the role {role}"),
            )
            .with_metadata("role", role))
        }
    }

    /// The roles the token grants.
    pub fn roles(&self) -> impl Iterator<Item = &str> {
        self.0.roles.iter().map(String::as_str)
    }

    /// The tenant scopes the token grants.
    pub fn scopes(&self) -> &[Scope] {
        &self.0.scopes
    }

    /// Whether the caller acts for the whole of `region`.
    pub fn covers_region(&self, region: &RegionCode) -> bool {
        self.0
            .scopes
            .iter()
            .any(|s| matches!(s, Scope::Region(r) if r == region))
    }

    /// Whether the caller acts for municipality `code` of `region`, directly or through the
    /// whole region.
    pub fn covers_municipality(&self, region: &RegionCode, code: &str) -> bool {
        self.covers_region(region)
            || self
                .0
                .scopes
                .iter()
                .any(|s| matches!(s, Scope::Municipality { region: r, code: c } if r == region && c == code))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(scopes: &[&str]) -> Caller {
        Caller::from_claims(Claims {
            sub: "u1".into(),
            name: None,
            roles: vec!["competitions.team".into()],
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
        })
    }

    #[test]
    fn scopes_round_trip_through_their_text_form() {
        for raw in [
            "region:RU-ALT",
            "municipality:RU-ALT/01601000",
            "school:s-1",
            "child:c-9",
        ] {
            assert_eq!(Scope::parse(raw).expect(raw).to_string(), raw);
        }
        for raw in [
            "region",
            "region:",
            "region:Altai",
            "municipality:RU-ALT",
            "planet:mars",
        ] {
            assert!(Scope::parse(raw).is_err(), "{raw:?} accepted");
        }
    }

    #[test]
    fn a_region_scope_covers_its_municipalities_but_not_other_regions() {
        let alt = RegionCode::parse("RU-ALT").expect("code");
        let sar = RegionCode::parse("RU-SAR").expect("code");
        let regional = caller(&["region:RU-ALT"]);
        assert!(regional.covers_region(&alt));
        assert!(regional.covers_municipality(&alt, "01601000"));
        assert!(!regional.covers_region(&sar));

        let municipal = caller(&["municipality:RU-ALT/01601000"]);
        assert!(!municipal.covers_region(&alt));
        assert!(municipal.covers_municipality(&alt, "01601000"));
        assert!(!municipal.covers_municipality(&alt, "01602000"));
    }

    #[test]
    fn unknown_scopes_are_dropped_not_widened() {
        let c = caller(&["galaxy:all", "region:RU-ALT"]);
        assert_eq!(c.scopes().len(), 1);
    }

    #[test]
    fn a_missing_role_is_permission_denied() {
        let c = caller(&[]);
        assert!(c.require_role("competitions.team").is_ok());
        let err = c
            .require_role("competitions.organiser")
            .expect_err("not an organiser");
        assert_eq!(err.reason, reason::ROLE_REQUIRED);
    }
}
