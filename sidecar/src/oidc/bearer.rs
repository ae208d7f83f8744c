//! Bearer tokens from API clients: JWT access tokens issued by the
//! configured provider, verified with the provider's cached keys.
//!
//! Verification is `openidconnect`'s (no JWT parsing or crypto of our own):
//! the signature with a key from the provider's JWKS, under an algorithm the
//! provider advertises (never `none`, never an HMAC, which would make the
//! public key a shared secret), the issuer, and the expiry with the
//! configured leeway for clock skew. A token whose signature fails in a way
//! new keys could cure refetches the keys once, as ID tokens at login do.
//! The audience must hold a configured audience (the client id only when
//! listed), and the token must be an access token issued no later than now
//! ([`super::access_token`]). The username
//! and groups are read from the token's claims with the same claim names,
//! checks and role mapping as a browser login. Opaque tokens cannot be
//! verified this way and are refused.

use super::access_token::check_access_token;
use super::provider::{Discovered, DiscoveryFailure, Provider, TokenSource, error_chain};
use super::signed_in::{IdentityRefused, Proof, session_from_claims};
use super::token_answer::{check_not_before, keys_may_have_rotated, to_map};
use super::types::OtherClaims;
use crate::config::Settings;
use crate::session::{LoginMethod, Session};
use openidconnect::core::{
    CoreGenderClaim, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm,
};
use openidconnect::{
    ClientId, IdToken, IdTokenClaims, IdTokenVerifier, JsonWebTokenType, JwsSigningAlgorithm, Nonce,
};
use portcullis_contract::bearer::{BearerConfig, MAX_LEEWAY_SECONDS};
use std::str::FromStr;
use std::sync::Arc;

/// A JWT shaped like an ID token (RFC 9068 access tokens are: `iss`, `sub`,
/// `aud`, `exp`, `iat`), keeping every other claim.
pub type AccessToken = IdToken<
    OtherClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

/// Why a bearer token does not identify anyone.
#[derive(Debug, thiserror::Error)]
pub enum BearerError {
    /// Not a JWT (an opaque token, or garbage).
    #[error("the bearer token is not a JWT: {0}")]
    Malformed(String),
    /// Signature, issuer, audience, algorithm, type or time checks failed.
    #[error("the bearer token is not valid: {0}")]
    Invalid(String),
    /// The claims do not make an identity (no username, unsafe values).
    #[error(transparent)]
    Claims(super::claims::ClaimsError),
    /// The token's subject is in none of the allowed groups.
    #[error(transparent)]
    NotAllowed(crate::access::roles::NotAllowed),
    /// The provider's keys are not available, so nothing can be verified.
    #[error(transparent)]
    ProviderUnavailable(#[from] DiscoveryFailure),
}

impl From<IdentityRefused> for BearerError {
    fn from(refused: IdentityRefused) -> Self {
        match refused {
            IdentityRefused::Claims(error) => Self::Claims(error),
            IdentityRefused::NotAllowed(error) => Self::NotAllowed(error),
        }
    }
}

/// The `Authorization: Bearer` token of a request, if it sent one.
pub fn bearer_token(headers: &http::HeaderMap) -> Option<&str> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// `token` read as a JWT, nothing verified yet.
pub fn parse_token(token: &str) -> Result<AccessToken, BearerError> {
    AccessToken::from_str(token).map_err(|error| BearerError::Malformed(error.to_string()))
}

/// Verifies `token` under `bearer` and returns the one-request session it
/// stands for.
pub async fn verify_bearer(
    provider: &Provider,
    settings: &Settings,
    bearer: &BearerConfig,
    token: &str,
) -> Result<Session, BearerError> {
    let leeway = i64::try_from(bearer.leeway_seconds.min(MAX_LEEWAY_SECONDS)).unwrap_or(0);
    let parsed = parse_token(token)?;
    let issuer = &settings.oidc.issuer;
    let discovered = provider.get(issuer).await?;
    let now = chrono::Utc::now();
    let skewed = now - chrono::Duration::seconds(leeway);
    let claims = match verified(&parsed, &discovered, &settings.oidc.client_id, skewed) {
        Err(error) if keys_may_have_rotated(&error) => {
            let fresher = provider
                .refresh_after_key_failure(&discovered, TokenSource::Bearer)
                .await?;
            verified(&parsed, &fresher, &settings.oidc.client_id, skewed)
        }
        other => other,
    }
    .map_err(|error| BearerError::Invalid(error_chain(&error)))?;

    if !claims.audiences().iter().any(|audience| {
        bearer
            .audiences
            .iter()
            .any(|accepted| **audience == *accepted)
    }) {
        return Err(BearerError::Invalid(
            "no audience of the token is accepted here".to_owned(),
        ));
    }
    let map = to_map(&claims);
    let unix_now = u64::try_from(now.timestamp()).unwrap_or(0);
    check_not_before(&map, unix_now.saturating_add(bearer.leeway_seconds))
        .map_err(|error| BearerError::Invalid(error.to_string()))?;
    check_access_token(&map, unix_now, bearer.leeway_seconds)
        .map_err(|error| BearerError::Invalid(error.to_string()))?;
    let proof = Proof {
        method: LoginMethod::Bearer,
        expires_at: u64::try_from(claims.expiration().timestamp()).unwrap_or(0),
        id_token: None,
        signed_in_at: unix_now,
        refresh: None,
    };
    Ok(session_from_claims(&map, settings, proof)?)
}

/// The token's claims when the signature, issuer, algorithm, type and
/// expiry hold against `discovered`'s keys, the expiry checked at `skewed`
/// (now less the leeway); the audience is checked by the caller.
fn verified(
    token: &AccessToken,
    discovered: &Arc<Discovered>,
    client_id: &str,
    skewed: chrono::DateTime<chrono::Utc>,
) -> Result<IdTokenClaims<OtherClaims, CoreGenderClaim>, openidconnect::ClaimsVerificationError> {
    let issuer = discovered.metadata.issuer().clone();
    let algorithms: Vec<CoreJwsSigningAlgorithm> = discovered
        .metadata
        .id_token_signing_alg_values_supported()
        .iter()
        .filter(|alg| !alg.uses_shared_secret() && **alg != CoreJwsSigningAlgorithm::None)
        .cloned()
        .collect();
    let jose_types = ["JWT", "at+jwt"]
        .into_iter()
        .filter_map(|typ| JsonWebTokenType::new(typ.to_owned()).normalize().ok());
    // A public-client verifier: HMAC algorithms are refused outright.
    let verifier: IdTokenVerifier<'_, CoreJsonWebKey> = IdTokenVerifier::new_public_client(
        ClientId::new(client_id.to_owned()),
        issuer,
        discovered.metadata.jwks().clone(),
    )
    .require_audience_match(false)
    .set_allowed_algs(algorithms)
    .set_allowed_jose_types(jose_types)
    .set_time_fn(move || skewed);
    token.claims(&verifier, |_: Option<&Nonce>| Ok(())).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderMap, HeaderValue, header};

    fn with_authorization(value: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static(value));
        headers
    }

    #[test]
    fn the_bearer_scheme_is_read_case_insensitively() {
        assert_eq!(
            bearer_token(&with_authorization("Bearer a.b.c")),
            Some("a.b.c")
        );
        assert_eq!(
            bearer_token(&with_authorization("bearer  a.b.c ")),
            Some("a.b.c")
        );
    }

    #[test]
    fn other_schemes_and_empty_tokens_are_not_bearer_tokens() {
        assert_eq!(bearer_token(&with_authorization("Basic YTpi")), None);
        assert_eq!(bearer_token(&with_authorization("Bearer ")), None);
        assert_eq!(bearer_token(&with_authorization("Bearer")), None);
        assert_eq!(bearer_token(&HeaderMap::new()), None);
    }
}
