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

use super::flow::{check_not_before, client_for, keys_may_have_rotated, to_map};
use super::provider::{Discovered, Provider, TokenSource, error_chain};
use super::signed_in::{Proof, session_from_claims};
use super::types::OtherClaims;
use crate::config::Settings;
use crate::session::model::Refresh;
use crate::session::{LoginMethod, Session};
use openidconnect::core::{CoreErrorResponseType, CoreGenderClaim};
use openidconnect::{
    Nonce, OAuth2TokenResponse, RefreshToken, RequestTokenError, SubjectIdentifier,
    TokenResponse as _, UserInfoClaims,
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
    let Some(id_token) = token.id_token() else {
        return Ok(renewal);
    };
    let no_nonce = |_: Option<&Nonce>| Ok(());
    let verified = match id_token.claims(&client.id_token_verifier(), no_nonce) {
        Err(error) if keys_may_have_rotated(&error) => {
            let fresher = provider
                .refresh_after_key_failure(&discovered, TokenSource::TokenEndpoint)
                .await
                .map_err(|failure| RefreshError::Unavailable(failure.reason))?;
            let client = client_for(&fresher, oidc);
            id_token
                .claims(&client.id_token_verifier(), no_nonce)
                .cloned()
        }
        other => other.cloned(),
    }
    .map_err(|error| RefreshError::Invalid(error_chain(&error)))?;
    if verified.subject().as_str() != subject {
        return Err(RefreshError::Invalid(
            "the refreshed ID token names another `sub`".to_owned(),
        ));
    }
    let mut claims = to_map(&verified);
    check_not_before(&claims, unix_seconds())
        .map_err(|error| RefreshError::Invalid(error.to_string()))?;
    if let Ok(request) = client.user_info(
        token.access_token().clone(),
        Some(SubjectIdentifier::new(subject.to_owned())),
    ) {
        let userinfo: UserInfoClaims<OtherClaims, CoreGenderClaim> = request
            .request_async(http)
            .await
            .map_err(|error| RefreshError::Unavailable(error_chain(&error)))?;
        claims = super::claims::merge_claims(claims, Some(to_map(&userinfo)));
    }
    renewal.claims = Some(claims);
    renewal.id_token = Some(id_token.to_string());
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

fn unix_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}
