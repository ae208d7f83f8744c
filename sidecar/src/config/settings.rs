//! Validated, ready-to-use settings built from a [`SidecarConfig`].
//!
//! Validation is pure: file contents come through a reader function, so
//! tests feed them from memory and the binary from disk. What needs no file
//! is checked by the contract crate, which the operator runs too. It keeps going after
//! the first problem and returns them all, each naming its field.

use super::connections::ConnectionLimits;
use super::door::{Door, Upstream, authority_of};
use super::hosts::Hosts;
use super::problems::Problems;
use super::secret_files::{ca_certificates, identity_keys, key_ring, password_hash, secret_file};
use super::store::store_settings;
use crate::access::AccessRules;
use crate::access::roles::RoleMapping;
use crate::identity::signer::SignedIdentity;
use crate::session::cookie::CookieScope;
use crate::session::keys::KeyRing;
use crate::session::store::settings::StoreSettings;
use http::HeaderName;
use ipnet::IpNet;
use portcullis_contract::claim_path::ClaimPath;
use portcullis_contract::config::SidecarConfig;
use portcullis_contract::cookie_names::session_cookie_name;
use portcullis_contract::email_domains::EmailDomains;
use portcullis_contract::secret::Secret;
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
    /// Where Envoy's gRPC `ext_authz` is answered, for a forward-auth
    /// service that says so.
    pub grpc_listen: Option<SocketAddr>,
    /// How requests reach the sidecar: for the app behind it, or for a
    /// proxy's question (forward-auth).
    pub door: Door,
    /// The public origin, without a trailing slash in its path.
    pub public_url: Url,
    /// A forward-auth service's hosts beside the public URL's, lowercased.
    pub other_hosts: Vec<String>,
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
    /// The audiences a bearer token may carry and the clock skew allowed;
    /// `None`: bearer tokens are not accepted.
    pub bearer: Option<portcullis_contract::bearer::BearerConfig>,
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
    /// The email domains allowed to sign in; empty: every one.
    pub allowed_email_domains: EmailDomains,
    /// `publicUrl` + [`CALLBACK_PATH`].
    pub redirect_url: Url,
    /// Whether log out continues to the provider's `end_session_endpoint`.
    pub logout_at_provider: bool,
    /// Whether the provider's back-channel logout tokens are accepted (when
    /// it says it sends them).
    pub back_channel_logout: bool,
    /// The CA certificates (DER) trusted for calls to the provider beside
    /// the web's roots (`oidc.caFile`); empty: the web's roots only.
    pub ca_certificates: Vec<Vec<u8>>,
}

/// The local root admin.
#[derive(Clone, Debug)]
pub struct RootAdmin {
    /// Username that makes a login root admin.
    pub username: String,
    /// argon2id PHC string; `None` disables the backup login.
    pub password_hash: Option<Secret>,
    /// argon2id PHC string of the one-time enrolment code; `None`: new
    /// browsers share the budget of unknown clients.
    pub enrolment_code_hash: Option<Secret>,
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
    /// from a sibling or parent domain, so nobody can plant one), or
    /// `__Secure-` when the cookie is set for a parent domain (`__Host-`
    /// forbids a `Domain`; `__Secure-` still refuses one set over http).
    pub cookie_name: String,
    /// The configured name without the prefix, still read (and cleared at
    /// log out) so sessions issued before the prefix keep working.
    pub legacy_cookie_name: Option<String>,
    /// Lifetime when the provider sends no `expires_in`.
    pub fallback_lifetime: Duration,
    /// The longest a session lasts from the sign-in; a log out the provider
    /// sends is remembered this long.
    pub max_lifetime: Duration,
    /// A request this close to the access token's expiry renews the session.
    pub refresh_skew: Duration,
    /// How long past the access token's expiry a session is served while
    /// the provider cannot renew it.
    pub refresh_grace: Duration,
    /// Whether cookies get the `Secure` attribute (public URL is https).
    pub secure_cookies: bool,
    /// The parent domain the session cookie is set for; `None`: the public
    /// URL's host only.
    pub cookie_domain: Option<String>,
    /// Where the replicas share the log-out list; `None`: this replica only.
    pub store: Option<StoreSettings>,
}

impl SessionSettings {
    /// The session cookie names to read, current first.
    pub fn cookie_names(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.cookie_name.as_str()).chain(self.legacy_cookie_name.as_deref())
    }

    /// Where the sidecar's other cookies (the pending sign-in, the CSRF
    /// pair, a known device) are sent: this host only, `Secure` over https.
    pub fn host_cookie_scope(&self) -> CookieScope<'static> {
        CookieScope::host(self.secure_cookies)
    }

    /// Where the session cookie is sent: `Secure` over https, and to every
    /// host under the cookie domain when there is one.
    pub fn cookie_scope(&self) -> CookieScope<'_> {
        CookieScope {
            secure: self.secure_cookies,
            domain: self.cookie_domain.as_deref(),
        }
    }
}

impl Settings {
    /// The hosts answered for and a browser may be sent back to.
    pub fn hosts(&self) -> Hosts<'_> {
        Hosts::new(&self.public_url, &self.other_hosts)
    }

    /// The signed identity's header, when the identity is signed.
    pub fn signed_identity_header(&self) -> Option<&HeaderName> {
        self.signed_identity.as_ref().map(|signed| &signed.header)
    }

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
        let root_admin = config.root_admin.as_ref().map(|root| RootAdmin {
            username: root.username.clone(),
            password_hash: root.password_hash_file.as_deref().and_then(|path| {
                password_hash(
                    &mut problems,
                    "rootAdmin.passwordHashFile",
                    path,
                    &read_file,
                )
            }),
            enrolment_code_hash: root.enrolment_code_hash_file.as_deref().and_then(|path| {
                password_hash(
                    &mut problems,
                    "rootAdmin.enrolmentCodeHashFile",
                    path,
                    &read_file,
                )
            }),
            session_lifetime: Duration::from_secs(root.session_lifetime_seconds),
        });
        let keys = key_ring(&mut problems, &config.session.key_file, &read_file);
        let ca_certificates = oidc
            .ca_file
            .as_deref()
            .and_then(|path| ca_certificates(&mut problems, path, &read_file))
            .unwrap_or_default();
        let store = config
            .session
            .store
            .as_ref()
            .map(|store| store_settings(&mut problems, store, &read_file));
        let cookie_name = &config.session.cookie_name;
        let roles = RoleMapping::new(
            &oidc.role_groups.admin,
            &oidc.role_groups.trusted,
            &oidc.allowed_groups,
        );
        // The contract's validation reported any bad entry with the rest.
        let allowed_email_domains = EmailDomains::parse(
            &mut Problems::default(),
            "oidc.allowedEmailDomains",
            &oidc.allowed_email_domains,
        );
        let identity_keys = config
            .signed_identity
            .as_ref()
            .and_then(|identity| identity_keys(&mut problems, &identity.key_file, &read_file));
        // The contract's validation reported any bad rule with the rest.
        let (access, _) = AccessRules::compile(&config.authorization);
        match (valid, client_secret, keys) {
            (Some(valid), Some(client_secret), Some(keys)) if problems.is_empty() => {
                let door = match valid.upstream {
                    None => Door::ForwardAuth,
                    Some(url) => {
                        let Some(authority) = authority_of(&url) else {
                            problems.push(
                                "upstream",
                                "must name a host and port an HTTP request can carry",
                            );
                            return Err(problems);
                        };
                        Door::Proxy(Upstream { url, authority })
                    }
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
                    grpc_listen: valid.grpc_listen,
                    door,
                    oidc: ProviderSettings {
                        issuer: valid.issuer,
                        client_id: oidc.client_id.clone(),
                        client_secret,
                        scopes: oidc.scopes.clone(),
                        username_claim: oidc.username_claim.clone(),
                        group_claim: valid.group_claim,
                        roles,
                        allowed_email_domains,
                        redirect_url: valid.redirect_url,
                        logout_at_provider: oidc.logout_at_provider,
                        back_channel_logout: oidc.back_channel_logout,
                        ca_certificates,
                    },
                    root_admin,
                    session: SessionSettings {
                        keys,
                        cookie_name: session_cookie_name(
                            cookie_name,
                            https,
                            valid.many_hosts.cookie_domain.is_some(),
                        ),
                        legacy_cookie_name: https.then(|| cookie_name.clone()),
                        fallback_lifetime: Duration::from_secs(
                            config.session.fallback_lifetime_seconds,
                        ),
                        max_lifetime: Duration::from_secs(config.session.max_lifetime_seconds),
                        refresh_skew: Duration::from_secs(config.session.refresh_skew_seconds),
                        refresh_grace: Duration::from_secs(config.session.refresh_grace_seconds),
                        secure_cookies: https,
                        cookie_domain: valid.many_hosts.cookie_domain,
                        store,
                    },
                    connections: ConnectionLimits::from(&config.connections),
                    trusted_proxies: valid.trusted_proxies,
                    public_url,
                    other_hosts: valid.many_hosts.hosts,
                    access,
                    bearer: config.bearer_tokens.clone(),
                    signed_identity,
                    config_hash: String::new(),
                })
            }
            _ => Err(problems),
        }
    }
}

#[cfg(test)]
mod tests;
