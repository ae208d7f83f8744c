//! Any claims a provider sends give either a clear error or an identity
//! whose username is the username claim, unchanged, not blank, and fit to
//! travel in a header as it is (no control character, no surrounding space).
//!
//! The input is JSON: an object of claims, or a list of two objects (ID
//! token claims, then userinfo claims, merged as at login). The identity is
//! read with the default claim names, with the names providers commonly
//! use, and with names taken from the claims themselves (first and last
//! key), so odd and non-ASCII claim names are read too. Groups are never
//! empty or padded when they came from a list, never hold whitespace when
//! they came from a string, and the email and `preferred_username` are the
//! claims' own strings.

#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_sidecar::oidc::claim_path::ClaimPath;
use portcullis_sidecar::oidc::claims::{ClaimsError, identity_from_claims, merge_claims};
use serde_json::{Map, Value};

const NAMES: [(&str, &str); 4] = [
    ("preferred_username", "groups"),
    ("email", "roles"),
    ("sub", "realm_access"),
    ("name", "cognito:groups"),
];

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let claims = match value {
        Value::Object(claims) => claims,
        Value::Array(mut parts) if parts.len() == 2 => {
            let userinfo = parts.pop().and_then(object);
            let Some(id_token) = parts.pop().and_then(object) else {
                return;
            };
            merge_claims(id_token, userinfo)
        }
        _ => return,
    };
    let first = claims.keys().next().cloned().unwrap_or_default();
    let last = claims.keys().next_back().cloned().unwrap_or_default();
    let derived = [
        (first.as_str(), last.as_str()),
        (last.as_str(), first.as_str()),
    ];
    for (username_claim, group_claim) in NAMES.into_iter().chain(derived) {
        check(&claims, username_claim, group_claim);
    }
});

fn object(value: Value) -> Option<Map<String, Value>> {
    match value {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

fn check(claims: &Map<String, Value>, username_claim: &str, group_claim: &str) {
    // A claim name that is not a valid path is refused by the config's
    // validation and never reaches a login.
    let Ok(group_path) = ClaimPath::parse(group_claim) else {
        return;
    };
    match identity_from_claims(claims, username_claim, &group_path) {
        Ok(identity) => {
            assert_eq!(
                claims.get(username_claim).and_then(Value::as_str),
                Some(identity.user.as_str())
            );
            assert!(!identity.user.trim().is_empty());
            // Carried as it is in `X-Forwarded-User`, read back the same.
            assert_eq!(identity.user, identity.user.trim());
            assert!(!identity.user.contains(char::is_control));
            let text = |name: &str| claims.get(name).and_then(Value::as_str);
            for value in [&identity.email, &identity.preferred_username]
                .into_iter()
                .flatten()
            {
                assert_eq!(value, value.trim());
                assert!(!value.contains(char::is_control));
            }
            assert_eq!(identity.email.as_deref(), text("email"));
            assert_eq!(
                identity.preferred_username.as_deref(),
                text("preferred_username")
            );
            let from_string = claims.get(group_claim).is_some_and(Value::is_string);
            for group in &identity.groups {
                assert!(!group.is_empty());
                assert_eq!(group, group.trim(), "{group:?}");
                if from_string {
                    assert!(!group.contains(char::is_whitespace), "{group:?}");
                }
            }
        }
        Err(ClaimsError::MissingUsername { claim }) => {
            assert_eq!(claim, username_claim);
            assert!(claims.get(username_claim).is_none_or(Value::is_null));
        }
        Err(ClaimsError::UnsafeValue { claim }) => {
            assert!(
                [username_claim, "email", "preferred_username"].contains(&claim.as_str()),
                "{claim}"
            );
            let value = claims.get(&claim).and_then(Value::as_str);
            assert!(
                value
                    .is_some_and(|value| value != value.trim() || value.contains(char::is_control))
            );
        }
        Err(ClaimsError::UsernameNotString { claim }) => {
            assert_eq!(claim, username_claim);
            assert!(
                !claims
                    .get(username_claim)
                    .and_then(Value::as_str)
                    .is_some_and(|user| !user.trim().is_empty())
            );
        }
    }
}
