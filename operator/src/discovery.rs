//! Fetching discovery documents, with a timeout and a per-URL cache.
//!
//! Many `OidcSettings` usually share one provider, and every reconcile checks
//! it: the cache keeps one fetch per URL per interval, and reconciles that
//! miss the cache together wait for a single fetch. Error messages are
//! short and stable (no addresses or OS error numbers) so an unchanged outage
//! yields an unchanged status, and nothing is rewritten.

use crate::fetch_failure::failure_cause;
use crate::status::discovery_document::Discovery;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One URL's cached outcome; the async lock makes concurrent misses wait
/// for the fetch in progress instead of starting their own.
type Entry = Arc<tokio::sync::Mutex<Option<(Instant, Outcome)>>>;

/// Outcome of a fetch: the document or why it could not be used.
pub type Outcome = Result<Discovery, String>;

/// Fetches and caches discovery documents.
pub struct DiscoveryCache {
    client: reqwest::Client,
    timeout: Duration,
    ttl: Duration,
    failure_ttl: Duration,
    entries: Mutex<HashMap<String, Entry>>,
}

impl DiscoveryCache {
    /// A cache keeping documents for `ttl` and failures for `failure_ttl`.
    pub fn new(timeout: Duration, ttl: Duration, failure_ttl: Duration) -> Self {
        let client = client_trusting(timeout, &[]).unwrap_or_default();
        Self {
            client,
            timeout,
            ttl,
            failure_ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The document at `url`, fetched trusting `ca_certificates` (DER)
    /// beside the web's roots, from the cache while it is fresh.
    pub async fn get(&self, url: &str, ca_certificates: &[Vec<u8>]) -> Outcome {
        let key = cache_key(url, ca_certificates);
        let Some(entry) = self.entry(&key) else {
            return self.fetch(url, ca_certificates).await;
        };
        let mut slot = entry.lock().await;
        if let Some((at, outcome)) = slot.as_ref()
            && at.elapsed() < self.ttl_of(outcome)
        {
            return outcome.clone();
        }
        let outcome = self.fetch(url, ca_certificates).await;
        *slot = Some((Instant::now(), outcome.clone()));
        outcome
    }

    fn entry(&self, url: &str) -> Option<Entry> {
        let mut entries = self.entries.lock().ok()?;
        Some(entries.entry(url.to_owned()).or_default().clone())
    }

    fn ttl_of(&self, outcome: &Outcome) -> Duration {
        if outcome.is_ok() {
            self.ttl
        } else {
            self.failure_ttl
        }
    }

    async fn fetch(&self, url: &str, ca_certificates: &[Vec<u8>]) -> Outcome {
        let client = match ca_certificates {
            [] => self.client.clone(),
            roots => client_trusting(self.timeout, roots)
                .map_err(|_| "the CA bundle could not be used".to_owned())?,
        };
        let response = client
            .get(url)
            .send()
            .await
            .map_err(|error| failure_cause(&error, self.timeout))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("HTTP {status}"));
        }
        let body = response
            .bytes()
            .await
            .map_err(|_| "the response body could not be read".to_owned())?;
        serde_json::from_slice(&body)
            .map_err(|error| format!("not an OpenID discovery document: {error}"))
    }
}

/// A client bounded by `timeout`, never following redirects, trusting
/// `roots` (DER) beside the web's.
fn client_trusting(timeout: Duration, roots: &[Vec<u8>]) -> reqwest::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none());
    for root in roots {
        builder = builder.add_root_certificate(reqwest::Certificate::from_der(root)?);
    }
    builder.build()
}

/// One cache entry per URL and set of trusted roots: two `OidcSettings`
/// naming one provider with different bundles are checked apart.
fn cache_key(url: &str, roots: &[Vec<u8>]) -> String {
    if roots.is_empty() {
        return url.to_owned();
    }
    let mut digest = Sha256::new();
    for root in roots {
        digest.update(root);
    }
    format!("{url} {:x}", digest.finalize())
}
