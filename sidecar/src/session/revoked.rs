//! Sessions ended by log out, kept until they would have expired.
//!
//! The cookie is client-held, so clearing it is not enough: a copy saved
//! before log out would still open. The list holds a digest of each id,
//! never the id, so the same entries can be shared through the session
//! store ([`crate::session::store`]) without the store learning an id. With
//! no store, each replica keeps its own list in memory; with one, every
//! replica's list is fed by the others' log outs.
//!
//! Log outs the provider sends (back-channel logout) name its own session
//! id or the user, not ours: those entries are kept apart, keyed by a
//! digest of the provider's `sid` or of the user's `sub`, each ending the
//! sessions signed in before a time. A request pays for them only while
//! there are some.

use super::model::{ProviderLink, Session};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use tokio::sync::Notify;

/// Most entries kept in each list; beyond this the soonest-expiring are
/// dropped first.
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

/// The digest of the provider's session id `sid`.
pub fn provider_sid_digest(sid: &str) -> String {
    sid_digest(&format!("provider-sid\n{sid}"))
}

/// The digest of the provider's user `sub`.
pub fn subject_digest(subject: &str) -> String {
    sid_digest(&format!("subject\n{subject}"))
}

/// One log out as the list and the store keep it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Revocation {
    /// The digest of what it ends: one of our session ids, or the
    /// provider's session id or user.
    pub digest: String,
    /// When the entry may be forgotten (unix seconds): no session it ends
    /// lives longer.
    pub expires_at: u64,
    /// `None` for one of our sessions. For a provider's session or user:
    /// the sessions signed in before this time (unix seconds) are ended;
    /// `u64::MAX` ends them all.
    pub signed_in_before: Option<u64>,
}

impl Revocation {
    /// The log out of our session whose id has `digest`.
    pub fn of_session(digest: String, expires_at: u64) -> Self {
        Self {
            digest,
            expires_at,
            signed_in_before: None,
        }
    }
}

/// The two lists, under one lock.
#[derive(Debug, Default)]
struct Lists {
    /// Our session digests, with their expiry.
    sessions: HashMap<String, u64>,
    /// Provider session and user digests: (expiry, signed in before).
    provider: HashMap<String, (u64, u64)>,
}

/// Revoked session digests with their expiry (unix seconds).
#[derive(Debug, Default)]
pub struct RevokedSessions {
    lists: Mutex<Lists>,
    /// Wakes whoever holds a connection open for a session (a spliced WebSocket).
    changed: Notify,
}

impl RevokedSessions {
    /// Marks `sid` unusable until `expires_at`; returns its digest.
    pub fn revoke(&self, sid: &str, expires_at: u64, now: u64) -> String {
        let digest = sid_digest(sid);
        self.apply_all([&Revocation::of_session(digest.clone(), expires_at)], now);
        digest
    }

    /// Applies each of `revocations`, in one pass however many come (a full
    /// load from the session store). Expired entries are forgotten first;
    /// beyond [`MAX_REVOKED`] in a list, the soonest-expiring go.
    pub fn apply_all<'a>(&self, revocations: impl IntoIterator<Item = &'a Revocation>, now: u64) {
        let Ok(mut lists) = self.lists.lock() else {
            return;
        };
        lists.sessions.retain(|_, expiry| *expiry > now);
        lists.provider.retain(|_, (expiry, _)| *expiry > now);
        let mut changed = false;
        for revocation in revocations {
            if revocation.expires_at <= now {
                continue;
            }
            changed |= match revocation.signed_in_before {
                None => merge(&mut lists.sessions, revocation, revocation.expires_at),
                Some(before) => merge(
                    &mut lists.provider,
                    revocation,
                    (revocation.expires_at, before),
                ),
            };
        }
        trim(&mut lists.sessions, |expiry| *expiry);
        trim(&mut lists.provider, |(expiry, _)| *expiry);
        drop(lists);
        if changed {
            self.changed.notify_waiters();
        }
    }

    /// Returns once `session` is logged out (at once if it already is).
    pub async fn wait_until_ended(&self, session: &Session) {
        loop {
            let changed = self.changed.notified();
            if self.ends(session) {
                return;
            }
            changed.await;
        }
    }

    /// True when `session` was logged out: here, on another replica, or by
    /// the provider. An empty list answers without hashing: most requests
    /// meet one.
    pub fn ends(&self, session: &Session) -> bool {
        let Ok(lists) = self.lists.lock() else {
            return true;
        };
        if !lists.sessions.is_empty() && lists.sessions.contains_key(&sid_digest(&session.sid)) {
            return true;
        }
        match &session.provider {
            Some(link) if !lists.provider.is_empty() => ended_at_provider(&lists.provider, link),
            _ => false,
        }
    }

    /// Every entry unexpired at `now`, as the store holds them.
    pub fn unexpired(&self, now: u64) -> Vec<Revocation> {
        let Ok(lists) = self.lists.lock() else {
            return Vec::new();
        };
        let sessions = lists
            .sessions
            .iter()
            .filter(|(_, expiry)| **expiry > now)
            .map(|(digest, expiry)| Revocation::of_session(digest.clone(), *expiry));
        let provider = lists
            .provider
            .iter()
            .filter(|(_, (expiry, _))| *expiry > now)
            .map(|(digest, (expiry, before))| Revocation {
                digest: digest.clone(),
                expires_at: *expiry,
                signed_in_before: Some(*before),
            });
        sessions.chain(provider).collect()
    }

    /// How many entries are listed now.
    pub fn len(&self) -> usize {
        self.lists
            .lock()
            .map_or(0, |lists| lists.sessions.len() + lists.provider.len())
    }

    /// True when nothing is listed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Whether the provider ended the session `link` tells of: its own
/// session, or every session of the user signed in before a time.
fn ended_at_provider(provider: &HashMap<String, (u64, u64)>, link: &ProviderLink) -> bool {
    let ends = |digest: String| {
        provider
            .get(&digest)
            .is_some_and(|(_, before)| link.signed_in_at < *before)
    };
    link.sid
        .as_deref()
        .is_some_and(|sid| ends(provider_sid_digest(sid)))
        || ends(subject_digest(&link.subject))
}

/// Adds `revocation` to `list` as `value`, keeping the later of two for
/// one digest; true when the digest is new.
fn merge<V: PartialOrd + Copy>(
    list: &mut HashMap<String, V>,
    revocation: &Revocation,
    value: V,
) -> bool {
    match list.get_mut(&revocation.digest) {
        Some(kept) if *kept >= value => false,
        Some(kept) => {
            *kept = value;
            true
        }
        None => {
            list.insert(revocation.digest.clone(), value);
            true
        }
    }
}

/// Keeps the [`MAX_REVOKED`] latest-expiring entries of `list`, in two
/// passes, never one per entry.
fn trim<V>(list: &mut HashMap<String, V>, expiry_of: impl Fn(&V) -> u64) {
    if list.len() <= MAX_REVOKED {
        return;
    }
    let mut expiries: Vec<u64> = list.values().map(&expiry_of).collect();
    let cut = expiries.len() - MAX_REVOKED;
    let (_, kept_from, _) = expiries.select_nth_unstable(cut);
    let kept_from = *kept_from;
    // Those expiring before the cut go, then as many as still must of
    // those expiring at it.
    let mut over = list.len() - MAX_REVOKED;
    for goes in [
        |expiry: u64, cut: u64| expiry < cut,
        |expiry, cut| expiry == cut,
    ] {
        list.retain(|_, value| {
            let gone = over > 0 && goes(expiry_of(value), kept_from);
            over -= usize::from(gone);
            !gone
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::roles::Role;
    use crate::session::LoginMethod;

    fn session(sid: &str, provider: Option<ProviderLink>) -> Session {
        Session {
            sid: sid.into(),
            user: "alice".into(),
            email: None,
            preferred_username: None,
            groups: Vec::new(),
            role: Role::Trusted,
            root: false,
            method: LoginMethod::Oidc,
            expires_at: 10_000,
            id_token: None,
            provider,
            refresh: None,
        }
    }

    fn ours(sid: &str) -> Session {
        session(sid, None)
    }

    fn signed_in(sid: &str, provider_sid: Option<&str>, subject: &str, at: u64) -> Session {
        session(
            sid,
            Some(ProviderLink {
                sid: provider_sid.map(str::to_owned),
                subject: subject.into(),
                signed_in_at: at,
            }),
        )
    }

    #[test]
    fn revoked_ids_are_refused_and_expired_ones_forgotten() {
        let revoked = RevokedSessions::default();
        revoked.revoke("a", 100, 0);
        assert!(revoked.ends(&ours("a")));
        assert!(!revoked.ends(&ours("b")));
        revoked.revoke("b", 300, 200);
        assert!(
            !revoked.ends(&ours("a")),
            "a expired at 100 and was forgotten"
        );
        assert!(revoked.ends(&ours("b")));
    }

    #[test]
    fn the_list_holds_digests_never_ids() {
        let revoked = RevokedSessions::default();
        let digest = revoked.revoke("secret-session-id", 100, 0);
        assert_eq!(digest.len(), 2 * DIGEST_BYTES);
        assert!(!digest.contains("secret"));
        assert_eq!(digest, sid_digest("secret-session-id"));
        let shared = RevokedSessions::default();
        shared.apply_all([&Revocation::of_session(digest, 100)], 0);
        assert!(
            shared.ends(&ours("secret-session-id")),
            "a digest from the store refuses the id"
        );
        assert!(!shared.ends(&ours("another-id")));
    }

    #[test]
    fn the_providers_session_id_ends_that_session_and_no_other() {
        let revoked = RevokedSessions::default();
        let ended = Revocation {
            digest: provider_sid_digest("kc-1"),
            expires_at: 5_000,
            signed_in_before: Some(u64::MAX),
        };
        revoked.apply_all([&ended], 0);
        assert!(revoked.ends(&signed_in("a", Some("kc-1"), "u-1", 100)));
        assert!(!revoked.ends(&signed_in("b", Some("kc-2"), "u-1", 100)));
        assert!(
            !revoked.ends(&ours("a")),
            "a session the provider did not start"
        );
        assert!(
            !revoked.ends(&signed_in("c", None, "kc-1", 100)),
            "a sid is not a sub"
        );
    }

    #[test]
    fn the_users_log_out_ends_sessions_signed_in_before_it_only() {
        let revoked = RevokedSessions::default();
        let ended = Revocation {
            digest: subject_digest("u-1"),
            expires_at: 5_000,
            signed_in_before: Some(1_000),
        };
        revoked.apply_all([&ended], 0);
        assert!(revoked.ends(&signed_in("a", Some("kc-1"), "u-1", 999)));
        assert!(revoked.ends(&signed_in("b", None, "u-1", 10)));
        assert!(
            !revoked.ends(&signed_in("c", Some("kc-3"), "u-1", 1_000)),
            "signed in again after the log out"
        );
        assert!(!revoked.ends(&signed_in("d", None, "u-2", 10)));
        let kept = revoked.unexpired(0);
        assert_eq!(kept, [ended]);
    }

    #[test]
    fn a_full_load_beyond_the_bound_keeps_the_latest_expiring_in_one_pass() {
        let revoked = RevokedSessions::default();
        let loaded: Vec<Revocation> = (0..MAX_REVOKED as u64 + 5_000)
            .map(|n| Revocation::of_session(sid_digest(&n.to_string()), 1_000 + n))
            .collect();
        revoked.apply_all(&loaded, 10);
        assert_eq!(revoked.len(), MAX_REVOKED);
        assert!(!revoked.ends(&ours("0")), "the soonest to expire went");
        assert!(revoked.ends(&ours(&(MAX_REVOKED as u64 + 4_999).to_string())));
        revoked.apply_all([&Revocation::of_session(sid_digest("past"), 5)], 10);
        assert!(
            !revoked.ends(&ours("past")),
            "an expired entry is not taken"
        );
    }

    #[tokio::test]
    async fn a_waiter_wakes_when_its_session_is_revoked() {
        let revoked = std::sync::Arc::new(RevokedSessions::default());
        let waiter = tokio::spawn({
            let revoked = revoked.clone();
            async move { revoked.wait_until_ended(&ours("a")).await }
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
