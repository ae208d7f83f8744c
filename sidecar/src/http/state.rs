//! What every request handler shares.

use crate::backup::budgets::{Attempter, BackupGate};
use crate::backup::password_checks::PasswordChecks;
use crate::config::Settings;
use crate::identity::IdentitySigner;
use crate::observe::metrics::Metrics;
use crate::oidc::provider::Provider;
use crate::session::revoked::RevokedSessions;
use arc_swap::ArcSwap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::AtomicBool;
use std::time::Instant;
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
    /// Backup-login budgets of unknown clients and known devices.
    pub backup_gate: Mutex<BackupGate>,
    /// Root-admin password checks, bounded in number and memory.
    pub password_checks: PasswordChecks,
    /// Signs the identity for the app, reusing recent tokens.
    pub identity: IdentitySigner,
    /// Set at SIGTERM: `/readyz` then answers 503 while requests are still served.
    pub draining: AtomicBool,
    started: Instant,
}

/// Root-admin password checks at once: each holds 19 MiB of argon2 memory.
const PASSWORD_CHECK_SLOTS: usize = 1;

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
            backup_gate: Mutex::new(BackupGate::default()),
            password_checks: PasswordChecks::new(PASSWORD_CHECK_SLOTS),
            identity: IdentitySigner::default(),
            draining: AtomicBool::new(false),
            started: Instant::now(),
        })
    }

    /// Takes one backup-login attempt for `who`, or says how long to wait.
    pub fn take_backup_attempt(&self, who: &Attempter) -> Result<(), Duration> {
        let now = self.started.elapsed().as_secs_f64();
        match self.backup_gate.lock() {
            Ok(mut gate) => gate.try_attempt(who, now),
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

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(0)
}
