//! The session a set of verified claims stands for.
//!
//! A browser login (claims from the ID token and userinfo) and an API
//! client's bearer token (claims from the access token) take the same steps
//! from claims to a session: read the identity by the configured claim
//! names, apply the role mapping and the allow-list, honour the root
//! admin's name, bound the groups. One function takes them for both, so the
//! two ways in cannot drift apart.

use super::claims::{ClaimsError, identity_from_claims};
use crate::access::roles::{NotAllowed, grant_for};
use crate::config::Settings;
use crate::session::model::{
    MAX_PROVIDER_ID_LEN, ProviderLink, Refresh, bounded_groups, new_session_id,
};
use crate::session::{LoginMethod, Session};
use serde_json::{Map, Value};

/// Why verified claims do not make a session.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IdentityRefused {
    /// The claims do not make an identity (no username, unsafe values).
    #[error(transparent)]
    Claims(#[from] ClaimsError),
    /// The user is in none of the allowed groups.
    #[error(transparent)]
    NotAllowed(#[from] NotAllowed),
}

/// How the claims were obtained and how long the session they make lasts.
pub struct Proof {
    /// The way the user signed in.
    pub method: LoginMethod,
    /// When the session ends (Unix seconds).
    pub expires_at: u64,
    /// The ID token, kept for logging out at the provider.
    pub id_token: Option<String>,
    /// When the user signed in (unix seconds).
    pub signed_in_at: u64,
    /// What renews the session, when the provider sent a refresh token.
    pub refresh: Option<Refresh>,
}

/// The session `claims` stand for under `settings`' claim names, role
/// mapping and root admin.
pub fn session_from_claims(
    claims: &Map<String, Value>,
    settings: &Settings,
    proof: Proof,
) -> Result<Session, IdentityRefused> {
    let oidc = &settings.oidc;
    let identity = identity_from_claims(claims, &oidc.username_claim, &oidc.group_claim)?;
    let root_username = settings
        .root_admin
        .as_ref()
        .map(|root| root.username.as_str());
    if root_username != Some(identity.user.as_str()) {
        oidc.allowed_email_domains
            .admit(identity.email.as_deref(), email_verified(claims))
            .map_err(NotAllowed::from)
            .inspect_err(|refused| {
                tracing::info!(user = %identity.user, reason = %refused, "sign-in refused");
            })?;
    }
    let grant = grant_for(&identity.user, &identity.groups, root_username, &oidc.roles)
        .inspect_err(|_| {
            tracing::info!(user = %identity.user, "sign-in refused: not in an allowed group");
        })?;
    Ok(Session {
        sid: new_session_id(),
        user: identity.user,
        email: identity.email,
        preferred_username: identity.preferred_username,
        groups: bounded_groups(identity.groups),
        role: grant.role,
        root: grant.root,
        method: proof.method,
        expires_at: proof.expires_at,
        id_token: proof.id_token,
        provider: (proof.method == LoginMethod::Oidc)
            .then(|| provider_link(claims, proof.signed_in_at))
            .flatten(),
        refresh: proof.refresh,
    })
}

/// The `email_verified` claim as a yes or no (some providers send it as a
/// string); `None` when absent or neither.
fn email_verified(claims: &Map<String, Value>) -> Option<bool> {
    match claims.get("email_verified")? {
        Value::Bool(verified) => Some(*verified),
        Value::String(text) => text.parse().ok(),
        _ => None,
    }
}

/// The provider's names for the session `claims` start (its `sid` and the
/// user's `sub`), when they are short enough to keep in the cookie; a
/// session without them cannot be ended by the provider's log out, and the
/// log says so.
fn provider_link(claims: &Map<String, Value>, signed_in_at: u64) -> Option<ProviderLink> {
    let text = |name: &str| {
        claims
            .get(name)
            .and_then(Value::as_str)
            .filter(|value| !value.is_empty() && value.len() <= MAX_PROVIDER_ID_LEN)
    };
    let Some(subject) = text("sub") else {
        tracing::warn!(
            "the ID token's `sub` is missing or too long: the provider's log outs cannot name this session"
        );
        return None;
    };
    Some(ProviderLink {
        sid: text("sid").map(str::to_owned),
        subject: subject.to_owned(),
        signed_in_at,
    })
}
