//! A small, bounded memory of session cookies already opened.
//!
//! A browser sends the same sealed cookie with every request, and opening
//! it (base64, AES-256-GCM, JSON) is a large part of what the sidecar does
//! per proxied request. This remembers, for a few hundred cookie values,
//! the session each one opened to. A value is found only by an exact match
//! of the whole sealed value (hashed to find it, then compared byte for
//! byte), of the cookie name the seal is bound to, and of the key ring that
//! opened it, so nothing opens here that would not open with the current
//! keys: a reload (perhaps with a key removed) brings a new ring, which
//! finds nothing the old one opened. Expiry is checked against the current
//! time on every hit, and revocation is still checked by the caller on
//! every request. The memory is live state of the running sidecar, not a
//! setting; which values it drops when full is `quick_cache`'s choice.

use super::cookie::{NoSession, open_session};
use super::keys::KeyRing;
use super::model::Session;
use quick_cache::UnitWeighter;
use quick_cache::sync::{Cache, DefaultLifecycle};
use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;

/// Cookie values remembered at most: enough for the browsers of a team,
/// small enough to stay well under a MiB (a value and its session are
/// each a few KiB at most).
pub const CAPACITY: usize = 128;

/// Sessions opened from cookie values.
pub struct OpenedSessions {
    entries: Option<Entries>,
}

type Entries =
    Cache<Box<str>, Arc<Opened>, UnitWeighter, TailHash, DefaultLifecycle<Box<str>, Arc<Opened>>>;

/// Bytes of a cookie value hashed to find it: the end of a sealed value is
/// its GCM tag, different for every seal. Only values that opened are
/// stored and every lookup compares the whole value, so values made to
/// share an end only share a bucket; hashing all of a 1-4 KiB value cost
/// more than the rest of a remembered lookup.
const HASHED_TAIL: usize = 32;

/// Hashes (with a random key) only the last [`HASHED_TAIL`] bytes of what it is given.
#[derive(Clone, Default)]
struct TailHash(RandomState);

struct TailHasher(std::hash::DefaultHasher);

impl BuildHasher for TailHash {
    type Hasher = TailHasher;

    fn build_hasher(&self) -> TailHasher {
        TailHasher(self.0.build_hasher())
    }
}

impl Hasher for TailHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0
            .write(&bytes[bytes.len().saturating_sub(HASHED_TAIL)..]);
    }

    fn finish(&self) -> u64 {
        self.0.finish()
    }
}

/// What a remembered value opened to, and under which name and ring.
struct Opened {
    name: Box<str>,
    ring: u64,
    session: Arc<Session>,
}

impl Default for OpenedSessions {
    fn default() -> Self {
        Self::with_capacity(CAPACITY)
    }
}

impl fmt::Debug for OpenedSessions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OpenedSessions({} remembered)", self.len())
    }
}

impl OpenedSessions {
    /// A memory of at most `capacity` cookie values (0 remembers none).
    pub fn with_capacity(capacity: usize) -> Self {
        let entries = (capacity > 0).then(|| {
            Cache::with(
                capacity,
                capacity as u64,
                UnitWeighter,
                TailHash::default(),
                DefaultLifecycle::default(),
            )
        });
        Self { entries }
    }

    /// The session `sealed` (a cookie called `name`) opens to with `keys`,
    /// unexpired at `now`: remembered when this value opened before with
    /// the same ring, else opened and then remembered.
    pub fn open(
        &self,
        keys: &KeyRing,
        name: &str,
        sealed: &str,
        now: u64,
    ) -> Result<Arc<Session>, NoSession> {
        if let Some(session) = self.remembered(keys, name, sealed) {
            return if session.is_expired(now) {
                self.forget(sealed);
                Err(NoSession::Expired)
            } else {
                Ok(session)
            };
        }
        let session = Arc::new(open_session(keys, name, sealed, now)?);
        self.remember(keys, name, sealed, &session);
        Ok(session)
    }

    /// How many cookie values are remembered now.
    pub fn len(&self) -> usize {
        self.entries.as_ref().map_or(0, Cache::len)
    }

    /// True when no cookie value is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn remembered(&self, keys: &KeyRing, name: &str, sealed: &str) -> Option<Arc<Session>> {
        self.entries
            .as_ref()?
            .get(sealed)
            .filter(|opened| &*opened.name == name && opened.ring == keys.id())
            .map(|opened| Arc::clone(&opened.session))
    }

    fn forget(&self, sealed: &str) {
        if let Some(entries) = &self.entries {
            entries.remove(sealed);
        }
    }

    fn remember(&self, keys: &KeyRing, name: &str, sealed: &str, session: &Arc<Session>) {
        if let Some(entries) = &self.entries {
            let opened = Opened {
                name: name.into(),
                ring: keys.id(),
                session: Arc::clone(session),
            };
            entries.insert(sealed.into(), Arc::new(opened));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::roles::Role;
    use crate::session::cookie::seal_in_one;
    use crate::session::model::LoginMethod;
    use portcullis_contract::session_keys::generate_key_line;

    fn keys() -> KeyRing {
        KeyRing::parse(&generate_key_line()).expect("key")
    }

    fn session(sid: &str, expires_at: u64) -> Session {
        Session {
            sid: sid.into(),
            user: "alice".into(),
            email: None,
            preferred_username: None,
            groups: vec!["trusted".into()],
            role: Role::Trusted,
            root: false,
            method: LoginMethod::Oidc,
            expires_at,
            id_token: None,
            provider: None,
            refresh: None,
        }
    }

    #[test]
    fn a_remembered_session_is_the_one_the_cookie_opens_to() {
        let (keys, opened) = (keys(), OpenedSessions::default());
        let sealed = seal_in_one(&keys, "s", &session("a", 100));
        assert_eq!(
            opened.open(&keys, "s", &sealed, 10),
            Ok(Arc::new(session("a", 100)))
        );
        assert_eq!(opened.len(), 1);
        assert_eq!(
            opened.open(&keys, "s", &sealed, 11),
            Ok(Arc::new(session("a", 100)))
        );
        assert_eq!(opened.len(), 1);
    }

    #[test]
    fn a_remembered_session_still_expires() {
        let (keys, opened) = (keys(), OpenedSessions::default());
        let sealed = seal_in_one(&keys, "s", &session("a", 100));
        assert!(opened.open(&keys, "s", &sealed, 99).is_ok());
        assert_eq!(
            opened.open(&keys, "s", &sealed, 100),
            Err(NoSession::Expired)
        );
        assert!(opened.is_empty(), "an expired session is forgotten");
        assert_eq!(
            opened.open(&keys, "s", &sealed, 100),
            Err(NoSession::Expired)
        );
    }

    #[test]
    fn a_value_that_does_not_open_is_never_remembered() {
        let (keys, opened) = (keys(), OpenedSessions::default());
        let foreign = seal_in_one(&self::keys(), "s", &session("a", 100));
        for value in [foreign.as_str(), "", "not sealed at all"] {
            assert_eq!(
                opened.open(&keys, "s", value, 0),
                Err(NoSession::Invalid),
                "{value}"
            );
        }
        assert!(opened.is_empty());
    }

    #[test]
    fn a_remembered_value_under_another_cookie_name_is_opened_again() {
        let (keys, opened) = (keys(), OpenedSessions::default());
        let sealed = seal_in_one(&keys, "s", &session("a", 100));
        assert!(opened.open(&keys, "s", &sealed, 0).is_ok());
        assert_eq!(
            opened.open(&keys, "other", &sealed, 0),
            Err(NoSession::Invalid),
            "the seal is bound to the name"
        );
    }

    #[test]
    fn a_value_remembered_under_another_ring_is_opened_again() {
        let (old, opened) = (keys(), OpenedSessions::default());
        let sealed = seal_in_one(&old, "s", &session("a", 100));
        assert!(opened.open(&old, "s", &sealed, 0).is_ok());
        assert_eq!(
            opened.open(&keys(), "s", &sealed, 0),
            Err(NoSession::Invalid),
            "a reload that drops the key finds nothing the old ring opened"
        );
        assert!(opened.open(&old.clone(), "s", &sealed, 0).is_ok());
    }

    #[test]
    fn the_memory_never_holds_more_than_its_capacity() {
        let (keys, opened) = (keys(), OpenedSessions::with_capacity(3));
        let sealed: Vec<String> = (0..10)
            .map(|n| seal_in_one(&keys, "s", &session(&n.to_string(), 100)))
            .collect();
        for (n, value) in sealed.iter().enumerate() {
            assert_eq!(
                opened.open(&keys, "s", value, 0).map(|s| s.sid.clone()),
                Ok(n.to_string())
            );
            assert!(opened.len() <= 3);
        }
        assert_eq!(opened.len(), 3);
        for (n, value) in sealed.iter().enumerate() {
            assert_eq!(
                opened.open(&keys, "s", value, 0).map(|s| s.sid.clone()),
                Ok(n.to_string()),
                "a forgotten value opens again"
            );
        }
    }

    #[test]
    fn values_that_end_alike_are_told_apart_by_their_whole_bytes() {
        let (keys, opened) = (keys(), OpenedSessions::default());
        let sealed = seal_in_one(&keys, "s", &session("a", 100));
        assert!(opened.open(&keys, "s", &sealed, 0).is_ok());
        let first = if sealed.starts_with('A') { 'B' } else { 'A' };
        let same_end = format!("{first}{}", &sealed[1..]);
        assert_eq!(
            opened.open(&keys, "s", &same_end, 0),
            Err(NoSession::Invalid),
            "found in the same bucket, refused by the comparison and the keys"
        );
        assert_eq!(opened.len(), 1);
    }

    #[test]
    fn a_memory_of_capacity_zero_remembers_nothing() {
        let (keys, opened) = (keys(), OpenedSessions::with_capacity(0));
        let sealed = seal_in_one(&keys, "s", &session("a", 100));
        assert!(opened.open(&keys, "s", &sealed, 0).is_ok());
        assert!(opened.is_empty());
    }
}
