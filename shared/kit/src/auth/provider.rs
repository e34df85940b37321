//! The identity provider's keys by OpenID Connect discovery (issue 18, item 4): the JWKS
//! named by `jwks_uri` in `<issuer>/.well-known/openid-configuration` (or a configured JWKS
//! URL), fetched at start, refreshed on schedule, and fetched again when a token names a
//! key the process does not know — at most once per the configured interval, however many
//! such tokens arrive, so that forged `kid`s cannot make the process hammer the provider.
//! When the provider is down or answers nonsense the last good key set stays in force.
//!
//! [`super::TokenVerifier::verify`] is synchronous: it reads the key set the background
//! task keeps current and, for an unknown `kid`, only raises a flag and wakes the task.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use jsonwebtoken::jwk::JwkSet;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::fetch::Fetcher;
use super::verifier::{Issuer, KeyLoadError, KeyRing, Strictness, VerifiedTokens, add_jwk_set};
use crate::config::{ProviderConfig, ProviderLocation};

/// How long start-up waits between attempts while the provider does not answer.
const START_RETRY: Duration = Duration::from_secs(2);

/// The path of the discovery document under the issuer.
pub const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";

/// The fields of the discovery document the suite reads.
#[derive(Debug, serde::Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

/// Where the keys of one issuer come from, and the state of fetching them.
pub(super) struct Provider {
    issuer: String,
    location: ProviderLocation,
    fetcher: Fetcher,
    refresh: Duration,
    min_refetch: Duration,
    start_patience: Duration,
    /// The JWKS URL, once known (configured, or found by discovery).
    jwks_uri: Mutex<Option<String>>,
    /// The last key set fetched, to tell a change from the same set again.
    last_set: Mutex<Option<JwkSet>>,
    /// A token named an unknown key since the last fetch.
    wanted: AtomicBool,
    wake: Notify,
    fetches: AtomicU64,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("issuer", &self.issuer)
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

impl Provider {
    pub(super) fn new(issuer: &str, config: &ProviderConfig) -> Result<Self, KeyLoadError> {
        let fetcher = Fetcher::new(config.ca_file.as_deref(), config.allow_http, config.timeout)
            .map_err(|e| KeyLoadError::Provider(e.to_string()))?;
        let jwks_uri = match &config.location {
            ProviderLocation::JwksUri(uri) => {
                fetcher
                    .check_url(uri)
                    .map_err(|e| KeyLoadError::Provider(e.to_string()))?;
                Some(uri.clone())
            }
            ProviderLocation::Discovery => {
                fetcher
                    .check_url(&discovery_url(issuer))
                    .map_err(|e| KeyLoadError::Provider(e.to_string()))?;
                None
            }
        };
        Ok(Provider {
            issuer: issuer.to_string(),
            location: config.location.clone(),
            fetcher,
            refresh: config.refresh,
            min_refetch: config.min_refetch,
            start_patience: config.start_patience,
            jwks_uri: Mutex::new(jwks_uri),
            last_set: Mutex::new(None),
            wanted: AtomicBool::new(false),
            wake: Notify::new(),
            fetches: AtomicU64::new(0),
        })
    }

    /// Asks the background task for a fetch (a token named an unknown key). Never blocks;
    /// a burst of such tokens wakes the task once.
    pub(super) fn want_refetch(&self) {
        if !self.wanted.swap(true, Ordering::AcqRel) {
            self.wake.notify_one();
        }
    }

    /// JWKS fetches made so far.
    pub(super) fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// The fetch at start: retried while the provider does not answer, for up to the
    /// configured patience; then the process stops, naming the URL and the reason.
    pub(super) async fn first_fetch(
        &self,
        issuer: &Issuer,
        verified: &VerifiedTokens,
    ) -> Result<(), KeyLoadError> {
        let deadline = Instant::now() + self.start_patience;
        loop {
            match self.fetch(issuer, verified, true).await {
                Ok(_) => return Ok(()),
                Err(e) if Instant::now() + START_RETRY < deadline => {
                    tracing::warn!(error = %e, "the identity provider's keys are not available yet; retrying");
                    tokio::time::sleep(START_RETRY).await;
                }
                Err(e) => {
                    return Err(KeyLoadError::Provider(format!(
                        "{e} (gave up after {:?})",
                        self.start_patience
                    )));
                }
            }
        }
    }

    /// Fetches the key set (discovering the JWKS URL first when it is not known yet, or
    /// again on a scheduled refresh) and puts it in force when it changed. `Ok(true)` when
    /// the keys changed. On any error the keys in force stay.
    async fn fetch(
        &self,
        issuer: &Issuer,
        verified: &VerifiedTokens,
        rediscover: bool,
    ) -> Result<bool, KeyLoadError> {
        let provider = |e: String| KeyLoadError::Provider(e);
        let known = self
            .jwks_uri
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let jwks_uri = match (&self.location, known) {
            (ProviderLocation::Discovery, None) => self.discover().await?,
            (ProviderLocation::Discovery, Some(_)) if rediscover => self.discover().await?,
            (_, Some(uri)) => uri,
            (ProviderLocation::JwksUri(uri), None) => uri.clone(),
        };
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let body = self
            .fetcher
            .get(&jwks_uri)
            .await
            .map_err(|e| provider(e.to_string()))?;
        let set: JwkSet = serde_json::from_slice(&body)
            .map_err(|e| provider(format!("{jwks_uri}: not a JWKS document: {e}")))?;
        {
            let last = self.last_set.lock().unwrap_or_else(|p| p.into_inner());
            if last.as_ref() == Some(&set) {
                return Ok(false);
            }
        }
        let mut ring = KeyRing::default();
        add_jwk_set(&mut ring, &set, Strictness::SkipUnusable)?;
        if ring.len() == 0 {
            return Err(provider(format!("{jwks_uri}: no usable signing key")));
        }
        let count = ring.len();
        *issuer.fetched.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(ring);
        *self.last_set.lock().unwrap_or_else(|p| p.into_inner()) = Some(set);
        // Tokens verified with a key that is gone must not stay accepted from the cache.
        verified.clear();
        tracing::info!(issuer = %self.issuer, keys = count, "token keys from the identity provider in force");
        Ok(true)
    }

    /// The JWKS URL from the discovery document, which must name this very issuer.
    async fn discover(&self) -> Result<String, KeyLoadError> {
        let url = discovery_url(&self.issuer);
        let provider = |e: String| KeyLoadError::Provider(e);
        let body = self
            .fetcher
            .get(&url)
            .await
            .map_err(|e| provider(e.to_string()))?;
        let discovery: Discovery = serde_json::from_slice(&body)
            .map_err(|e| provider(format!("{url}: not a discovery document: {e}")))?;
        if discovery.issuer != self.issuer {
            return Err(provider(format!(
                "{url}: the document is for the issuer {:?}, not {:?}",
                discovery.issuer, self.issuer
            )));
        }
        self.fetcher
            .check_url(&discovery.jwks_uri)
            .map_err(|e| provider(format!("{url}: jwks_uri: {e}")))?;
        *self.jwks_uri.lock().unwrap_or_else(|p| p.into_inner()) = Some(discovery.jwks_uri.clone());
        Ok(discovery.jwks_uri)
    }
}

/// `<issuer>/.well-known/openid-configuration`.
pub fn discovery_url(issuer: &str) -> String {
    format!("{}{DISCOVERY_PATH}", issuer.trim_end_matches('/'))
}

/// Keeps the issuer's fetched keys current for as long as the verifier lives: a fetch every
/// `refresh`, and one when a token named an unknown key — but never sooner than
/// `min_refetch` after the previous fetch, whatever asked for it.
pub(super) fn spawn_refresh(
    issuer: Weak<Issuer>,
    provider: Arc<Provider>,
    verified: Weak<VerifiedTokens>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        // The first fetch has just been made by start-up.
        let mut last_fetch = Instant::now();
        loop {
            let scheduled = tokio::select! {
                () = tokio::time::sleep_until(last_fetch + provider.refresh) => true,
                () = provider.wake.notified() => false,
            };
            if !scheduled {
                tokio::time::sleep_until(last_fetch + provider.min_refetch).await;
            }
            let (Some(issuer), Some(verified)) = (issuer.upgrade(), verified.upgrade()) else {
                // The verifier is gone: nothing left to keep current.
                return;
            };
            provider.wanted.store(false, Ordering::Release);
            last_fetch = Instant::now();
            match provider.fetch(&issuer, &verified, scheduled).await {
                Ok(true) => tracing::info!(
                    reason = if scheduled { "schedule" } else { "unknown key" },
                    "refreshed the identity provider's keys"
                ),
                Ok(false) => tracing::debug!("the identity provider's keys are unchanged"),
                Err(e) => tracing::warn!(
                    error = %e,
                    "cannot refresh the identity provider's keys; keeping the last good set"
                ),
            }
        }
    })
}
