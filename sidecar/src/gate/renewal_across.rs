//! One renewal per session across replicas, through the session store.
//!
//! The replica that takes the store's lock for a session (and its refresh
//! token) asks the provider and leaves the renewed session in the store,
//! sealed with the session keys under a name no cookie has (so a dump of
//! the store opens nothing, and the value is no cookie); the others wait
//! for it, a bounded while, and use it. A store that does not answer
//! leaves each replica to renew on its own, as without a store.

use crate::config::Settings;
use crate::runtime::state::AppState;
use crate::session::Session;
use crate::session::refreshes::RefreshOutcome;
use crate::session::revoked::sid_digest;
use crate::session::store::SessionStore;
use std::sync::Arc;
use std::time::Duration;

/// What the renewed session is sealed as in the store.
const SEALED_AS: &str = "portcullis-renewal";
/// How long the lock holds: longer than the provider is waited for.
const LOCK_MILLIS: u64 = 12_000;
/// How long a renewal is kept for the other replicas (seconds).
const KEPT_SECONDS: u64 = 120;
/// How often, and how many times, a replica looks for another's renewal.
const LOOK_EVERY: Duration = Duration::from_millis(100);
const LOOKS: u32 = 120;

/// The outcome of renewing under `flight` (the session and its refresh
/// token): another replica's, or `renew_here`'s when this one holds the lock.
pub async fn renew_once_across(
    state: &AppState,
    settings: &Settings,
    flight: &str,
    renew_here: impl Future<Output = RefreshOutcome>,
) -> RefreshOutcome {
    let Some(store) = &state.store else {
        return renew_here.await;
    };
    let digest = sid_digest(flight);
    let kept = format!("renewal:{digest}");
    if let Some(renewed) = renewed_elsewhere(store, settings, &kept).await {
        return RefreshOutcome::Renewed(renewed);
    }
    match store
        .try_lock(&format!("renewing:{digest}"), LOCK_MILLIS)
        .await
    {
        Ok(true) => {
            let outcome = renew_here.await;
            if let RefreshOutcome::Renewed(session) = &outcome {
                let sealed = settings.session.keys.seal(
                    SEALED_AS,
                    &serde_json::to_string(session.as_ref()).unwrap_or_default(),
                );
                if let Err(error) = store.put(&kept, &sealed, KEPT_SECONDS).await {
                    tracing::warn!(%error, "the renewed session was not shared through the store");
                }
            }
            outcome
        }
        Ok(false) => {
            for _ in 0..LOOKS {
                tokio::time::sleep(LOOK_EVERY).await;
                if let Some(renewed) = renewed_elsewhere(store, settings, &kept).await {
                    return RefreshOutcome::Renewed(renewed);
                }
            }
            tracing::warn!("another replica's renewal did not arrive in time");
            RefreshOutcome::Unavailable
        }
        Err(error) => {
            tracing::warn!(%error, "the session store did not answer: renewing on this replica");
            renew_here.await
        }
    }
}

/// The renewed session another replica left under `kept`, if any.
async fn renewed_elsewhere(
    store: &SessionStore,
    settings: &Settings,
    kept: &str,
) -> Option<Arc<Session>> {
    let sealed = store.get(kept).await.ok()??;
    let json = settings.session.keys.open(SEALED_AS, &sealed)?;
    serde_json::from_str::<Session>(&json).ok().map(Arc::new)
}
