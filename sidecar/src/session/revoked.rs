//! Session ids ended by log out, kept until the session would have expired.
//!
//! The cookie is client-held, so clearing it is not enough: a copy saved
//! before log out would still open. Each replica keeps its own list in
//! memory; with several replicas a logged-out copy is refused only by the
//! replica that handled the log out (see the README).

use std::collections::HashMap;
use std::sync::Mutex;
use tokio::sync::Notify;

/// Most ids kept; beyond this the soonest-expiring are dropped first.
const MAX_REVOKED: usize = 100_000;

/// Revoked session ids with their expiry (unix seconds).
#[derive(Debug, Default)]
pub struct RevokedSessions {
    ids: Mutex<HashMap<String, u64>>,
    /// Wakes whoever holds a connection open for a session (a spliced WebSocket).
    changed: Notify,
}

impl RevokedSessions {
    /// Marks `sid` unusable until `expires_at`.
    pub fn revoke(&self, sid: &str, expires_at: u64, now: u64) {
        let Ok(mut ids) = self.ids.lock() else { return };
        ids.retain(|_, expiry| *expiry > now);
        if ids.len() >= MAX_REVOKED
            && let Some(soonest) = ids
                .iter()
                .min_by_key(|(_, expiry)| **expiry)
                .map(|(id, _)| id.clone())
        {
            ids.remove(&soonest);
        }
        ids.insert(sid.to_owned(), expires_at);
        drop(ids);
        self.changed.notify_waiters();
    }

    /// Returns once `sid` is logged out (at once if it already is).
    pub async fn wait_until_revoked(&self, sid: &str) {
        loop {
            let changed = self.changed.notified();
            if self.is_revoked(sid) {
                return;
            }
            changed.await;
        }
    }

    /// True when `sid` was logged out.
    pub fn is_revoked(&self, sid: &str) -> bool {
        self.ids
            .lock()
            .map(|ids| ids.contains_key(sid))
            .unwrap_or(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revoked_ids_are_refused_and_expired_ones_forgotten() {
        let revoked = RevokedSessions::default();
        revoked.revoke("a", 100, 0);
        assert!(revoked.is_revoked("a"));
        assert!(!revoked.is_revoked("b"));
        revoked.revoke("b", 300, 200);
        assert!(
            !revoked.is_revoked("a"),
            "a expired at 100 and was forgotten"
        );
        assert!(revoked.is_revoked("b"));
    }

    #[tokio::test]
    async fn a_waiter_wakes_when_its_session_is_revoked() {
        let revoked = std::sync::Arc::new(RevokedSessions::default());
        let waiter = tokio::spawn({
            let revoked = revoked.clone();
            async move { revoked.wait_until_revoked("a").await }
        });
        tokio::task::yield_now().await;
        revoked.revoke("other", 100, 0);
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        revoked.revoke("a", 100, 0);
        tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
            .await
            .expect("woken")
            .expect("joined");
    }
}
