//! What the signed identity says: the same identity as the plain headers,
//! plus who signed it, for whom, and until when.

use crate::session::{LoginMethod, Session};
use serde::Serialize;

/// The claims that do not change from one request to the next for one
/// identity: what a cached token is looked up by.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Subject {
    /// `iss`: the sidecar's public URL.
    pub iss: String,
    /// `aud`: the app (its public URL unless configured otherwise).
    pub aud: String,
    /// `sub`: the username (unique, from the configured username claim).
    pub sub: String,
    /// The username again, under a name apps need not know JWT for.
    pub username: String,
    /// The groups, as the provider sent them (bounded like the session's).
    pub groups: Vec<String>,
    /// `untrusted`, `trusted` or `admin`.
    pub role: &'static str,
    /// True for the root admin.
    pub root: bool,
    /// The `email` claim, when the provider sent one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The `preferred_username` claim, when the provider sent one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    /// How the caller signed in: `oidc`, `backup` or `bearer`.
    pub login: &'static str,
}

/// The whole payload of one token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IdentityClaims<'a> {
    /// Everything but the times.
    #[serde(flatten)]
    pub subject: &'a Subject,
    /// Issued at (Unix seconds).
    pub iat: u64,
    /// Expires at (Unix seconds): `iat` plus the configured lifetime.
    pub exp: u64,
}

impl Subject {
    /// The subject of `session`'s token, issued by `issuer` for `audience`.
    pub fn of(session: &Session, issuer: &str, audience: &str) -> Self {
        Self {
            iss: issuer.to_owned(),
            aud: audience.to_owned(),
            sub: session.user.clone(),
            username: session.user.clone(),
            groups: session.groups.clone(),
            role: session.role.as_str(),
            root: session.root,
            email: session.email.clone(),
            preferred_username: session.preferred_username.clone(),
            login: match session.method {
                LoginMethod::Oidc => "oidc",
                LoginMethod::Backup => "backup",
                LoginMethod::Bearer => "bearer",
            },
        }
    }

    /// The claims of a token issued at `now` that lives `lifetime` seconds.
    pub fn at(&self, now: u64, lifetime: u64) -> IdentityClaims<'_> {
        IdentityClaims {
            subject: self,
            iat: now,
            exp: now.saturating_add(lifetime),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::roles::Role;

    fn session() -> Session {
        Session {
            sid: "secret-session-id".into(),
            user: "alice".into(),
            email: Some("alice@example.com".into()),
            preferred_username: None,
            groups: vec!["admin".into(), "staff,ops".into()],
            role: Role::Admin,
            root: false,
            method: LoginMethod::Oidc,
            expires_at: 99,
            id_token: Some("the provider's id token".into()),
            provider: None,
            refresh: None,
        }
    }

    #[test]
    fn claims_carry_the_identity_issuer_audience_and_times() {
        let subject = Subject::of(&session(), "https://books.example.com", "books");
        let claims = serde_json::to_value(subject.at(1_000, 60)).expect("serialises");
        assert_eq!(
            claims,
            serde_json::json!({
                "iss": "https://books.example.com",
                "aud": "books",
                "sub": "alice",
                "username": "alice",
                "groups": ["admin", "staff,ops"],
                "role": "admin",
                "root": false,
                "email": "alice@example.com",
                "login": "oidc",
                "iat": 1_000,
                "exp": 1_060,
            })
        );
    }

    #[test]
    fn the_session_id_and_id_token_never_reach_the_app() {
        let subject = Subject::of(&session(), "https://b", "https://b");
        let text = serde_json::to_string(&subject.at(0, 60)).expect("serialises");
        assert!(!text.contains("secret-session-id"), "{text}");
        assert!(!text.contains("id token"), "{text}");
    }

    #[test]
    fn the_root_admin_is_marked_and_a_backup_login_named() {
        let mut root = session();
        root.root = true;
        root.method = LoginMethod::Backup;
        let subject = Subject::of(&root, "https://b", "https://b");
        assert!(subject.root);
        assert_eq!(subject.login, "backup");
    }

    #[test]
    fn an_expiry_far_in_the_future_saturates_instead_of_wrapping() {
        let subject = Subject::of(&session(), "https://b", "https://b");
        assert_eq!(subject.at(u64::MAX - 1, 60).exp, u64::MAX);
    }
}
