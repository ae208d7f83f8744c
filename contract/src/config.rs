//! The sidecar's config file: the one contract between operator and sidecar.
//!
//! These serde types are the whole format. The operator renders its ConfigMap
//! through them, the sidecar reads it through them, and a person running the
//! sidecar by hand writes the same YAML. A left-out field takes its value
//! from [`crate::defaults`].
//! Secrets never appear inline: only paths to files (a mounted Secret).
//! Required strings default to empty so that validation can report every
//! missing field at once instead of stopping at the first.

use crate::access::AuthorizationConfig;
use crate::bearer::BearerConfig;
use crate::defaults::{
    DEFAULT_ADMIN_GROUP, DEFAULT_ADMIN_LISTEN, DEFAULT_BACK_CHANNEL_LOGOUT, DEFAULT_COOKIE_NAME,
    DEFAULT_FALLBACK_LIFETIME_SECONDS, DEFAULT_GROUP_CLAIM, DEFAULT_HEADER_READ_TIMEOUT_SECONDS,
    DEFAULT_LISTEN, DEFAULT_LOGOUT_AT_PROVIDER, DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_REQUEST_HEAD_BYTES, DEFAULT_MAX_SESSION_LIFETIME_SECONDS,
    DEFAULT_REFRESH_GRACE_SECONDS, DEFAULT_REFRESH_SKEW_SECONDS,
    DEFAULT_ROOT_SESSION_LIFETIME_SECONDS, DEFAULT_SCOPES, DEFAULT_TRUSTED_GROUP,
    DEFAULT_USERNAME_CLAIM,
};
use crate::forward_auth::ForwardAuthConfig;
use crate::identity::SignedIdentityConfig;
use crate::session_store::SessionStoreConfig;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The whole sidecar config file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SidecarConfig {
    /// Address the proxy listens on, e.g. `0.0.0.0:4180`.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// Address of the health and metrics port, e.g. `0.0.0.0:9090`.
    #[serde(default = "default_admin_listen")]
    pub admin_listen: String,
    /// The protected app, `http://127.0.0.1:8080`; left out with `forwardAuth`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub upstream: String,
    /// Answer an ingress's or proxy's question instead of proxying (see
    /// [`crate::forward_auth`]); absent: the sidecar proxies to `upstream`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forward_auth: Option<ForwardAuthConfig>,
    /// The origin people type into their browser; the callback is `publicUrl` + `/auth/oidc`.
    #[serde(default)]
    pub public_url: String,
    /// The identity provider and this app's client registration there.
    #[serde(default)]
    pub oidc: OidcConfig,
    /// The local root admin: always admin, and the backup login's only user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_admin: Option<RootAdminConfig>,
    /// Session cookie settings.
    #[serde(default)]
    pub session: SessionConfig,
    /// Bounds on client connections to the proxy port.
    #[serde(default, skip_serializing_if = "ConnectionsConfig::is_default")]
    pub connections: ConnectionsConfig,
    /// Addresses or CIDRs of the proxies in front of the sidecar (an ingress)
    /// whose `X-Forwarded-For` is believed; empty: only the peer counts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trusted_proxies: Vec<String>,
    /// Who may use which paths (see [`crate::access`]); by default any
    /// signed-in user may use every path.
    #[serde(default, skip_serializing_if = "AuthorizationConfig::is_default")]
    pub authorization: AuthorizationConfig,
    /// Accept `Authorization: Bearer` JWTs from the provider (API clients);
    /// absent: only session cookies count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_tokens: Option<BearerConfig>,
    /// Add a signed JWT of the identity to each forwarded request (see
    /// [`crate::identity`]); absent: plain identity headers only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_identity: Option<SignedIdentityConfig>,
}

/// Bounds on client connections, so slow or idle clients cannot hold the
/// proxy's file descriptors and buffers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConnectionsConfig {
    /// Seconds a client has to send a request head, counted from the
    /// connection's start or the end of the previous response (so it also
    /// closes idle keep-alive connections).
    #[serde(default = "default_header_read_timeout")]
    pub header_read_timeout_seconds: u64,
    /// Client connections open at once; more wait in the listen queue.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Largest request head (request line and headers) accepted, in bytes.
    #[serde(default = "default_max_request_head_bytes")]
    pub max_request_head_bytes: usize,
}

impl ConnectionsConfig {
    /// True when every bound has its default (then it is left out of rendered files).
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

impl Default for ConnectionsConfig {
    fn default() -> Self {
        Self {
            header_read_timeout_seconds: DEFAULT_HEADER_READ_TIMEOUT_SECONDS,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_request_head_bytes: DEFAULT_MAX_REQUEST_HEAD_BYTES,
        }
    }
}

/// The six settings of an OpenID Connect login (the secret by file).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OidcConfig {
    /// The provider's discovery document, ending in `/.well-known/openid-configuration`.
    #[serde(default)]
    pub well_known_url: String,
    /// The client id registered at the provider.
    #[serde(default)]
    pub client_id: String,
    /// File holding the client secret (one line).
    #[serde(default)]
    pub client_secret_file: PathBuf,
    /// Scopes requested at login; must include `openid`.
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// Claim used as the (unique) username.
    #[serde(default = "default_username_claim")]
    pub username_claim: String,
    /// Claim holding the groups: a string or a list of strings. Dots step
    /// into nested objects (`realm_access.roles`); `\.` is a literal dot and
    /// `\\` a literal backslash. A top-level claim named exactly like the
    /// whole setting (a URL-style name) is used as it is.
    #[serde(default = "default_group_claim")]
    pub group_claim: String,
    /// On log out, also end the session at the provider (when it publishes
    /// `end_session_endpoint`).
    #[serde(default = "default_logout_at_provider")]
    pub logout_at_provider: bool,
    /// Accept OpenID Connect Back-Channel Logout at
    /// `/auth/backchannel-logout` when the provider says it sends it
    /// (`backchannel_logout_supported`).
    #[serde(default = "default_back_channel_logout")]
    pub back_channel_logout: bool,
    /// Which provider groups grant which role; left out: the groups named
    /// like the roles.
    #[serde(default, skip_serializing_if = "RoleGroups::is_default")]
    pub role_groups: RoleGroups,
    /// When not empty, only members of one of these groups may sign in
    /// (the root admin's username always may).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_groups: Vec<String>,
    /// When not empty, only users whose verified email is in one of these
    /// domains (`example.com`, or `*.example.com` for its subdomains) may
    /// sign in (the root admin's username always may).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_email_domains: Vec<String>,
    /// PEM file of the CA certificates the provider's certificate chains
    /// to, trusted beside the web's roots for every call to the provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
}

/// The provider group names that grant each role, matched case-insensitively
/// and with or without one leading `/` (Keycloak's group paths). Everyone
/// else is `untrusted`; the highest role granted wins.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RoleGroups {
    /// Groups that make a user `admin`.
    #[serde(default = "default_admin_groups")]
    pub admin: Vec<String>,
    /// Groups that make a user `trusted`.
    #[serde(default = "default_trusted_groups")]
    pub trusted: Vec<String>,
}

impl RoleGroups {
    /// True when each role is granted by the group of its own name only
    /// (then it is left out of rendered files).
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

impl Default for RoleGroups {
    fn default() -> Self {
        Self {
            admin: default_admin_groups(),
            trusted: default_trusted_groups(),
        }
    }
}

/// The local root admin account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RootAdminConfig {
    /// Whoever logs in with this username is root admin.
    #[serde(default)]
    pub username: String,
    /// File holding the argon2id PHC hash of the root admin's password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_hash_file: Option<PathBuf>,
    /// How long a backup-login session lasts.
    #[serde(default = "default_root_session_lifetime")]
    pub session_lifetime_seconds: u64,
    /// File holding the argon2id PHC hash of the one-time enrolment code
    /// that makes a new browser a known device (`portcullis-sidecar enrol-code`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enrolment_code_hash_file: Option<PathBuf>,
}

/// How sessions are sealed into cookies and how long they last.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionConfig {
    /// File with one key per line (standard base64, at least 32 bytes each).
    /// The first seals new cookies; every listed key opens them.
    #[serde(default)]
    pub key_file: PathBuf,
    /// Name of the session cookie.
    #[serde(default = "default_cookie_name")]
    pub cookie_name: String,
    /// The parent domain the session cookie is set for, so that every host
    /// of a forward-auth service under it shares one sign-in (see
    /// [`crate::many_hosts`]); absent: the public URL's host only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cookie_domain: Option<String>,
    /// Session lifetime when the provider's token response has no `expires_in`.
    #[serde(default = "default_fallback_lifetime")]
    pub fallback_lifetime_seconds: u64,
    /// The longest a session lasts from the sign-in, whatever the token's
    /// `expires_in` says; a log out the provider sends is remembered this long.
    #[serde(default = "default_max_session_lifetime")]
    pub max_lifetime_seconds: u64,
    /// A request this close to the access token's expiry refreshes the
    /// session with the provider's refresh token, when it sent one.
    #[serde(default = "default_refresh_skew")]
    pub refresh_skew_seconds: u64,
    /// How long past the access token's expiry the session is still served
    /// while the provider cannot refresh it (down, slow, 5xx).
    #[serde(default = "default_refresh_grace")]
    pub refresh_grace_seconds: u64,
    /// State shared by replicas (the log-out list); absent, each replica
    /// keeps its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<SessionStoreConfig>,
}

fn default_header_read_timeout() -> u64 {
    DEFAULT_HEADER_READ_TIMEOUT_SECONDS
}
fn default_max_connections() -> usize {
    DEFAULT_MAX_CONNECTIONS
}
fn default_max_request_head_bytes() -> usize {
    DEFAULT_MAX_REQUEST_HEAD_BYTES
}
fn default_listen() -> String {
    DEFAULT_LISTEN.into()
}
fn default_admin_listen() -> String {
    DEFAULT_ADMIN_LISTEN.into()
}
fn default_scopes() -> Vec<String> {
    DEFAULT_SCOPES
        .iter()
        .map(|scope| (*scope).to_owned())
        .collect()
}
fn default_username_claim() -> String {
    DEFAULT_USERNAME_CLAIM.into()
}
fn default_group_claim() -> String {
    DEFAULT_GROUP_CLAIM.into()
}
fn default_admin_groups() -> Vec<String> {
    vec![DEFAULT_ADMIN_GROUP.into()]
}
fn default_trusted_groups() -> Vec<String> {
    vec![DEFAULT_TRUSTED_GROUP.into()]
}
fn default_logout_at_provider() -> bool {
    DEFAULT_LOGOUT_AT_PROVIDER
}
fn default_back_channel_logout() -> bool {
    DEFAULT_BACK_CHANNEL_LOGOUT
}
fn default_max_session_lifetime() -> u64 {
    DEFAULT_MAX_SESSION_LIFETIME_SECONDS
}
fn default_refresh_skew() -> u64 {
    DEFAULT_REFRESH_SKEW_SECONDS
}
fn default_refresh_grace() -> u64 {
    DEFAULT_REFRESH_GRACE_SECONDS
}
fn default_root_session_lifetime() -> u64 {
    DEFAULT_ROOT_SESSION_LIFETIME_SECONDS
}
fn default_cookie_name() -> String {
    DEFAULT_COOKIE_NAME.into()
}
fn default_fallback_lifetime() -> u64 {
    DEFAULT_FALLBACK_LIFETIME_SECONDS
}

impl Default for OidcConfig {
    fn default() -> Self {
        Self {
            well_known_url: String::new(),
            client_id: String::new(),
            client_secret_file: PathBuf::new(),
            scopes: default_scopes(),
            username_claim: default_username_claim(),
            group_claim: default_group_claim(),
            logout_at_provider: default_logout_at_provider(),
            back_channel_logout: default_back_channel_logout(),
            role_groups: RoleGroups::default(),
            allowed_groups: Vec::new(),
            allowed_email_domains: Vec::new(),
            ca_file: None,
        }
    }
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            key_file: PathBuf::new(),
            cookie_name: default_cookie_name(),
            cookie_domain: None,
            fallback_lifetime_seconds: default_fallback_lifetime(),
            max_lifetime_seconds: default_max_session_lifetime(),
            refresh_skew_seconds: default_refresh_skew(),
            refresh_grace_seconds: default_refresh_grace(),
            store: None,
        }
    }
}

impl SidecarConfig {
    /// The secret files the config names, in one order: the client secret,
    /// the session keys, the root admin's password hash and enrolment-code
    /// hash, the identity keys, the session store's credentials and CA.
    /// What the sidecar hashes for `/readyz` and watches for a reload.
    pub fn secret_files(&self) -> Vec<&Path> {
        let mut files = vec![
            self.oidc.client_secret_file.as_path(),
            self.session.key_file.as_path(),
        ];
        files.extend(self.oidc.ca_file.as_deref());
        if let Some(root) = &self.root_admin {
            files.extend(root.password_hash_file.as_deref());
            files.extend(root.enrolment_code_hash_file.as_deref());
        }
        if let Some(identity) = &self.signed_identity {
            files.push(identity.key_file.as_path());
        }
        if let Some(store) = &self.session.store {
            let redis = &store.redis;
            files.extend(redis.username_file.as_deref());
            files.extend(redis.password_file.as_deref());
            files.extend(redis.ca_file());
            files.extend(redis.sentinel_password_file());
        }
        files
    }

    /// Parses YAML; a syntax or type error names the line and the field.
    pub fn from_yaml(text: &str) -> Result<Self, serde_yaml::Error> {
        serde_yaml::from_str(text)
    }

    /// Renders YAML that [`SidecarConfig::from_yaml`] reads back unchanged.
    pub fn to_yaml(&self) -> Result<String, serde_yaml::Error> {
        serde_yaml::to_string(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_file_gets_documented_defaults() {
        let config = SidecarConfig::from_yaml("upstream: http://127.0.0.1:8080\n").expect("parses");
        assert_eq!(config.listen, "0.0.0.0:4180");
        assert_eq!(config.admin_listen, "0.0.0.0:9090");
        assert_eq!(config.oidc.scopes, ["openid", "profile", "email"]);
        assert_eq!(config.oidc.username_claim, "preferred_username");
        assert_eq!(config.oidc.group_claim, "groups");
        assert!(config.oidc.logout_at_provider);
        assert_eq!(config.session.cookie_name, "portcullis_session");
        assert_eq!(config.session.fallback_lifetime_seconds, 3600);
        assert_eq!(config.root_admin, None);
    }

    #[test]
    fn empty_sections_get_the_same_defaults_as_missing_ones() {
        let config = SidecarConfig::from_yaml(
            "oidc: {}
session: {}
rootAdmin: {}
",
        )
        .expect("parses");
        assert_eq!(config.oidc, OidcConfig::default());
        assert_eq!(config.session, SessionConfig::default());
        let root = config.root_admin.expect("root admin");
        assert_eq!(root.session_lifetime_seconds, 8 * 3600);
    }

    #[test]
    fn unknown_field_is_an_error_naming_it() {
        let error =
            SidecarConfig::from_yaml("oidc:\n  clientSecret: inline\n").expect_err("refused");
        assert!(error.to_string().contains("clientSecret"), "{error}");
    }

    #[test]
    fn unused_role_mapping_leaves_rendered_yaml_unchanged() {
        let text = SidecarConfig::from_yaml("{}")
            .expect("parses")
            .to_yaml()
            .expect("renders");
        assert!(!text.contains("roleGroups"), "{text}");
        assert!(!text.contains("allowedGroups"), "{text}");
    }

    #[test]
    fn a_role_left_out_of_the_mapping_keeps_its_own_name() {
        let config = SidecarConfig::from_yaml(
            "oidc:\n  roleGroups: {admin: [/ops]}\n  allowedGroups: [staff]\n",
        )
        .expect("parses");
        assert_eq!(config.oidc.role_groups.admin, ["/ops"]);
        assert_eq!(config.oidc.role_groups.trusted, ["trusted"]);
        assert_eq!(config.oidc.allowed_groups, ["staff"]);
        let text = config.to_yaml().expect("renders");
        assert_eq!(SidecarConfig::from_yaml(&text).expect("reads back"), config);
    }

    #[test]
    fn rendered_yaml_reads_back_the_same() {
        let mut config = SidecarConfig::from_yaml("{}").expect("parses");
        config.root_admin = Some(RootAdminConfig {
            username: "admin".into(),
            password_hash_file: Some("/secret/root".into()),
            session_lifetime_seconds: 60,
            enrolment_code_hash_file: Some("/secret/enrolment".into()),
        });
        let text = config.to_yaml().expect("renders");
        assert_eq!(SidecarConfig::from_yaml(&text).expect("reads back"), config);
    }
}
