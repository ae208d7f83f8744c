//! The authorization code flow: the redirect to the provider and the callback.
//!
//! Everything the provider sends back is checked before it counts: the code
//! is exchanged with the client secret and the PKCE verifier, the ID token's
//! signature (JWKS), issuer, audience, expiry and nonce are verified by
//! `openidconnect`, and userinfo must be about the same subject.

use super::pending::PendingLogin;
use super::provider::{Discovered, Provider, TokenSource, error_chain};
use super::types::{OidcClient, OtherClaims};
use crate::config::settings::ProviderSettings;
use openidconnect::core::{CoreAuthenticationFlow, CoreClientAuthMethod, CoreGenderClaim};
use openidconnect::{
    AuthType, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError,
    Scope, SignatureVerificationError, TokenResponse as _, UserInfoClaims,
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

/// Builds a client for the discovered provider.
pub fn client_for(discovered: &Discovered, oidc: &ProviderSettings) -> OidcClient {
    let methods = discovered.metadata.token_endpoint_auth_methods_supported();
    let basic_supported = methods.is_none_or(|methods| {
        methods.is_empty() || methods.contains(&CoreClientAuthMethod::ClientSecretBasic)
    });
    let auth_type = if basic_supported {
        AuthType::BasicAuth
    } else {
        AuthType::RequestBody
    };
    OidcClient::from_provider_metadata(
        discovered.metadata.clone(),
        ClientId::new(oidc.client_id.clone()),
        Some(ClientSecret::new(oidc.client_secret.expose().to_owned())),
    )
    .set_redirect_uri(RedirectUrl::from_url(oidc.redirect_url.clone()))
    .set_auth_type(auth_type)
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
    let id_token = token.id_token().ok_or(FlowError::NoIdToken)?;
    let nonce = Nonce::new(pending.nonce.clone());

    let verified = match id_token.claims(&client.id_token_verifier(), &nonce) {
        Err(error) if keys_may_have_rotated(&error) => {
            let fresher = provider
                .refresh_after_key_failure(&discovered, TokenSource::TokenEndpoint)
                .await
                .map_err(|failure| FlowError::InvalidIdToken(failure.reason))?;
            let client = client_for(&fresher, oidc);
            id_token
                .claims(&client.id_token_verifier(), &nonce)
                .cloned()
        }
        other => other.cloned(),
    }
    .map_err(|error| FlowError::InvalidIdToken(error_chain(&error)))?;

    let mut claims = to_map(&verified);
    check_not_before(&claims, unix_seconds())?;
    if let Ok(request) = client.user_info(
        token.access_token().clone(),
        Some(verified.subject().clone()),
    ) {
        let userinfo: UserInfoClaims<OtherClaims, CoreGenderClaim> = request
            .request_async(http)
            .await
            .map_err(|error| FlowError::UserInfo(error_chain(&error)))?;
        claims = super::claims::merge_claims(claims, Some(to_map(&userinfo)));
    }
    Ok(VerifiedLogin {
        claims,
        id_token: id_token.to_string(),
        expires_in: token.expires_in(),
        refresh_token: token
            .refresh_token()
            .map(|refresh| refresh.secret().clone()),
    })
}

pub(crate) fn to_map(claims: &impl serde::Serialize) -> Map<String, Value> {
    match serde_json::to_value(claims) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

/// A signature failure that new keys could cure: no key with the token's
/// `kid`, several candidates, or a key replaced under the same `kid`.
pub(crate) fn keys_may_have_rotated(error: &ClaimsVerificationError) -> bool {
    matches!(
        error,
        ClaimsVerificationError::SignatureVerification(
            SignatureVerificationError::NoMatchingKey
                | SignatureVerificationError::AmbiguousKeyId(_)
                | SignatureVerificationError::CryptoError(_)
        )
    )
}

/// Refuses an ID token whose `nbf` (RFC 7519 §4.1.5) lies after `now`, with
/// the same (zero) leeway the expiry check uses.
pub fn check_not_before(claims: &Map<String, Value>, now: u64) -> Result<(), FlowError> {
    match claims.get("nbf").map(Value::as_f64) {
        None => Ok(()),
        Some(Some(not_before)) if not_before <= now as f64 => Ok(()),
        Some(Some(_)) => Err(FlowError::InvalidIdToken(
            "the ID token is not valid yet (its `nbf` is in the future)".to_owned(),
        )),
        Some(None) => Err(FlowError::InvalidIdToken(
            "the ID token's `nbf` is not a number".to_owned(),
        )),
    }
}

fn unix_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn a_token_not_valid_yet_is_refused() {
        assert!(check_not_before(&claims(json!({"nbf": 100})), 100).is_ok());
        assert!(check_not_before(&claims(json!({})), 100).is_ok());
        assert!(matches!(
            check_not_before(&claims(json!({"nbf": 101})), 100),
            Err(FlowError::InvalidIdToken(_))
        ));
        assert!(check_not_before(&claims(json!({"nbf": "soon"})), 100).is_err());
    }
}
