//! The checks a config must pass that need no file, no network and no clock.
//!
//! The sidecar runs them at start-up and on every reload (and then reads the
//! secret files the config names); the operator runs the very same checks on
//! the config it renders, before writing it, so a spec the sidecar would
//! refuse is reported in `status` instead of crash-looping new pods and
//! being refused by running ones. Every problem is collected, each naming
//! its field as written in the file.

mod addresses;
mod names;
#[cfg(test)]
mod tests;

pub use names::{is_blank, is_cookie_name};

use crate::claim_path::ClaimPath;
use crate::config::{ConnectionsConfig, OidcConfig, SidecarConfig};
use crate::defaults::REQUIRED_SCOPE;
use crate::email_domains::EmailDomains;
use crate::header_value::is_header_safe;
use crate::many_hosts::ManyHosts;
use crate::paths::CALLBACK_PATH;
use crate::problems::Problems;
use addresses::{
    is_own_address, issuer_from_well_known, public_url, socket_addr, trusted_proxies, upstream_url,
};
use ipnet::IpNet;
use names::{is_scope_token, name_list, required_name};
use std::net::SocketAddr;
use url::Url;

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
    /// Where Envoy's gRPC `ext_authz` is answered, for a forward-auth
    /// service that says so.
    pub grpc_listen: Option<SocketAddr>,
    /// Base URL of the protected app; `None` for a forward-auth service,
    /// which proxies to no app.
    pub upstream: Option<Url>,
    /// The public origin.
    pub public_url: Url,
    /// `publicUrl` + [`CALLBACK_PATH`].
    pub redirect_url: Url,
    /// The issuer: the discovery URL without [`WELL_KNOWN_SUFFIX`].
    pub issuer: String,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// A forward-auth service's other hosts and the session cookie's domain.
    pub many_hosts: ManyHosts,
    /// Where in the claims the groups are.
    pub group_claim: ClaimPath,
}

/// Checks everything in `config` that needs no IO; returns the parsed
/// values, or every problem found.
pub fn validate(config: &SidecarConfig) -> Result<Valid, Problems> {
    let mut problems = Problems::default();
    let listen = socket_addr(&mut problems, "listen", &config.listen);
    let admin_listen = socket_addr(&mut problems, "adminListen", &config.admin_listen);
    crate::forward_auth::check_door(
        &mut problems,
        config.forward_auth.as_ref(),
        &config.upstream,
        &config.trusted_proxies,
    );
    let upstream = match config.forward_auth {
        Some(_) => None,
        None => upstream_url(&mut problems, &config.upstream),
    };
    let grpc_listen = config
        .forward_auth
        .as_ref()
        .and_then(|forward| forward.grpc_listen.as_deref())
        .and_then(|grpc| socket_addr(&mut problems, "forwardAuth.grpcListen", grpc));
    let public_url = public_url(&mut problems, &config.public_url);
    let issuer = issuer_from_well_known(&mut problems, &config.oidc.well_known_url);
    let many_hosts = crate::many_hosts::check(
        &mut problems,
        config
            .forward_auth
            .as_ref()
            .map(|forward| forward.hosts.as_slice()),
        config.session.cookie_domain.as_deref(),
        public_url.as_ref().and_then(Url::host_str),
    );
    if let (Some(listen), Some(admin)) = (listen, admin_listen)
        && same_port(listen, admin)
    {
        problems.push("adminListen", "must use another port than `listen`");
    }
    if let Some(grpc) = grpc_listen {
        for (field, address) in [("listen", listen), ("adminListen", admin_listen)] {
            if address.is_some_and(|address| same_port(address, grpc)) {
                problems.push(
                    "forwardAuth.grpcListen",
                    format!("must use another port than `{field}`"),
                );
            }
        }
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
    let group_claim = provider(&mut problems, &config.oidc);
    required_path(&mut problems, "session.keyFile", &config.session.key_file);
    if !is_cookie_name(&config.session.cookie_name) {
        problems.push("session.cookieName", "must be letters, digits, `_` or `-`");
    }
    if config.session.fallback_lifetime_seconds == 0 {
        problems.push("session.fallbackLifetimeSeconds", "must be more than 0");
    }
    for (field, seconds, max) in [
        (
            "session.refreshSkewSeconds",
            config.session.refresh_skew_seconds,
            crate::defaults::MAX_REFRESH_SKEW_SECONDS,
        ),
        (
            "session.refreshGraceSeconds",
            config.session.refresh_grace_seconds,
            crate::defaults::MAX_REFRESH_GRACE_SECONDS,
        ),
    ] {
        if seconds > max {
            problems.push(field, format!("must be at most {max}"));
        }
    }
    let lifetimes = crate::defaults::MAX_SESSION_LIFETIME_RANGE;
    if !lifetimes.contains(&config.session.max_lifetime_seconds) {
        problems.push(
            "session.maxLifetimeSeconds",
            format!(
                "must be between {} and {} (a minute and a year)",
                lifetimes.start(),
                lifetimes.end()
            ),
        );
    }
    if let Some(store) = &config.session.store {
        crate::session_store::check(&mut problems, store);
    }
    if let Some(root) = &config.root_admin {
        if names::is_blank(&root.username) {
            problems.push("rootAdmin.username", "is required");
        } else if !is_header_safe(&root.username) {
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
    for rule in config.authorization.problems() {
        problems.push(&rule.field, rule.message);
    }
    if let Some(bearer) = &config.bearer_tokens {
        bearer_tokens(&mut problems, bearer);
    }
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
        public_url,
        redirect_url,
        issuer,
        group_claim,
    ) {
        (
            Some(listen),
            Some(admin_listen),
            Some(public_url),
            Some(redirect_url),
            Some(issuer),
            Some(group_claim),
        ) if problems.is_empty() => Ok(Valid {
            listen,
            admin_listen,
            grpc_listen,
            upstream,
            public_url,
            redirect_url,
            issuer,
            trusted_proxies,
            many_hosts,
            group_claim,
        }),
        _ => Err(problems),
    }
}

/// Whether two listen addresses ask for the same fixed port (`0`, any free
/// port, never collides).
fn same_port(one: SocketAddr, other: SocketAddr) -> bool {
    one.port() == other.port() && one.port() != 0
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

/// The group claim as a path; a blank or malformed one is a problem.
fn group_claim_path(problems: &mut Problems, value: &str) -> Option<ClaimPath> {
    const FIELD: &str = "oidc.groupClaim";
    if names::is_blank(value) {
        problems.push(FIELD, "is required");
        return None;
    }
    if !is_header_safe(value) {
        problems.push(FIELD, names::UNSAFE);
        return None;
    }
    ClaimPath::parse(value)
        .map_err(|error| problems.push(FIELD, format!("`{value}` {error}")))
        .ok()
}

fn bearer_tokens(problems: &mut Problems, bearer: &crate::bearer::BearerConfig) {
    use crate::bearer::MAX_LEEWAY_SECONDS;
    if bearer.audiences.is_empty() {
        problems.push(
            "bearerTokens.audiences",
            "must list at least one audience (the client id counts only when listed)",
        );
    }
    name_list(problems, "bearerTokens.audiences", &bearer.audiences, false);
    if bearer.leeway_seconds > MAX_LEEWAY_SECONDS {
        problems.push(
            "bearerTokens.leewaySeconds",
            format!("must be between 0 and {MAX_LEEWAY_SECONDS}"),
        );
    }
}

fn required_path(problems: &mut Problems, field: &str, path: &std::path::Path) {
    if path.as_os_str().is_empty() {
        problems.push(field, "is required");
    }
}

/// The `oidc` section's names and lists; returns the group claim's path.
fn provider(problems: &mut Problems, oidc: &OidcConfig) -> Option<ClaimPath> {
    required_name(problems, "oidc.clientId", &oidc.client_id);
    required_name(problems, "oidc.usernameClaim", &oidc.username_claim);
    let group_claim = group_claim_path(problems, &oidc.group_claim);
    required_path(problems, "oidc.clientSecretFile", &oidc.client_secret_file);
    if let Some(ca_file) = &oidc.ca_file {
        required_path(problems, "oidc.caFile", ca_file);
    }
    if !oidc.scopes.iter().any(|scope| scope == REQUIRED_SCOPE) {
        problems.push("oidc.scopes", format!("must include `{REQUIRED_SCOPE}`"));
    }
    if let Some(bad) = oidc.scopes.iter().find(|scope| !is_scope_token(scope)) {
        problems.push(
            "oidc.scopes",
            format!("`{bad}` is not a valid scope (no spaces or quotes)"),
        );
    }
    for (field, groups) in [
        ("oidc.roleGroups.admin", &oidc.role_groups.admin),
        ("oidc.roleGroups.trusted", &oidc.role_groups.trusted),
        ("oidc.allowedGroups", &oidc.allowed_groups),
    ] {
        name_list(problems, field, groups, true);
    }
    EmailDomains::parse(
        problems,
        "oidc.allowedEmailDomains",
        &oidc.allowed_email_domains,
    );
    group_claim
}
