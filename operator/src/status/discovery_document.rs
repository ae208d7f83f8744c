//! The parts of an OpenID Provider's discovery document that the status checks read.
//!
//! The type has a module of its own because both the checks and the
//! recognition of the provider read it, and the checks use that recognition:
//! with the document here, the imports run one way (checks → provider →
//! document), and fetching (`crate::discovery`) needs none of the checks.

use serde::Deserialize;

/// The parts of an OpenID Provider's discovery document that are checked.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Discovery {
    /// The issuer the provider claims.
    pub issuer: String,
    /// Where browsers are sent to sign in.
    #[serde(default)]
    pub authorization_endpoint: Option<String>,
    /// Where the signing keys are.
    #[serde(default)]
    pub jwks_uri: Option<String>,
    /// Scopes it supports, if listed.
    #[serde(default)]
    pub scopes_supported: Option<Vec<String>>,
    /// Claims it supports, if listed.
    #[serde(default)]
    pub claims_supported: Option<Vec<String>>,
    /// Back-Channel Logout 1.0: whether it posts logout tokens (any JSON
    /// value, so an odd one cannot break the document).
    #[serde(default)]
    pub backchannel_logout_supported: Option<serde_json::Value>,
    /// The grants it serves (any JSON value, read as a list of names).
    #[serde(default)]
    pub grant_types_supported: Option<serde_json::Value>,
}

impl Discovery {
    /// Whether the provider says it posts back-channel logout tokens.
    pub fn sends_back_channel_logouts(&self) -> bool {
        self.backchannel_logout_supported == Some(serde_json::Value::Bool(true))
    }

    /// Whether the provider lists the `refresh_token` grant.
    pub fn grants_refresh_tokens(&self) -> bool {
        self.grant_types_supported
            .as_ref()
            .and_then(serde_json::Value::as_array)
            .is_some_and(|grants| grants.iter().any(|grant| grant == "refresh_token"))
    }

    /// Whether `scope` is among the scopes the provider lists.
    pub fn lists_scope(&self, scope: &str) -> bool {
        self.scopes_supported
            .as_ref()
            .is_some_and(|scopes| scopes.iter().any(|listed| listed == scope))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A Keycloak realm's document listing the usual scopes and few claims.
    pub(crate) fn document() -> Discovery {
        Discovery {
            issuer: "https://sso.example.com/realms/home".into(),
            authorization_endpoint: None,
            jwks_uri: None,
            scopes_supported: Some(
                ["openid", "profile", "groups", "email"]
                    .map(String::from)
                    .to_vec(),
            ),
            claims_supported: Some(["sub", "preferred_username"].map(String::from).to_vec()),
            backchannel_logout_supported: Some(serde_json::Value::Bool(true)),
            grant_types_supported: Some(serde_json::json!(["authorization_code", "refresh_token"])),
        }
    }

    #[test]
    fn a_document_with_only_an_issuer_is_read_and_the_rest_is_absent() {
        let document: Discovery =
            serde_json::from_str(r#"{"issuer": "https://sso.example.com", "unknown": 1}"#)
                .expect("parses");
        assert_eq!(document.issuer, "https://sso.example.com");
        assert_eq!(
            (document.scopes_supported, document.claims_supported),
            (None, None)
        );
    }
}
