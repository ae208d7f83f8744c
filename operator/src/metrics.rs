//! Prometheus metrics: reconcile runs, failures by reason, duration, leadership.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Label set of the failure counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FailureLabels {
    /// Short failure reason, e.g. `kube` or `render`.
    pub reason: String,
}

/// The operator's metrics and their registry.
pub struct Metrics {
    registry: Registry,
    /// Reconciles started.
    pub reconcile_runs: Counter,
    /// Reconciles that returned an error, by reason.
    pub reconcile_failures: Family<FailureLabels, Counter>,
    /// Reconcile duration in seconds.
    pub reconcile_duration: Histogram,
    /// 1 while this replica holds the leader Lease.
    pub leader: Gauge,
    /// Admission requests answered, by outcome.
    pub webhook_admissions: Family<OutcomeLabels, Counter>,
    /// Unix time at which the served webhook certificate expires.
    pub webhook_cert_expiry: Gauge,
    /// New webhook certificates this replica made.
    pub webhook_cert_renewals: Counter,
}

/// Label set of the admission counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// `injected`, `unchanged` or `denied`.
    pub outcome: String,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("portcullis_operator");
        let reconcile_runs = Counter::default();
        let reconcile_failures = Family::<FailureLabels, Counter>::default();
        let reconcile_duration = Histogram::new(exponential_buckets(0.005, 2.0, 12));
        let leader = Gauge::default();
        registry.register(
            "reconcile_runs",
            "Reconciles started",
            reconcile_runs.clone(),
        );
        registry.register(
            "reconcile_failures",
            "Reconciles that failed, by reason",
            reconcile_failures.clone(),
        );
        registry.register(
            "reconcile_duration_seconds",
            "Time spent in one reconcile",
            reconcile_duration.clone(),
        );
        registry.register("leader", "1 while this replica leads", leader.clone());
        let webhook_admissions = Family::<OutcomeLabels, Counter>::default();
        let webhook_cert_expiry = Gauge::default();
        let webhook_cert_renewals = Counter::default();
        registry.register(
            "webhook_admissions",
            "Admission requests answered, by outcome",
            webhook_admissions.clone(),
        );
        registry.register(
            "webhook_certificate_expiry_seconds",
            "Unix time at which the served webhook certificate expires",
            webhook_cert_expiry.clone(),
        );
        registry.register(
            "webhook_certificate_renewals",
            "New webhook certificates this replica made",
            webhook_cert_renewals.clone(),
        );
        Self {
            registry,
            reconcile_runs,
            reconcile_failures,
            reconcile_duration,
            leader,
            webhook_admissions,
            webhook_cert_expiry,
            webhook_cert_renewals,
        }
    }
}

impl Metrics {
    /// Records a failed reconcile.
    pub fn failed(&self, reason: &str) {
        self.reconcile_failures
            .get_or_create(&FailureLabels {
                reason: reason.to_owned(),
            })
            .inc();
    }

    /// Records an answered admission request.
    pub fn admitted(&self, outcome: &str) {
        self.webhook_admissions
            .get_or_create(&OutcomeLabels {
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        if prometheus_client::encoding::text::encode(&mut text, &self.registry).is_err() {
            text.clear();
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_names_runs_failures_duration_and_leadership() {
        let metrics = Metrics::default();
        metrics.reconcile_runs.inc();
        metrics.failed("kube");
        metrics.leader.set(1);
        let text = metrics.encode();
        assert!(
            text.contains("portcullis_operator_reconcile_runs_total 1"),
            "{text}"
        );
        assert!(
            text.contains("portcullis_operator_reconcile_failures_total{reason=\"kube\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("portcullis_operator_reconcile_duration_seconds_bucket"),
            "{text}"
        );
        assert!(text.contains("portcullis_operator_leader 1"), "{text}");
    }
}
