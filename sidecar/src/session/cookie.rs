//! Sealing sessions into cookies and reading them back.
//!
//! A cookie that is missing, tampered with, sealed by an unknown key,
//! unparsable or expired counts as no session; the reason is kept only for
//! metrics and debug logs, never shown with the cookie's value.

use super::keys::KeyRing;
use super::model::Session;
use super::split_cookie::{MAX_PART_LEN, MAX_PARTS, split};
use cookie::{Cookie, SameSite};
use http::HeaderMap;
use http::header::COOKIE;

/// Why a request carries no usable session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NoSession {
    /// No session cookie at all.
    #[error("no session cookie")]
    Missing,
    /// The cookie did not open with any key, or did not parse.
    #[error("session cookie is not valid")]
    Invalid,
    /// The session's expiry has passed.
    #[error("session has expired")]
    Expired,
}

/// A session that does not fit in the cookies a session may take even
/// without its ID token and refresh token: the browser would refuse it and
/// the login would start over, forever.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "the session needs {sealed_len} bytes, more than the {MAX_PARTS} cookies of {MAX_PART_LEN} bytes a session may take ({groups} groups)"
)]
pub struct SessionTooLarge {
    /// The sealed length without the tokens.
    pub sealed_len: usize,
    /// How many groups the session holds.
    pub groups: usize,
}

/// Seals `session` into the values of its cookies (one, or a few when it
/// is large: [`split`]). When even the allowed cookies are too few, it drops
/// what it can do without (the ID token, kept only for the provider's log
/// out; then the refresh token, so the session ends with its access token),
/// and refuses a session that still does not fit.
pub fn seal_session(
    keys: &KeyRing,
    name: &str,
    session: &Session,
) -> Result<Vec<String>, SessionTooLarge> {
    let sealed = keys.seal(name, &to_json(session));
    if let Some(parts) = split(&sealed) {
        return Ok(parts);
    }
    let without_id_token = Session {
        id_token: None,
        ..session.clone()
    };
    let sealed = keys.seal(name, &to_json(&without_id_token));
    if let Some(parts) = split(&sealed) {
        return Ok(parts);
    }
    let without_refresh = Session {
        refresh: None,
        ..without_id_token
    };
    let sealed = keys.seal(name, &to_json(&without_refresh));
    match split(&sealed) {
        Some(parts) => {
            if session.refresh.is_some() {
                tracing::warn!(user = %session.user.escape_debug(), "the session does not fit in its cookies with its refresh token: it ends with its access token");
            }
            Ok(parts)
        }
        None => Err(SessionTooLarge {
            sealed_len: sealed.len(),
            groups: session.groups.len(),
        }),
    }
}

/// `session` sealed into one cookie's value, for tests of what reads it.
#[cfg(test)]
pub(crate) fn seal_in_one(keys: &KeyRing, name: &str, session: &Session) -> String {
    let mut parts = seal_session(keys, name, session).expect("a test session fits");
    assert_eq!(parts.len(), 1, "a test session fits one cookie");
    parts.remove(0)
}

fn to_json(session: &Session) -> String {
    serde_json::to_string(session).unwrap_or_default()
}

/// Opens a sealed session value and checks its expiry against `now`.
pub fn open_session(
    keys: &KeyRing,
    name: &str,
    sealed: &str,
    now: u64,
) -> Result<Session, NoSession> {
    let json = keys.open(name, sealed).ok_or(NoSession::Invalid)?;
    let session: Session = serde_json::from_str(&json).map_err(|_| NoSession::Invalid)?;
    if session.is_expired(now) {
        return Err(NoSession::Expired);
    }
    Ok(session)
}

/// The pairs of the request's `Cookie` headers, read as bytes: a pair that
/// is not UTF-8 or has no `=` is skipped alone, so one odd cookie of the
/// app's (or a sibling site's) never hides the others.
pub fn request_cookie_pairs(headers: &HeaderMap) -> impl Iterator<Item = (&str, &str)> {
    headers
        .get_all(COOKIE)
        .iter()
        .flat_map(|value| cookie_header_pairs(value.as_bytes()))
        .filter_map(CookiePair::as_str)
        .filter_map(|pair| pair.trim().split_once('='))
        .map(|(name, value)| (name.trim(), value.trim()))
}

/// One `;`-separated pair of a `Cookie` header, untrimmed: text when the
/// whole header was UTF-8, else bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CookiePair<'a> {
    /// From a header that is UTF-8 throughout (nearly every one).
    Text(&'a str),
    /// From a header with a byte that is not UTF-8 somewhere.
    Bytes(&'a [u8]),
}

impl<'a> CookiePair<'a> {
    /// The pair as bytes, whatever they are.
    pub fn as_bytes(self) -> &'a [u8] {
        match self {
            Self::Text(text) => text.as_bytes(),
            Self::Bytes(bytes) => bytes,
        }
    }

    /// The pair as text, when it is UTF-8.
    pub fn as_str(self) -> Option<&'a str> {
        match self {
            Self::Text(text) => Some(text),
            Self::Bytes(bytes) => std::str::from_utf8(bytes).ok(),
        }
    }
}

/// The `;`-separated pairs of one `Cookie` header, the one splitter of the
/// header for reading cookies and for passing the app's on. A header that
/// is UTF-8 throughout is checked once and split as text, which looks for
/// `;` a word at a time rather than a byte at a time (the session cookie
/// alone is one or two KiB); any other header is split as bytes.
pub fn cookie_header_pairs(header: &[u8]) -> impl Iterator<Item = CookiePair<'_>> {
    let (text, odd): (&str, &[u8]) = match std::str::from_utf8(header) {
        Ok(text) => (text, &[]),
        Err(_) => ("", header),
    };
    text.split(';')
        .map(CookiePair::Text)
        .chain(odd.split(|byte| *byte == b';').map(CookiePair::Bytes))
}

/// Every value of the cookies called `name`, in the order sent: a browser
/// sends several when a parent or sibling domain planted one of the same
/// name, and the planted one may come first.
pub fn request_cookies<'a>(headers: &'a HeaderMap, name: &str) -> impl Iterator<Item = &'a str> {
    request_cookie_pairs(headers)
        .filter(move |(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// True for the session cookie and every `<session>_…` helper cookie the sidecar sets.
pub fn is_sidecar_cookie(session_cookie: &str, name: &str) -> bool {
    name.strip_prefix(session_cookie)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('_'))
}

/// Where a cookie is sent: over https only or not, and to the host that
/// set it or to every host under a parent domain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CookieScope<'a> {
    /// Whether the cookie gets `Secure`.
    pub secure: bool,
    /// The parent domain named in `Domain`; `None`: this host only.
    pub domain: Option<&'a str>,
}

impl CookieScope<'_> {
    /// This host only, `Secure` when `secure`.
    pub fn host(secure: bool) -> Self {
        Self {
            secure,
            domain: None,
        }
    }
}

/// A `Set-Cookie` value: `HttpOnly`, `SameSite=Lax`, path `/`, `Secure`
/// and `Domain` as `scope` says.
pub fn set_cookie(name: &str, value: String, max_age_seconds: i64, scope: CookieScope) -> String {
    let mut cookie = Cookie::build((name.to_owned(), value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(scope.secure)
        .max_age(cookie::time::Duration::seconds(max_age_seconds.max(0)));
    if let Some(domain) = scope.domain {
        cookie = cookie.domain(domain.to_owned());
    }
    cookie.build().to_string()
}

/// A `Set-Cookie` value that deletes the cookie called `name` in `scope`:
/// a browser deletes only the cookie of the same name, path and domain.
pub fn clear_cookie(name: &str, scope: CookieScope) -> String {
    set_cookie(name, String::new(), 0, scope)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::roles::Role;
    use crate::session::model::LoginMethod;
    use http::HeaderValue;
    use portcullis_contract::session_keys::generate_key_line;

    fn keys() -> KeyRing {
        KeyRing::parse(&generate_key_line()).expect("key")
    }

    fn session(expires_at: u64) -> Session {
        Session {
            sid: "sid".into(),
            user: "alice".into(),
            email: Some("alice@example.com".into()),
            preferred_username: Some("alice".into()),
            groups: vec!["admin".into()],
            role: Role::Admin,
            root: false,
            method: LoginMethod::Oidc,
            expires_at,
            id_token: Some("header.payload.signature".into()),
            provider: None,
            refresh: None,
        }
    }

    #[test]
    fn a_sealed_session_opens_until_it_expires() {
        let keys = keys();
        let sealed = seal_in_one(&keys, "s", &session(100));
        assert_eq!(open_session(&keys, "s", &sealed, 99), Ok(session(100)));
        assert_eq!(
            open_session(&keys, "s", &sealed, 100),
            Err(NoSession::Expired)
        );
    }

    #[test]
    fn tampered_cookie_is_rejected() {
        let keys = keys();
        let sealed = seal_in_one(&keys, "s", &session(100));
        // Always a different first character: sealed values start with any base64 letter.
        let first = if sealed.starts_with('A') { 'B' } else { 'A' };
        let tampered = format!("{first}{}", &sealed[1..]);
        assert_ne!(tampered, sealed);
        assert_eq!(
            open_session(&keys, "s", &tampered, 0),
            Err(NoSession::Invalid)
        );
        let forged = keys.seal("s", "{\"user\":\"mallory\"}");
        assert_eq!(
            open_session(&keys, "s", &forged, 0),
            Err(NoSession::Invalid)
        );
    }

    #[test]
    fn a_large_id_token_takes_more_cookies_and_a_huge_one_is_dropped() {
        let keys = keys();
        let mut large = session(100);
        large.id_token = Some("x".repeat(4000));
        let parts = seal_session(&keys, "s", &large).expect("fits in parts");
        assert_eq!(parts.len(), 2);
        assert!(parts.iter().all(|part| part.len() <= MAX_PART_LEN));
        let mut huge = session(100);
        huge.id_token = Some("x".repeat(20_000));
        let parts = seal_session(&keys, "s", &huge).expect("fits without the token");
        assert_eq!(parts.len(), 1);
        let opened = open_session(&keys, "s", &parts[0], 0).expect("opens");
        assert_eq!(opened.id_token, None);
        assert_eq!(opened.user, "alice");
    }

    fn values<'a>(headers: &'a HeaderMap, name: &str) -> Vec<&'a str> {
        request_cookies(headers, name).collect()
    }

    #[test]
    fn a_session_too_large_for_a_cookie_is_refused_not_sealed() {
        let keys = keys();
        let mut crowded = session(100);
        crowded.groups = (0..100)
            .map(|n| format!("{n:03}{}", "g".repeat(120)))
            .collect();
        let refused = seal_session(&keys, "s", &crowded).expect_err("too large");
        assert_eq!(refused.groups, 100);
        assert!(refused.sealed_len > MAX_PARTS * MAX_PART_LEN);
    }

    #[test]
    fn request_cookies_finds_the_named_cookie_among_many() {
        let mut headers = HeaderMap::new();
        headers.append(COOKIE, HeaderValue::from_static("a=1; s=two; b=3"));
        headers.append(COOKIE, HeaderValue::from_static("c=4"));
        assert_eq!(values(&headers, "s"), ["two"]);
        assert_eq!(values(&headers, "c"), ["4"]);
        assert!(values(&headers, "missing").is_empty());
    }

    #[test]
    fn a_non_ascii_cookie_hides_no_other_cookie() {
        let mut headers = HeaderMap::new();
        let odd = HeaderValue::from_bytes(b"theme=d\xc3\xa9j\xe0; s=mine; broken; lang=fr")
            .expect("obs-text is a valid header value");
        headers.append(COOKIE, odd);
        assert_eq!(values(&headers, "s"), ["mine"]);
        assert_eq!(values(&headers, "lang"), ["fr"]);
        assert!(
            values(&headers, "theme").is_empty(),
            "not UTF-8: skipped alone"
        );
    }

    #[test]
    fn a_utf8_header_and_an_odd_one_are_read_alike() {
        let mut headers = HeaderMap::new();
        let text = HeaderValue::from_bytes("theme=déjà;s=first ; =x; lone".as_bytes())
            .expect("obs-text is a valid header value");
        let odd = HeaderValue::from_bytes(b"bad=\xff;s=second").expect("obs-text");
        headers.append(COOKIE, text);
        headers.append(COOKIE, odd);
        assert_eq!(values(&headers, "theme"), ["déjà"]);
        assert_eq!(values(&headers, "s"), ["first", "second"]);
        assert_eq!(values(&headers, ""), ["x"]);
        assert!(values(&headers, "bad").is_empty());
        assert!(values(&headers, "lone").is_empty());
    }

    #[test]
    fn every_cookie_of_a_name_is_offered_in_order() {
        let mut headers = HeaderMap::new();
        headers.append(COOKIE, HeaderValue::from_static("s=planted; s=real"));
        assert_eq!(values(&headers, "s"), ["planted", "real"]);
    }

    #[test]
    fn the_sidecars_cookies_are_recognised_by_name() {
        for name in ["s", "s_login_abc", "s_csrf"] {
            assert!(is_sidecar_cookie("s", name), "{name}");
        }
        for name in ["session", "app", "s2", "x_s"] {
            assert!(!is_sidecar_cookie("s", name), "{name}");
        }
    }

    #[test]
    fn set_cookie_carries_the_safety_attributes() {
        let header = set_cookie("s", "v".into(), 60, CookieScope::host(true));
        for part in [
            "s=v",
            "HttpOnly",
            "SameSite=Lax",
            "Secure",
            "Path=/",
            "Max-Age=60",
        ] {
            assert!(header.contains(part), "{part} missing from {header}");
        }
        assert!(!header.contains("Domain"), "{header}");
        assert!(!set_cookie("s", "v".into(), 60, CookieScope::host(false)).contains("Secure"));
        assert!(clear_cookie("s", CookieScope::host(false)).contains("Max-Age=0"));
    }

    #[test]
    fn a_cookie_for_a_parent_domain_names_it_and_so_does_its_clear() {
        let scope = CookieScope {
            secure: true,
            domain: Some("example.com"),
        };
        for header in [
            set_cookie("s", "v".into(), 60, scope),
            clear_cookie("s", scope),
        ] {
            assert!(header.contains("Domain=example.com"), "{header}");
            assert!(header.contains("Secure"), "{header}");
        }
    }
}
