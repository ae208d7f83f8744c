//! Whether the provider's discovery document fits the spec: the issuer it
//! declares and the scopes it supports.
//!
//! A wrong issuer or an unsupported scope breaks every login, so both block
//! `Ready`. Where the provider is recognised (see [`super::provider`]), an
//! unsupported scope is explained the way that provider needs.

use super::check::{Check, PROVIDER_COMPATIBLE};
use super::discovery_document::Discovery;
use super::issuer::expected_issuer;
use super::provider::missing_scope_hint;
use super::reason::Reason;
use crate::crd::OidcSettingsSpec;

/// The [`PROVIDER_COMPATIBLE`] check of `document` against `spec`.
pub fn compatibility(spec: &OidcSettingsSpec, document: &Discovery) -> Check {
    let expected = expected_issuer(spec);
    // A discovery URL names the issuer with and without a trailing slash
    // (Authentik declares it with one); the sidecar accepts both.
    let declared = document
        .issuer
        .strip_suffix('/')
        .unwrap_or(&document.issuer);
    if declared != expected.trim_end_matches('/') {
        return Check::new(
            PROVIDER_COMPATIBLE,
            Some(false),
            Reason::IssuerMismatch,
            format!(
                "the provider says its issuer is {}, but spec.wellKnownUrl names {expected}; every ID token would be rejected",
                document.issuer
            ),
        );
    }
    if let Some(supported) = &document.scopes_supported {
        let missing: Vec<&str> = spec
            .scopes
            .iter()
            .filter(|scope| !supported.contains(scope))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            let mut message = format!(
                "spec.scopes requests {} that the provider does not list in scopes_supported",
                missing.join(", ")
            );
            for hint in missing
                .iter()
                .filter_map(|scope| missing_scope_hint(document, scope))
            {
                message.push_str("; ");
                message.push_str(&hint);
            }
            return Check::new(
                PROVIDER_COMPATIBLE,
                Some(false),
                Reason::ScopeNotSupported,
                message,
            );
        }
    }
    Check::new(
        PROVIDER_COMPATIBLE,
        Some(true),
        Reason::ProviderMatches,
        "issuer and scopes match the discovery document",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desired::config::tests::spec;
    use crate::status::discovery_document::tests::document;

    #[test]
    fn a_groups_scope_at_keycloak_blocks_and_says_keycloak_has_none() {
        let mut document = document();
        document.scopes_supported = Some(["openid", "profile"].map(String::from).to_vec());
        let check = compatibility(&spec(), &document);
        assert_eq!(
            (check.reason, check.blocking),
            (Reason::ScopeNotSupported, true)
        );
        assert!(
            check.message.contains("requests groups that")
                && check.message.contains("has no `groups` scope"),
            "{}",
            check.message
        );
    }

    #[test]
    fn issuer_mismatch_blocks() {
        let mut document = document();
        document.issuer = "https://other.example.com".into();
        let check = compatibility(&spec(), &document);
        assert_eq!(
            (check.passed, check.reason),
            (Some(false), Reason::IssuerMismatch)
        );
        assert!(check.blocking);
    }

    #[test]
    fn an_issuer_declared_with_a_trailing_slash_is_compatible() {
        let mut document = document();
        document.issuer.push('/');
        let check = compatibility(&spec(), &document);
        assert_ne!(check.reason, Reason::IssuerMismatch, "{}", check.message);
        assert_ne!(check.passed, Some(false), "{}", check.message);
    }

    #[test]
    fn unsupported_scope_is_named() {
        let mut document = document();
        document.scopes_supported = Some(vec!["openid".into()]);
        let check = compatibility(&spec(), &document);
        assert_eq!(check.reason, Reason::ScopeNotSupported);
        assert!(
            check.message.contains("profile, groups"),
            "{}",
            check.message
        );
    }
}
