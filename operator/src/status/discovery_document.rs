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
}

impl Discovery {
    /// Whether the provider says it posts back-channel logout tokens.
    pub fn sends_back_channel_logouts(&self) -> bool {
        self.backchannel_logout_supported == Some(serde_json::Value::Bool(true))
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
