//! Session ids ended by log out, kept until the session would have expired.
//!
//! The cookie is client-held, so clearing it is not enough: a copy saved
//! before log out would still open. The list holds a digest of each id,
//! never the id, so the same entries can be shared through the session
//! store ([`crate::session::store`]) without the store learning an id. With
//! no store, each replica keeps its own list in memory; with one, every
//! replica's list is fed by the others' log outs.

use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use tokio::sync::Notify;

/// Most ids kept; beyond this the soonest-expiring are dropped first.
const MAX_REVOKED: usize = 100_000;

/// Bytes of the SHA-256 of an id kept as its digest: 128 bits, as many as
/// the id holds.
const DIGEST_BYTES: usize = 16;

/// A session id's digest, as lowercase hex: what the list and the store hold.
pub fn sid_digest(sid: &str) -> String {
    let hash = Sha256::digest(sid.as_bytes());
    hash[..DIGEST_BYTES]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Revoked session digests with their expiry (unix seconds).
#[derive(Debug, Default)]
pub struct RevokedSessions {
    digests: Mutex<HashMap<String, u64>>,
    /// Wakes whoever holds a connection open for a session (a spliced WebSocket).
    changed: Notify,
}

impl RevokedSessions {
    /// Marks `sid` unusable until `expires_at`; returns its digest.
    pub fn revoke(&self, sid: &str, expires_at: u64, now: u64) -> String {
        let digest = sid_digest(sid);
        self.revoke_digest(&digest, expires_at, now);
        digest
    }

    /// Marks the session of `digest` unusable until `expires_at`.
    pub fn revoke_digest(&self, digest: &str, expires_at: u64, now: u64) {
        let Ok(mut digests) = self.digests.lock() else {
            return;
        };
        digests.retain(|_, expiry| *expiry > now);
        if digests.len() >= MAX_REVOKED
            && !digests.contains_key(digest)
            && let Some(soonest) = digests
                .iter()
                .min_by_key(|(_, expiry)| **expiry)
                .map(|(digest, _)| digest.clone())
        {
            digests.remove(&soonest);
        }
        let expiry = digests.entry(digest.to_owned()).or_insert(expires_at);
        *expiry = (*expiry).max(expires_at);
        drop(digests);
        self.changed.notify_waiters();
    }

    /// Returns once `sid` is logged out (at once if it already is).
    pub async fn wait_until_revoked(&self, sid: &str) {
        let digest = sid_digest(sid);
        loop {
            let changed = self.changed.notified();
            if self.holds(&digest) {
                return;
            }
            changed.await;
        }
    }

    /// True when `sid` was logged out. An empty list answers without
    /// hashing: most requests meet one.
    pub fn is_revoked(&self, sid: &str) -> bool {
        match self.digests.lock() {
            Ok(digests) if digests.is_empty() => false,
            Ok(digests) => digests.contains_key(&sid_digest(sid)),
            Err(_) => true,
        }
    }

    /// Every listed session unexpired at `now`, as the store holds them.
    pub fn unexpired(&self, now: u64) -> Vec<(String, u64)> {
        self.digests.lock().map_or_else(
            |_| Vec::new(),
            |digests| {
                digests
                    .iter()
                    .filter(|(_, expiry)| **expiry > now)
                    .map(|(digest, expiry)| (digest.clone(), *expiry))
                    .collect()
            },
        )
    }

    /// How many sessions are listed now.
    pub fn len(&self) -> usize {
        self.digests.lock().map_or(0, |digests| digests.len())
    }

    /// True when no session is listed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn holds(&self, digest: &str) -> bool {
        self.digests
            .lock()
            .map(|digests| digests.contains_key(digest))
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

    #[test]
    fn the_list_holds_digests_never_ids() {
        let revoked = RevokedSessions::default();
        let digest = revoked.revoke("secret-session-id", 100, 0);
        assert_eq!(digest.len(), 2 * DIGEST_BYTES);
        assert!(!digest.contains("secret"));
        assert_eq!(digest, sid_digest("secret-session-id"));
        let shared = RevokedSessions::default();
        shared.revoke_digest(&digest, 100, 0);
        assert!(
            shared.is_revoked("secret-session-id"),
            "a digest from the store refuses the id"
        );
        assert!(!shared.is_revoked("another-id"));
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
