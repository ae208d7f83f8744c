//! Fixed paths both sides build URLs from.
//!
//! The operator checks a discovery URL and tells people the redirect URI to
//! register; the sidecar serves the callback and derives the issuer. Both
//! must use the same strings.

/// Suffix every discovery URL ends with (OpenID Connect Discovery 1.0 §4);
/// the issuer is the URL without it.
pub const WELL_KNOWN_SUFFIX: &str = "/.well-known/openid-configuration";

/// The path the identity provider redirects back to: the redirect URI is
/// `publicUrl` + this.
pub const CALLBACK_PATH: &str = "/auth/oidc";
/// Where the provider posts back-channel logout tokens: the URL to
/// register at the provider is the public URL with this path.
pub const BACKCHANNEL_LOGOUT_PATH: &str = "/auth/backchannel-logout";
/// Where the provider's sign-out page frames the front-channel logout.
pub const FRONTCHANNEL_LOGOUT_PATH: &str = "/auth/frontchannel-logout";

/// Where a forward-auth service answers a proxy's question about a
/// request it holds (nginx's `auth_request`, ingress-nginx's `auth-url`,
/// Traefik's `ForwardAuth`).
pub const FORWARD_AUTH_PATH: &str = "/auth/verify";
/// Where Envoy's HTTP `ext_authz` asks a forward-auth service: its
/// `path_prefix`, before the original request's path; the check request
/// carries the original method and `Host`.
pub const ENVOY_AUTHZ_PREFIX: &str = "/auth/envoy";

/// Where a browser starts signing in, with `rd` the page to come back to.
pub const SIGN_IN_START_PATH: &str = "/auth/start";

/// The identity headers an app behind the sidecar or a forward-auth
/// service receives, as a proxy copies them from an answer.
pub const IDENTITY_HEADERS: [&str; 6] = [
    "X-Forwarded-User",
    "X-Forwarded-Groups",
    "X-Forwarded-Email",
    "X-Forwarded-Preferred-Username",
    "X-Portcullis-Role",
    "X-Portcullis-Root",
];

/// Liveness path on the sidecar's admin port.
pub const HEALTHZ_PATH: &str = "/healthz";
/// Readiness path on the sidecar's admin port.
pub const READYZ_PATH: &str = "/readyz";

/// Folder where, in Kubernetes, the sidecar sees the generated Secret; the
/// generated config names its files under it.
pub const SECRET_DIR: &str = "/etc/portcullis/secret";
/// Folder where, in Kubernetes, the sidecar sees the generated ConfigMap.
pub const CONFIG_DIR: &str = "/etc/portcullis/config";
/// File name of the sidecar config inside [`CONFIG_DIR`] (the ConfigMap key).
pub const CONFIG_FILE: &str = "sidecar.yaml";

/// Where the sidecar publishes the public keys of the signed identity, as a
/// JWKS, on its public port and without a session.
pub const JWKS_PATH: &str = "/.well-known/portcullis/jwks.json";
