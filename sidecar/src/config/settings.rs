//! Validated, ready-to-use settings built from a [`SidecarConfig`].
//!
//! Validation is pure: file contents come through a reader function, so
//! tests feed them from memory and the binary from disk. What needs no file
//! is checked by the contract crate, which the operator runs too. It keeps going after
//! the first problem and returns them all, each naming its field.

use super::connections::ConnectionLimits;
use super::problems::Problems;
use super::secret::Secret;
use crate::access::AccessRules;
use crate::identity::SigningKeys;
use crate::identity::signer::SignedIdentity;
use crate::oidc::claim_path::ClaimPath;
use crate::roles::RoleMapping;
use crate::session::keys::KeyRing;
use crate::session::opened::OpenedSessions;
use argon2::PasswordHash;
use http::HeaderName;
use http::uri::Authority;
use ipnet::IpNet;
use portcullis_contract::config::SidecarConfig;
use portcullis_contract::validate::validate;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;
use url::Url;

/// Settings the running sidecar uses; built only by [`Settings::from_config`].
#[derive(Clone, Debug)]
pub struct Settings {
    /// Proxy listen address.
    pub listen: SocketAddr,
    /// Health and metrics listen address.
    pub admin_listen: SocketAddr,
    /// Base URL of the protected app (`http://host:port`).
    pub upstream: Url,
    /// The app's `host:port`: where to connect, and the `Host` of a request
    /// that came without one.
    pub upstream_authority: Authority,
    /// The public origin, without a trailing slash in its path.
    pub public_url: Url,
    /// OpenID Connect settings.
    pub oidc: ProviderSettings,
    /// Root admin, when configured.
    pub root_admin: Option<RootAdmin>,
    /// Session settings.
    pub session: SessionSettings,
    /// Bounds on client connections.
    pub connections: ConnectionLimits,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// Who may use which paths of the app.
    pub access: AccessRules,
    /// Audiences a bearer token may carry (the client id first); `None`:
    /// bearer tokens are not accepted.
    pub bearer_audiences: Option<Vec<String>>,
    /// How the identity is signed for the app; `None`: plain headers only.
    pub signed_identity: Option<SignedIdentity>,
    /// The hash of the config file and the secret files it names (see
    /// [`super::hash`]), shown on `/readyz`; empty when not loaded from files.
    pub config_hash: String,
}

/// The identity provider and the client registered there.
#[derive(Clone, Debug)]
pub struct ProviderSettings {
    /// The issuer, derived from the discovery URL.
    pub issuer: String,
    /// Client id.
    pub client_id: String,
    /// Client secret, read from its file.
    pub client_secret: Secret,
    /// Scopes requested at login.
    pub scopes: Vec<String>,
    /// Claim read as the username.
    pub username_claim: String,
    /// Where the groups are in the claims.
    pub group_claim: ClaimPath,
    /// Which groups grant which role, and who may sign in.
    pub roles: RoleMapping,
    /// `publicUrl` + [`CALLBACK_PATH`].
    pub redirect_url: Url,
    /// Whether log out continues to the provider's `end_session_endpoint`.
    pub logout_at_provider: bool,
}

/// The local root admin.
#[derive(Clone, Debug)]
pub struct RootAdmin {
    /// Username that makes a login root admin.
    pub username: String,
    /// argon2id PHC string; `None` disables the backup login.
    pub password_hash: Option<Secret>,
    /// Lifetime of a backup-login session.
    pub session_lifetime: Duration,
}

/// Session cookie settings.
#[derive(Clone, Debug)]
pub struct SessionSettings {
    /// Keys that seal and open cookies.
    pub keys: KeyRing,
    /// Session cookie name: the configured name, with the `__Host-` prefix
    /// when the public URL is https (the browser then refuses the cookie
    /// from a sibling or parent domain, so nobody can plant one).
    pub cookie_name: String,
    /// The configured name without the prefix, still read (and cleared at
    /// log out) so sessions issued before the prefix keep working.
    pub legacy_cookie_name: Option<String>,
    /// Lifetime when the provider sends no `expires_in`.
    pub fallback_lifetime: Duration,
    /// Whether cookies get the `Secure` attribute (public URL is https).
    pub secure_cookies: bool,
    /// Cookie values these keys opened before: new settings, new memory.
    pub opened: OpenedSessions,
}

impl SessionSettings {
    /// The session cookie names to read, current first.
    pub fn cookie_names(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.cookie_name.as_str()).chain(self.legacy_cookie_name.as_deref())
    }
}

impl Settings {
    /// Validates `config`, reading secret files with `read_file`.
    ///
    /// The checks that need no file are the contract crate's
    /// [`validate`](portcullis_contract::validate::validate), the same the
    /// operator runs before it writes a config; this adds the secret files.
    pub fn from_config(
        config: &SidecarConfig,
        read_file: impl Fn(&Path) -> io::Result<String>,
    ) -> Result<Settings, Problems> {
        let mut problems = Problems::default();
        let valid = validate(config)
            .map_err(|found| problems.extend(found))
            .ok();
        let oidc = &config.oidc;
        let client_secret = secret_file(
            &mut problems,
            "oidc.clientSecretFile",
            &oidc.client_secret_file,
            &read_file,
        );
        let root_admin = root_admin(&mut problems, config, &read_file);
        let keys = key_ring(&mut problems, &config.session.key_file, &read_file);
        let cookie_name = &config.session.cookie_name;
        let roles = role_mapping(&mut problems, oidc);
        if let Some(bearer) = &config.bearer_tokens
            && bearer
                .audiences
                .iter()
                .any(|audience| audience.trim().is_empty())
        {
            problems.push("bearerTokens.audiences", "must not hold an empty audience");
        }
        let identity_keys = config
            .signed_identity
            .as_ref()
            .and_then(|identity| identity_keys(&mut problems, &identity.key_file, &read_file));
        let (access, rule_problems) = AccessRules::compile(&config.authorization);
        for problem in rule_problems {
            problems.push(&problem.field, problem.message);
        }
        match (valid, client_secret, keys) {
            (Some(valid), Some(client_secret), Some(keys)) if problems.is_empty() => {
                let Some(upstream_authority) = authority_of(&valid.upstream) else {
                    problems.push(
                        "upstream",
                        "must name a host and port an HTTP request can carry",
                    );
                    return Err(problems);
                };
                let public_url = valid.public_url;
                let https = public_url.scheme() == "https";
                let signed_identity = config.signed_identity.as_ref().zip(identity_keys).and_then(
                    |(identity, keys)| {
                        let issuer = public_url.as_str().trim_end_matches('/').to_owned();
                        Some(SignedIdentity {
                            keys,
                            // The contract's validation checked the name.
                            header: HeaderName::try_from(identity.header_name.as_str()).ok()?,
                            lifetime_seconds: identity.lifetime_seconds,
                            audience: identity.audience.clone().unwrap_or_else(|| issuer.clone()),
                            issuer,
                        })
                    },
                );
                Ok(Settings {
                    listen: valid.listen,
                    admin_listen: valid.admin_listen,
                    upstream_authority,
                    upstream: valid.upstream,
                    oidc: ProviderSettings {
                        issuer: valid.issuer,
                        client_id: oidc.client_id.clone(),
                        client_secret,
                        scopes: oidc.scopes.clone(),
                        username_claim: oidc.username_claim.clone(),
                        group_claim: valid.group_claim,
                        roles,
                        redirect_url: valid.redirect_url,
                        logout_at_provider: oidc.logout_at_provider,
                    },
                    root_admin,
                    session: SessionSettings {
                        keys,
                        cookie_name: session_cookie_name(cookie_name, &public_url),
                        legacy_cookie_name: https.then(|| cookie_name.clone()),
                        fallback_lifetime: Duration::from_secs(
                            config.session.fallback_lifetime_seconds,
                        ),
                        secure_cookies: https,
                        opened: OpenedSessions::default(),
                    },
                    connections: ConnectionLimits::from(&config.connections),
                    trusted_proxies: valid.trusted_proxies,
                    public_url,
                    access,
                    bearer_audiences: config.bearer_tokens.as_ref().map(|bearer| {
                        std::iter::once(oidc.client_id.clone())
                            .chain(bearer.audiences.iter().cloned())
                            .collect()
                    }),
                    signed_identity,
                    config_hash: String::new(),
                })
            }
            _ => Err(problems),
        }
    }
}

/// The `host:port` of an `http://` URL, as the authority of a request's URI.
fn authority_of(url: &Url) -> Option<Authority> {
    let host = url.host_str()?;
    let port = url.port_or_known_default()?;
    Authority::try_from(format!("{host}:{port}")).ok()
}

/// The prefix that binds a cookie to exactly this host (RFC 6265bis §4.1.3.2).
const HOST_PREFIX: &str = "__Host-";

fn session_cookie_name(configured: &str, public_url: &Url) -> String {
    if public_url.scheme() == "https" {
        format!("{HOST_PREFIX}{configured}")
    } else {
        configured.to_owned()
    }
}

fn role_mapping(
    problems: &mut Problems,
    oidc: &portcullis_contract::config::OidcConfig,
) -> RoleMapping {
    for (field, groups) in [
        ("oidc.roleGroups.admin", &oidc.role_groups.admin),
        ("oidc.roleGroups.trusted", &oidc.role_groups.trusted),
        ("oidc.allowedGroups", &oidc.allowed_groups),
    ] {
        for (index, group) in groups.iter().enumerate() {
            let bare = group.trim();
            if bare.is_empty() || bare == "/" {
                problems.push(
                    &format!("{field}[{index}]"),
                    "must be a group name, not empty",
                );
            }
        }
    }
    RoleMapping::new(
        &oidc.role_groups.admin,
        &oidc.role_groups.trusted,
        &oidc.allowed_groups,
    )
}

fn secret_file(
    problems: &mut Problems,
    field: &str,
    path: &Path,
    read_file: &impl Fn(&Path) -> io::Result<String>,
) -> Option<Secret> {
    if path.as_os_str().is_empty() {
        return None;
    }
    match read_file(path) {
        Ok(text) if !text.trim().is_empty() => {
            Some(Secret::new(text.trim_end_matches(['\r', '\n'])))
        }
        Ok(_) => {
            problems.push(field, format!("{} is empty", path.display()));
            None
        }
        Err(error) => {
            problems.push(field, format!("cannot read {}: {error}", path.display()));
            None
        }
    }
}

fn root_admin(
    problems: &mut Problems,
    config: &SidecarConfig,
    read_file: &impl Fn(&Path) -> io::Result<String>,
) -> Option<RootAdmin> {
    let root = config.root_admin.as_ref()?;
    let password_hash = root.password_hash_file.as_deref().and_then(|path| {
        const FIELD: &str = "rootAdmin.passwordHashFile";
        let hash = secret_file(problems, FIELD, path, read_file)?;
        let hash = Secret::new(hash.expose().trim());
        match PasswordHash::new(hash.expose()) {
            Ok(parsed) if parsed.algorithm.as_str() == "argon2id" => Some(hash),
            Ok(_) => {
                problems.push(
                    FIELD,
                    "must hold an argon2id hash (`portcullis-sidecar hash-password`)",
                );
                None
            }
            Err(_) => {
                problems.push(
                    FIELD,
                    "is not a PHC hash string (`portcullis-sidecar hash-password` prints one)",
                );
                None
            }
        }
    });
    Some(RootAdmin {
        username: root.username.clone(),
        password_hash,
        session_lifetime: Duration::from_secs(root.session_lifetime_seconds),
    })
}

fn identity_keys(
    problems: &mut Problems,
    path: &Path,
    read_file: &impl Fn(&Path) -> io::Result<String>,
) -> Option<SigningKeys> {
    const FIELD: &str = "signedIdentity.keyFile";
    if path.as_os_str().is_empty() {
        return None; // the contract's validation names the missing field
    }
    let text = match read_file(path) {
        Ok(text) => text,
        Err(error) => {
            problems.push(FIELD, format!("cannot read {}: {error}", path.display()));
            return None;
        }
    };
    SigningKeys::parse(&text)
        .map_err(|error| problems.push(FIELD, format!("{}: {error}", path.display())))
        .ok()
}

fn key_ring(
    problems: &mut Problems,
    path: &Path,
    read_file: &impl Fn(&Path) -> io::Result<String>,
) -> Option<KeyRing> {
    const FIELD: &str = "session.keyFile";
    if path.as_os_str().is_empty() {
        return None;
    }
    let text = match read_file(path) {
        Ok(text) => text,
        Err(error) => {
            problems.push(FIELD, format!("cannot read {}: {error}", path.display()));
            return None;
        }
    };
    KeyRing::parse(&text)
        .map_err(|error| problems.push(FIELD, format!("{}: {error}", path.display())))
        .ok()
}

#[cfg(test)]
mod tests {
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
            crate::roles::RoleMapping::new(&["ops"], &["trusted"], &["staff"])
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
}
