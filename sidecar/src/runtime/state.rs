//! What every door and request handler shares.

use crate::backup::guard::BackupGuard;
use crate::config::Settings;
use crate::identity::IdentitySigner;
use crate::observe::metrics::Metrics;
use crate::oidc::provider::Provider;
use crate::session::Session;
use crate::session::kept_refresh::forget;
use crate::session::opened::OpenedSessions;
use crate::session::refreshes::Refreshes;
use crate::session::revoked::RevokedSessions;
use crate::session::seen_once::SeenOnce;
use crate::session::store::wire::Revocation;
use crate::session::store::{SessionStore, StoreSetupError};
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
    /// Metrics for the admin port.
    pub metrics: Arc<Metrics>,
    /// Sessions ended by log out: this replica's copy of the list.
    pub revoked: Arc<RevokedSessions>,
    /// The store the replicas share the list through; `None`: this replica only.
    pub store: Option<Arc<SessionStore>>,
    /// Cookie values opened before, each bound to the key ring that opened it.
    pub opened: OpenedSessions,
    /// The backup login's budgets and password checks.
    pub backup: BackupGuard,
    /// Ids of the provider's logout tokens used here.
    pub logout_tokens_seen: SeenOnce,
    /// Session renewals under way or recently done.
    pub refreshes: Refreshes,
    /// Signs the identity for the app, reusing recent tokens.
    pub identity: IdentitySigner,
    /// Set at SIGTERM: `/readyz` then answers 503 while requests are still served.
    pub draining: AtomicBool,
}

/// Why the shared state could not be made.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The client for the identity provider.
    #[error("cannot make the identity provider's HTTP client: {0}")]
    Http(#[from] reqwest::Error),
    /// The session store's settings.
    #[error(transparent)]
    Store(#[from] StoreSetupError),
}

/// The state as handlers receive it.
pub type SharedState = Arc<AppState>;

impl AppState {
    /// State for `settings`, with fresh clients. The session store is set
    /// up from the first settings; it connects later, in the background.
    pub fn new(settings: Settings, metrics: Arc<Metrics>) -> Result<Self, StateError> {
        let http = provider_http_client(&settings.oidc.ca_certificates)?;
        let store = settings
            .session
            .store
            .as_ref()
            .map(SessionStore::new)
            .transpose()?
            .map(Arc::new);
        Ok(Self {
            settings: ArcSwap::from_pointee(settings),
            provider: Arc::new(Provider::new(http)),
            revoked: Arc::default(),
            backup: BackupGuard::counted_in(store.clone(), Arc::clone(&metrics)),
            metrics,
            store,
            opened: OpenedSessions::default(),
            logout_tokens_seen: SeenOnce::default(),
            refreshes: Refreshes::default(),
            identity: IdentitySigner::default(),
            draining: AtomicBool::new(false),
        })
    }
}

impl AppState {
    /// Adds `session` to the log-out list until it could no longer be used
    /// (renewals included), and announces it to the other replicas when
    /// there is a store.
    pub async fn revoke_session(&self, session: &Session) {
        let now = unix_now();
        let until = session.last_moment();
        let digest = self.revoked.revoke(&session.sid, until, now);
        if let Some(store) = &self.store {
            store
                .announce(Revocation::of_session(digest, until), now)
                .await;
            forget(store, session).await;
        }
    }
}

/// The client for the identity provider: bounded in time, never following
/// redirects, trusting `ca_certificates` (DER) beside the web's roots.
pub fn provider_http_client(
    ca_certificates: &[Vec<u8>],
) -> Result<reqwest::Client, reqwest::Error> {
    let mut builder = reqwest::Client::builder();
    for certificate in ca_certificates {
        builder = builder.add_root_certificate(reqwest::Certificate::from_der(certificate)?);
    }
    builder
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
