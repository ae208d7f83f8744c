//! `spec.signedIdentity` of `OidcSettings`: a signed JWT of the caller's
//! identity on each request the sidecar forwards.
//!
//! The bounds repeat the contract crate's (`portcullis_contract::identity`)
//! in the schema, so `kubectl apply` refuses a bad header name or lifetime
//! naming the field. The key is not in the spec: the operator generates it
//! into the generated Secret and keeps it (see `desired::secrets`).

use crate::names::{IDENTITY_KEYS_KEY, secret_path};
use kube::KubeSchema;
use portcullis_contract::defaults::{DEFAULT_IDENTITY_HEADER, DEFAULT_IDENTITY_LIFETIME_SECONDS};
use portcullis_contract::identity::SignedIdentityConfig;
use serde::{Deserialize, Serialize};

/// Sign the identity the app receives, with a key the operator generates.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct SignedIdentitySpec {
    /// The request header that carries the token (default `X-Portcullis-Identity`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new(r#"self.matches("^[A-Za-z0-9-]+$")"#)
        .message("must be letters, digits and -"))]
    #[schemars(length(min = 1, max = 64))]
    pub header_name: Option<String>,
    /// Seconds a token stays valid (default 60).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 5, max = 600))]
    pub lifetime_seconds: Option<i64>,
    /// The `aud` claim (default: `publicUrl`, without a trailing slash).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 2048))]
    pub audience: Option<String>,
}

impl From<&SignedIdentitySpec> for SignedIdentityConfig {
    fn from(spec: &SignedIdentitySpec) -> Self {
        SignedIdentityConfig {
            key_file: secret_path(IDENTITY_KEYS_KEY).into(),
            header_name: spec
                .header_name
                .clone()
                .unwrap_or_else(|| DEFAULT_IDENTITY_HEADER.into()),
            // A value outside the schema's range becomes 0, which the
            // contract's validation names.
            lifetime_seconds: spec
                .lifetime_seconds
                .map_or(DEFAULT_IDENTITY_LIFETIME_SECONDS, |s| {
                    u64::try_from(s).unwrap_or(0)
                }),
            audience: spec.audience.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_section_renders_the_defaults_and_the_mounted_key_file() {
        let config = SignedIdentityConfig::from(&SignedIdentitySpec::default());
        assert_eq!(
            config.key_file.to_str(),
            Some("/etc/portcullis/secret/identity-keys")
        );
        assert_eq!(config.header_name, "X-Portcullis-Identity");
        assert_eq!(config.lifetime_seconds, 60);
        assert_eq!(config.audience, None);
    }

    #[test]
    fn set_fields_are_rendered_as_given() {
        let config = SignedIdentityConfig::from(&SignedIdentitySpec {
            header_name: Some("X-Jwt-Assertion".into()),
            lifetime_seconds: Some(30),
            audience: Some("books".into()),
        });
        assert_eq!(config.header_name, "X-Jwt-Assertion");
        assert_eq!(config.lifetime_seconds, 30);
        assert_eq!(config.audience.as_deref(), Some("books"));
    }
}
