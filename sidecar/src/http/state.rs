//! What every request handler shares.

use crate::config::Settings;
use crate::metrics::Metrics;
use crate::oidc::provider::Provider;
use crate::rate_limit::{Rate, RateLimiter};
use crate::session::revoked::RevokedSessions;
use arc_swap::ArcSwap;
use axum::body::Body;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Instant;
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
    /// Sessions ended by log out.
    pub revoked: RevokedSessions,
    /// Backup-login attempts per client address and overall.
    pub backup_attempts: Mutex<RateLimiter<IpAddr>>,
    started: Instant,
}

/// Backup-login attempts per client: 5 at once, then one every 12 s.
const BACKUP_PER_CLIENT: Rate = Rate {
    burst: 5.0,
    seconds_per_attempt: 12.0,
};
/// Backup-login attempts overall: 20 at once, then one every 3 s.
const BACKUP_OVERALL: Rate = Rate {
    burst: 20.0,
    seconds_per_attempt: 3.0,
};
/// Client addresses remembered by the backup-login limiter.
const BACKUP_MAX_CLIENTS: usize = 10_000;

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
            revoked: RevokedSessions::default(),
            backup_attempts: Mutex::new(RateLimiter::new(
                BACKUP_PER_CLIENT,
                BACKUP_OVERALL,
                BACKUP_MAX_CLIENTS,
            )),
            started: Instant::now(),
        })
    }

    /// Takes one backup-login attempt for `client`, or says how long to wait.
    pub fn take_backup_attempt(&self, client: IpAddr) -> Result<(), Duration> {
        let now = self.started.elapsed().as_secs_f64();
        match self.backup_attempts.lock() {
            Ok(mut limiter) => limiter.try_acquire(&client, now),
            Err(_) => Err(Duration::from_secs(60)),
        }
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
