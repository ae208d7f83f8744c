//! The names a session cookie is sent under, one reading for the sidecar
//! that sets them and the operator that tells a proxy which to pass on.
//!
//! Over https the configured name gets a prefix the browser enforces:
//! `__Host-` binds the cookie to exactly the host that set it, so nobody on
//! a sibling or parent domain can plant one; `__Secure-` is what is left
//! when the cookie names a parent domain (`session.cookieDomain`), which
//! `__Host-` forbids. A session too large for one cookie continues in
//! numbered part cookies.

/// The prefix of a cookie bound to one host (RFC 6265bis §4.1.3.2).
pub const HOST_PREFIX: &str = "__Host-";
/// The prefix of a cookie only a secure origin may set (RFC 6265bis §4.1.3.1).
pub const SECURE_PREFIX: &str = "__Secure-";

/// At most this many cookies per session: three are about 11 KiB a
/// request, past which an ingress's header buffers (8 KiB by default in
/// nginx) need raising for less and less benefit.
pub const MAX_PARTS: usize = 3;

/// The session cookie's name for `configured`, over https or not, set for a
/// parent domain or not.
pub fn session_cookie_name(configured: &str, https: bool, for_a_domain: bool) -> String {
    match (https, for_a_domain) {
        (true, false) => format!("{HOST_PREFIX}{configured}"),
        (true, true) => format!("{SECURE_PREFIX}{configured}"),
        (false, _) => configured.to_owned(),
    }
}

/// The cookie that holds part `index` (from 1) of the session cookie `name`.
pub fn part_name(name: &str, index: usize) -> String {
    format!("{name}_{index}")
}

/// Every name a session under the cookie `name` may be sent in: the cookie
/// and its parts.
pub fn session_cookie_names(name: &str) -> Vec<String> {
    std::iter::once(name.to_owned())
        .chain((1..MAX_PARTS).map(|index| part_name(name, index)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prefix_follows_the_scheme_and_the_domain() {
        assert_eq!(session_cookie_name("s", true, false), "__Host-s");
        assert_eq!(session_cookie_name("s", true, true), "__Secure-s");
        assert_eq!(session_cookie_name("s", false, true), "s");
        assert_eq!(
            session_cookie_names("__Host-s"),
            ["__Host-s", "__Host-s_1", "__Host-s_2"]
        );
    }
}
