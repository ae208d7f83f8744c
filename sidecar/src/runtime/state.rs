//! What every door and request handler shares.

use crate::backup::guard::BackupGuard;
use crate::config::Settings;
use crate::identity::IdentitySigner;
use crate::observe::metrics::Metrics;
use crate::oidc::provider::Provider;
use crate::session::opened::OpenedSessions;
use crate::session::revoked::RevokedSessions;
use arc_swap::ArcSwap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Shared state; settings are swapped whole when the config file changes.
pub struct AppState {
    /// The current settings; a reload swaps them for new requests only.
    pub settings: ArcSwap<Settings>,
    /// The identity provider's cached discovery document.
    pub provider: Arc<Provider>,
    /// HTTP client for the identity provider (no redirects, with timeouts).
    pub http: reqwest::Client,
    /// Metrics for the admin port.
    pub metrics: Arc<Metrics>,
    /// Sessions ended by log out.
    pub revoked: RevokedSessions,
    /// Cookie values opened before, each bound to the key ring that opened it.
    pub opened: OpenedSessions,
    /// The backup login's budgets and password checks.
    pub backup: BackupGuard,
    /// Signs the identity for the app, reusing recent tokens.
    pub identity: IdentitySigner,
    /// Set at SIGTERM: `/readyz` then answers 503 while requests are still served.
    pub draining: AtomicBool,
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
            metrics,
            revoked: RevokedSessions::default(),
            opened: OpenedSessions::default(),
            backup: BackupGuard::default(),
            identity: IdentitySigner::default(),
            draining: AtomicBool::new(false),
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

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(0)
}
