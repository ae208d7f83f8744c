//! The authorization code flow: the redirect to the provider and the callback.
//!
//! Everything the provider sends back is checked before it counts: the code
//! is exchanged with the client secret and the PKCE verifier, the ID token's
//! signature (JWKS), issuer, audience, expiry and nonce are verified by
//! `openidconnect`, and userinfo must be about the same subject.

use super::client::client_for;
use super::pending::PendingLogin;
use super::provider::{Discovered, Provider, error_chain};
use super::token_answer::{AnswerError, verified_claims};
use crate::config::settings::ProviderSettings;
use openidconnect::core::CoreAuthenticationFlow;
use openidconnect::{
    AuthorizationCode, CsrfToken, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    RequestTokenError, Scope, TokenResponse as _,
};
use portcullis_contract::defaults::REQUIRED_SCOPE;
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// What a finished login yields.
#[derive(Debug)]
pub struct VerifiedLogin {
    /// ID token claims merged with userinfo claims.
    pub claims: Map<String, Value>,
    /// The raw ID token, for `id_token_hint` at logout.
    pub id_token: String,
    /// The access token's lifetime, when the provider says.
    pub expires_in: Option<Duration>,
    /// The refresh token, when the provider sent one.
    pub refresh_token: Option<String>,
}

/// Why the callback could not finish the login.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    /// The token endpoint refused or failed.
    #[error("the identity provider did not exchange the sign-in code: {0}")]
    TokenExchange(String),
    /// The token response had no ID token.
    #[error(
        "the identity provider's token response has no ID token (is the `openid` scope requested?)"
    )]
    NoIdToken,
    /// The ID token failed verification.
    #[error("the ID token is not valid: {0}")]
    InvalidIdToken(String),
    /// The userinfo endpoint failed.
    #[error("the identity provider's userinfo endpoint failed: {0}")]
    UserInfo(String),
}

/// The URL to send the browser to, and what its callback must match.
pub fn authorization_request(
    discovered: &Discovered,
    oidc: &ProviderSettings,
    return_to: String,
    now: u64,
) -> (Url, PendingLogin) {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let client = client_for(discovered, oidc);
    let scopes = oidc
        .scopes
        .iter()
        .filter(|scope| *scope != REQUIRED_SCOPE)
        .cloned()
        .map(Scope::new);
    let (url, state, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scopes(scopes)
        .set_pkce_challenge(challenge)
        .url();
    let pending = PendingLogin {
        state: state.into_secret(),
        nonce: nonce.secret().clone(),
        pkce_verifier: verifier.into_secret(),
        return_to,
        started_at: now,
    };
    (url, pending)
}

/// Exchanges the code, verifies the ID token and gathers the claims.
pub async fn finish_login(
    provider: &Provider,
    discovered: Arc<Discovered>,
    oidc: &ProviderSettings,
    http: &reqwest::Client,
    code: String,
    pending: &PendingLogin,
) -> Result<VerifiedLogin, FlowError> {
    let client = client_for(&discovered, oidc);
    let token = client
        .exchange_code(AuthorizationCode::new(code))
        .map_err(|error| FlowError::TokenExchange(error.to_string()))?
        .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier.clone()))
        .request_async(http)
        .await
        .map_err(|error| FlowError::TokenExchange(token_error(&error)))?;
    let nonce = Nonce::new(pending.nonce.clone());
    let claims = verified_claims(provider, discovered, oidc, http, &token, &nonce, None)
        .await
        .map_err(|error| match error {
            AnswerError::UserInfo(reason) => FlowError::UserInfo(reason),
            AnswerError::Invalid(reason) | AnswerError::KeysUnavailable(reason) => {
                FlowError::InvalidIdToken(reason)
            }
        })?
        .ok_or(FlowError::NoIdToken)?;
    let id_token = token.id_token().ok_or(FlowError::NoIdToken)?;
    Ok(VerifiedLogin {
        claims,
        id_token: id_token.to_string(),
        expires_in: token.expires_in(),
        refresh_token: token
            .refresh_token()
            .map(|refresh| refresh.secret().clone()),
    })
}

fn token_error<RE, T>(error: &RequestTokenError<RE, T>) -> String
where
    RE: std::error::Error + 'static,
    T: openidconnect::ErrorResponse + 'static,
{
    match error {
        RequestTokenError::ServerResponse(response) => format!("the provider answered {response}"),
        other => error_chain(other),
    }
}
