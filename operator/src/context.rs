//! What every reconcile shares: the client, caches, metrics and timings.

use crate::discovery::DiscoveryCache;
use crate::metrics::Metrics;
use kube::Client;
use kube::runtime::events::Recorder;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Shared state of the controller.
pub struct Context {
    /// API client.
    pub client: Client,
    /// Discovery documents by URL.
    pub discovery: DiscoveryCache,
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
}
