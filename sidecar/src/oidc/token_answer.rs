//! Checking what the token endpoint answered, for a sign-in and for a
//! renewal alike, so the two can never drift apart.
//!
//! The ID token's signature (JWKS, fetched again once when the keys may have
//! rotated), issuer, audience and expiry are verified by `openidconnect`,
//! its `nbf` here; the nonce is the caller's (a sign-in has one, a renewal
//! none). Userinfo, when the provider has it, must be about the same subject
//! and is merged into the claims.

use super::client::client_for;
use super::provider::{Discovered, Provider, TokenSource, error_chain};
use super::types::{OtherClaims, TokenResponse};
use crate::config::settings::ProviderSettings;
use openidconnect::core::CoreGenderClaim;
use openidconnect::{
    ClaimsVerificationError, NonceVerifier, OAuth2TokenResponse, SignatureVerificationError,
    SubjectIdentifier, TokenResponse as _, UserInfoClaims,
};
use serde_json::{Map, Value};
use std::sync::Arc;

/// Why an answer's identity does not count.
#[derive(Debug, thiserror::Error)]
pub enum AnswerError {
    /// The ID token does not verify, or names another subject.
    #[error("{0}")]
    Invalid(String),
    /// The provider's keys could not be fetched again.
    #[error("{0}")]
    KeysUnavailable(String),
    /// The userinfo endpoint failed.
    #[error("{0}")]
    UserInfo(String),
}

/// The claims of the ID token in `token`, verified with `nonce`, merged
/// with userinfo's; `None` when the answer holds no ID token. With
/// `subject`, the token must name that user.
pub async fn verified_claims<N: NonceVerifier + Copy>(
    provider: &Provider,
    discovered: Arc<Discovered>,
    oidc: &ProviderSettings,
    http: &reqwest::Client,
    token: &TokenResponse,
    nonce: N,
    subject: Option<&str>,
) -> Result<Option<Map<String, Value>>, AnswerError> {
    let Some(id_token) = token.id_token() else {
        return Ok(None);
    };
    let client = client_for(&discovered, oidc);
    let verified = match id_token.claims(&client.id_token_verifier(), nonce) {
        Err(error) if keys_may_have_rotated(&error) => {
            let fresher = provider
                .refresh_after_key_failure(&discovered, TokenSource::TokenEndpoint)
                .await
                .map_err(|failure| AnswerError::KeysUnavailable(failure.reason))?;
            let client = client_for(&fresher, oidc);
            id_token.claims(&client.id_token_verifier(), nonce).cloned()
        }
        other => other.cloned(),
    }
    .map_err(|error| AnswerError::Invalid(error_chain(&error)))?;
    if subject.is_some_and(|subject| verified.subject().as_str() != subject) {
        return Err(AnswerError::Invalid(
            "the ID token names another `sub`".to_owned(),
        ));
    }
    let mut claims = to_map(&verified);
    check_not_before(&claims, unix_seconds())?;
    if let Ok(request) = client.user_info(
        token.access_token().clone(),
        Some(SubjectIdentifier::new(verified.subject().to_string())),
    ) {
        let userinfo: UserInfoClaims<OtherClaims, CoreGenderClaim> = request
            .request_async(http)
            .await
            .map_err(|error| AnswerError::UserInfo(error_chain(&error)))?;
        claims = super::claims::merge_claims(claims, Some(to_map(&userinfo)));
    }
    Ok(Some(claims))
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
pub fn check_not_before(claims: &Map<String, Value>, now: u64) -> Result<(), AnswerError> {
    match claims.get("nbf").map(Value::as_f64) {
        None => Ok(()),
        Some(Some(not_before)) if not_before <= now as f64 => Ok(()),
        Some(Some(_)) => Err(AnswerError::Invalid(
            "the ID token is not valid yet (its `nbf` is in the future)".to_owned(),
        )),
        Some(None) => Err(AnswerError::Invalid(
            "the ID token's `nbf` is not a number".to_owned(),
        )),
    }
}

fn unix_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
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
            Err(AnswerError::Invalid(_))
        ));
        assert!(check_not_before(&claims(json!({"nbf": "soon"})), 100).is_err());
    }
}
