//! The half-finished login a browser carries between `/auth/start` and `/auth/oidc`.
//!
//! `state`, `nonce` and the PKCE verifier live only in a short-lived cookie
//! sealed with the session keys, so a callback counts only in the browser
//! that started the login, and the sidecar keeps no per-login memory.

use crate::session::KeyRing;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

/// How long a browser may take at the provider before the login must restart.
pub const PENDING_LOGIN_SECONDS: u64 = 600;

/// What the callback needs to finish a login.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingLogin {
    /// The `state` sent to the provider.
    pub state: String,
    /// The `nonce` the ID token must carry.
    pub nonce: String,
    /// The PKCE code verifier.
    pub pkce_verifier: String,
    /// Where to go after login (already checked to be a safe path).
    pub return_to: String,
    /// Unix seconds when the login began.
    pub started_at: u64,
}

/// Why a callback does not match a pending login.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PendingError {
    /// This browser started no login (or its cookie was not kept).
    #[error(
        "this browser has no sign-in in progress; it may have been started in another browser or already finished"
    )]
    Missing,
    /// The callback's `state` is not the one this browser sent.
    #[error("the sign-in response does not belong to this browser's sign-in (state mismatch)")]
    StateMismatch,
    /// The login took longer than [`PENDING_LOGIN_SECONDS`].
    #[error("the sign-in took too long; please start again")]
    Expired,
}

/// Sign-ins a browser may have pending at once; starting another forgets
/// the oldest. Each one is a cookie of about 300 bytes, and front proxies
/// refuse request heads of a few kilobytes: abandoned sign-ins must not
/// pile up until the browser can no longer reach the app.
pub const MAX_PENDING_PER_BROWSER: usize = 3;

/// Characters of `state` that name its pending-login cookie.
const STATE_CHARS_IN_NAME: usize = 16;

/// The name of the pending-login cookie for the login with this `state`.
///
/// Each login has its own cookie, so two sign-ins started in one browser
/// (two tabs, or several tabs reloading after a session ends) do not
/// overwrite each other. `None` for a `state` the sidecar cannot have made.
pub fn pending_cookie_name(session_cookie: &str, state: &str) -> Option<String> {
    let id = state.get(..STATE_CHARS_IN_NAME)?;
    id.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        .then(|| format!("{}{id}", pending_cookie_prefix(session_cookie)))
}

/// The start of every pending-login cookie's name.
pub fn pending_cookie_prefix(session_cookie: &str) -> String {
    format!("{session_cookie}_login_")
}

/// The pending-login cookies to clear when a new sign-in starts, so that
/// with the new one at most [`MAX_PENDING_PER_BROWSER`] remain: the newest
/// are kept; unreadable ones (`None`) count as oldest.
pub fn pending_cookies_to_forget(mut found: Vec<(String, Option<u64>)>) -> Vec<String> {
    found.sort_by(|(_, a), (_, b)| b.cmp(a));
    found
        .into_iter()
        .skip(MAX_PENDING_PER_BROWSER - 1)
        .map(|(name, _)| name)
        .collect()
}

impl PendingLogin {
    /// Seals this pending login for its cookie.
    pub fn seal(&self, keys: &KeyRing, cookie_name: &str) -> String {
        keys.seal(
            cookie_name,
            &serde_json::to_string(self).unwrap_or_default(),
        )
    }

    /// Opens the cookie and checks it against the callback's `state` and the time.
    pub fn open_matching(
        keys: &KeyRing,
        cookie_name: &str,
        sealed: Option<&str>,
        state: &str,
        now: u64,
    ) -> Result<PendingLogin, PendingError> {
        let json = sealed
            .and_then(|sealed| keys.open(cookie_name, sealed))
            .ok_or(PendingError::Missing)?;
        let pending: PendingLogin =
            serde_json::from_str(&json).map_err(|_| PendingError::Missing)?;
        if !bool::from(pending.state.as_bytes().ct_eq(state.as_bytes())) {
            return Err(PendingError::StateMismatch);
        }
        if now.saturating_sub(pending.started_at) > PENDING_LOGIN_SECONDS {
            return Err(PendingError::Expired);
        }
        Ok(pending)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_contract::session_keys::generate_key_line;

    fn pending() -> PendingLogin {
        PendingLogin {
            state: "state-1".into(),
            nonce: "nonce-1".into(),
            pkce_verifier: "verifier".into(),
            return_to: "/books".into(),
            started_at: 1000,
        }
    }

    #[test]
    fn callback_with_the_same_state_in_time_matches() {
        let keys = KeyRing::parse(&generate_key_line()).expect("key");
        let sealed = pending().seal(&keys, "p");
        assert_eq!(
            PendingLogin::open_matching(&keys, "p", Some(&sealed), "state-1", 1100),
            Ok(pending())
        );
    }

    #[test]
    fn callback_in_another_browser_or_with_another_state_fails() {
        let keys = KeyRing::parse(&generate_key_line()).expect("key");
        let sealed = pending().seal(&keys, "p");
        assert_eq!(
            PendingLogin::open_matching(&keys, "p", None, "state-1", 1000),
            Err(PendingError::Missing)
        );
        assert_eq!(
            PendingLogin::open_matching(&keys, "p", Some(&sealed), "state-2", 1000),
            Err(PendingError::StateMismatch)
        );
        assert_eq!(
            PendingLogin::open_matching(&keys, "p", Some("garbage"), "state-1", 1000),
            Err(PendingError::Missing)
        );
    }

    #[test]
    fn a_new_sign_in_forgets_all_but_the_newest_pending_ones() {
        let found = vec![
            ("old".to_owned(), Some(10)),
            ("broken".to_owned(), None),
            ("newest".to_owned(), Some(30)),
            ("newer".to_owned(), Some(20)),
        ];
        let mut forgotten = pending_cookies_to_forget(found);
        forgotten.sort();
        assert_eq!(forgotten, ["broken", "old"]);
        assert!(pending_cookies_to_forget(vec![("one".into(), Some(1))]).is_empty());
    }

    #[test]
    fn each_login_gets_its_own_cookie_name() {
        let a = pending_cookie_name("s", "AAAAAAAAAAAAAAAA-rest");
        let b = pending_cookie_name("s", "BBBBBBBBBBBBBBBB-rest");
        assert_eq!(a.as_deref(), Some("s_login_AAAAAAAAAAAAAAAA"));
        assert_ne!(a, b);
        assert_eq!(pending_cookie_name("s", "short"), None);
        assert_eq!(pending_cookie_name("s", "AAAAAAAA;AAAAAAAAAA"), None);
    }

    #[test]
    fn slow_logins_must_restart() {
        let keys = KeyRing::parse(&generate_key_line()).expect("key");
        let sealed = pending().seal(&keys, "p");
        let late = 1000 + PENDING_LOGIN_SECONDS + 1;
        assert_eq!(
            PendingLogin::open_matching(&keys, "p", Some(&sealed), "state-1", late),
            Err(PendingError::Expired)
        );
    }
}
