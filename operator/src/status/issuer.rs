//! The issuer that `spec.wellKnownUrl` names, and whether it is https.
//!
//! Several places need the expected issuer: the compatibility check compares
//! it with what the provider declares, and `status.issuer` shows it. An
//! `http://` issuer works but is a warning outside of tests, since tokens and
//! secrets then travel unencrypted.

use super::check::{Check, ISSUER_SECURE};
use super::reason::Reason;
use crate::crd::OidcSettingsSpec;
use portcullis_contract::paths::WELL_KNOWN_SUFFIX;

/// The issuer named by `spec.wellKnownUrl`.
pub fn expected_issuer(spec: &OidcSettingsSpec) -> String {
    spec.well_known_url
        .strip_suffix(WELL_KNOWN_SUFFIX)
        .unwrap_or(&spec.well_known_url)
        .to_owned()
}

/// The [`ISSUER_SECURE`] warning: whether the issuer uses https.
pub fn issuer_security(spec: &OidcSettingsSpec) -> Check {
    let issuer = expected_issuer(spec);
    if issuer.starts_with("https://") {
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desired::config::tests::spec;

    #[test]
    fn http_issuer_is_a_warning() {
        let mut spec = spec();
        spec.well_known_url = "http://127.0.0.1:1/.well-known/openid-configuration".into();
        let check = issuer_security(&spec);
        assert_eq!((check.passed, check.blocking), (Some(false), false));
        assert_eq!(expected_issuer(&spec), "http://127.0.0.1:1");
    }
}
