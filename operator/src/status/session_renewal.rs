//! Whether sessions outlive the provider's access token: only when the
//! provider grants refresh tokens (its `grant_types_supported` lists
//! `refresh_token`) is a session renewed up to `session.maxLifetimeSeconds`;
//! otherwise users sign in again each time the access token runs out
//! (Keycloak's default: five minutes), which a platform team should read in
//! the status before its users find out.

use super::check::{Check, SESSION_RENEWAL};
use super::discovery_document::Discovery;
use super::reason::Reason;
use crate::crd::OidcSettingsSpec;
use portcullis_contract::defaults::DEFAULT_MAX_SESSION_LIFETIME_SECONDS;

/// The scope some providers (Okta, Entra ID, Auth0, Zitadel) want before
/// they send a refresh token.
const OFFLINE_ACCESS: &str = "offline_access";

/// The session-renewal check of `spec` against `document` (a warning:
/// sign-in works either way).
pub fn session_renewal(spec: &OidcSettingsSpec, document: &Discovery) -> Check {
    if !document.grants_refresh_tokens() {
        return Check::new(
            SESSION_RENEWAL,
            Some(false),
            Reason::RefreshTokensNotGranted,
            "the provider does not list refresh_token in grant_types_supported: a session ends with its access token, and users sign in again each time",
        );
    }
    let max_lifetime = spec
        .session
        .as_ref()
        .and_then(|session| session.max_lifetime_seconds)
        .map_or(DEFAULT_MAX_SESSION_LIFETIME_SECONDS, |seconds| {
            u64::try_from(seconds).unwrap_or(0)
        });
    let mut message = format!(
        "the provider grants refresh tokens: sessions are renewed before their access token runs out, up to {max_lifetime} s from the sign-in (spec.session.maxLifetimeSeconds)"
    );
    if document.lists_scope(OFFLINE_ACCESS)
        && !spec.scopes.iter().any(|scope| scope == OFFLINE_ACCESS)
    {
        message.push_str(
            "; if sessions still end with the access token, the provider sends refresh tokens only with the offline_access scope (Okta, Entra ID, Auth0, Zitadel): add it to spec.scopes",
        );
    }
    Check::new(
        SESSION_RENEWAL,
        Some(true),
        Reason::RefreshTokensGranted,
        message,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desired::config::tests::spec;
    use crate::status::discovery_document::tests::document;

    #[test]
    fn a_provider_granting_refresh_tokens_renews_sessions_up_to_the_maximum() {
        let check = session_renewal(&spec(), &document());
        assert_eq!(
            (check.passed, check.reason),
            (Some(true), Reason::RefreshTokensGranted)
        );
        assert!(check.message.contains("86400 s"), "{}", check.message);
        assert!(!check.message.contains(OFFLINE_ACCESS), "{}", check.message);
        assert!(!check.blocking);
    }

    #[test]
    fn a_provider_wanting_offline_access_gets_a_hint_unless_it_is_asked() {
        let mut wants = document();
        wants
            .scopes_supported
            .get_or_insert_default()
            .push(OFFLINE_ACCESS.to_owned());
        let check = session_renewal(&spec(), &wants);
        assert!(
            check.message.contains("add it to spec.scopes"),
            "{}",
            check.message
        );
        let mut asks = spec();
        asks.scopes.push(OFFLINE_ACCESS.to_owned());
        let check = session_renewal(&asks, &wants);
        assert!(!check.message.contains(OFFLINE_ACCESS), "{}", check.message);
    }

    #[test]
    fn a_provider_not_listing_the_grant_is_a_warning() {
        for listed in [
            None,
            Some(serde_json::json!(["authorization_code"])),
            Some(serde_json::json!("refresh_token")),
        ] {
            let mut silent = document();
            silent.grant_types_supported = listed;
            let check = session_renewal(&spec(), &silent);
            assert_eq!(
                (check.passed, check.reason),
                (Some(false), Reason::RefreshTokensNotGranted)
            );
            assert!(!check.blocking);
        }
    }
}
