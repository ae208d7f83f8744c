//! Reading the username and groups out of the provider's claims.
//!
//! Claims from the validated ID token and from the userinfo endpoint are
//! merged into one JSON object (userinfo wins, as it is the fresher source
//! and groups often live only there), then read by the configured names.

use super::claim_path::{self, ClaimPath};
use crate::access::roles::groups_from_claim;
pub use portcullis_contract::header_value::is_header_safe;
use serde_json::{Map, Value};

/// Who logged in, as the provider describes them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The value of the username claim.
    pub user: String,
    /// The `email` claim.
    pub email: Option<String>,
    /// The `preferred_username` claim.
    pub preferred_username: Option<String>,
    /// The groups from the group claim (unbounded; the session bounds them).
    pub groups: Vec<String>,
}

/// Why the claims do not make a login.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClaimsError {
    /// The username claim is absent.
    #[error(
        "the identity provider sent no `{claim}` claim, which is configured as the username claim"
    )]
    MissingUsername {
        /// The configured claim name.
        claim: String,
    },
    /// The username claim is not a non-empty string.
    #[error("the `{claim}` claim (the username claim) is not a non-empty string")]
    UsernameNotString {
        /// The configured claim name.
        claim: String,
    },
    /// A value the app would receive in a header is not one it can read
    /// the same way the sidecar does.
    #[error(
        "the `{claim}` claim has surrounding spaces or control characters, so the application could read it differently"
    )]
    UnsafeValue {
        /// The claim's name.
        claim: String,
    },
}

/// Merges userinfo claims over ID token claims.
pub fn merge_claims(
    id_token: Map<String, Value>,
    userinfo: Option<Map<String, Value>>,
) -> Map<String, Value> {
    let mut merged = id_token;
    merged.extend(userinfo.unwrap_or_default());
    merged
}

/// Reads the identity from merged claims.
pub fn identity_from_claims(
    claims: &Map<String, Value>,
    username_claim: &str,
    group_claim: &ClaimPath,
) -> Result<Identity, ClaimsError> {
    let user = match claims.get(username_claim) {
        None | Some(Value::Null) => {
            return Err(ClaimsError::MissingUsername {
                claim: username_claim.to_owned(),
            });
        }
        Some(Value::String(user)) if !user.trim().is_empty() => user.clone(),
        Some(_) => {
            return Err(ClaimsError::UsernameNotString {
                claim: username_claim.to_owned(),
            });
        }
    };
    let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_owned);
    let identity = Identity {
        user,
        email: text("email"),
        preferred_username: text("preferred_username"),
        groups: groups_from_claim(claim_path::find(group_claim, claims)),
    };
    for (claim, value) in [
        (username_claim, Some(&identity.user)),
        ("email", identity.email.as_ref()),
        ("preferred_username", identity.preferred_username.as_ref()),
    ] {
        if value.is_some_and(|value| !is_header_safe(value)) {
            return Err(ClaimsError::UnsafeValue {
                claim: claim.to_owned(),
            });
        }
    }
    Ok(identity)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn groups() -> ClaimPath {
        path("groups")
    }

    fn path(written: &str) -> ClaimPath {
        ClaimPath::parse(written).expect("valid path")
    }

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().cloned().expect("object")
    }

    #[test]
    fn userinfo_claims_are_merged_over_id_token_claims() {
        let merged = merge_claims(
            object(json!({"sub": "1", "preferred_username": "old"})),
            Some(object(
                json!({"preferred_username": "alice", "groups": ["admin"]}),
            )),
        );
        let identity =
            identity_from_claims(&merged, "preferred_username", &groups()).expect("identity");
        assert_eq!(identity.user, "alice");
        assert_eq!(identity.groups, ["admin"]);
    }

    #[test]
    fn configured_claim_names_are_used() {
        let claims = object(json!({"email": "a@example.com", "roles": "trusted staff"}));
        let identity = identity_from_claims(&claims, "email", &path("roles")).expect("identity");
        assert_eq!(identity.user, "a@example.com");
        assert_eq!(identity.email.as_deref(), Some("a@example.com"));
        assert_eq!(identity.groups, ["trusted", "staff"]);
    }

    #[test]
    fn groups_are_read_from_a_nested_claim_path() {
        let claims = object(json!({
            "preferred_username": "kim",
            "realm_access": {"roles": ["offline_access", "Admin"]},
        }));
        let identity =
            identity_from_claims(&claims, "preferred_username", &path("realm_access.roles"))
                .expect("identity");
        assert_eq!(identity.groups, ["offline_access", "Admin"]);
    }

    #[test]
    fn values_an_app_could_read_differently_are_refused() {
        for (claims, claim) in [
            (json!({"preferred_username": " root"}), "preferred_username"),
            (
                json!({"preferred_username": "root\t"}),
                "preferred_username",
            ),
            (
                json!({"preferred_username": "a\u{7}b"}),
                "preferred_username",
            ),
            (
                json!({"preferred_username": "a", "email": "a@x\r\nX-Evil: 1"}),
                "email",
            ),
        ] {
            assert_eq!(
                identity_from_claims(&object(claims), "preferred_username", &groups()),
                Err(ClaimsError::UnsafeValue {
                    claim: claim.into()
                })
            );
        }
        let fine = object(json!({"preferred_username": "José Ñ", "email": "j@example.com"}));
        assert!(identity_from_claims(&fine, "preferred_username", &groups()).is_ok());
    }

    #[test]
    fn missing_or_non_string_username_is_a_clear_error() {
        let claims = object(json!({"sub": "1", "n": 5, "e": "  ", "z": null}));
        assert_eq!(
            identity_from_claims(&claims, "preferred_username", &groups()),
            Err(ClaimsError::MissingUsername {
                claim: "preferred_username".into()
            })
        );
        assert!(matches!(
            identity_from_claims(&claims, "z", &path("g")),
            Err(ClaimsError::MissingUsername { .. })
        ));
        for claim in ["n", "e"] {
            assert_eq!(
                identity_from_claims(&claims, claim, &groups()),
                Err(ClaimsError::UsernameNotString {
                    claim: claim.into()
                })
            );
        }
    }
}
