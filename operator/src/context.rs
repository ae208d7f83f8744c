//! What every reconcile shares: the client, caches, metrics and timings.

use crate::cluster_version::ClusterVersion;
use crate::crd::{OidcSettings, OidcSettingsStatus};
use crate::discovery::DiscoveryCache;
use crate::metrics::Metrics;
use crate::sidecar_container::SidecarOptions;
use k8s_openapi::api::networking::v1::NetworkPolicyPeer;
use kube::runtime::events::Recorder;
use kube::{Client, ResourceExt};
use portcullis_contract::password_pool::PasswordPool;
use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[cfg(test)]
pub(crate) mod fake_api;

/// Shared state of the controller.
pub struct Context {
    /// API client.
    pub client: Client,
    /// The API server's Kubernetes version, read at start-up.
    pub cluster_version: Option<ClusterVersion>,
    /// The sidecar container a forward-auth service's Deployment runs.
    pub sidecar: SidecarOptions,
    /// Discovery documents by URL.
    pub discovery: DiscoveryCache,
    /// Asks running pods on their admin port which settings they serve.
    pub admin_client: reqwest::Client,
    /// The operator's pods, admitted to that port by each NetworkPolicy.
    pub operator_peer: Option<NetworkPolicyPeer>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Publishes Events on `Ready` transitions.
    pub recorder: Recorder,
    /// Re-check interval while everything is fine (provider may change).
    pub recheck: Duration,
    /// Re-check interval while something is wrong.
    pub retry: Duration,
    /// Consecutive failures by object, for backoff.
    pub failures: Mutex<HashMap<String, u32>>,
    /// Runs argon2, a bounded number at a time: each takes 19 MiB and a core.
    pub hashing: PasswordPool,
    /// The status this process last wrote, by object uid. The watch cache
    /// can lag behind a write; deciding on this avoids writing (and
    /// announcing) the same status twice.
    pub written_status: Mutex<HashMap<String, OidcSettingsStatus>>,
}

impl Context {
    /// Drops what is kept about a deleted object. Best effort: a deletion the
    /// watch missed only leaves a few bytes behind.
    pub fn forget(&self, settings: &OidcSettings) {
        if let Ok(mut failures) = self.failures.lock() {
            failures.remove(&settings_key(settings));
        }
        if let (Ok(mut written), Some(uid)) = (self.written_status.lock(), settings.uid()) {
            written.remove(&uid);
        }
    }
}

/// `namespace/name` of an `OidcSettings`.
pub fn settings_key(settings: &OidcSettings) -> String {
    format!(
        "{}/{}",
        settings.namespace().unwrap_or_default(),
        settings.name_any()
    )
}

/// `base` stretched by up to a tenth, the same for the same `key`, so
/// objects reconciled together do not all come due together again.
pub fn spread(base: Duration, key: &str) -> Duration {
    let mut hasher = DefaultHasher::new();
    key.hash(&mut hasher);
    let tenth_ms = u64::try_from(base.as_millis() / 10).unwrap_or(u64::MAX);
    base + Duration::from_millis(hasher.finish() % tenth_ms.max(1))
}

/// Exponential backoff after `failures` consecutive failures: 1 s doubling up to 5 min.
pub fn backoff(failures: u32) -> Duration {
    let seconds = 1u64 << failures.saturating_sub(1).min(9);
    Duration::from_secs(seconds.min(300))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(1), Duration::from_secs(1));
        assert_eq!(backoff(2), Duration::from_secs(2));
        assert_eq!(backoff(4), Duration::from_secs(8));
        assert_eq!(backoff(40), Duration::from_secs(300));
    }

    #[test]
    fn spread_stays_within_a_tenth_and_is_stable_per_key() {
        let base = Duration::from_secs(300);
        let delays: Vec<_> = (0..200)
            .map(|i| spread(base, &format!("ns/s{i}")))
            .collect();
        assert!(delays.iter().all(|d| *d >= base && *d < base + base / 10));
        assert_eq!(spread(base, "ns/s1"), spread(base, "ns/s1"));
        let distinct: std::collections::HashSet<_> = delays.iter().collect();
        assert!(distinct.len() > 150, "{} distinct delays", distinct.len());
    }

    #[test]
    fn spread_of_zero_is_zero() {
        assert_eq!(spread(Duration::ZERO, "a"), Duration::ZERO);
    }
}
