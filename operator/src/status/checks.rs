//! All checks of the inputs and the provider's discovery document, in a
//! fixed order, from what the reconciler found.
//!
//! Each check that reads the discovery document has its own module
//! ([`super::compatibility`], [`super::claims`], [`super::issuer`]); this one
//! puts them in the order the conditions are written and decides what is
//! not checked when the document could not be fetched.

use super::claims::claims;
use super::compatibility::compatibility;
use super::discovery_document::Discovery;
use super::issuer::issuer_security;
use super::provider_logout::back_channel_logout;
use super::reason::Reason;
use super::session_renewal::session_renewal;
use crate::crd::OidcSettingsSpec;
use crate::store_probe::StoreProblem;

pub use super::check::{
    BACK_CHANNEL_LOGOUT, CLAIMS_ADVERTISED, Check, ISSUER_SECURE, PROVIDER_COMPATIBLE,
    PROVIDER_REACHABLE, READY, SECRETS_RESOLVED, SESSION_RENEWAL, SESSION_STORE_REACHABLE,
    SPEC_VALID,
};
pub use super::issuer::expected_issuer;

/// Whether the referenced Secrets could be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretsOutcome {
    /// Every referenced Secret and key exists.
    Resolved,
    /// A Secret or key is missing: `reason` is `SecretNotFound` or `SecretKeyMissing`.
    Missing {
        /// CamelCase reason.
        reason: Reason,
        /// Which Secret and key, for people.
        message: String,
    },
}

/// All checks, in a fixed order, from what the reconciler found.
pub fn checks(
    spec: &OidcSettingsSpec,
    valid: &Result<(), String>,
    secrets: &SecretsOutcome,
    discovery: &Result<Discovery, String>,
) -> Vec<Check> {
    let mut out = vec![match valid {
        Ok(()) => Check::new(
            SPEC_VALID,
            Some(true),
            Reason::SpecAccepted,
            "the sidecar accepts the rendered config",
        ),
        Err(problems) => Check::new(
            SPEC_VALID,
            Some(false),
            Reason::InvalidSpec,
            format!("the sidecar would refuse this config, so it was not written: {problems}"),
        ),
    }];
    out.push(match secrets {
        SecretsOutcome::Resolved => Check::new(
            SECRETS_RESOLVED,
            Some(true),
            Reason::SecretsFound,
            "every referenced Secret, ConfigMap and key exists",
        ),
        SecretsOutcome::Missing { reason, message } => {
            Check::new(SECRETS_RESOLVED, Some(false), *reason, message.clone())
        }
    });
    let url = &spec.well_known_url;
    match discovery {
        Err(error) => {
            out.push(Check::new(
                PROVIDER_REACHABLE,
                Some(false),
                Reason::DiscoveryUnreachable,
                format!("cannot fetch {url}: {error}"),
            ));
            for type_ in [
                PROVIDER_COMPATIBLE,
                CLAIMS_ADVERTISED,
                BACK_CHANNEL_LOGOUT,
                SESSION_RENEWAL,
            ] {
                out.push(Check::new(
                    type_,
                    None,
                    Reason::NotChecked,
                    "the discovery document could not be fetched",
                ));
            }
        }
        Ok(document) => {
            out.push(Check::new(
                PROVIDER_REACHABLE,
                Some(true),
                Reason::DiscoveryFetched,
                format!("fetched {url}"),
            ));
            out.push(compatibility(spec, document));
            out.push(claims(spec, document));
            out.push(back_channel_logout(spec, document));
            out.push(session_renewal(spec, document));
        }
    }
    out.push(issuer_security(spec));
    out
}

/// The session store's check, when the spec names a store and its
/// credentials could be read.
pub fn store_check(probed: &Result<(), StoreProblem>) -> Check {
    match probed {
        Ok(()) => Check::new(
            SESSION_STORE_REACHABLE,
            Some(true),
            Reason::StoreReachable,
            "the session store answered with the referenced credentials",
        ),
        Err(problem @ StoreProblem::Refused(_)) => Check::new(
            SESSION_STORE_REACHABLE,
            Some(false),
            Reason::StoreCredentialsRefused,
            format!(
                "{problem} (spec.sessionStore.redis.passwordSecretRef, usernameSecretRef, sentinel.passwordSecretRef)"
            ),
        ),
        Err(problem @ StoreProblem::Unreachable { field, .. }) => Check::new(
            SESSION_STORE_REACHABLE,
            Some(false),
            Reason::StoreUnreachable,
            format!("{problem} ({field})"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desired::config::tests::spec;
    use crate::status::check::tests::find;
    use crate::status::discovery_document::tests::document;

    #[test]
    fn checks_come_in_the_order_their_conditions_are_written() {
        for discovery in [Ok(document()), Err("timed out".to_owned())] {
            let checks = checks(&spec(), &Ok(()), &SecretsOutcome::Resolved, &discovery);
            let types: Vec<&str> = checks.iter().map(|check| check.type_).collect();
            assert_eq!(
                types,
                [
                    SPEC_VALID,
                    SECRETS_RESOLVED,
                    PROVIDER_REACHABLE,
                    PROVIDER_COMPATIBLE,
                    CLAIMS_ADVERTISED,
                    BACK_CHANNEL_LOGOUT,
                    SESSION_RENEWAL,
                    ISSUER_SECURE
                ]
            );
        }
    }

    #[test]
    fn matching_provider_passes_with_a_claim_warning() {
        let checks = checks(&spec(), &Ok(()), &SecretsOutcome::Resolved, &Ok(document()));
        assert_eq!(find(&checks, PROVIDER_COMPATIBLE).passed, Some(true));
        let claims = find(&checks, CLAIMS_ADVERTISED);
        assert_eq!(claims.passed, Some(false));
        assert!(!claims.blocking);
        assert!(
            claims.message.contains("spec.groupClaim groups"),
            "{}",
            claims.message
        );
    }

    #[test]
    fn unreachable_provider_is_reported_and_the_rest_not_checked() {
        let checks = checks(
            &spec(),
            &Ok(()),
            &SecretsOutcome::Resolved,
            &Err("timed out".into()),
        );
        let check = find(&checks, PROVIDER_REACHABLE);
        assert_eq!(check.reason, Reason::DiscoveryUnreachable);
        assert!(check.message.contains("timed out"));
        assert_eq!(find(&checks, PROVIDER_COMPATIBLE).passed, None);
    }

    #[test]
    fn a_spec_the_sidecar_refuses_blocks_first() {
        let refused = Err("publicUrl: invalid port number".to_owned());
        let checks = checks(
            &spec(),
            &refused,
            &SecretsOutcome::Resolved,
            &Ok(document()),
        );
        let check = &checks[0];
        assert_eq!(
            (check.type_, check.passed, check.reason),
            (SPEC_VALID, Some(false), Reason::InvalidSpec)
        );
        assert!(check.blocking);
        assert!(
            check.message.contains("publicUrl: invalid port"),
            "{}",
            check.message
        );
    }

    #[test]
    fn a_store_problem_blocks_ready_and_names_the_field() {
        let refused = store_check(&Err(StoreProblem::Refused("WRONGPASS".into())));
        assert_eq!(refused.reason, Reason::StoreCredentialsRefused);
        assert!(refused.blocking);
        assert!(
            refused.message.contains("passwordSecretRef"),
            "{}",
            refused.message
        );
        let away = store_check(&Err(StoreProblem::Unreachable {
            servers: "redis://redis:6379".into(),
            field: "spec.sessionStore.redis.url",
            reason: "connection refused".into(),
        }));
        assert_eq!(away.reason, Reason::StoreUnreachable);
        assert!(
            away.message.contains("spec.sessionStore.redis.url"),
            "{}",
            away.message
        );
        assert_eq!(store_check(&Ok(())).passed, Some(true));
    }

    #[test]
    fn missing_secret_is_reported_with_its_reason() {
        let outcome = SecretsOutcome::Missing {
            reason: Reason::SecretNotFound,
            message: "Secret books-oidc not found".into(),
        };
        let checks = checks(&spec(), &Ok(()), &outcome, &Ok(document()));
        assert_eq!(
            find(&checks, SECRETS_RESOLVED).reason,
            Reason::SecretNotFound
        );
    }
}
