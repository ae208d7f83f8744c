//! The identity provider's discovery document, fetched once and kept.
//!
//! Discovery runs in the background from start-up, retrying with backoff
//! while the provider is down, so the sidecar (and the backup login) work
//! without it. A good document is refetched every 30 s; a failed refetch
//! keeps the last good document for logins and is reported as the
//! provider's state. Login paths ask for the cached document. A token whose
//! signature does not verify with the cached keys (a new `kid`, or a key
//! replaced under the same `kid`) triggers a refetch, single-flight, so a
//! burst of logins after a rotation causes one fetch. A token that came from
//! the provider's own token endpoint always earns that refetch: it can only
//! fail because the keys changed, so the first login after a rotation (even
//! a second rotation moments after the first) gets the new keys. A bearer
//! token can be made up by anyone, so its failures force at most one fetch
//! per few seconds: a flood of forged tokens never becomes a flood of
//! requests to the provider.

use super::types::Metadata;
use arc_swap::{ArcSwap, ArcSwapOption};
use openidconnect::{DiscoveryError, IssuerUrl};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// Shortest time between two refetches forced by bearer tokens.
const MIN_FORCED_INTERVAL: Duration = Duration::from_secs(5);
/// How often a good document is refreshed anyway: keys rotate, and an
/// outage should show on `/readyz` within a minute.
const REFRESH_EVERY: Duration = Duration::from_secs(30);
/// Longest wait between retries while the provider is unreachable.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(30);

/// Where a token that failed to verify came from, which decides whether it
/// may force a refetch of the provider's keys at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenSource {
    /// The provider's token endpoint, asked by the sidecar itself.
    TokenEndpoint,
    /// A client's `Authorization: Bearer` header.
    Bearer,
    /// A logout token posted to the back-channel logout route.
    LogoutToken,
}

impl TokenSource {
    /// Whether anyone may have made the token up, so its failures may force
    /// a refetch only every few seconds.
    fn may_be_forged(self) -> bool {
        self != Self::TokenEndpoint
    }
}

/// A discovery document for one issuer.
#[derive(Debug)]
pub struct Discovered {
    /// The issuer it was fetched for: the discovery URL without its suffix.
    /// The provider declares this, or this with a trailing slash (see
    /// [`Discovered::declared_issuer`]).
    pub issuer: String,
    /// The document and keys.
    pub metadata: Metadata,
    fetched_at: Instant,
}

impl Discovered {
    /// The issuer exactly as the provider declares it, which its tokens
    /// carry in `iss` and its callbacks in `iss`.
    pub fn declared_issuer(&self) -> &str {
        self.metadata.issuer().as_str()
    }
}

/// Why the provider's document is not available.
#[derive(Clone, Debug, thiserror::Error)]
#[error("cannot load the identity provider's discovery document for {issuer}: {reason}")]
pub struct DiscoveryFailure {
    /// The issuer asked for.
    pub issuer: String,
    /// What went wrong, without secrets.
    pub reason: String,
}

/// The cached discovery state, shared by all requests.
pub struct Provider {
    http: ArcSwap<reqwest::Client>,
    current: ArcSwapOption<Discovered>,
    last_failure: ArcSwapOption<DiscoveryFailure>,
    /// Held while fetching; holds when a bearer token last forced a refetch.
    fetch_lock: Mutex<Option<Instant>>,
}

impl Provider {
    /// A provider cache using `http` (no redirects, with timeouts) for discovery.
    pub fn new(http: reqwest::Client) -> Self {
        Self {
            http: ArcSwap::from_pointee(http),
            current: ArcSwapOption::empty(),
            last_failure: ArcSwapOption::empty(),
            fetch_lock: Mutex::new(None),
        }
    }

    /// The client every call to the provider goes through.
    pub fn http(&self) -> Arc<reqwest::Client> {
        self.http.load_full()
    }

    /// Calls the provider through `http` from now on (its trusted roots
    /// changed).
    pub fn use_http(&self, http: reqwest::Client) {
        self.http.store(Arc::new(http));
    }

    /// The document for `issuer`, from cache or fetched now.
    pub async fn get(&self, issuer: &str) -> Result<Arc<Discovered>, DiscoveryFailure> {
        if let Some(found) = self.cached(issuer) {
            return Ok(found);
        }
        let _guard = self.fetch_lock.lock().await;
        if let Some(found) = self.cached(issuer) {
            return Ok(found);
        }
        self.fetch(issuer).await
    }

    /// Refetches the document now (the periodic refresh).
    pub async fn refresh(&self, issuer: &str) -> Result<Arc<Discovered>, DiscoveryFailure> {
        let _guard = self.fetch_lock.lock().await;
        self.fetch(issuer).await
    }

    /// The keys after a token from `source` failed to verify with those of
    /// `used`: the document another request already refetched, or a fresh one.
    pub async fn refresh_after_key_failure(
        &self,
        used: &Arc<Discovered>,
        source: TokenSource,
    ) -> Result<Arc<Discovered>, DiscoveryFailure> {
        let mut last_forced = self.fetch_lock.lock().await;
        if let Some(current) = self.cached(&used.issuer) {
            let newer = !Arc::ptr_eq(&current, used);
            let throttled = source.may_be_forged()
                && last_forced.is_some_and(|at| at.elapsed() < MIN_FORCED_INTERVAL);
            if newer || throttled {
                return Ok(current);
            }
        }
        if source.may_be_forged() {
            *last_forced = Some(Instant::now());
        }
        self.fetch(&used.issuer).await
    }

    /// The cached document when it belongs to `issuer`.
    pub fn cached(&self, issuer: &str) -> Option<Arc<Discovered>> {
        self.current
            .load_full()
            .filter(|found| found.issuer == issuer)
    }

    /// The most recent failure, cleared by the next success (the cached
    /// document, if any, stays in use meanwhile).
    pub fn last_failure(&self) -> Option<Arc<DiscoveryFailure>> {
        self.last_failure.load_full()
    }

    async fn fetch(&self, issuer: &str) -> Result<Arc<Discovered>, DiscoveryFailure> {
        let failure = |reason: String| DiscoveryFailure {
            issuer: issuer.to_owned(),
            reason,
        };
        let issuer_url =
            IssuerUrl::new(issuer.to_owned()).map_err(|error| failure(error.to_string()))?;
        let http = self.http();
        let mut discovered = Metadata::discover_async(issuer_url, http.as_ref()).await;
        if let (Err(DiscoveryError::Validation(_)), Some(with_slash)) =
            (&discovered, issuer_with_trailing_slash(issuer))
        {
            // The same discovery URL, checked against the issuer spelled
            // with a slash, as some providers (Authentik) declare it.
            discovered = Metadata::discover_async(with_slash, http.as_ref()).await;
        }
        match discovered {
            Ok(metadata) => {
                let found = Arc::new(Discovered {
                    issuer: issuer.to_owned(),
                    metadata,
                    fetched_at: Instant::now(),
                });
                self.current.store(Some(found.clone()));
                self.last_failure.store(None);
                tracing::info!(issuer, "loaded the identity provider's discovery document");
                Ok(found)
            }
            Err(error) => {
                let error = failure(error_chain(&error));
                tracing::warn!(issuer, reason = %error.reason, "identity provider discovery failed");
                self.last_failure.store(Some(Arc::new(error.clone())));
                Err(error)
            }
        }
    }

    /// Keeps the document for the issuer that `current_issuer` returns loaded and fresh.
    pub async fn keep_fresh(self: Arc<Self>, current_issuer: impl Fn() -> String) {
        let mut retry_delay = Duration::from_secs(1);
        loop {
            let issuer = current_issuer();
            let stale = self
                .cached(&issuer)
                .is_none_or(|found| found.fetched_at.elapsed() >= REFRESH_EVERY);
            let delay = if !stale {
                Duration::from_secs(5)
            } else if self.refresh(&issuer).await.is_ok() {
                retry_delay = Duration::from_secs(1);
                Duration::from_secs(5)
            } else {
                let delay = retry_delay;
                retry_delay = (retry_delay * 2).min(MAX_RETRY_DELAY);
                delay
            };
            tokio::time::sleep(delay).await;
        }
    }
}

#[cfg(test)]
mod tests;

/// `issuer` with a trailing slash, when it has none: a discovery URL
/// (`<issuer>/.well-known/openid-configuration`) names both spellings, and
/// a provider may declare either.
fn issuer_with_trailing_slash(issuer: &str) -> Option<IssuerUrl> {
    if issuer.ends_with('/') {
        return None;
    }
    IssuerUrl::new(format!("{issuer}/")).ok()
}

/// An error and its causes on one line, e.g. `Request failed: connection refused`.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
