//! The `signedIdentity` section: a short-lived JWT the sidecar adds to each
//! request it forwards for a signed-in user, so the app can check who is
//! calling instead of trusting plain headers.
//!
//! Present means on. The operator generates the signing key into the Secret
//! (see [`crate::identity_keys`]); the sidecar publishes the public keys as a
//! JWKS at [`crate::paths::JWKS_PATH`]. The checks here need no file and run
//! on both sides, so the operator reports a bad header name or lifetime in
//! `status` before any sidecar sees it.

use crate::defaults::{DEFAULT_IDENTITY_HEADER, DEFAULT_IDENTITY_LIFETIME_SECONDS};
use crate::problems::Problems;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The shortest token lifetime accepted: shorter ones fail on small clock steps.
pub const MIN_IDENTITY_LIFETIME_SECONDS: u64 = 5;
/// The longest token lifetime accepted: the token is a per-request proof, not a session.
pub const MAX_IDENTITY_LIFETIME_SECONDS: u64 = 600;

/// Header names the identity token may not take: those HTTP itself or the
/// sidecar needs for something else.
const RESERVED_HEADERS: [&str; 16] = [
    "authorization",
    "cookie",
    "host",
    "content-length",
    "content-type",
    "transfer-encoding",
    "connection",
    "upgrade",
    "te",
    "trailer",
    "keep-alive",
    "proxy-connection",
    "proxy-authorization",
    "forwarded",
    "x-real-ip",
    "x-portcullis-role",
];

/// Sign the identity forwarded to the app.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignedIdentityConfig {
    /// File with the signing keys (see [`crate::identity_keys`]): the first
    /// signs, every listed key is published.
    #[serde(default)]
    pub key_file: PathBuf,
    /// The request header that carries the token.
    #[serde(default = "default_header_name")]
    pub header_name: String,
    /// Seconds from `iat` to `exp`.
    #[serde(default = "default_lifetime")]
    pub lifetime_seconds: u64,
    /// The `aud` claim; left out: the public URL (without a trailing slash).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
}

impl Default for SignedIdentityConfig {
    fn default() -> Self {
        Self {
            key_file: PathBuf::new(),
            header_name: default_header_name(),
            lifetime_seconds: default_lifetime(),
            audience: None,
        }
    }
}

fn default_header_name() -> String {
    DEFAULT_IDENTITY_HEADER.into()
}

fn default_lifetime() -> u64 {
    DEFAULT_IDENTITY_LIFETIME_SECONDS
}

/// Records every problem of the section, each naming its field.
pub fn check(problems: &mut Problems, config: &SignedIdentityConfig) {
    if config.key_file.as_os_str().is_empty() {
        problems.push("signedIdentity.keyFile", "is required");
    }
    if let Err(why) = check_header_name(&config.header_name) {
        problems.push("signedIdentity.headerName", why);
    }
    if !(MIN_IDENTITY_LIFETIME_SECONDS..=MAX_IDENTITY_LIFETIME_SECONDS)
        .contains(&config.lifetime_seconds)
    {
        problems.push(
            "signedIdentity.lifetimeSeconds",
            format!(
                "must be between {MIN_IDENTITY_LIFETIME_SECONDS} and {MAX_IDENTITY_LIFETIME_SECONDS}"
            ),
        );
    }
    if let Some(audience) = &config.audience
        && (audience.trim().is_empty() || audience.trim() != audience)
    {
        problems.push(
            "signedIdentity.audience",
            "must not be empty or start or end with spaces",
        );
    }
}

/// Why `name` cannot carry the identity token, if it cannot.
pub fn check_header_name(name: &str) -> Result<(), String> {
    if name.is_empty()
        || !name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-')
    {
        return Err(format!(
            "`{name}` must be letters, digits and `-` (like X-Portcullis-Identity)"
        ));
    }
    let lower = name.to_ascii_lowercase();
    if RESERVED_HEADERS.contains(&lower.as_str())
        || lower == "x-portcullis-root"
        || lower.starts_with("x-forwarded-")
    {
        return Err(format!(
            "`{name}` is a header HTTP or the sidecar already uses for something else"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_section_gets_the_documented_defaults() {
        let config: SignedIdentityConfig = serde_yaml::from_str("{}").expect("parses");
        assert_eq!(config.header_name, "X-Portcullis-Identity");
        assert_eq!(config.lifetime_seconds, 60);
        assert_eq!(config.audience, None);
    }

    #[test]
    fn every_bad_field_is_named() {
        let config = SignedIdentityConfig {
            key_file: PathBuf::new(),
            header_name: "X Identity".into(),
            lifetime_seconds: 4,
            audience: Some(" ".into()),
        };
        let mut problems = Problems::default();
        check(&mut problems, &config);
        for field in [
            "signedIdentity.keyFile",
            "signedIdentity.headerName",
            "signedIdentity.lifetimeSeconds",
            "signedIdentity.audience",
        ] {
            assert!(problems.mentions(field), "{field} missing from {problems}");
        }
    }

    #[test]
    fn header_names_the_sidecar_or_http_needs_are_refused() {
        for name in [
            "Authorization",
            "cookie",
            "X-Forwarded-User",
            "x-portcullis-root",
            "X_Identity",
            "",
        ] {
            assert!(check_header_name(name).is_err(), "{name} accepted");
        }
        for name in ["X-Portcullis-Identity", "X-Jwt-Assertion", "Identity"] {
            assert_eq!(check_header_name(name), Ok(()), "{name} refused");
        }
    }
}
