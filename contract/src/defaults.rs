//! The value of every config field that may be left out, as named constants.
//!
//! The sidecar fills a missing field with these; the operator's CRD offers
//! the same defaults and renders the fields it does not expose from them. One
//! definition means the two cannot disagree about what an empty field means.

/// The scope every scope list must contain: without it there is no ID token.
pub const REQUIRED_SCOPE: &str = "openid";

/// `listen`: the proxy's address.
pub const DEFAULT_LISTEN: &str = "0.0.0.0:4180";
/// `adminListen`: the health and metrics address.
pub const DEFAULT_ADMIN_LISTEN: &str = "0.0.0.0:9090";
/// `oidc.scopes`: the scopes requested at login.
pub const DEFAULT_SCOPES: &[&str] = &[REQUIRED_SCOPE, "profile", "email"];
/// `oidc.usernameClaim`: the claim read as the username.
pub const DEFAULT_USERNAME_CLAIM: &str = "preferred_username";
/// `oidc.groupClaim`: the claim read as the groups.
pub const DEFAULT_GROUP_CLAIM: &str = "groups";
/// `oidc.roleGroups.admin`: the group that makes a user admin.
pub const DEFAULT_ADMIN_GROUP: &str = "admin";
/// `oidc.roleGroups.trusted`: the group that makes a user trusted.
pub const DEFAULT_TRUSTED_GROUP: &str = "trusted";
/// `oidc.logoutAtProvider`: log out at the provider too, when it allows it.
pub const DEFAULT_LOGOUT_AT_PROVIDER: bool = true;
/// `oidc.backChannelLogout`: accept the provider's back-channel logout
/// tokens, when it says it sends them.
pub const DEFAULT_BACK_CHANNEL_LOGOUT: bool = true;
/// `session.maxLifetimeSeconds`: the longest a session lasts from the
/// sign-in, whatever the provider's token says (a day).
pub const DEFAULT_MAX_SESSION_LIFETIME_SECONDS: u64 = 24 * 3600;
/// `session.refreshSkewSeconds`: a session is refreshed when a request
/// comes this close to its access token's expiry.
pub const DEFAULT_REFRESH_SKEW_SECONDS: u64 = 60;
/// `session.refreshGraceSeconds`: how long past its access token's expiry
/// a session is still served while the provider cannot refresh it.
pub const DEFAULT_REFRESH_GRACE_SECONDS: u64 = 300;
/// The largest `session.refreshSkewSeconds` accepted.
pub const MAX_REFRESH_SKEW_SECONDS: u64 = 3600;
/// The largest `session.refreshGraceSeconds` accepted.
pub const MAX_REFRESH_GRACE_SECONDS: u64 = 86_400;
/// The bounds of `session.maxLifetimeSeconds`: a minute to a year.
pub const MAX_SESSION_LIFETIME_RANGE: std::ops::RangeInclusive<u64> = 60..=31_536_000;
/// `rootAdmin.sessionLifetimeSeconds`: how long a backup-login session lasts (8 hours).
pub const DEFAULT_ROOT_SESSION_LIFETIME_SECONDS: u64 = 8 * 3600;
/// `session.cookieName`: the session cookie's name.
pub const DEFAULT_COOKIE_NAME: &str = "portcullis_session";
/// `session.fallbackLifetimeSeconds`: session lifetime when the provider sends no `expires_in` (1 hour).
pub const DEFAULT_FALLBACK_LIFETIME_SECONDS: u64 = 3600;
/// `connections.headerReadTimeoutSeconds`: time to send a request head, or to stay idle between requests.
pub const DEFAULT_HEADER_READ_TIMEOUT_SECONDS: u64 = 10;
/// `connections.maxConnections`: client connections open at once.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;
/// `connections.maxRequestHeadBytes`: the largest request head accepted (64 KiB).
pub const DEFAULT_MAX_REQUEST_HEAD_BYTES: usize = 64 * 1024;

/// `signedIdentity.headerName`: the request header that carries the signed identity.
pub const DEFAULT_IDENTITY_HEADER: &str = "X-Portcullis-Identity";
/// `signedIdentity.lifetimeSeconds`: seconds a signed identity stays valid.
pub const DEFAULT_IDENTITY_LIFETIME_SECONDS: u64 = 60;

/// The port of [`DEFAULT_LISTEN`]: where the sidecar takes the app's traffic.
pub const DEFAULT_PORT: u16 = 4180;
/// The port of [`DEFAULT_ADMIN_LISTEN`]: health and metrics.
pub const DEFAULT_ADMIN_PORT: u16 = 9090;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses_use_the_named_ports() {
        assert!(DEFAULT_LISTEN.ends_with(&format!(":{DEFAULT_PORT}")));
        assert!(DEFAULT_ADMIN_LISTEN.ends_with(&format!(":{DEFAULT_ADMIN_PORT}")));
    }
}
