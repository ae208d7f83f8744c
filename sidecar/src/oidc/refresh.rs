//! Renewing a session with the provider's refresh token (OpenID Connect
//! Core 12): the token endpoint's answer is checked like a sign-in's.
//!
//! A refreshed ID token is verified as the first was (signature, issuer,
//! audience, expiry; it carries no nonce) and must name the same `sub`
//! (section 12.2): another user, or a token that does not verify, ends the
//! session and never switches who is signed in. Its claims (and
//! userinfo's, where the groups come from there) are mapped again, so a
//! user moved out of a group at the provider loses the role at the next
//! renewal. `invalid_grant` (the user disabled, the session ended at the
//! provider, the token revoked or reused) ends the session; anything else
//! (the provider down, slow, 5xx) is an outage the caller may ride out.

use super::client::client_for;
use super::provider::{Discovered, Provider, error_chain};
use super::signed_in::{Proof, session_from_claims};
use super::token_answer::{AnswerError, verified_claims};
use crate::config::Settings;
use crate::session::model::Refresh;
use crate::session::{LoginMethod, Session};
use openidconnect::core::CoreErrorResponseType;
use openidconnect::{
    Nonce, OAuth2TokenResponse, RefreshToken, RequestTokenError, TokenResponse as _,
};
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::Duration;

/// What the provider answered to a refresh, checked.
#[derive(Debug, Default)]
pub struct Renewal {
    /// The refreshed ID token's claims merged with userinfo's; `None` when
    /// the provider sent no new ID token (the identity is kept then).
    pub claims: Option<Map<String, Value>>,
    /// The new ID token, if any.
    pub id_token: Option<String>,
    /// The new access token's lifetime, when the provider says.
    pub expires_in: Option<Duration>,
    /// The new refresh token, when the provider rotates them.
    pub refresh_token: Option<String>,
}

/// Why a session was not renewed.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// The provider refused the refresh token: the session ends.
    #[error("the provider refused the refresh token: {0}")]
    Rejected(String),
    /// The answer does not hold (another user, a token that does not
    /// verify, claims that no longer make a session): the session ends.
    #[error("the renewed session does not hold: {0}")]
    Invalid(String),
    /// The provider did not answer usefully: an outage.
    #[error("the provider could not renew the session: {0}")]
    Unavailable(String),
}

/// Redeems `refresh_token` at the provider for the user `subject`.
pub async fn redeem(
    provider: &Provider,
    discovered: Arc<Discovered>,
    settings: &Settings,
    http: &reqwest::Client,
    refresh_token: &str,
    subject: &str,
) -> Result<Renewal, RefreshError> {
    let oidc = &settings.oidc;
    let client = client_for(&discovered, oidc);
    let refresh_token = RefreshToken::new(refresh_token.to_owned());
    let token = client
        .exchange_refresh_token(&refresh_token)
        .map_err(|error| RefreshError::Unavailable(error.to_string()))?
        .request_async(http)
        .await
        .map_err(|error| match &error {
            RequestTokenError::ServerResponse(response)
                if *response.error() == CoreErrorResponseType::InvalidGrant =>
            {
                RefreshError::Rejected(response.to_string())
            }
            other => RefreshError::Unavailable(error_chain(other)),
        })?;
    let mut renewal = Renewal {
        expires_in: token.expires_in(),
        refresh_token: token.refresh_token().map(|token| token.secret().clone()),
        ..Renewal::default()
    };
    let no_nonce = |_: Option<&Nonce>| Ok(());
    renewal.claims = verified_claims(
        provider,
        discovered,
        &settings.oidc,
        http,
        &token,
        no_nonce,
        Some(subject),
    )
    .await
    .map_err(|error| match error {
        AnswerError::Invalid(reason) => RefreshError::Invalid(reason),
        AnswerError::KeysUnavailable(reason) | AnswerError::UserInfo(reason) => {
            RefreshError::Unavailable(reason)
        }
    })?;
    renewal.id_token = token.id_token().map(ToString::to_string);
    Ok(renewal)
}

/// The session `old` becomes with `renewal` at `now`: the same id and
/// sign-in, a new expiry (never past the session's end), the identity and
/// role mapped again from the new claims.
pub fn renewed(
    settings: &Settings,
    old: &Session,
    renewal: Renewal,
    now: u64,
) -> Result<Session, RefreshError> {
    let Some(refresh) = &old.refresh else {
        return Err(RefreshError::Invalid(
            "the session cannot be renewed".to_owned(),
        ));
    };
    let lifetime = renewal
        .expires_in
        .unwrap_or(settings.session.fallback_lifetime)
        .clamp(Duration::from_secs(1), settings.session.max_lifetime);
    let expires_at = now.saturating_add(lifetime.as_secs()).min(refresh.ends_at);
    let refresh = Some(Refresh {
        token: renewal
            .refresh_token
            .unwrap_or_else(|| refresh.token.clone()),
        in_store: false,
        ends_at: refresh.ends_at,
    });
    let Some(claims) = renewal.claims else {
        return Ok(Session {
            expires_at,
            refresh,
            ..old.clone()
        });
    };
    let signed_in_at = old.provider.as_ref().map_or(now, |link| link.signed_in_at);
    let proof = Proof {
        method: LoginMethod::Oidc,
        expires_at,
        id_token: renewal.id_token.or_else(|| old.id_token.clone()),
        signed_in_at,
        refresh,
    };
    let mut session = session_from_claims(&claims, settings, proof)
        .map_err(|refused| RefreshError::Invalid(refused.to_string()))?;
    session.sid.clone_from(&old.sid);
    if let (Some(link), Some(before)) = (&mut session.provider, &old.provider)
        && link.sid.is_none()
    {
        link.sid.clone_from(&before.sid);
    }
    Ok(session)
}
