//! What a verified JWT must also be to open the API: an access token, not
//! an ID token, and not issued in the future.
//!
//! ID tokens are signed by the same provider with the same keys, so the
//! signature cannot tell them apart. They travel in logout URLs
//! (`id_token_hint`), browser history and logs; accepting one as an API
//! credential is token substitution (RFC 8725 section 3.11). An ID token
//! carries claims an access token never does (`nonce`, `at_hash`, `c_hash`,
//! `s_hash`; a logout token `events`), and Keycloak marks its tokens with a `typ` claim (`ID`,
//! `Bearer`, `Refresh`). The audience rule (the client id only when listed)
//! lives with the other audience checks.
//!
//! `iat` is informative in RFC 7519, but a token from the future means a
//! wrong clock or a forger, and the major JWT libraries refuse it beyond a
//! small leeway; so does the sidecar.

use serde_json::{Map, Value};

/// Claims only ID tokens (OpenID Connect Core 1.0, sections 2 and 3.3.2.11)
/// and logout tokens (`events`, Back-Channel Logout 1.0) carry.
const OTHER_TOKEN_CLAIMS: [&str; 5] = ["nonce", "at_hash", "c_hash", "s_hash", "events"];
/// Values of a `typ` claim that mark an access token (Keycloak: `Bearer`).
const ACCESS_TOKEN_TYPES: [&str; 3] = ["bearer", "at+jwt", "application/at+jwt"];

/// Why a verified JWT does not open the API.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum NotAnAccessToken {
    /// A claim only ID tokens or logout tokens carry.
    #[error("it carries `{0}`, a claim of ID or logout tokens, not access tokens")]
    IdTokenClaim(&'static str),
    /// A `typ` claim naming another kind of token.
    #[error("its `typ` claim says it is not an access token")]
    OtherType,
    /// `iat` further in the future than the leeway.
    #[error("it was issued in the future (`iat` beyond the clock-skew leeway)")]
    IssuedInTheFuture,
    /// `iat` present but not a number.
    #[error("its `iat` is not a number")]
    IssuedAtNotANumber,
}

/// Checks `claims` (of a token whose signature, issuer and expiry hold) at
/// `now` (Unix seconds), tolerating `leeway` seconds of clock skew.
pub fn check_access_token(
    claims: &Map<String, Value>,
    now: u64,
    leeway: u64,
) -> Result<(), NotAnAccessToken> {
    if let Some(claim) = OTHER_TOKEN_CLAIMS
        .into_iter()
        .find(|claim| claims.contains_key(*claim))
    {
        return Err(NotAnAccessToken::IdTokenClaim(claim));
    }
    if let Some(typ) = claims.get("typ") {
        let named = typ.as_str().map(str::to_ascii_lowercase);
        if !named.is_some_and(|typ| ACCESS_TOKEN_TYPES.contains(&typ.as_str())) {
            return Err(NotAnAccessToken::OtherType);
        }
    }
    match claims.get("iat").map(Value::as_f64) {
        None => Ok(()),
        Some(None) => Err(NotAnAccessToken::IssuedAtNotANumber),
        Some(Some(issued)) if issued > now.saturating_add(leeway) as f64 => {
            Err(NotAnAccessToken::IssuedInTheFuture)
        }
        Some(Some(_)) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: u64 = 1_800_000_000;

    fn claims(extra: Value) -> Map<String, Value> {
        let mut claims = json!({
            "iss": "https://idp.example.com",
            "sub": "robot",
            "aud": "https://books.example.com/api",
            "iat": NOW,
            "exp": NOW + 300,
        });
        if let (Some(claims), Value::Object(extra)) = (claims.as_object_mut(), extra) {
            claims.extend(extra);
        }
        claims.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn an_access_token_passes() {
        assert_eq!(check_access_token(&claims(json!({})), NOW, 60), Ok(()));
        for typ in ["Bearer", "at+jwt", "application/at+jwt"] {
            let token = claims(json!({ "typ": typ }));
            assert_eq!(check_access_token(&token, NOW, 60), Ok(()), "{typ}");
        }
    }

    #[test]
    fn id_token_claims_are_refused() {
        for claim in OTHER_TOKEN_CLAIMS {
            let token = claims(json!({ claim: "x" }));
            assert_eq!(
                check_access_token(&token, NOW, 60),
                Err(NotAnAccessToken::IdTokenClaim(claim))
            );
        }
    }

    #[test]
    fn a_typ_claim_of_another_token_is_refused() {
        for typ in [json!("ID"), json!("Refresh"), json!("Logout"), json!(1)] {
            let token = claims(json!({ "typ": typ }));
            assert_eq!(
                check_access_token(&token, NOW, 60),
                Err(NotAnAccessToken::OtherType),
                "{typ}"
            );
        }
    }

    #[test]
    fn iat_may_lead_by_the_leeway_and_no_more() {
        let at = |iat: Value| check_access_token(&claims(json!({ "iat": iat })), NOW, 60);
        assert_eq!(at(json!(NOW + 60)), Ok(()));
        assert_eq!(
            at(json!(NOW + 61)),
            Err(NotAnAccessToken::IssuedInTheFuture)
        );
        assert_eq!(
            at(json!(NOW + 3600)),
            Err(NotAnAccessToken::IssuedInTheFuture)
        );
        assert_eq!(at(json!("soon")), Err(NotAnAccessToken::IssuedAtNotANumber));
        let no_leeway = check_access_token(&claims(json!({ "iat": NOW + 1 })), NOW, 0);
        assert_eq!(no_leeway, Err(NotAnAccessToken::IssuedInTheFuture));
    }
}
