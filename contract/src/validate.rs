//! The checks a config must pass that need no file, no network and no clock.
//!
//! The sidecar runs them at start-up and on every reload (and then reads the
//! secret files the config names); the operator runs the very same checks on
//! the config it renders, before writing it, so a spec the sidecar would
//! refuse is reported in `status` instead of crash-looping new pods and
//! being refused by running ones. Every problem is collected, each naming
//! its field as written in the file.

use crate::claim_path::ClaimPath;
use crate::config::{ConnectionsConfig, SidecarConfig};
use crate::defaults::REQUIRED_SCOPE;
use crate::header_value::is_header_safe;
use crate::paths::{CALLBACK_PATH, WELL_KNOWN_SUFFIX};
use crate::problems::Problems;
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};
use url::{Host, Url};

/// The smallest request-head limit the HTTP server supports.
pub const MIN_HEAD_BYTES: usize = 8 * 1024;
/// The largest request-head limit accepted: beyond it one slow client costs too much.
pub const MAX_HEAD_BYTES: usize = 1024 * 1024;

/// The values of a config that passed [`validate`], parsed.
#[derive(Clone, Debug)]
pub struct Valid {
    /// Proxy listen address.
    pub listen: SocketAddr,
    /// Health and metrics listen address.
    pub admin_listen: SocketAddr,
    /// Base URL of the protected app.
    pub upstream: Url,
    /// The public origin.
    pub public_url: Url,
    /// `publicUrl` + [`CALLBACK_PATH`].
    pub redirect_url: Url,
    /// The issuer: the discovery URL without [`WELL_KNOWN_SUFFIX`].
    pub issuer: String,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// Where in the claims the groups are.
    pub group_claim: ClaimPath,
}

/// Checks everything in `config` that needs no IO; returns the parsed
/// values, or every problem found.
pub fn validate(config: &SidecarConfig) -> Result<Valid, Problems> {
    let mut problems = Problems::default();
    let listen = socket_addr(&mut problems, "listen", &config.listen);
    let admin_listen = socket_addr(&mut problems, "adminListen", &config.admin_listen);
    let upstream = upstream_url(&mut problems, &config.upstream);
    let public_url = public_url(&mut problems, &config.public_url);
    let issuer = issuer_from_well_known(&mut problems, &config.oidc.well_known_url);
    if let (Some(listen), Some(admin)) = (listen, admin_listen)
        && listen.port() == admin.port()
        && listen.port() != 0
    {
        problems.push("adminListen", "must use another port than `listen`");
    }
    if let Some(upstream) = &upstream {
        for (field, address) in [("listen", listen), ("adminListen", admin_listen)] {
            if address.is_some_and(|address| is_own_address(upstream, address)) {
                problems.push(
                    "upstream",
                    format!("points at the sidecar's own `{field}` port: the app needs a port of its own"),
                );
            }
        }
    }
    let oidc = &config.oidc;
    required(&mut problems, "oidc.clientId", &oidc.client_id);
    required(&mut problems, "oidc.usernameClaim", &oidc.username_claim);
    let group_claim = group_claim_path(&mut problems, &oidc.group_claim);
    required_path(
        &mut problems,
        "oidc.clientSecretFile",
        &oidc.client_secret_file,
    );
    required_path(&mut problems, "session.keyFile", &config.session.key_file);
    if !oidc.scopes.iter().any(|scope| scope == REQUIRED_SCOPE) {
        problems.push("oidc.scopes", format!("must include `{REQUIRED_SCOPE}`"));
    }
    if let Some(bad) = oidc.scopes.iter().find(|scope| !is_scope_token(scope)) {
        problems.push(
            "oidc.scopes",
            format!("`{bad}` is not a valid scope (no spaces or quotes)"),
        );
    }
    if !is_cookie_name(&config.session.cookie_name) {
        problems.push("session.cookieName", "must be letters, digits, `_` or `-`");
    }
    if config.session.fallback_lifetime_seconds == 0 {
        problems.push("session.fallbackLifetimeSeconds", "must be more than 0");
    }
    if let Some(root) = &config.root_admin {
        required(&mut problems, "rootAdmin.username", &root.username);
        if !is_header_safe(&root.username) {
            problems.push(
                "rootAdmin.username",
                "must not start or end with spaces or hold control characters: the app would read another name than the sidecar",
            );
        }
        if root.session_lifetime_seconds == 0 {
            problems.push("rootAdmin.sessionLifetimeSeconds", "must be more than 0");
        }
    }
    connections(&mut problems, &config.connections);
    if let Some(identity) = &config.signed_identity {
        crate::identity::check(&mut problems, identity);
    }
    let trusted_proxies = trusted_proxies(&mut problems, &config.trusted_proxies);
    let redirect_url = public_url
        .as_ref()
        .and_then(|url| url.join(CALLBACK_PATH).ok());
    match (
        listen,
        admin_listen,
        upstream,
        public_url,
        redirect_url,
        issuer,
        group_claim,
    ) {
        (
            Some(listen),
            Some(admin_listen),
            Some(upstream),
            Some(public_url),
            Some(redirect_url),
            Some(issuer),
            Some(group_claim),
        ) if problems.is_empty() => Ok(Valid {
            listen,
            admin_listen,
            upstream,
            public_url,
            redirect_url,
            issuer,
            trusted_proxies,
            group_claim,
        }),
        _ => Err(problems),
    }
}

/// Whether `name` can be a cookie name here (letters, digits, `_`, `-`).
pub fn is_cookie_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Whether `upstream` is the sidecar itself listening on `address`.
fn is_own_address(upstream: &Url, address: SocketAddr) -> bool {
    let loopback = match upstream.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        Some(Host::Domain(name)) => name == "localhost",
        None => false,
    };
    loopback
        && address.port() != 0
        && upstream.port_or_known_default() == Some(address.port())
        && (address.ip().is_unspecified() || address.ip().is_loopback())
}

fn connections(problems: &mut Problems, config: &ConnectionsConfig) {
    if config.header_read_timeout_seconds == 0 {
        problems.push(
            "connections.headerReadTimeoutSeconds",
            "must be more than 0",
        );
    }
    if config.max_connections == 0 {
        problems.push("connections.maxConnections", "must be more than 0");
    }
    if !(MIN_HEAD_BYTES..=MAX_HEAD_BYTES).contains(&config.max_request_head_bytes) {
        problems.push(
            "connections.maxRequestHeadBytes",
            format!("must be between {MIN_HEAD_BYTES} and {MAX_HEAD_BYTES}"),
        );
    }
}

/// The trusted proxies as networks: a CIDR, or one address.
fn trusted_proxies(problems: &mut Problems, entries: &[String]) -> Vec<IpNet> {
    entries
        .iter()
        .enumerate()
        .filter_map(|(index, entry)| {
            let parsed = entry
                .parse::<IpNet>()
                .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from));
            if parsed.is_err() {
                problems.push(
                    &format!("trustedProxies[{index}]"),
                    format!("`{entry}` is not an address or a CIDR such as 10.0.0.0/8"),
                );
            }
            parsed.ok()
        })
        .collect()
}

fn required(problems: &mut Problems, field: &str, value: &str) {
    if value.trim().is_empty() {
        problems.push(field, "is required");
    }
}

/// The group claim as a path; a blank or malformed one is a problem.
fn group_claim_path(problems: &mut Problems, value: &str) -> Option<ClaimPath> {
    const FIELD: &str = "oidc.groupClaim";
    if value.trim().is_empty() {
        problems.push(FIELD, "is required");
        return None;
    }
    ClaimPath::parse(value)
        .map_err(|error| problems.push(FIELD, format!("`{value}` {error}")))
        .ok()
}

fn required_path(problems: &mut Problems, field: &str, path: &std::path::Path) {
    if path.as_os_str().is_empty() {
        problems.push(field, "is required");
    }
}

fn is_scope_token(scope: &str) -> bool {
    !scope.is_empty()
        && scope
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
}

fn socket_addr(problems: &mut Problems, field: &str, value: &str) -> Option<SocketAddr> {
    let parsed = value.parse().ok();
    if parsed.is_none() {
        problems.push(
            field,
            format!("`{value}` is not an address like `0.0.0.0:4180`"),
        );
    }
    parsed
}

fn upstream_url(problems: &mut Problems, value: &str) -> Option<Url> {
    const FIELD: &str = "upstream";
    let url = match Url::parse(value) {
        Ok(url) => url,
        Err(error) => {
            problems.push(
                FIELD,
                format!("`{value}` is not a URL like `http://127.0.0.1:8080` ({error})"),
            );
            return None;
        }
    };
    let plain = url.scheme() == "http"
        && url.host().is_some()
        && url.path() == "/"
        && url.query().is_none()
        && url.username().is_empty()
        && url.password().is_none();
    if !plain {
        problems.push(
            FIELD,
            "must be `http://host:port` with no path, query or credentials",
        );
        return None;
    }
    Some(url)
}

fn public_url(problems: &mut Problems, value: &str) -> Option<Url> {
    const FIELD: &str = "publicUrl";
    let url = match Url::parse(value) {
        Ok(url) => url,
        Err(error) => {
            problems.push(
                FIELD,
                format!("`{value}` is not a URL like `https://books.example.com` ({error})"),
            );
            return None;
        }
    };
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        problems.push(FIELD, "must be an http or https URL with a host");
        return None;
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        problems.push(FIELD, "must be an origin only (no path, query or fragment)");
        return None;
    }
    Some(url)
}

fn issuer_from_well_known(problems: &mut Problems, value: &str) -> Option<String> {
    const FIELD: &str = "oidc.wellKnownUrl";
    let url = match Url::parse(value) {
        Ok(url) => url,
        Err(error) => {
            problems.push(FIELD, format!("`{value}` is not a URL ({error})"));
            return None;
        }
    };
    if !matches!(url.scheme(), "http" | "https") || url.query().is_some() {
        problems.push(FIELD, "must be an http(s) URL without a query");
        return None;
    }
    match value.strip_suffix(WELL_KNOWN_SUFFIX) {
        Some(issuer) if !issuer.is_empty() => Some(issuer.to_owned()),
        _ => {
            problems.push(FIELD, format!("must end with `{WELL_KNOWN_SUFFIX}`"));
            None
        }
    }
}

#[cfg(test)]
mod tests {
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
        let problems = check(&nested.replace("realm_access.roles", "realm_access..roles"))
            .expect_err("invalid");
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
            let problems = check(&GOOD.replace("https://books.example.com", public_url))
                .expect_err(public_url);
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
}
