//! Which provider a discovery document comes from, and what its group claim
//! usually needs.
//!
//! A missing group claim is the commonest way a team locks itself out, and
//! the fix is different at every provider: Keycloak needs a mapper and has no
//! `groups` scope, Dex needs the `groups` scope. Recognising the provider
//! from its discovery document alone (no extra request) lets the status say
//! the fix for the provider in front of it. Recognition is a guess from the
//! document's shape, so every hint names the provider it assumed.

use super::discovery_document::Discovery;
use portcullis_contract::claim_path::ClaimPath;

/// The scope many providers send groups for.
pub const GROUPS_SCOPE: &str = "groups";

/// A provider recognised from its discovery document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Provider {
    /// Keycloak: the issuer ends with `/realms/<realm>`.
    Keycloak {
        /// The realm named by the issuer.
        realm: String,
    },
    /// Dex: keys at `<issuer>/keys`, authorization at `<issuer>/auth`.
    Dex,
    /// Anything else.
    Other,
}

/// Recognises the provider that published `document`.
pub fn recognise(document: &Discovery) -> Provider {
    let issuer = document.issuer.trim_end_matches('/');
    if let Some((_, realm)) = issuer.rsplit_once("/realms/")
        && !realm.is_empty()
        && !realm.contains('/')
    {
        return Provider::Keycloak {
            realm: realm.to_owned(),
        };
    }
    let at_issuer = |endpoint: &Option<String>, path: &str| {
        endpoint.as_deref() == Some(format!("{issuer}{path}").as_str())
    };
    if at_issuer(&document.jwks_uri, "/keys")
        && at_issuer(&document.authorization_endpoint, "/auth")
    {
        return Provider::Dex;
    }
    Provider::Other
}

/// What the group claim `group_claim` usually needs at the provider that
/// published `document`, when `scopes` are requested; for a status message.
pub fn group_claim_hint(document: &Discovery, scopes: &[String], group_claim: &str) -> String {
    let requested = scopes.iter().any(|scope| scope == GROUPS_SCOPE);
    let advertised = lists_groups_scope(document);
    match recognise(document) {
        Provider::Keycloak { realm } if is_keycloak_roles(group_claim) => format!(
            "this looks like Keycloak (realm {realm}): realm roles are in realm_access.roles and \
             client roles in resource_access.<client>.roles, in the access token only until the \
             \"realm roles\" or \"client roles\" mapper of the `roles` client scope has \
             \"Add to ID token\" or \"Add to userinfo\" on"
        ),
        Provider::Keycloak { realm } => format!(
            "this looks like Keycloak (realm {realm}): it sends groups only through an \
             \"oidc-group-membership-mapper\" on a client scope of the client (claim name \
             {group_claim}, \"Add to ID token\" on, full.path=false for plain names instead of \
             paths like /admin); do not request a `{GROUPS_SCOPE}` scope, Keycloak does not \
             advertise one; realm roles are in realm_access.roles"
        ),
        Provider::Dex if requested => format!(
            "this looks like Dex: it sends groups in the ID token for the `{GROUPS_SCOPE}` \
             scope, which spec.scopes requests, without listing the claim"
        ),
        Provider::Dex => format!(
            "this looks like Dex: it sends groups only when the `{GROUPS_SCOPE}` scope is \
             requested (it advertises it); add `{GROUPS_SCOPE}` to spec.scopes"
        ),
        Provider::Other if advertised && !requested => format!(
            "many providers send groups without listing them; this one lists a \
             `{GROUPS_SCOPE}` scope that spec.scopes does not request, and groups usually \
             need it"
        ),
        Provider::Other => "many providers send groups without listing them; if logins show \
             no groups, the provider usually needs a `groups` scope requested or a group \
             claim mapping on the client"
            .to_owned(),
    }
}

/// Why `scope`, requested but not in `scopes_supported`, is wrong at the
/// provider that published `document`, when there is more to say than that.
pub fn missing_scope_hint(document: &Discovery, scope: &str) -> Option<String> {
    match recognise(document) {
        Provider::Keycloak { realm } if scope == GROUPS_SCOPE => Some(format!(
            "this looks like Keycloak (realm {realm}), which has no `{GROUPS_SCOPE}` scope and \
             refuses the sign-in: leave it out of spec.scopes and send groups through an \
             \"oidc-group-membership-mapper\" on a client scope of the client"
        )),
        _ => None,
    }
}

fn lists_groups_scope(document: &Discovery) -> bool {
    document
        .scopes_supported
        .iter()
        .flatten()
        .any(|scope| scope == GROUPS_SCOPE)
}

fn is_keycloak_roles(group_claim: &str) -> bool {
    ClaimPath::parse(group_claim).is_ok_and(|path| {
        path.segments()
            .first()
            .is_some_and(|first| first == "realm_access" || first == "resource_access")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document(issuer: &str, jwks: &str, auth: &str, scopes: &[&str]) -> Discovery {
        Discovery {
            issuer: issuer.to_owned(),
            authorization_endpoint: Some(auth.to_owned()),
            jwks_uri: Some(jwks.to_owned()),
            scopes_supported: Some(scopes.iter().map(|s| (*s).to_owned()).collect()),
            claims_supported: None,
            backchannel_logout_supported: None,
            grant_types_supported: None,
        }
    }

    fn keycloak() -> Discovery {
        document(
            "https://sso.example.com/realms/home",
            "https://sso.example.com/realms/home/protocol/openid-connect/certs",
            "https://sso.example.com/realms/home/protocol/openid-connect/auth",
            &["openid", "profile", "email", "roles"],
        )
    }

    fn dex() -> Discovery {
        document(
            "https://example.com/dex",
            "https://example.com/dex/keys",
            "https://example.com/dex/auth",
            &["openid", "email", "groups", "profile", "offline_access"],
        )
    }

    fn oidc_provider() -> Discovery {
        document(
            "http://127.0.0.1:3000",
            "http://127.0.0.1:3000/jwks",
            "http://127.0.0.1:3000/auth",
            &["openid", "profile", "email", "groups"],
        )
    }

    fn scopes(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn a_realm_issuer_is_keycloak_with_its_realm() {
        assert_eq!(
            recognise(&keycloak()),
            Provider::Keycloak {
                realm: "home".into()
            }
        );
        let mut legacy = keycloak();
        legacy.issuer = "https://sso.example.com/auth/realms/home/".into();
        assert_eq!(
            recognise(&legacy),
            Provider::Keycloak {
                realm: "home".into()
            }
        );
        let mut deeper = keycloak();
        deeper.issuer = "https://sso.example.com/realms/home/extra".into();
        assert_eq!(recognise(&deeper), Provider::Other);
    }

    #[test]
    fn keys_and_auth_next_to_the_issuer_are_dex_and_other_shapes_are_not() {
        assert_eq!(recognise(&dex()), Provider::Dex);
        assert_eq!(recognise(&oidc_provider()), Provider::Other);
        let mut no_endpoints = dex();
        no_endpoints.jwks_uri = None;
        assert_eq!(recognise(&no_endpoints), Provider::Other);
    }

    #[test]
    fn keycloak_groups_need_the_membership_mapper_and_no_groups_scope() {
        let hint = group_claim_hint(&keycloak(), &scopes(&["openid"]), "groups");
        for words in [
            "Keycloak (realm home)",
            "oidc-group-membership-mapper",
            "full.path=false",
            "do not request a `groups` scope",
            "realm_access.roles",
        ] {
            assert!(hint.contains(words), "`{words}` not in: {hint}");
        }
    }

    #[test]
    fn keycloak_realm_roles_need_the_roles_mapper_in_the_id_token() {
        let hint = group_claim_hint(&keycloak(), &scopes(&["openid"]), "realm_access.roles");
        assert!(hint.contains("\"realm roles\""), "{hint}");
        assert!(hint.contains("Add to ID token"), "{hint}");
        assert!(!hint.contains("full.path"), "{hint}");
    }

    #[test]
    fn dex_groups_need_the_groups_scope() {
        let missing = group_claim_hint(&dex(), &scopes(&["openid", "email"]), "groups");
        assert!(missing.contains("this looks like Dex"), "{missing}");
        assert!(missing.contains("add `groups` to spec.scopes"), "{missing}");
        let requested = group_claim_hint(&dex(), &scopes(&["openid", "groups"]), "groups");
        assert!(
            requested.contains("which spec.scopes requests"),
            "{requested}"
        );
    }

    #[test]
    fn other_providers_get_a_generic_hint_naming_an_advertised_groups_scope() {
        let hint = group_claim_hint(&oidc_provider(), &scopes(&["openid"]), "groups");
        assert!(
            hint.contains("lists a `groups` scope that spec.scopes does not request"),
            "{hint}"
        );
        let hint = group_claim_hint(&oidc_provider(), &scopes(&["openid", "groups"]), "groups");
        assert!(hint.starts_with("many providers send groups"), "{hint}");
        assert!(!hint.contains("looks like"), "{hint}");
    }

    #[test]
    fn a_groups_scope_at_keycloak_is_explained_and_other_scopes_are_not() {
        let hint = missing_scope_hint(&keycloak(), "groups").expect("a hint");
        assert!(hint.contains("has no `groups` scope"), "{hint}");
        assert_eq!(missing_scope_hint(&keycloak(), "offline"), None);
        assert_eq!(missing_scope_hint(&dex(), "groups"), None);
    }
}
