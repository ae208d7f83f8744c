//! The checks of a whole config, field by field.

use super::*;

const GOOD: &str = r#"
upstream: http://127.0.0.1:8080
publicUrl: https://books.example.com
oidc:
  wellKnownUrl: https://sso.example.com/realms/home/.well-known/openid-configuration
  clientId: books
  clientSecretFile: /s/client-secret
rootAdmin:
  username: admin
session:
  keyFile: /s/keys
"#;

fn check(yaml: &str) -> Result<Valid, Problems> {
    validate(&SidecarConfig::from_yaml(yaml).expect("yaml"))
}

#[test]
fn good_config_is_parsed() {
    let valid = check(GOOD).expect("valid");
    assert_eq!(valid.issuer, "https://sso.example.com/realms/home");
    assert_eq!(
        valid.redirect_url.as_str(),
        "https://books.example.com/auth/oidc"
    );
}

#[test]
fn the_group_claim_is_parsed_as_a_path_and_a_malformed_one_is_named() {
    let nested = GOOD.replace(
        "  clientId: books\n",
        "  clientId: books\n  groupClaim: realm_access.roles\n",
    );
    let valid = check(&nested).expect("valid");
    assert_eq!(valid.group_claim.segments(), ["realm_access", "roles"]);
    let problems =
        check(&nested.replace("realm_access.roles", "realm_access..roles")).expect_err("invalid");
    assert!(problems.mentions("oidc.groupClaim"), "{problems}");
    assert!(problems.to_string().contains("empty segment"), "{problems}");
}

#[test]
fn urls_that_pass_a_pattern_but_not_a_parser_are_named() {
    for (public_url, words) in [
        ("http://10.250.0.1:99999", "invalid port"),
        ("https://exa mple.com", "invalid"),
        ("http://10.250.0.999", "invalid IPv4"),
    ] {
        let problems =
            check(&GOOD.replace("https://books.example.com", public_url)).expect_err(public_url);
        assert!(problems.mentions("publicUrl"), "{problems}");
        assert!(problems.to_string().contains(words), "{problems}");
    }
}

#[test]
fn empty_config_reports_every_missing_field_at_once() {
    let problems = check("{}").expect_err("invalid");
    for field in [
        "upstream",
        "publicUrl",
        "oidc.wellKnownUrl",
        "oidc.clientId",
        "oidc.clientSecretFile",
        "session.keyFile",
    ] {
        assert!(problems.mentions(field), "{field} missing from {problems}");
    }
}

#[test]
fn a_forward_auth_service_has_no_upstream_and_answers_listed_proxies_only() {
    let forward = GOOD.replace("upstream: http://127.0.0.1:8080\n", "forwardAuth: {}\n");
    assert_ne!(forward, GOOD);
    let problems = check(&forward).expect_err("no proxies listed");
    assert!(problems.mentions("trustedProxies"), "{problems}");
    assert!(!problems.mentions("upstream"), "{problems}");
    let answered = format!("{forward}trustedProxies: [10.0.0.0/8]\n");
    let valid = check(&answered).expect("valid");
    assert!(
        valid.upstream.is_none(),
        "a forward-auth service proxies to no app"
    );
    let both = format!("{GOOD}forwardAuth: {{}}\ntrustedProxies: [10.0.0.0/8]\n");
    let problems = check(&both).expect_err("both doors");
    assert!(problems.mentions("upstream"), "{problems}");
    assert!(problems.to_string().contains("forwardAuth"), "{problems}");
}

#[test]
fn the_grpc_port_of_a_forward_auth_service_is_an_address_of_its_own() {
    let forward = GOOD.replace(
        "upstream: http://127.0.0.1:8080\n",
        "trustedProxies: [10.0.0.0/8]\nforwardAuth:\n  grpcListen: 0.0.0.0:9191\n",
    );
    assert_ne!(forward, GOOD);
    let valid = check(&forward).expect("valid");
    assert_eq!(valid.grpc_listen, "0.0.0.0:9191".parse().ok());
    let same_as_public = forward.replace("0.0.0.0:9191", "0.0.0.0:4180");
    let problems = check(&same_as_public).expect_err("one port for both");
    assert!(problems.mentions("forwardAuth.grpcListen"), "{problems}");
    assert!(problems.to_string().contains("`listen`"), "{problems}");
    let not_an_address = forward.replace("0.0.0.0:9191", "envoy");
    let problems = check(&not_an_address).expect_err("not an address");
    assert!(problems.mentions("forwardAuth.grpcListen"), "{problems}");
    let none = GOOD.replace(
        "upstream: http://127.0.0.1:8080\n",
        "trustedProxies: [10.0.0.0/8]\nforwardAuth: {}\n",
    );
    assert_eq!(check(&none).expect("valid").grpc_listen, None);
}

#[test]
fn a_ca_file_given_as_an_empty_path_is_named() {
    let yaml = GOOD.replace("oidc:\n", "oidc:\n  caFile: \"\"\n");
    assert_ne!(yaml, GOOD);
    let problems = check(&yaml).expect_err("invalid");
    assert!(problems.mentions("oidc.caFile"), "{problems}");
    let given = GOOD.replace("oidc:\n", "oidc:\n  caFile: /s/provider-ca.pem\n");
    assert!(check(&given).is_ok());
}

#[test]
fn ports_that_collide_are_named() {
    let yaml = format!("{GOOD}listen: 0.0.0.0:8080\nadminListen: 0.0.0.0:8080\n");
    let problems = check(&yaml).expect_err("invalid");
    assert!(problems.mentions("adminListen"), "{problems}");
    assert!(problems.mentions("upstream"), "{problems}");
    let any = format!("{GOOD}listen: 127.0.0.1:0\nadminListen: 127.0.0.1:0\n");
    assert!(check(&any).is_ok(), "port 0 means any free port");
}

#[test]
fn lifetimes_cookie_name_and_bounds_are_checked() {
    let yaml = GOOD.replace(
        "  keyFile: /s/keys\n",
        "  keyFile: /s/keys\n  cookieName: \"a b\"\n  fallbackLifetimeSeconds: 0\n",
    ) + "connections: {maxConnections: 0}\ntrustedProxies: [ingress]\n";
    let yaml = yaml.replace(
        "  username: admin\n",
        "  username: admin\n  sessionLifetimeSeconds: 0\n",
    );
    let problems = check(&yaml).expect_err("invalid");
    for field in [
        "session.cookieName",
        "session.fallbackLifetimeSeconds",
        "rootAdmin.sessionLifetimeSeconds",
        "connections.maxConnections",
        "trustedProxies[0]",
    ] {
        assert!(problems.mentions(field), "{field} missing from {problems}");
    }
}

#[test]
fn a_root_admin_name_the_app_would_read_differently_is_refused() {
    for name in [r#"" admin""#, r#""admin ""#, r#""ad\u0007min""#] {
        let yaml = GOOD.replace("username: admin", &format!("username: {name}"));
        let problems = check(&yaml).expect_err(name);
        assert!(problems.mentions("rootAdmin.username"), "{problems}");
    }
}

#[test]
fn a_signed_identity_section_is_checked_with_the_rest() {
    let good = format!("{GOOD}signedIdentity: {{keyFile: /s/identity-keys}}\n");
    assert!(check(&good).is_ok(), "{:?}", check(&good).err());
    let bad = format!("{GOOD}signedIdentity: {{headerName: Cookie, lifetimeSeconds: 3600}}\n");
    let problems = check(&bad).expect_err("invalid");
    for field in [
        "signedIdentity.keyFile",
        "signedIdentity.headerName",
        "signedIdentity.lifetimeSeconds",
    ] {
        assert!(problems.mentions(field), "{field} missing from {problems}");
    }
}

#[test]
fn names_that_are_blank_to_a_person_are_refused_in_every_list() {
    let yaml = GOOD.replace(
        "  clientId: books\n",
        "  clientId: books\n  roleGroups: {admin: [\"\\u00a0\"]}\n  allowedGroups: [staff, \"\\v\"]\n",
    ) + "bearerTokens: {audiences: [\" \"]}\n";
    let problems = check(&yaml).expect_err("invalid");
    for field in [
        "oidc.roleGroups.admin[0]",
        "oidc.allowedGroups[1]",
        "bearerTokens.audiences[0]",
    ] {
        assert!(problems.mentions(field), "{field} missing from {problems}");
    }
    assert_eq!(problems.0.len(), 3, "{problems}");
}

#[test]
fn names_with_surrounding_spaces_or_control_characters_are_refused() {
    let yaml = GOOD.replace("clientId: books", "clientId: \"books \"")
        + "bearerTokens: {audiences: [\"api\\u0007\"]}\n";
    let problems = check(&yaml).expect_err("invalid");
    assert!(problems.mentions("oidc.clientId"), "{problems}");
    assert!(problems.mentions("bearerTokens.audiences[0]"), "{problems}");
}

#[test]
fn bad_access_rules_are_reported_with_the_rest() {
    let yaml = format!("{GOOD}authorization: {{rules: [{{path: /a//b, allow: admin}}]}}\n");
    let problems = check(&yaml).expect_err("invalid");
    assert!(
        problems.mentions("authorization.rules[0].path"),
        "{problems}"
    );
}

#[test]
fn bearer_tokens_need_an_audience_and_a_bounded_leeway() {
    let problems =
        check(&format!("{GOOD}bearerTokens: {{leewaySeconds: 301}}\n")).expect_err("invalid");
    assert!(problems.mentions("bearerTokens.audiences"), "{problems}");
    assert!(
        problems.mentions("bearerTokens.leewaySeconds"),
        "{problems}"
    );
    assert_eq!(problems.0.len(), 2, "{problems}");
    check(&format!(
        "{GOOD}bearerTokens: {{audiences: [books], leewaySeconds: 0}}\n"
    ))
    .expect("the client id counts when listed, and no leeway is a choice");
}

#[test]
fn a_forward_auth_service_for_many_hosts_shares_its_cookie_on_their_domain() {
    let many = GOOD
        .replace(
            "upstream: http://127.0.0.1:8080\n",
            "trustedProxies: [10.0.0.0/8]\nforwardAuth:\n  hosts: [films.example.com]\n",
        )
        .replace(
            "  keyFile: /s/keys\n",
            "  keyFile: /s/keys\n  cookieDomain: example.com\n",
        );
    let valid = check(&many).expect("valid");
    assert_eq!(valid.many_hosts.hosts, ["films.example.com"]);
    assert_eq!(
        valid.many_hosts.cookie_domain.as_deref(),
        Some("example.com")
    );
    let outside = many.replace(
        "cookieDomain: example.com",
        "cookieDomain: films.example.com",
    );
    let problems = check(&outside).expect_err("public host outside the domain");
    assert!(problems.mentions("session.cookieDomain"), "{problems}");
}
