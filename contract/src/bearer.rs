//! The `bearerTokens` section: API clients that send
//! `Authorization: Bearer <JWT>` instead of a session cookie.
//!
//! Present means on. Tokens must come from the configured provider and name
//! this app as an audience: the client id, or one of `audiences` (providers
//! put a resource indicator or an API name there, not the client id).

use serde::{Deserialize, Serialize};

/// Accept JWT access tokens from the configured provider.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BearerConfig {
    /// Audiences accepted besides `oidc.clientId`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audiences: Vec<String>,
}
