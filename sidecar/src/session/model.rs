//! What a session grants, and the bounds that keep it inside one cookie.

use crate::access::roles::Role;
use serde::{Deserialize, Serialize};

/// Most groups kept in a session; the role is decided before trimming.
pub const MAX_GROUPS: usize = 32;
/// Longest group name kept in a session.
pub const MAX_GROUP_LEN: usize = 128;

/// How the session was started.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LoginMethod {
    /// Through the identity provider.
    Oidc,
    /// Through the root admin's backup password.
    Backup,
    /// A bearer token on one request (never sealed into a cookie).
    Bearer,
}

/// One logged-in browser.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Random id, so a logged-out session can be refused if its cookie is replayed.
    pub sid: String,
    /// The username (from the configured username claim).
    pub user: String,
    /// The `email` claim, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The `preferred_username` claim, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    /// Groups from the group claim, bounded by [`MAX_GROUPS`] and [`MAX_GROUP_LEN`].
    #[serde(default)]
    pub groups: Vec<String>,
    /// The role these groups (or root status) give.
    pub role: Role,
    /// True for the root admin.
    #[serde(default)]
    pub root: bool,
    /// How the session began.
    pub method: LoginMethod,
    /// Unix time (seconds) after which the session is over.
    pub expires_at: u64,
    /// The ID token, kept for `id_token_hint` at the provider's logout when it fits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    /// Who the provider says signed in, for the log outs it sends.
    #[serde(default, rename = "idp", skip_serializing_if = "Option::is_none")]
    pub provider: Option<ProviderLink>,
    /// The provider's refresh token, when it sent one: the session is then
    /// renewed as its access token expires, until `ends_at`.
    #[serde(default, rename = "rt", skip_serializing_if = "Option::is_none")]
    pub refresh: Option<Refresh>,
}

/// What renews a session: the refresh token sealed in the cookie with the
/// rest, so it is as safe as the session itself, or kept in the session
/// store (see [`super::kept_refresh`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refresh {
    /// The provider's refresh token; empty when the store keeps it.
    #[serde(rename = "t", default, skip_serializing_if = "String::is_empty")]
    pub token: String,
    /// True when the session store keeps the token, not the cookie.
    #[serde(rename = "s", default, skip_serializing_if = "std::ops::Not::not")]
    pub in_store: bool,
    /// When the session ends whatever happens (unix seconds): the sign-in
    /// plus `session.maxLifetimeSeconds`.
    #[serde(rename = "e")]
    pub ends_at: u64,
}

/// The provider's names for a session it started: what its back-channel
/// logout tokens name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderLink {
    /// The provider's session id (the ID token's `sid`), when it sends one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// The user's `sub`.
    #[serde(rename = "sub")]
    pub subject: String,
    /// When the user signed in (unix seconds).
    #[serde(rename = "at")]
    pub signed_in_at: u64,
}

/// Longest provider `sid` or `sub` kept; longer ones are not kept (the
/// session cannot then be ended by the provider's log out, and says so).
pub const MAX_PROVIDER_ID_LEN: usize = 255;

impl Session {
    /// True once `now` (unix seconds) has reached the expiry: the access
    /// token's, or for a session that can be renewed, its end.
    pub fn is_expired(&self, now: u64) -> bool {
        now >= self.last_moment()
    }

    /// The latest the session can be used (unix seconds), renewals
    /// included: how long a log out of it must be remembered.
    pub fn last_moment(&self) -> u64 {
        self.refresh.as_ref().map_or(self.expires_at, |refresh| {
            refresh.ends_at.max(self.expires_at)
        })
    }

    /// Whether a request at `now` should renew the session first: it can
    /// be renewed, and its access token expires within `skew` seconds (or
    /// has expired).
    pub fn wants_refresh(&self, now: u64, skew: u64) -> bool {
        self.refresh.as_ref().is_some_and(|refresh| {
            now < refresh.ends_at && now.saturating_add(skew) >= self.expires_at
        })
    }
}

/// Keeps at most [`MAX_GROUPS`] groups, dropping overlong names.
pub fn bounded_groups(groups: Vec<String>) -> Vec<String> {
    groups
        .into_iter()
        .filter(|group| group.len() <= MAX_GROUP_LEN)
        .take(MAX_GROUPS)
        .collect()
}

/// A fresh random session id.
pub fn new_session_id() -> String {
    portcullis_contract::random::url_safe_token(16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_are_bounded_in_count_and_length() {
        let many: Vec<String> = (0..100).map(|i| format!("g{i}")).collect();
        assert_eq!(bounded_groups(many).len(), MAX_GROUPS);
        let long = vec!["x".repeat(MAX_GROUP_LEN + 1), "ok".into()];
        assert_eq!(bounded_groups(long), ["ok"]);
    }

    fn renewable(expires_at: u64, ends_at: u64) -> Session {
        Session {
            sid: "s".into(),
            user: "u".into(),
            email: None,
            preferred_username: None,
            groups: Vec::new(),
            role: crate::access::roles::Role::Trusted,
            root: false,
            method: LoginMethod::Oidc,
            expires_at,
            id_token: None,
            provider: None,
            refresh: Some(Refresh {
                token: "rt".into(),
                in_store: false,
                ends_at,
            }),
        }
    }

    #[test]
    fn a_token_the_store_keeps_is_not_written_into_the_cookie() {
        let in_cookie = renewable(1_000, 5_000);
        let json = serde_json::to_string(&in_cookie).expect("json");
        assert!(json.contains(r#""rt":{"t":"rt","e":5000}"#), "{json}");
        let in_store = Session {
            refresh: Some(Refresh {
                token: String::new(),
                in_store: true,
                ends_at: 5_000,
            }),
            ..in_cookie
        };
        let json = serde_json::to_string(&in_store).expect("json");
        assert!(json.contains(r#""rt":{"s":true,"e":5000}"#), "{json}");
        assert_eq!(
            serde_json::from_str::<Session>(&json).expect("reads back"),
            in_store
        );
    }

    #[test]
    fn a_renewable_session_is_due_near_its_expiry_and_lasts_until_its_end() {
        let session = renewable(1_000, 5_000);
        assert!(!session.wants_refresh(900, 60), "not yet");
        assert!(session.wants_refresh(940, 60), "within the skew");
        assert!(
            session.wants_refresh(2_000, 60),
            "long expired, still renewable"
        );
        assert!(!session.wants_refresh(5_000, 60), "past its end");
        assert!(!session.is_expired(4_999));
        assert!(session.is_expired(5_000));
        assert_eq!(session.last_moment(), 5_000);
        let plain = Session {
            refresh: None,
            ..session
        };
        assert!(!plain.wants_refresh(2_000, 60));
        assert!(plain.is_expired(1_000));
        assert_eq!(plain.last_moment(), 1_000);
    }

    #[test]
    fn session_ids_are_unique_and_url_safe() {
        let (a, b) = (new_session_id(), new_session_id());
        assert_ne!(a, b);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
    }
}
