//! What every request handler shares.

use crate::config::Settings;
use crate::metrics::Metrics;
use crate::oidc::provider::Provider;
use arc_swap::ArcSwap;
use axum::body::Body;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The hyper client that talks to the protected app.
pub type UpstreamClient = Client<HttpConnector, Body>;

/// Shared state; settings are swapped whole when the config file changes.
pub struct AppState {
    /// The current settings; a reload swaps them for new requests only.
    pub settings: ArcSwap<Settings>,
    /// The identity provider's cached discovery document.
    pub provider: Arc<Provider>,
    /// HTTP client for the identity provider (no redirects, with timeouts).
    pub http: reqwest::Client,
    /// HTTP client for the app.
    pub upstream: UpstreamClient,
    /// Metrics for the admin port.
    pub metrics: Arc<Metrics>,
}

/// The state as handlers receive it.
pub type SharedState = Arc<AppState>;

impl AppState {
    /// State for `settings`, with fresh clients.
    pub fn new(settings: Settings, metrics: Arc<Metrics>) -> Result<Self, reqwest::Error> {
        let http = provider_http_client()?;
        Ok(Self {
            settings: ArcSwap::from_pointee(settings),
            provider: Arc::new(Provider::new(http.clone())),
            http,
            upstream: upstream_client(),
            metrics,
        })
    }
}

/// The client for the identity provider: bounded in time, never following redirects.
pub fn provider_http_client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10))
        .user_agent(concat!("portcullis-sidecar/", env!("CARGO_PKG_VERSION")))
        .build()
}

fn upstream_client() -> UpstreamClient {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    connector.set_connect_timeout(Some(Duration::from_secs(5)));
    Client::builder(hyper_util::rt::TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(60))
        .build(connector)
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(0)
}
