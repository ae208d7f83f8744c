//! Checks of the inputs and the provider's discovery document.
//!
//! A wrong issuer or an unsupported scope breaks every login, so they block
//! `Ready`. Claims missing from `claims_supported` are only a warning:
//! Keycloak and Dex do not list `groups` there although they send it, so the
//! warning says what the group claim usually needs at the provider it
//! recognises (see [`super::provider`]). A group claim that is a dotted path
//! (`realm_access.roles`) is looked up by its top-level claim. An `http://`
//! issuer works but is a warning outside of tests.

use super::provider::{group_claim_hint, missing_scope_hint};
use super::reason::Reason;
use crate::crd::OidcSettingsSpec;
use portcullis_contract::claim_path::ClaimPath;
use portcullis_contract::paths::WELL_KNOWN_SUFFIX;
use serde::Deserialize;

/// Condition type: the sidecar accepts the config rendered from the spec.
pub const SPEC_VALID: &str = "SpecValid";
/// Condition type: the referenced Secrets and keys exist.
pub const SECRETS_RESOLVED: &str = "SecretsResolved";
/// Condition type: the discovery document was fetched.
pub const PROVIDER_REACHABLE: &str = "ProviderReachable";
/// Condition type: issuer and scopes match what the provider publishes.
pub const PROVIDER_COMPATIBLE: &str = "ProviderCompatible";
/// Condition type (warning): the claims are listed in `claims_supported`.
pub const CLAIMS_ADVERTISED: &str = "ClaimsAdvertised";
/// Condition type (warning): the issuer uses https.
pub const ISSUER_SECURE: &str = "IssuerSecure";
/// Condition type: everything above that blocks logins is fine.
pub const READY: &str = "Ready";

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
}

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

/// One named check, before it becomes a condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    /// Condition type.
    pub type_: &'static str,
    /// `Some(true)` passed, `Some(false)` failed, `None` not checked.
    pub passed: Option<bool>,
    /// Why it passed or failed.
    pub reason: Reason,
    /// Human message.
    pub message: String,
    /// Whether a failure blocks `Ready`.
    pub blocking: bool,
}

impl Check {
    fn new(
        type_: &'static str,
        passed: Option<bool>,
        reason: Reason,
        message: impl Into<String>,
    ) -> Self {
        let blocking = !matches!(type_, CLAIMS_ADVERTISED | ISSUER_SECURE);
        Self {
            type_,
            passed,
            reason,
            message: message.into(),
            blocking,
        }
    }
}

/// The issuer named by `spec.wellKnownUrl`.
pub fn expected_issuer(spec: &OidcSettingsSpec) -> String {
    spec.well_known_url
        .strip_suffix(WELL_KNOWN_SUFFIX)
        .unwrap_or(&spec.well_known_url)
        .to_owned()
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
            "every referenced Secret and key exists",
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
            for type_ in [PROVIDER_COMPATIBLE, CLAIMS_ADVERTISED] {
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
        }
    }
    let issuer = expected_issuer(spec);
    out.push(if issuer.starts_with("https://") {
        Check::new(
            ISSUER_SECURE,
            Some(true),
            Reason::HttpsIssuer,
            "the issuer uses https",
        )
    } else {
        Check::new(
            ISSUER_SECURE,
            Some(false),
            Reason::InsecureIssuer,
            format!("issuer {issuer} is not https: tokens and secrets travel unencrypted"),
        )
    });
    out
}

fn compatibility(spec: &OidcSettingsSpec, document: &Discovery) -> Check {
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

fn claims(spec: &OidcSettingsSpec, document: &Discovery) -> Check {
    let Some(supported) = &document.claims_supported else {
        return Check::new(
            CLAIMS_ADVERTISED,
            None,
            Reason::ClaimsNotListed,
            "the provider does not publish claims_supported",
        );
    };
    let listed = |name: &str| supported.iter().any(|claim| claim == name);
    let mut notes = Vec::new();
    if !listed(&spec.username_claim) {
        notes.push(format!(
            "spec.usernameClaim {} is not listed in claims_supported (if the provider does not \
             send it either, every login ends on an error page)",
            spec.username_claim
        ));
    }
    if let Some(unlisted) = unlisted_group_claim(&spec.group_claim, listed) {
        notes.push(format!(
            "spec.groupClaim {unlisted} is not listed in claims_supported ({})",
            group_claim_hint(document, &spec.scopes, &spec.group_claim)
        ));
    }
    if notes.is_empty() {
        Check::new(
            CLAIMS_ADVERTISED,
            Some(true),
            Reason::ClaimsListed,
            "username and group claims are listed in claims_supported",
        )
    } else {
        Check::new(
            CLAIMS_ADVERTISED,
            Some(false),
            Reason::ClaimNotAdvertised,
            format!("a warning: {}", notes.join("; ")),
        )
    }
}

/// How to name the group claim when none of the top-level claims it may
/// start at is listed; `None` when one is. A path that does not parse (the
/// spec check reports it) is compared as written.
fn unlisted_group_claim(group_claim: &str, listed: impl Fn(&str) -> bool) -> Option<String> {
    let Ok(path) = ClaimPath::parse(group_claim) else {
        return (!listed(group_claim)).then(|| group_claim.to_owned());
    };
    let names = path.top_level_names();
    if names.iter().any(|name| listed(name)) {
        return None;
    }
    match path.segments() {
        [_] => Some(group_claim.to_owned()),
        [first, ..] => Some(format!("{group_claim} (its top-level claim {first})")),
        [] => Some(group_claim.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desired::config::tests::spec;

    fn document() -> Discovery {
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
        }
    }

    fn find<'a>(checks: &'a [Check], type_: &str) -> &'a Check {
        checks.iter().find(|c| c.type_ == type_).expect(type_)
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
    fn an_unlisted_username_claim_is_not_explained_with_groups() {
        let mut document = document();
        document.claims_supported = Some(vec!["sub".into(), "groups".into()]);
        let checks = checks(&spec(), &Ok(()), &SecretsOutcome::Resolved, &Ok(document));
        let message = &find(&checks, CLAIMS_ADVERTISED).message;
        assert!(
            message.contains("spec.usernameClaim preferred_username"),
            "{message}"
        );
        assert!(!message.contains("groups"), "{message}");
    }

    #[test]
    fn a_dotted_group_claim_is_compared_by_its_top_level_claim() {
        let mut spec = spec();
        spec.group_claim = "realm_access.roles".into();
        let mut document = document();
        document.claims_supported = Some(
            ["sub", "preferred_username", "realm_access"]
                .map(String::from)
                .to_vec(),
        );
        let listed = checks(&spec, &Ok(()), &SecretsOutcome::Resolved, &Ok(document));
        assert_eq!(find(&listed, CLAIMS_ADVERTISED).passed, Some(true));

        let unlisted = checks(
            &spec,
            &Ok(()),
            &SecretsOutcome::Resolved,
            &Ok(self::document()),
        );
        let message = &find(&unlisted, CLAIMS_ADVERTISED).message;
        assert!(
            message
                .contains("spec.groupClaim realm_access.roles (its top-level claim realm_access)"),
            "{message}"
        );
        assert!(
            message.contains("\"realm roles\" or \"client roles\" mapper"),
            "{message}"
        );
    }

    #[test]
    fn an_escaped_dot_keeps_a_url_style_claim_name_whole() {
        let mut spec = spec();
        spec.group_claim = r"https://example\.com/groups".into();
        let mut document = document();
        document.claims_supported = Some(
            ["preferred_username", "https://example.com/groups"]
                .map(String::from)
                .to_vec(),
        );
        let checks = checks(&spec, &Ok(()), &SecretsOutcome::Resolved, &Ok(document));
        assert_eq!(find(&checks, CLAIMS_ADVERTISED).passed, Some(true));
    }

    #[test]
    fn an_unlisted_group_claim_at_keycloak_names_the_mapper_it_needs() {
        let checks = checks(&spec(), &Ok(()), &SecretsOutcome::Resolved, &Ok(document()));
        let check = find(&checks, CLAIMS_ADVERTISED);
        assert_eq!(check.reason, Reason::ClaimNotAdvertised);
        assert!(
            check.message.contains("Keycloak (realm home)")
                && check.message.contains("oidc-group-membership-mapper"),
            "{}",
            check.message
        );
    }

    #[test]
    fn a_groups_scope_at_keycloak_blocks_and_says_keycloak_has_none() {
        let mut document = document();
        document.scopes_supported = Some(["openid", "profile"].map(String::from).to_vec());
        let checks = checks(&spec(), &Ok(()), &SecretsOutcome::Resolved, &Ok(document));
        let check = find(&checks, PROVIDER_COMPATIBLE);
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
        let checks = checks(&spec(), &Ok(()), &SecretsOutcome::Resolved, &Ok(document));
        let check = find(&checks, PROVIDER_COMPATIBLE);
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
        let checks = checks(&spec(), &Ok(()), &SecretsOutcome::Resolved, &Ok(document));
        let check = find(&checks, PROVIDER_COMPATIBLE);
        assert_ne!(check.reason, Reason::IssuerMismatch, "{}", check.message);
        assert_ne!(check.passed, Some(false), "{}", check.message);
    }

    #[test]
    fn unsupported_scope_is_named() {
        let mut document = document();
        document.scopes_supported = Some(vec!["openid".into()]);
        let checks = checks(&spec(), &Ok(()), &SecretsOutcome::Resolved, &Ok(document));
        let check = find(&checks, PROVIDER_COMPATIBLE);
        assert_eq!(check.reason, Reason::ScopeNotSupported);
        assert!(
            check.message.contains("profile, groups"),
            "{}",
            check.message
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
    fn http_issuer_is_a_warning() {
        let mut spec = spec();
        spec.well_known_url = "http://127.0.0.1:1/.well-known/openid-configuration".into();
        let checks = checks(&spec, &Ok(()), &SecretsOutcome::Resolved, &Err("x".into()));
        let check = find(&checks, ISSUER_SECURE);
        assert_eq!((check.passed, check.blocking), (Some(false), false));
        assert_eq!(expected_issuer(&spec), "http://127.0.0.1:1");
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
