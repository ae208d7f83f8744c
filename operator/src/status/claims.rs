//! Whether the username and group claims are listed in the provider's
//! `claims_supported`.
//!
//! Only a warning: Keycloak and Dex do not list `groups` there although they
//! send it, so the warning says what the group claim usually needs at the
//! provider it recognises (see [`super::provider`]). A group claim that is a
//! dotted path (`realm_access.roles`) is looked up by its top-level claim.
//!
//! Where the provider offers a scope named like the group claim (`groups`
//! at Dex, Okta, Authelia) and the spec does not request it, the claim will
//! not arrive and everyone signs in untrusted: that is said first, whatever
//! `claims_supported` lists, with its own reason.

use super::check::{CLAIMS_ADVERTISED, Check};
use super::discovery_document::Discovery;
use super::provider::group_claim_hint;
use super::reason::Reason;
use crate::crd::OidcSettingsSpec;
use portcullis_contract::claim_path::ClaimPath;

/// The [`CLAIMS_ADVERTISED`] warning for `spec`'s claims in `document`.
pub fn claims(spec: &OidcSettingsSpec, document: &Discovery) -> Check {
    let scope_note = unrequested_group_scope(spec, document).map(|scope| {
        format!(
            "the provider offers the scope {scope} and spec.scopes does not request it, so \
             spec.groupClaim {} will not arrive and everyone signs in untrusted: add {scope} to \
             spec.scopes",
            spec.group_claim
        )
    });
    let mut notes: Vec<String> = scope_note.iter().cloned().collect();
    match &document.claims_supported {
        Some(supported) => notes.extend(unlisted_claims(spec, document, supported)),
        None if notes.is_empty() => {
            return Check::new(
                CLAIMS_ADVERTISED,
                None,
                Reason::ClaimsNotListed,
                "the provider does not publish claims_supported",
            );
        }
        None => {}
    }
    if notes.is_empty() {
        return Check::new(
            CLAIMS_ADVERTISED,
            Some(true),
            Reason::ClaimsListed,
            "username and group claims are listed in claims_supported",
        );
    }
    let reason = match scope_note {
        Some(_) => Reason::GroupScopeNotRequested,
        None => Reason::ClaimNotAdvertised,
    };
    Check::new(
        CLAIMS_ADVERTISED,
        Some(false),
        reason,
        format!("a warning: {}", notes.join("; ")),
    )
}

/// What `claims_supported` (`supported`) leaves out of the spec's claims.
fn unlisted_claims(
    spec: &OidcSettingsSpec,
    document: &Discovery,
    supported: &[String],
) -> Vec<String> {
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
    notes
}

/// The scope named like the group claim's top-level claim, when the
/// provider lists it in `scopes_supported` and the spec does not request it.
fn unrequested_group_scope(spec: &OidcSettingsSpec, document: &Discovery) -> Option<String> {
    let path = ClaimPath::parse(&spec.group_claim).ok()?;
    let requested = |name: &str| spec.scopes.iter().any(|scope| scope == name);
    path.top_level_names()
        .into_iter()
        .find(|name| document.lists_scope(name) && !requested(name))
        .map(str::to_owned)
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
    use crate::status::discovery_document::tests::document;

    #[test]
    fn an_unlisted_username_claim_is_not_explained_with_groups() {
        let mut document = document();
        document.claims_supported = Some(vec!["sub".into(), "groups".into()]);
        let message = claims(&spec(), &document).message;
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
        assert_eq!(claims(&spec, &document).passed, Some(true));

        let message = claims(&spec, &self::document()).message;
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
        assert_eq!(claims(&spec, &document).passed, Some(true));
    }

    #[test]
    fn a_groups_scope_offered_and_not_requested_is_named_first() {
        let mut spec = spec();
        spec.scopes = ["openid", "profile", "email"].map(String::from).to_vec();
        let mut document = document();
        document.scopes_supported = Some(
            ["openid", "profile", "email", "groups"]
                .map(String::from)
                .to_vec(),
        );
        document.claims_supported = None;
        let check = claims(&spec, &document);
        assert_eq!(check.reason, Reason::GroupScopeNotRequested);
        assert!(
            check.message.contains("add groups to spec.scopes"),
            "{}",
            check.message
        );

        spec.scopes.push("groups".into());
        assert_ne!(
            claims(&spec, &document).reason,
            Reason::GroupScopeNotRequested
        );
        spec.group_claim = "roles".into();
        spec.scopes.pop();
        assert_ne!(
            claims(&spec, &document).reason,
            Reason::GroupScopeNotRequested,
            "a roles claim does not need the groups scope"
        );
    }

    #[test]
    fn an_unlisted_group_claim_at_keycloak_names_the_mapper_it_needs() {
        let check = claims(&spec(), &document());
        assert_eq!(check.reason, Reason::ClaimNotAdvertised);
        assert!(
            check.message.contains("Keycloak (realm home)")
                && check.message.contains("oidc-group-membership-mapper"),
            "{}",
            check.message
        );
    }
}
