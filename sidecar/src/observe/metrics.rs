//! Prometheus metrics, served on the admin port only.

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, text::encode};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels of the request counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabels {
    /// HTTP status code of the response.
    pub status: u16,
}

/// Labels of the handler latency histogram.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    /// The sidecar's route, as declared (`/login`, `/auth/oidc`, ...).
    pub route: String,
}

/// How a login attempt ended.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
pub enum LoginOutcome {
    /// A session was issued.
    Success,
    /// The provider returned an error (e.g. `access_denied`).
    ProviderError,
    /// The callback did not belong to this browser, or came too late.
    InvalidCallback,
    /// Code exchange, ID token or userinfo failed.
    TokenFailure,
    /// The claims do not make a login (e.g. no username).
    BadClaims,
    /// The provider's discovery document was unavailable.
    ProviderUnavailable,
}

/// Labels of the login counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LoginLabels {
    /// How the login ended.
    pub outcome: LoginOutcome,
}

/// How a config reload ended.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
pub enum ReloadResult {
    /// The new settings are in use.
    Applied,
    /// The new files were refused; the last good settings stay.
    Refused,
}

/// Labels of the reload counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReloadLabels {
    /// How the reload ended.
    pub result: ReloadResult,
}

/// How the access check ended for a proxied request.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
pub enum AccessOutcome {
    /// A public path: forwarded, signed in or not.
    Public,
    /// A signed-in caller with enough access: forwarded.
    Allowed,
    /// A signed-in caller without enough access: 403.
    Denied,
    /// Nobody signed in on a path that needs someone: sign-in redirect or 401.
    SignInRequired,
    /// A path the app could read differently (an encoded slash, ...): 400.
    AmbiguousPath,
    /// A session the shared log-out list is too old to vouch for: 503.
    StoreUnavailable,
}

/// Labels of the access counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AccessLabels {
    /// How the check ended.
    pub outcome: AccessOutcome,
}

/// What became of a bearer token.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
pub enum BearerResult {
    /// Verified: the request carries its identity.
    Accepted,
    /// Not verified (signature, issuer, audience, expiry, claims): 401.
    Refused,
}

/// Labels of the bearer token counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BearerLabels {
    /// What became of the token.
    pub result: BearerResult,
}

/// What became of a session's renewal.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
pub enum RefreshResult {
    /// The provider renewed it.
    Renewed,
    /// The provider refused (or its answer did not hold): the session ended.
    Ended,
    /// The provider did not answer usefully: served within the grace.
    Unavailable,
}

/// Labels of the renewal counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RefreshLabels {
    /// What became of the renewal.
    pub result: RefreshResult,
}

/// Every metric the sidecar exports.
pub struct Metrics {
    registry: Registry,
    /// Responses by status code.
    pub requests: Family<StatusLabels, Counter>,
    /// Login attempts by outcome.
    pub logins: Family<LoginLabels, Counter>,
    /// Time from sending a request upstream to its response headers.
    pub upstream_latency: Histogram,
    /// Config reloads by result.
    pub reloads: Family<ReloadLabels, Counter>,
    /// Requests on the public port not yet answered.
    pub in_flight: Gauge,
    /// Time the sidecar's own handlers take, by route.
    pub handler_latency: Family<RouteLabels, Histogram>,
    /// Access checks of proxied requests, by outcome.
    pub access: Family<AccessLabels, Counter>,
    /// Bearer tokens presented, by result.
    pub bearer: Family<BearerLabels, Counter>,
    /// Session renewals at the provider, by result.
    pub refreshes: Family<RefreshLabels, Counter>,
    /// 1 while the session store answers, 0 while it does not; absent
    /// without a store.
    pub store_reachable: Gauge,
    /// 1 while the local copy of the log-out list is within its staleness
    /// bound, 0 past it (sessions then get 503).
    pub store_fresh: Gauge,
    /// Backup-login attempts and enrolment codes counted on this replica
    /// alone because the session store did not answer.
    pub store_fallbacks: Counter,
}

/// Buckets of the handler latency: 0.5 ms to about 4 s (backup logins hash a
/// password, code exchanges wait for the provider).
fn handler_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.5, 11))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("portcullis");
        let requests = Family::<StatusLabels, Counter>::default();
        registry.register(
            "http_requests",
            "Responses by status code",
            requests.clone(),
        );
        let logins = Family::<LoginLabels, Counter>::default();
        registry.register("logins", "Login attempts by outcome", logins.clone());
        let upstream_latency = Histogram::new(exponential_buckets(0.0001, 2.5, 14));
        registry.register(
            "upstream_latency_seconds",
            "Time until the app's response headers arrive",
            upstream_latency.clone(),
        );
        let reloads = Family::<ReloadLabels, Counter>::default();
        registry.register(
            "config_reloads",
            "Config reloads by result",
            reloads.clone(),
        );
        let in_flight = Gauge::default();
        registry.register(
            "http_requests_in_flight",
            "Requests on the public port not yet answered",
            in_flight.clone(),
        );
        let handler_latency =
            Family::<RouteLabels, Histogram>::new_with_constructor(handler_buckets as fn() -> _);
        registry.register(
            "handler_latency_seconds",
            "Time the sidecar's own handlers take, by route",
            handler_latency.clone(),
        );
        let access = Family::<AccessLabels, Counter>::default();
        registry.register(
            "access_decisions",
            "Access checks of proxied requests, by outcome",
            access.clone(),
        );
        let bearer = Family::<BearerLabels, Counter>::default();
        registry.register(
            "bearer_tokens",
            "Bearer tokens presented, by result",
            bearer.clone(),
        );
        let refreshes = Family::<RefreshLabels, Counter>::default();
        registry.register(
            "session_refreshes",
            "Session renewals at the provider, by result",
            refreshes.clone(),
        );
        let store_reachable = Gauge::default();
        let store_fresh = Gauge::default();
        let store_fallbacks = Counter::default();
        Self {
            registry,
            access,
            bearer,
            refreshes,
            store_reachable,
            store_fresh,
            store_fallbacks,
            requests,
            logins,
            upstream_latency,
            reloads,
            in_flight,
            handler_latency,
        }
    }
}

impl Metrics {
    /// Counts a login attempt.
    pub fn login(&self, outcome: LoginOutcome) {
        self.logins.get_or_create(&LoginLabels { outcome }).inc();
    }

    /// The registry in Prometheus text format.
    pub fn render(&self) -> String {
        let mut text = String::new();
        if encode(&mut text, &self.registry).is_err() {
            text.clear();
        }
        text
    }

    /// Counts an access check.
    pub fn access(&self, outcome: AccessOutcome) {
        self.access.get_or_create(&AccessLabels { outcome }).inc();
    }

    /// Counts a bearer token.
    pub fn bearer(&self, result: BearerResult) {
        self.bearer.get_or_create(&BearerLabels { result }).inc();
    }

    /// Counts a session renewal.
    pub fn refresh(&self, result: RefreshResult) {
        self.refreshes
            .get_or_create(&RefreshLabels { result })
            .inc();
    }

    /// Shows the session store's state from now on.
    pub fn register_store(&mut self) {
        self.registry.register(
            "session_store_reachable",
            "1 while the session store answers",
            self.store_reachable.clone(),
        );
        self.registry.register(
            "session_store_fresh",
            "1 while the local copy of the log-out list is within its staleness bound",
            self.store_fresh.clone(),
        );
        self.registry.register(
            "backup_budget_fallbacks",
            "Backup-login budgets counted on this replica alone because the session store did not answer",
            self.store_fallbacks.clone(),
        );
    }

    /// Counts a config reload.
    pub fn reload(&self, result: ReloadResult) {
        self.reloads.get_or_create(&ReloadLabels { result }).inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counted_events_appear_in_the_text_format() {
        let metrics = Metrics::default();
        metrics
            .requests
            .get_or_create(&StatusLabels { status: 502 })
            .inc();
        metrics.login(LoginOutcome::ProviderError);
        metrics.in_flight.inc();
        metrics.access(AccessOutcome::Denied);
        metrics.bearer(BearerResult::Refused);
        metrics
            .handler_latency
            .get_or_create(&RouteLabels {
                route: "/login".to_owned(),
            })
            .observe(0.002);
        let text = metrics.render();
        assert!(
            text.contains("portcullis_http_requests_total{status=\"502\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("portcullis_logins_total{outcome=\"ProviderError\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("portcullis_access_decisions_total{outcome=\"Denied\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("portcullis_bearer_tokens_total{result=\"Refused\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("portcullis_http_requests_in_flight 1"),
            "{text}"
        );
        assert!(
            text.contains("portcullis_handler_latency_seconds_count{route=\"/login\"} 1"),
            "{text}"
        );
    }
}
