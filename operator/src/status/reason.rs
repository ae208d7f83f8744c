//! Every reason a condition can give, as one type: a typo cannot invent a
//! new reason, and tests and Events name them the same way as the status.

use std::fmt;

/// Why a condition has its status; written as its CamelCase name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reason {
    /// The sidecar accepts the config rendered from the spec.
    SpecAccepted,
    /// The sidecar would refuse the config rendered from the spec.
    InvalidSpec,
    /// The API server refused the operator a permission it needs.
    Forbidden,
    /// The API server refused a request for another reason than a permission.
    ApiError,
    /// Every referenced Secret and key exists.
    SecretsFound,
    /// A referenced Secret does not exist.
    SecretNotFound,
    /// A referenced Secret lacks the key, or its value is empty.
    SecretKeyMissing,
    /// The discovery document was fetched.
    DiscoveryFetched,
    /// The discovery document could not be fetched.
    DiscoveryUnreachable,
    /// The check depends on the discovery document, which is missing.
    NotChecked,
    /// The issuer uses https.
    HttpsIssuer,
    /// The issuer uses plain http.
    InsecureIssuer,
    /// The provider names another issuer than `spec.wellKnownUrl`.
    IssuerMismatch,
    /// A requested scope is not in `scopes_supported`.
    ScopeNotSupported,
    /// Issuer and scopes match the discovery document.
    ProviderMatches,
    /// The provider does not publish `claims_supported`.
    ClaimsNotListed,
    /// The username and group claims are listed.
    ClaimsListed,
    /// A configured claim is not listed.
    ClaimNotAdvertised,
    /// The provider offers a scope named like the group claim and the spec
    /// does not request it, so the claim will not arrive.
    GroupScopeNotRequested,
    /// The sidecar's ConfigMap and Secret are up to date.
    Reconciled,
    /// The session store answered with the referenced credentials.
    StoreReachable,
    /// The session store refused the referenced credentials.
    StoreCredentialsRefused,
    /// The session store could not be reached.
    StoreUnreachable,
    /// The provider sends back-channel logouts and the sidecars take them.
    BackChannelLogoutReady,
    /// The provider does not say it sends back-channel logouts.
    BackChannelLogoutUnsupported,
    /// `spec.backChannelLogout` is false.
    BackChannelLogoutOff,
    /// A referenced ConfigMap does not exist.
    ConfigMapNotFound,
    /// A referenced ConfigMap lacks the key.
    ConfigMapKeyMissing,
    /// The provider lists the `refresh_token` grant: sessions are renewed.
    RefreshTokensGranted,
    /// The provider does not list the `refresh_token` grant.
    RefreshTokensNotGranted,
    /// Services may name the sidecar's port: the cluster resolves it, or
    /// none does.
    NamedSidecarPortsResolved,
    /// A Service names the sidecar's port where the cluster gives it no
    /// endpoints.
    NamedSidecarPort,
}

impl Reason {
    /// The reason as written in a condition or an Event.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::SpecAccepted => "SpecAccepted",
            Reason::InvalidSpec => "InvalidSpec",
            Reason::Forbidden => "Forbidden",
            Reason::ApiError => "ApiError",
            Reason::SecretsFound => "SecretsFound",
            Reason::SecretNotFound => "SecretNotFound",
            Reason::SecretKeyMissing => "SecretKeyMissing",
            Reason::DiscoveryFetched => "DiscoveryFetched",
            Reason::DiscoveryUnreachable => "DiscoveryUnreachable",
            Reason::NotChecked => "NotChecked",
            Reason::HttpsIssuer => "HttpsIssuer",
            Reason::InsecureIssuer => "InsecureIssuer",
            Reason::IssuerMismatch => "IssuerMismatch",
            Reason::ScopeNotSupported => "ScopeNotSupported",
            Reason::ProviderMatches => "ProviderMatches",
            Reason::ClaimsNotListed => "ClaimsNotListed",
            Reason::ClaimsListed => "ClaimsListed",
            Reason::ClaimNotAdvertised => "ClaimNotAdvertised",
            Reason::GroupScopeNotRequested => "GroupScopeNotRequested",
            Reason::Reconciled => "Reconciled",
            Reason::StoreReachable => "StoreReachable",
            Reason::StoreCredentialsRefused => "StoreCredentialsRefused",
            Reason::StoreUnreachable => "StoreUnreachable",
            Reason::BackChannelLogoutReady => "BackChannelLogoutReady",
            Reason::BackChannelLogoutUnsupported => "BackChannelLogoutUnsupported",
            Reason::BackChannelLogoutOff => "BackChannelLogoutOff",
            Reason::ConfigMapNotFound => "ConfigMapNotFound",
            Reason::ConfigMapKeyMissing => "ConfigMapKeyMissing",
            Reason::RefreshTokensGranted => "RefreshTokensGranted",
            Reason::RefreshTokensNotGranted => "RefreshTokensNotGranted",
            Reason::NamedSidecarPortsResolved => "NamedSidecarPortsResolved",
            Reason::NamedSidecarPort => "NamedSidecarPort",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_written_as_their_names() {
        for reason in [
            Reason::SecretNotFound,
            Reason::Reconciled,
            Reason::NotChecked,
        ] {
            assert_eq!(reason.to_string(), format!("{reason:?}"));
        }
    }

    /// Every reason `as_str` can give, read from this file's source.
    fn every_reason() -> Vec<&'static str> {
        include_str!("reason.rs")
            .lines()
            .filter_map(|line| line.trim().strip_prefix("Reason::"))
            .filter_map(|rest| rest.split_once(" => "))
            .map(|(name, _)| name)
            .collect()
    }

    #[test]
    fn the_readme_troubleshooting_table_explains_every_reason() {
        let readme = include_str!("../../../README.md");
        let section = readme
            .split_once("## Troubleshooting")
            .and_then(|(_, rest)| rest.split_once("\n## "))
            .map(|(section, _)| section)
            .expect("a Troubleshooting section");
        let reasons = every_reason();
        assert!(reasons.len() >= 30, "{reasons:?}");
        let missing: Vec<_> = reasons
            .iter()
            .filter(|reason| !section.contains(&format!("`{reason}`")))
            .collect();
        assert!(
            missing.is_empty(),
            "not in the README's Troubleshooting: {missing:?}"
        );
    }
}
