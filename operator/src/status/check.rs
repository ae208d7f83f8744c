//! One named check, and the condition types a check can be.
//!
//! Every check module (`issuer`, `compatibility`, `claims`) makes values of
//! this one type, and `conditions` turns them into status conditions. Keeping
//! the type apart from the list of checks lets those modules depend on it
//! without depending on each other, and lets the blocking rule (which
//! failures stop `Ready`) live in one place.

use super::reason::Reason;

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
/// Condition type (warning): sessions ended at the provider end in the app.
pub const BACK_CHANNEL_LOGOUT: &str = "BackChannelLogout";
/// Condition type (warning): sessions are renewed with refresh tokens.
pub const SESSION_RENEWAL: &str = "SessionRenewal";
/// Condition type (warning): the Services in front of injected pods can
/// reach the sidecar's port.
pub const SERVICE_PORTS: &str = "ServicePortsResolvable";
/// Condition type: the session store answers (only with `spec.sessionStore`).
pub const SESSION_STORE_REACHABLE: &str = "SessionStoreReachable";
/// Condition type: everything above that blocks logins is fine.
pub const READY: &str = "Ready";

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
    /// A check of `type_`; only [`CLAIMS_ADVERTISED`], [`ISSUER_SECURE`],
    /// [`BACK_CHANNEL_LOGOUT`], [`SESSION_RENEWAL`] and [`SERVICE_PORTS`] are
    /// warnings, every other failure blocks `Ready`.
    pub fn new(
        type_: &'static str,
        passed: Option<bool>,
        reason: Reason,
        message: impl Into<String>,
    ) -> Self {
        let blocking = !matches!(
            type_,
            CLAIMS_ADVERTISED
                | ISSUER_SECURE
                | BACK_CHANNEL_LOGOUT
                | SESSION_RENEWAL
                | SERVICE_PORTS
        );
        Self {
            type_,
            passed,
            reason,
            message: message.into(),
            blocking,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The check of `type_` in `checks`.
    pub(crate) fn find<'a>(checks: &'a [Check], type_: &str) -> &'a Check {
        checks.iter().find(|c| c.type_ == type_).expect(type_)
    }

    #[test]
    fn only_claims_and_issuer_security_are_warnings() {
        let blocking: Vec<&str> = [
            SPEC_VALID,
            SECRETS_RESOLVED,
            PROVIDER_REACHABLE,
            PROVIDER_COMPATIBLE,
            CLAIMS_ADVERTISED,
            ISSUER_SECURE,
            BACK_CHANNEL_LOGOUT,
            SESSION_RENEWAL,
        ]
        .into_iter()
        .filter(|type_| Check::new(type_, Some(false), Reason::NotChecked, "").blocking)
        .collect();
        assert_eq!(
            blocking,
            [
                SPEC_VALID,
                SECRETS_RESOLVED,
                PROVIDER_REACHABLE,
                PROVIDER_COMPATIBLE
            ]
        );
    }
}
