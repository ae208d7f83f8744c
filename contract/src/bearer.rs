//! The `bearerTokens` section: API clients that send
//! `Authorization: Bearer <JWT>` instead of a session cookie.
//!
//! Present means on. Tokens must come from the configured provider and name
//! one of `audiences`: providers put a resource indicator or an API name
//! there. The client id is not accepted unless listed: a token whose only
//! audience is the client id is usually an ID token, which travels in
//! logout URLs, browser history and logs and must not open the API.

use serde::{Deserialize, Serialize};

/// Seconds of clock skew tolerated on `exp`, `nbf` and `iat` by default.
pub const DEFAULT_LEEWAY_SECONDS: u64 = 60;
/// The most clock skew that can be configured.
pub const MAX_LEEWAY_SECONDS: u64 = 300;

/// Accept JWT access tokens from the configured provider.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BearerConfig {
    /// Audiences accepted, at least one; the client id only when listed.
    #[serde(default)]
    pub audiences: Vec<String>,
    /// Clock skew tolerated on `exp`, `nbf` and `iat` (a token issued
    /// further in the future is refused).
    #[serde(default = "default_leeway")]
    pub leeway_seconds: u64,
}

impl Default for BearerConfig {
    fn default() -> Self {
        Self {
            audiences: Vec::new(),
            leeway_seconds: DEFAULT_LEEWAY_SECONDS,
        }
    }
}

fn default_leeway() -> u64 {
    DEFAULT_LEEWAY_SECONDS
}
