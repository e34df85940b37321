//! Callers known by their client certificate (issue 18, item 2): a government system
//! without a user token calls with a certificate from a CA the listener trusts
//! (`EDU_TLS_CLIENT_CA_FILE`), and the identities file (`EDU_TLS_CLIENT_IDENTITIES_FILE`)
//! says which caller each certificate is, with which roles and scopes.
//!
//! **The rule.** An entry names a subject alternative name (`san`) the certificate must
//! carry: a DNS name (compared without regard to case) or, when it contains a `:`, a URI
//! (compared exactly, for example a SPIFFE ID). The Subject CN is not used: it is not
//! meant to carry names any more, and CAs constrain and validate SANs. A certificate
//! matching no entry, or entries of two different callers, is mapped to nobody.
//!
//! The handshake has verified the certificate (chain to a trusted CA, validity period)
//! before any of this runs; this module only names its holder.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use rustls_pki_types::CertificateDer;
use serde::Deserialize;

use super::{Caller, Claims, Scope};
use crate::error::{ApiError, ErrorKind, Reason};

/// A verified client certificate that no entry of the identities file names (and the call
/// carries no token).
pub const CERTIFICATE_NOT_MAPPED: Reason = Reason::new(
    "CERTIFICATE_NOT_MAPPED",
    "Сертификат клиента действителен, но не сопоставлен ни одной системе: обратитесь к оператору.",
);

/// One entry of the identities file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificateIdentity {
    /// A subject alternative name of the certificate: a DNS name, or a URI.
    pub san: String,
    /// The caller's subject, as the services see it (`sub`).
    pub subject: String,
    /// A display name, optional.
    #[serde(default)]
    pub name: Option<String>,
    /// Roles, each `<service>.<role>`.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Tenant scopes, each `<kind>:<value>`.
    #[serde(default)]
    pub scopes: Vec<String>,
}

/// Why the identities file could not be used.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {problem}")]
pub struct IdentitiesError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong with it.
    pub problem: String,
}

/// The callers of the identities file, by the names their certificates carry.
#[derive(Debug, Default)]
struct Mapping {
    /// Lower-cased DNS names.
    dns: HashMap<String, Caller>,
    /// URIs, exactly.
    uri: HashMap<String, Caller>,
}

impl Mapping {
    fn parse(text: &str) -> Result<Self, String> {
        let entries: Vec<CertificateIdentity> = if text.trim().is_empty() {
            Vec::new()
        } else {
            serde_yaml_ng::from_str(text).map_err(|e| e.to_string())?
        };
        let mut mapping = Mapping::default();
        for (index, entry) in entries.into_iter().enumerate() {
            let at = |problem: String| format!("entry {}: {problem}", index + 1);
            let san = entry.san.trim().to_string();
            if san.is_empty() {
                return Err(at("san is empty".into()));
            }
            if entry.subject.trim().is_empty() {
                return Err(at("subject is empty".into()));
            }
            if let Some(bad) = entry.roles.iter().find(|r| r.trim().is_empty()) {
                return Err(at(format!("role {bad:?} is empty")));
            }
            for scope in &entry.scopes {
                Scope::parse(scope).map_err(|e| at(e.to_string()))?;
            }
            let caller = Caller::from_certificate(Claims {
                sub: entry.subject.trim().to_string(),
                name: entry.name,
                roles: entry.roles,
                scopes: entry.scopes,
            });
            let (table, key) = match san.contains(':') {
                true => (&mut mapping.uri, san.clone()),
                false => (&mut mapping.dns, san.to_ascii_lowercase()),
            };
            if table.insert(key, caller).is_some() {
                return Err(at(format!("san {san:?} is listed twice")));
            }
        }
        Ok(mapping)
    }

    /// The one caller the certificate's names select.
    fn caller_for(&self, leaf: &CertificateDer<'_>) -> Result<Caller, &'static str> {
        let certificate =
            webpki::EndEntityCert::try_from(leaf).map_err(|_| "the certificate cannot be read")?;
        let mut found: Option<&Caller> = None;
        let dns = certificate
            .valid_dns_names()
            .filter_map(|name| self.dns.get(&name.to_ascii_lowercase()));
        let uri = certificate
            .valid_uri_names()
            .filter_map(|name| self.uri.get(name));
        for caller in dns.chain(uri) {
            match found {
                Some(already) if already.subject() != caller.subject() => {
                    return Err("the certificate's names select several callers");
                }
                _ => found = Some(caller),
            }
        }
        found
            .cloned()
            .ok_or("no entry of the identities file names the certificate")
    }
}

/// The identities file, re-read when it changes.
#[derive(Debug)]
pub struct CertificateIdentities {
    path: Option<PathBuf>,
    current: RwLock<Arc<Mapping>>,
    seen: Mutex<Option<SystemTime>>,
}

impl CertificateIdentities {
    /// Reads the file; fails when it is missing or malformed. `None` for no file: every
    /// certificate is then mapped to nobody (a certificate still lets a caller with a token
    /// in when client certificates are required).
    pub fn load(path: Option<&Path>) -> Result<Arc<Self>, IdentitiesError> {
        let (mapping, seen) = match path {
            Some(path) => (read(path)?, modified(path)),
            None => (Mapping::default(), None),
        };
        Ok(Arc::new(CertificateIdentities {
            path: path.map(Path::to_path_buf),
            current: RwLock::new(Arc::new(mapping)),
            seen: Mutex::new(seen),
        }))
    }

    /// Reads the file again if it changed; `Ok(true)` when the mapping was replaced. On an
    /// error the previous mapping stays in force.
    pub fn reload_if_changed(&self) -> Result<bool, IdentitiesError> {
        let Some(path) = &self.path else {
            return Ok(false);
        };
        let now = modified(path);
        if *self.seen.lock().unwrap_or_else(|p| p.into_inner()) == now {
            return Ok(false);
        }
        let mapping = read(path)?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(mapping);
        *self.seen.lock().unwrap_or_else(|p| p.into_inner()) = now;
        Ok(true)
    }

    /// The caller a verified client certificate (the leaf) stands for, or PERMISSION_DENIED
    /// `CERTIFICATE_NOT_MAPPED`.
    pub fn caller_for(&self, leaf: &CertificateDer<'_>) -> Result<Caller, ApiError> {
        let mapping = Arc::clone(&self.current.read().unwrap_or_else(|p| p.into_inner()));
        mapping.caller_for(leaf).map_err(|why| {
            ApiError::new(
                ErrorKind::PermissionDenied,
                CERTIFICATE_NOT_MAPPED,
                format!("client certificate not mapped to a caller: {why}"),
            )
        })
    }
}

fn read(path: &Path) -> Result<Mapping, IdentitiesError> {
    let problem = |problem: String| IdentitiesError {
        path: path.to_path_buf(),
        problem,
    };
    let text = std::fs::read_to_string(path).map_err(|e| problem(e.to_string()))?;
    Mapping::parse(&text).map_err(problem)
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_checked_when_read() {
        let good = r#"
- san: registry.example.gov
  subject: system:registry
  roles: [competitions.observer]
  scopes: ["region:RU-ALT"]
- san: spiffe://gov.example/aid-exchange
  subject: system:aid-exchange
"#;
        let mapping = Mapping::parse(good).expect("valid");
        assert!(mapping.dns.contains_key("registry.example.gov"));
        assert!(
            mapping
                .uri
                .contains_key("spiffe://gov.example/aid-exchange")
        );
        assert!(Mapping::parse("").expect("empty").dns.is_empty());
        assert!(
            Mapping::parse(r#"[{"san":"A.example","subject":"a"}]"#).is_ok(),
            "JSON too"
        );
        for bad in [
            "- {san: '', subject: a}",
            "- {san: a.example, subject: ' '}",
            "- {san: a.example, subject: a, scopes: ['galaxy:all']}",
            "- {san: a.example, subject: a}\n- {san: A.EXAMPLE, subject: b}",
            "- {san: a.example, subject: a, rolez: []}",
            "not a list",
        ] {
            assert!(Mapping::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
