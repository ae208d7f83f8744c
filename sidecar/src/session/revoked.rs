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
pub const MAX_REVOKED: usize = 100_000;

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
        self.revoke_all([(digest, expires_at)], now);
    }

    /// Marks each session of `revocations` unusable until its expiry, in
    /// one pass however many come (a full load from the session store).
    /// Expired entries are forgotten first; beyond [`MAX_REVOKED`], the
    /// soonest-expiring go.
    pub fn revoke_all<'a>(&self, revocations: impl IntoIterator<Item = (&'a str, u64)>, now: u64) {
        let Ok(mut digests) = self.digests.lock() else {
            return;
        };
        digests.retain(|_, expiry| *expiry > now);
        let mut changed = false;
        for (digest, expires_at) in revocations {
            if expires_at <= now {
                continue;
            }
            match digests.get_mut(digest) {
                Some(expiry) if *expiry >= expires_at => {}
                Some(expiry) => *expiry = expires_at,
                None => {
                    digests.insert(digest.to_owned(), expires_at);
                    changed = true;
                }
            }
        }
        if digests.len() > MAX_REVOKED {
            let mut expiries: Vec<u64> = digests.values().copied().collect();
            let cut = expiries.len() - MAX_REVOKED;
            let (_, kept_from, _) = expiries.select_nth_unstable(cut);
            let kept_from = *kept_from;
            // Those expiring before the cut go, then as many as still must
            // of those expiring at it: two passes, never one per entry.
            let mut over = digests.len() - MAX_REVOKED;
            for goes in [
                |expiry: u64, cut: u64| expiry < cut,
                |expiry, cut| expiry == cut,
            ] {
                digests.retain(|_, expiry| {
                    let gone = over > 0 && goes(*expiry, kept_from);
                    over -= usize::from(gone);
                    !gone
                });
            }
        }
        drop(digests);
        if changed {
            self.changed.notify_waiters();
        }
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

    #[test]
    fn a_full_load_beyond_the_bound_keeps_the_latest_expiring_in_one_pass() {
        let revoked = RevokedSessions::default();
        let loaded: Vec<(String, u64)> = (0..MAX_REVOKED as u64 + 5_000)
            .map(|n| (sid_digest(&n.to_string()), 1_000 + n))
            .collect();
        revoked.revoke_all(loaded.iter().map(|(d, e)| (d.as_str(), *e)), 10);
        assert_eq!(revoked.len(), MAX_REVOKED);
        assert!(!revoked.is_revoked("0"), "the soonest to expire went");
        assert!(revoked.is_revoked(&(MAX_REVOKED as u64 + 4_999).to_string()));
        revoked.revoke_all([(sid_digest("past").as_str(), 5)], 10);
        assert!(!revoked.is_revoked("past"), "an expired entry is not taken");
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
