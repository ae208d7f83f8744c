//! Whether a session ended at the provider ends in the app too: the
//! provider must say it posts back-channel logout tokens, and the spec must
//! not switch them off. The message names the URL to register at the
//! provider, so a platform team copies it from the status.

use super::check::{BACK_CHANNEL_LOGOUT, Check};
use super::discovery_document::Discovery;
use super::reason::Reason;
use crate::crd::OidcSettingsSpec;
use portcullis_contract::paths::BACKCHANNEL_LOGOUT_PATH;

/// The back-channel logout check of `spec` against `document` (a warning:
/// sign-in works either way).
pub fn back_channel_logout(spec: &OidcSettingsSpec, document: &Discovery) -> Check {
    let url = format!(
        "{}{BACKCHANNEL_LOGOUT_PATH}",
        spec.public_url.trim_end_matches('/')
    );
    if !spec.back_channel_logout {
        return Check::new(
            BACK_CHANNEL_LOGOUT,
            Some(false),
            Reason::BackChannelLogoutOff,
            "spec.backChannelLogout is false: a session ended at the provider lasts in the app until it expires",
        );
    }
    if !document.sends_back_channel_logouts() {
        return Check::new(
            BACK_CHANNEL_LOGOUT,
            Some(false),
            Reason::BackChannelLogoutUnsupported,
            "the provider does not say backchannel_logout_supported: a session ended there lasts in the app until it expires (at most session.maxLifetimeSeconds)",
        );
    }
    Check::new(
        BACK_CHANNEL_LOGOUT,
        Some(true),
        Reason::BackChannelLogoutReady,
        format!(
            "register {url} at the provider as the client's back-channel logout URL (with the session required), so a session ended there ends here"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desired::config::tests::spec;
    use crate::status::discovery_document::tests::document;

    #[test]
    fn a_provider_that_sends_them_gets_the_url_to_register() {
        let check = back_channel_logout(&spec(), &document());
        assert_eq!(check.passed, Some(true));
        assert!(!check.blocking);
        assert!(
            check.message.contains("/auth/backchannel-logout"),
            "{}",
            check.message
        );
    }

    #[test]
    fn a_provider_that_does_not_or_a_spec_that_says_no_is_a_warning() {
        let mut silent = document();
        silent.backchannel_logout_supported = Some(serde_json::Value::String("yes".into()));
        let check = back_channel_logout(&spec(), &silent);
        assert_eq!(
            (check.passed, check.reason),
            (Some(false), Reason::BackChannelLogoutUnsupported)
        );
        let mut off = spec();
        off.back_channel_logout = false;
        let check = back_channel_logout(&off, &document());
        assert_eq!(check.reason, Reason::BackChannelLogoutOff);
        assert!(!check.blocking);
    }
}
