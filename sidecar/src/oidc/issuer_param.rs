//! The `iss` parameter of the authorization response (RFC 9207).
//!
//! A browser can be tricked into carrying one provider's answer to the
//! callback of another (a mix-up attack). Providers that support RFC 9207 name
//! themselves in every response to `/auth/oidc`; a response that names a
//! different issuer is refused before its code is sent anywhere, and where the
//! provider promises the parameter, a response without it is refused too.

/// Why the response's `iss` does not fit the configured provider.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum IssuerParamError {
    /// `iss` names another issuer.
    #[error("the sign-in response came from a different identity provider than the one configured")]
    Different,
    /// The provider promises `iss` (`authorization_response_iss_parameter_supported`) but sent none.
    #[error(
        "the sign-in response does not name its identity provider, although this provider always does"
    )]
    Missing,
}

/// Checks the returned `iss` against the provider's issuer (exact string match).
pub fn check_issuer_param(
    returned: Option<&str>,
    issuer: &str,
    promised: bool,
) -> Result<(), IssuerParamError> {
    match returned {
        Some(returned) if returned == issuer => Ok(()),
        Some(_) => Err(IssuerParamError::Different),
        None if promised => Err(IssuerParamError::Missing),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISSUER: &str = "https://sso.example.com/realms/home";

    #[test]
    fn the_configured_issuer_is_accepted() {
        assert_eq!(check_issuer_param(Some(ISSUER), ISSUER, true), Ok(()));
        assert_eq!(check_issuer_param(Some(ISSUER), ISSUER, false), Ok(()));
    }

    #[test]
    fn another_issuer_is_refused_whatever_the_provider_promises() {
        for promised in [true, false] {
            for other in [
                "https://evil.example",
                "https://sso.example.com/realms/home/",
                "https://SSO.example.com/realms/home",
                "",
            ] {
                assert_eq!(
                    check_issuer_param(Some(other), ISSUER, promised),
                    Err(IssuerParamError::Different),
                    "{other}"
                );
            }
        }
    }

    #[test]
    fn a_missing_issuer_is_refused_only_where_it_was_promised() {
        assert_eq!(
            check_issuer_param(None, ISSUER, true),
            Err(IssuerParamError::Missing)
        );
        assert_eq!(check_issuer_param(None, ISSUER, false), Ok(()));
    }
}
