//! Building settings from a config and the files it names, read from memory.

use super::*;
use portcullis_contract::session_keys::generate_key_line;
use std::collections::HashMap;

const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$J0GZ3k0kGfX3b0S2tP0g5r3sWY8d2m5zDk8VbZb7w9E";

fn files() -> HashMap<&'static str, String> {
    HashMap::from([
        ("/s/client-secret", "s3cret\n".to_owned()),
        ("/s/keys", format!("{}\n", generate_key_line())),
        ("/s/root-hash", format!("{HASH}\n")),
        (
            "/s/identity-keys",
            format!(
                "{}\n",
                portcullis_contract::identity_keys::generate_identity_key_line().expect("key")
            ),
        ),
    ])
}

fn reader(files: HashMap<&'static str, String>) -> impl Fn(&Path) -> io::Result<String> {
    move |path| {
        files
            .get(path.to_str().unwrap_or_default())
            .cloned()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "No such file"))
    }
}

const GOOD: &str = r#"
upstream: http://127.0.0.1:8080
publicUrl: https://books.example.com
oidc:
  wellKnownUrl: https://sso.example.com/realms/home/.well-known/openid-configuration
  clientId: books
  clientSecretFile: /s/client-secret
rootAdmin:
  username: admin
  passwordHashFile: /s/root-hash
session:
  keyFile: /s/keys
"#;

fn load(yaml: &str) -> Result<Settings, Problems> {
    Settings::from_config(
        &SidecarConfig::from_yaml(yaml).expect("yaml"),
        reader(files()),
    )
}

#[test]
fn good_config_builds_settings() {
    let settings = load(GOOD).expect("valid");
    assert_eq!(settings.oidc.issuer, "https://sso.example.com/realms/home");
    assert_eq!(
        settings.oidc.redirect_url.as_str(),
        "https://books.example.com/auth/oidc"
    );
    assert_eq!(settings.oidc.client_secret.expose(), "s3cret");
    assert!(settings.session.secure_cookies);
    assert_eq!(settings.session.cookie_name, "__Host-portcullis_session");
    assert_eq!(
        settings.session.legacy_cookie_name.as_deref(),
        Some("portcullis_session")
    );
    let root = settings.root_admin.expect("root admin");
    assert_eq!(
        root.password_hash.map(|h| h.expose().to_owned()).as_deref(),
        Some(HASH)
    );
}

#[test]
fn empty_config_reports_every_missing_field_at_once() {
    let problems = load("{}").expect_err("invalid");
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
fn hostile_or_malformed_values_are_named() {
    let yaml = GOOD
        .replace("http://127.0.0.1:8080", "http://127.0.0.1:8080/app")
        .replace("https://books.example.com", "https://books.example.com/x")
        .replace("/.well-known/openid-configuration", "")
        .replace("/s/client-secret", "/s/missing");
    let problems = load(&format!("{yaml}listen: nowhere\n")).expect_err("invalid");
    for field in [
        "upstream",
        "publicUrl",
        "oidc.wellKnownUrl",
        "oidc.clientSecretFile",
        "listen",
    ] {
        assert!(problems.mentions(field), "{field} missing from {problems}");
    }
    assert!(problems.to_string().contains("/s/missing"), "{problems}");
}

#[test]
fn scopes_without_openid_or_with_spaces_are_refused() {
    let yaml = GOOD.replace(
        "  clientId: books\n",
        "  clientId: books\n  scopes: [profile, \"bad scope\"]\n",
    );
    let problems = load(&yaml).expect_err("invalid");
    assert_eq!(
        problems
            .0
            .iter()
            .filter(|p| p.field == "oidc.scopes")
            .count(),
        2,
        "{problems}"
    );
}

#[test]
fn bad_keys_and_hashes_are_refused_with_the_reason() {
    let mut broken = files();
    broken.insert("/s/keys", "c2hvcnQ=\n".into());
    broken.insert("/s/root-hash", "plaintext-password".into());
    let config = SidecarConfig::from_yaml(GOOD).expect("yaml");
    let problems = Settings::from_config(&config, reader(broken)).expect_err("invalid");
    assert!(problems.to_string().contains("at least 32"), "{problems}");
    assert!(
        problems.mentions("rootAdmin.passwordHashFile"),
        "{problems}"
    );
}

#[test]
fn http_public_url_gives_cookies_without_secure() {
    let settings = load(&GOOD.replace("https://books", "http://books")).expect("valid");
    assert!(!settings.session.secure_cookies);
    assert_eq!(settings.session.cookie_name, "portcullis_session");
    assert_eq!(settings.session.legacy_cookie_name, None);
}

#[test]
fn role_mapping_and_group_claim_path_are_read() {
    let yaml = GOOD.replace(
        "  clientId: books\n",
        "  clientId: books\n  groupClaim: realm_access.roles\n  roleGroups: {admin: [ops]}\n  allowedGroups: [staff]\n",
    );
    let settings = load(&yaml).expect("valid");
    assert_eq!(settings.oidc.group_claim.as_str(), "realm_access.roles");
    assert_eq!(
        settings.oidc.roles,
        crate::access::roles::RoleMapping::new(&["ops"], &["trusted"], &["staff"])
    );
}

#[test]
fn bad_group_claim_paths_and_empty_group_names_are_named() {
    let yaml = GOOD.replace(
        "  clientId: books\n",
        "  clientId: books\n  groupClaim: realm_access..roles\n  roleGroups: {admin: [ops, \"\"], trusted: [\"/\"]}\n  allowedGroups: [\" \"]\n",
    );
    let problems = load(&yaml).expect_err("invalid");
    for field in [
        "oidc.groupClaim",
        "oidc.roleGroups.admin[1]",
        "oidc.roleGroups.trusted[0]",
        "oidc.allowedGroups[0]",
    ] {
        assert!(problems.mentions(field), "{field} missing from {problems}");
    }
    assert!(problems.to_string().contains("empty segment"), "{problems}");
}

#[test]
fn bad_access_rules_are_named_by_their_index() {
    let yaml = format!(
        "{GOOD}authorization:
  rules:
    - {{path: /healthz, allow: public}}
    - {{path: /admin//x, allow: admin}}
    - {{path: /api/**, methods: [post], allow: trusted}}
"
    );
    let problems = load(&yaml).expect_err("invalid");
    assert!(
        problems.mentions("authorization.rules[1].path"),
        "{problems}"
    );
    assert!(
        problems.mentions("authorization.rules[2].methods"),
        "{problems}"
    );
    assert!(problems.to_string().contains("`/admin/x`"), "{problems}");
    assert_eq!(problems.0.len(), 2, "{problems}");
}

#[test]
fn signed_identity_reads_its_keys_and_defaults_the_audience_to_the_public_url() {
    assert!(load(GOOD).expect("valid").signed_identity.is_none());
    let yaml = format!("{GOOD}signedIdentity: {{keyFile: /s/identity-keys}}\n");
    let identity = load(&yaml).expect("valid").signed_identity.expect("on");
    assert_eq!(identity.header.as_str(), "x-portcullis-identity");
    assert_eq!(identity.issuer, "https://books.example.com");
    assert_eq!(identity.audience, "https://books.example.com");
    assert_eq!(identity.lifetime_seconds, 60);
    let yaml = format!(
        "{GOOD}signedIdentity: {{keyFile: /s/identity-keys, audience: books, headerName: X-Jwt-Assertion}}\n"
    );
    let identity = load(&yaml).expect("valid").signed_identity.expect("on");
    assert_eq!(identity.audience, "books");
    assert_eq!(identity.header.as_str(), "x-jwt-assertion");
}

#[test]
fn a_bad_identity_key_file_is_named_without_its_content() {
    let yaml = format!("{GOOD}signedIdentity: {{keyFile: /s/keys}}\n");
    let problems = load(&yaml).expect_err("a session key is no signing key");
    assert!(problems.mentions("signedIdentity.keyFile"), "{problems}");
    assert!(problems.to_string().contains("P-256"), "{problems}");
    let missing = format!("{GOOD}signedIdentity: {{keyFile: /s/nothing}}\n");
    let problems = load(&missing).expect_err("missing file");
    assert!(problems.to_string().contains("/s/nothing"), "{problems}");
}
