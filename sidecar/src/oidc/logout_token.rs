//! OpenID Connect Back-Channel Logout 1.0: the logout token a provider
//! posts when a session ends there, checked as section 2.6 asks.
//!
//! The signature is checked with `jsonwebtoken` against the provider's
//! published keys, under an algorithm it signs ID tokens with (never
//! `none`, never an HMAC, which would make the client secret enough to
//! forge one). A logout token is not an ID token (it may lack `sub` and
//! `exp`), so the claims are checked here, apart from the IO: `iss`, `aud`
//! holding the client id, `iat` within the last few minutes, `exp` when
//! present, a `jti`, the back-channel logout event, `sid` or `sub`, and no
//! `nonce` (which tells an ID token apart). `typ` may be absent,
//! `logout+jwt`, or the generic `JWT` that Keycloak before 25 and older
//! Authentik send: the event claim and the missing nonce already keep an
//! ID token from passing for a logout token (section 4.1).

use crate::session::revoked::{Revocation, provider_sid_digest, subject_digest};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde_json::{Map, Value};

/// The event a logout token must carry.
pub const BACK_CHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// How old a logout token may be (by its `iat`): the provider sends it as
/// the session ends.
pub const MAX_AGE_SECONDS: u64 = 300;
/// Clock skew allowed between the provider and this host.
pub const LEEWAY_SECONDS: u64 = 60;
/// Longest `jti`, `sid` or `sub` accepted.
const MAX_ID_LEN: usize = 255;

/// What a valid logout token asks to end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogoutOrder {
    /// The provider's session, when named: only that session ends.
    pub sid: Option<String>,
    /// The user; without `sid`, every session of theirs signed in before
    /// `issued_at` ends.
    pub subject: Option<String>,
    /// The token's id, used once.
    pub jti: String,
    /// When the provider issued it (unix seconds).
    pub issued_at: u64,
}

impl LogoutOrder {
    /// The log-out list's entry for this order: the provider's session
    /// when named (every session it started), else every session of the
    /// user signed in before the token was issued. Kept for
    /// `max_lifetime_seconds`, the longest any of them lives.
    pub fn revocation(&self, now: u64, max_lifetime_seconds: u64) -> Option<Revocation> {
        match (&self.sid, &self.subject) {
            (Some(sid), _) => Some(Revocation {
                digest: provider_sid_digest(sid),
                expires_at: now.saturating_add(max_lifetime_seconds),
                signed_in_before: Some(u64::MAX),
            }),
            (None, Some(subject)) => Some(Revocation {
                digest: subject_digest(subject),
                expires_at: self.issued_at.saturating_add(max_lifetime_seconds),
                signed_in_before: Some(self.issued_at),
            }),
            (None, None) => None,
        }
    }

    /// How long the token's id must be remembered: until the token is too
    /// old to be accepted anyway.
    pub fn jti_kept_until(&self) -> u64 {
        self.issued_at + MAX_AGE_SECONDS + LEEWAY_SECONDS
    }
}

/// Why a logout token is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LogoutTokenError {
    /// Not a signed JWT at all.
    #[error("the logout token is not a signed JWT: {0}")]
    Malformed(String),
    /// No key of the provider has the token's key id (new keys may help).
    #[error("no key of the provider matches the logout token's key id")]
    UnknownKey,
    /// Signature, algorithm, type or a claim is wrong.
    #[error("the logout token is not valid: {0}")]
    Invalid(String),
}

fn invalid(why: impl Into<String>) -> LogoutTokenError {
    LogoutTokenError::Invalid(why.into())
}

/// The algorithms of `advertised` (the provider's ID token algorithms, as
/// named in its discovery document) a logout token may be signed with.
pub fn accepted_algorithms<'a>(advertised: impl IntoIterator<Item = &'a str>) -> Vec<Algorithm> {
    advertised
        .into_iter()
        .filter_map(|name| name.parse::<Algorithm>().ok())
        .filter(|algorithm| {
            !matches!(
                algorithm,
                Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
            )
        })
        .collect()
}

/// The claims of `token` when it is signed by a key of `keys` (the
/// provider's JWKS as JSON) under one of `algorithms`, with an acceptable
/// `typ`. The claims themselves are checked by [`check_claims`].
pub fn verified_claims(
    token: &str,
    keys: &Value,
    algorithms: &[Algorithm],
) -> Result<Map<String, Value>, LogoutTokenError> {
    let header =
        decode_header(token).map_err(|error| LogoutTokenError::Malformed(error.to_string()))?;
    if let Some(typ) = &header.typ
        && !is_logout_type(typ)
    {
        return Err(invalid(format!("its `typ` is `{typ}`, not `logout+jwt`")));
    }
    if !algorithms.contains(&header.alg) {
        return Err(invalid(format!(
            "it is signed with {:?}, which the provider does not sign ID tokens with",
            header.alg
        )));
    }
    let key = matching_key(keys, header.kid.as_deref(), header.alg)?;
    let key = DecodingKey::from_jwk(&key).map_err(|error| invalid(error.to_string()))?;
    let mut validation = Validation::new(header.alg);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_aud = false;
    decode::<Map<String, Value>>(token, &key, &validation)
        .map(|data| data.claims)
        .map_err(|error| invalid(format!("its signature does not hold: {error}")))
}

/// Whether `typ` marks a logout token (or the generic JWT older providers send).
fn is_logout_type(typ: &str) -> bool {
    let typ = typ.to_ascii_lowercase();
    let typ = typ.strip_prefix("application/").unwrap_or(&typ);
    typ == "logout+jwt" || typ == "jwt"
}

/// The key of `keys` named `kid`, or, without a `kid`, the only signing
/// key usable with `algorithm`.
fn matching_key(
    keys: &Value,
    kid: Option<&str>,
    algorithm: Algorithm,
) -> Result<Jwk, LogoutTokenError> {
    let usable: Vec<Jwk> = keys
        .get("keys")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|key| serde_json::from_value::<Jwk>(key.clone()).ok())
        .filter(|key| {
            key.common
                .key_algorithm
                .is_none_or(|named| named.to_string() == format!("{algorithm:?}"))
        })
        .filter(|key| {
            !matches!(
                key.common.public_key_use,
                Some(jsonwebtoken::jwk::PublicKeyUse::Encryption)
            )
        })
        .collect();
    let mut found = usable
        .into_iter()
        .filter(|key| kid.is_none() || key.common.key_id.as_deref() == kid);
    match (found.next(), found.next()) {
        (Some(key), None) => Ok(key),
        (Some(_), Some(_)) => Err(invalid(
            "more than one key of the provider could have signed it",
        )),
        (None, _) => Err(LogoutTokenError::UnknownKey),
    }
}

/// Checks the claims of a verified logout token for the client `client_id`
/// of the provider `issuer`, at `now` (unix seconds).
pub fn check_claims(
    claims: &Map<String, Value>,
    issuer: &str,
    client_id: &str,
    now: u64,
) -> Result<LogoutOrder, LogoutTokenError> {
    if claims.get("iss").and_then(Value::as_str) != Some(issuer) {
        return Err(invalid("its `iss` is not the provider"));
    }
    let audience_holds = match claims.get("aud") {
        Some(Value::String(audience)) => audience == client_id,
        Some(Value::Array(audiences)) => audiences
            .iter()
            .any(|audience| audience.as_str() == Some(client_id)),
        _ => false,
    };
    if !audience_holds {
        return Err(invalid("its `aud` does not hold the client id"));
    }
    let issued_at = seconds(claims, "iat")?.ok_or_else(|| invalid("it has no `iat`"))?;
    if issued_at > now + LEEWAY_SECONDS {
        return Err(invalid("its `iat` is in the future"));
    }
    if issued_at + MAX_AGE_SECONDS + LEEWAY_SECONDS < now {
        return Err(invalid(format!(
            "it was issued more than {MAX_AGE_SECONDS} s ago"
        )));
    }
    if let Some(expiry) = seconds(claims, "exp")?
        && expiry + LEEWAY_SECONDS <= now
    {
        return Err(invalid("it has expired"));
    }
    if claims.contains_key("nonce") {
        return Err(invalid("it has a `nonce`, as an ID token does"));
    }
    let event = claims
        .get("events")
        .and_then(Value::as_object)
        .and_then(|events| events.get(BACK_CHANNEL_LOGOUT_EVENT));
    if !matches!(event, Some(Value::Object(_))) {
        return Err(invalid("its `events` lack the back-channel logout event"));
    }
    let jti = identifier(claims, "jti")?.ok_or_else(|| invalid("it has no `jti`"))?;
    let sid = identifier(claims, "sid")?;
    let subject = identifier(claims, "sub")?;
    if sid.is_none() && subject.is_none() {
        return Err(invalid("it names neither a `sid` nor a `sub`"));
    }
    Ok(LogoutOrder {
        sid,
        subject,
        jti,
        issued_at,
    })
}

/// A time claim as whole seconds; an error when present but not a
/// non-negative number.
fn seconds(claims: &Map<String, Value>, name: &str) -> Result<Option<u64>, LogoutTokenError> {
    match claims.get(name) {
        None => Ok(None),
        Some(value) => value
            .as_u64()
            .or_else(|| {
                value
                    .as_f64()
                    .filter(|seconds| seconds.is_finite() && *seconds >= 0.0)
                    .map(|seconds| {
                        // A whole number of seconds below 2^53, rounded down.
                        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                        let whole = seconds as u64;
                        whole
                    })
            })
            .map(Some)
            .ok_or_else(|| invalid(format!("its `{name}` is not a time"))),
    }
}

/// A string claim of 1 to 255 bytes; an error when present but not one.
fn identifier(claims: &Map<String, Value>, name: &str) -> Result<Option<String>, LogoutTokenError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::String(text)) if !text.is_empty() && text.len() <= MAX_ID_LEN => {
            Ok(Some(text.clone()))
        }
        Some(_) => Err(invalid(format!(
            "its `{name}` is not a string of 1 to {MAX_ID_LEN} bytes"
        ))),
    }
}

#[cfg(test)]
mod tests;
