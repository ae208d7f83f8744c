//! Reading the username and groups out of the provider's claims.
//!
//! Claims from the validated ID token and from the userinfo endpoint are
//! merged into one JSON object (userinfo wins, as it is the fresher source
//! and groups often live only there), then read by the configured names.

use crate::roles::groups_from_claim;
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
    /// The username claim holds a control character or starts or ends with
    /// whitespace: `X-Forwarded-User` could not carry it, or the app would
    /// read it as another name (HTTP parsers trim the spaces around a value).
    #[error(
        "the `{claim}` claim (the username claim) holds control characters or surrounding whitespace"
    )]
    UsernameUnfit {
        /// The configured claim name.
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
    group_claim: &str,
) -> Result<Identity, ClaimsError> {
    let user = match claims.get(username_claim) {
        None | Some(Value::Null) => {
            return Err(ClaimsError::MissingUsername {
                claim: username_claim.to_owned(),
            });
        }
        Some(Value::String(user)) if !user.trim().is_empty() => {
            if user.trim() != user || user.chars().any(char::is_control) {
                return Err(ClaimsError::UsernameUnfit {
                    claim: username_claim.to_owned(),
                });
            }
            user.clone()
        }
        Some(_) => {
            return Err(ClaimsError::UsernameNotString {
                claim: username_claim.to_owned(),
            });
        }
    };
    let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_owned);
    Ok(Identity {
        user,
        email: text("email"),
        preferred_username: text("preferred_username"),
        groups: groups_from_claim(claims.get(group_claim)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
            identity_from_claims(&merged, "preferred_username", "groups").expect("identity");
        assert_eq!(identity.user, "alice");
        assert_eq!(identity.groups, ["admin"]);
    }

    #[test]
    fn configured_claim_names_are_used() {
        let claims = object(json!({"email": "a@example.com", "roles": "trusted staff"}));
        let identity = identity_from_claims(&claims, "email", "roles").expect("identity");
        assert_eq!(identity.user, "a@example.com");
        assert_eq!(identity.email.as_deref(), Some("a@example.com"));
        assert_eq!(identity.groups, ["trusted", "staff"]);
    }

    #[test]
    fn missing_or_non_string_username_is_a_clear_error() {
        let claims = object(json!({"sub": "1", "n": 5, "e": "  ", "z": null}));
        assert_eq!(
            identity_from_claims(&claims, "preferred_username", "groups"),
            Err(ClaimsError::MissingUsername {
                claim: "preferred_username".into()
            })
        );
        assert!(matches!(
            identity_from_claims(&claims, "z", "g"),
            Err(ClaimsError::MissingUsername { .. })
        ));
        for claim in ["n", "e"] {
            assert_eq!(
                identity_from_claims(&claims, claim, "groups"),
                Err(ClaimsError::UsernameNotString {
                    claim: claim.into()
                })
            );
        }
    }

    #[test]
    fn a_username_no_header_carries_as_it_is_is_refused() {
        // Found by the `request_headers` fuzz target: a username with a
        // control character made a session whose requests reached the app
        // with no `X-Forwarded-User` at all; one with surrounding spaces
        // reaches it as another user's name.
        for user in [
            "ali\u{16}ce",
            "alice\r\nX-Portcullis-Root: true",
            " admin",
            "admin\t",
            "a\u{85}",
        ] {
            let claims = object(json!({ "preferred_username": user }));
            assert_eq!(
                identity_from_claims(&claims, "preferred_username", "groups"),
                Err(ClaimsError::UsernameUnfit {
                    claim: "preferred_username".into()
                }),
                "{user:?}"
            );
        }
        let claims = object(json!({ "preferred_username": "Zoë van Dijk" }));
        let identity = identity_from_claims(&claims, "preferred_username", "groups");
        assert_eq!(
            identity.map(|identity| identity.user).as_deref(),
            Ok("Zoë van Dijk")
        );
    }
}
