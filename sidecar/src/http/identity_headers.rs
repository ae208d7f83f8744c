//! The headers that tell the app who is calling, and the ones it must never see.
//!
//! Whatever the client sent under an identity or forwarding header name, in
//! any spelling an app server may read as that name, is removed first, so
//! only the sidecar speaks for the user. The sidecar's own cookies are
//! removed too: the app has no use for them and should not hold them.

use crate::session::Session;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};

/// `X-Forwarded-User`: the username.
pub const USER: HeaderName = HeaderName::from_static("x-forwarded-user");
/// `X-Forwarded-Groups`: the groups, comma-separated.
pub const GROUPS: HeaderName = HeaderName::from_static("x-forwarded-groups");
/// `X-Forwarded-Email`: the email claim.
pub const EMAIL: HeaderName = HeaderName::from_static("x-forwarded-email");
/// `X-Forwarded-Preferred-Username`: the `preferred_username` claim.
pub const PREFERRED_USERNAME: HeaderName =
    HeaderName::from_static("x-forwarded-preferred-username");
/// `X-Portcullis-Role`: `untrusted`, `trusted` or `admin`.
pub const ROLE: HeaderName = HeaderName::from_static("x-portcullis-role");
/// `X-Portcullis-Root`: `true` for the root admin, else `false`.
pub const ROOT: HeaderName = HeaderName::from_static("x-portcullis-root");

/// Name prefixes of request headers only the sidecar may set: its own, and
/// the forwarding headers an app reads to learn who and where the client is.
const OWNED_PREFIXES: [&str; 2] = ["x-portcullis-", "x-forwarded-"];
/// Names of request headers only the sidecar may set, beside the prefixes.
const OWNED_NAMES: [&str; 2] = ["forwarded", "x-real-ip"];

/// Headers a `Connection` header may never remove: they carry the request
/// itself (`Host`, `Cookie`, the body's length) or the sidecar's word on it.
const NEVER_HOP_BY_HOP: [HeaderName; 4] = [
    header::HOST,
    header::COOKIE,
    header::CONTENT_LENGTH,
    header::AUTHORIZATION,
];

/// Hop-by-hop headers (RFC 9110 §7.6.1) never forwarded as they are, with
/// `Proxy-Connection` (still sent by some clients) and `HTTP2-Settings`
/// (only meaningful with an `h2c` upgrade, which is never passed on).
const HOP_BY_HOP: [HeaderName; 9] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    HeaderName::from_static("http2-settings"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
];

/// True for a header name only the sidecar may send to the app, however the
/// client spelled it: servers in the CGI tradition (WSGI, PHP, Rack) read
/// `X_Forwarded_User` and `X-Forwarded-User` as the same variable, so `_`
/// counts as `-` here. Header names arrive lowercased.
pub fn is_sidecar_owned(name: &HeaderName) -> bool {
    let name = name.as_str().as_bytes();
    OWNED_NAMES
        .iter()
        .any(|owned| same_name(name, owned.as_bytes()))
        || OWNED_PREFIXES.iter().any(|prefix| {
            name.len() >= prefix.len() && same_name(&name[..prefix.len()], prefix.as_bytes())
        })
}

/// Compares two lowercase header names, reading `_` as `-`.
fn same_name(name: &[u8], owned: &[u8]) -> bool {
    let dash = |byte: &u8| if *byte == b'_' { b'-' } else { *byte };
    name.len() == owned.len() && name.iter().map(dash).eq(owned.iter().copied())
}

/// Removes every identity and forwarding header a client may have sent,
/// however it is spelled, before the sidecar sets its own.
pub fn strip_identity_headers(headers: &mut HeaderMap) {
    let owned: Vec<HeaderName> = headers
        .keys()
        .filter(|name| is_sidecar_owned(name))
        .cloned()
        .collect();
    for name in owned {
        headers.remove(name);
    }
}

/// Removes every spelling of `name` (case, `_` for `-`): for a header the
/// sidecar sets under a configured name outside its own prefixes.
pub fn strip_header_spellings(headers: &mut HeaderMap, name: &HeaderName) {
    let spellings: Vec<HeaderName> = headers
        .keys()
        .filter(|sent| same_name(sent.as_str().as_bytes(), name.as_str().as_bytes()))
        .cloned()
        .collect();
    for spelling in spellings {
        headers.remove(spelling);
    }
}

/// Removes hop-by-hop headers, including those named in `Connection`
/// (except the end-to-end ones it may not remove); keeps `Upgrade` when asked.
///
/// The names are looked for among those present, in one pass: most
/// requests and answers carry none of them, and removing an absent name
/// costs a hash and a probe each.
pub fn strip_hop_by_hop(headers: &mut HeaderMap, keep_upgrade: bool) {
    let named_in_connection = headers
        .get_all(header::CONNECTION)
        .iter()
        .flat_map(|value| value.as_bytes().split(|byte| *byte == b','))
        .filter_map(|name| HeaderName::from_bytes(name.trim_ascii()).ok())
        .filter(|name| !NEVER_HOP_BY_HOP.contains(name));
    let present: Vec<HeaderName> = headers
        .keys()
        .filter(|name| HOP_BY_HOP.contains(name) || *name == header::UPGRADE)
        .cloned()
        .chain(named_in_connection)
        .filter(|name| !(keep_upgrade && name == header::UPGRADE))
        .collect();
    for name in present {
        headers.remove(name);
    }
    if keep_upgrade {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    }
}

/// Removes the cookies whose name `remove` picks from the `Cookie` headers,
/// keeping the app's own byte for byte, even those that are not UTF-8.
pub fn strip_cookies(headers: &mut HeaderMap, remove: impl Fn(&str) -> bool) {
    if !headers.contains_key(header::COOKIE) {
        return;
    }
    let mut kept: Vec<u8> = Vec::new();
    for pair in headers
        .get_all(header::COOKIE)
        .iter()
        .flat_map(|value| cookie_header_pairs(value.as_bytes()))
        .map(<[u8]>::trim_ascii)
        .filter(|pair| !pair.is_empty())
    {
        let name = pair.split(|byte| *byte == b'=').next().unwrap_or(pair);
        if std::str::from_utf8(name.trim_ascii()).is_ok_and(&remove) {
            continue;
        }
        if !kept.is_empty() {
            kept.extend_from_slice(b"; ");
        }
        kept.extend_from_slice(pair);
    }
    headers.remove(header::COOKIE);
    if let Ok(value) = HeaderValue::from_bytes(&kept)
        && !kept.is_empty()
    {
        headers.insert(header::COOKIE, value);
    }
}

/// The `;`-separated pairs of one `Cookie` header, as bytes. A header that
/// is UTF-8 throughout (nearly every one) is split as text, which looks for
/// `;` a word at a time rather than a byte at a time: the session cookie
/// alone is one or two KiB.
fn cookie_header_pairs(header: &[u8]) -> impl Iterator<Item = &[u8]> {
    let (text, odd): (&str, &[u8]) = match std::str::from_utf8(header) {
        Ok(text) => (text, &[]),
        Err(_) => ("", header),
    };
    text.split(';')
        .map(str::as_bytes)
        .chain(odd.split(|byte| *byte == b';'))
}

/// An identity value no header can carry; the request is refused rather
/// than forwarded with that header missing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the session's `{0}` cannot be passed to the application in a header")]
pub struct Unforwardable(pub &'static str);

/// Sets the identity headers for `session` (after [`strip_identity_headers`]),
/// all of them or none.
pub fn add_identity_headers(
    headers: &mut HeaderMap,
    session: &Session,
) -> Result<(), Unforwardable> {
    let value = |field: &'static str, text: &str| {
        HeaderValue::from_bytes(text.as_bytes()).map_err(|_| Unforwardable(field))
    };
    let user = value("user", &session.user)?;
    let groups = (!session.groups.is_empty())
        .then(|| value("groups", &encode_groups(&session.groups)))
        .transpose()?;
    let email = session
        .email
        .as_deref()
        .map(|email| value("email", email))
        .transpose()?;
    let preferred = session
        .preferred_username
        .as_deref()
        .map(|preferred| value("preferred_username", preferred))
        .transpose()?;
    headers.insert(USER, user);
    // No groups: no header (an empty one reads as a group named "" to some apps).
    if let Some(groups) = groups {
        headers.insert(GROUPS, groups);
    }
    if let Some(email) = email {
        headers.insert(EMAIL, email);
    }
    if let Some(preferred) = preferred {
        headers.insert(PREFERRED_USERNAME, preferred);
    }
    headers.insert(ROLE, HeaderValue::from_static(session.role.as_str()));
    headers.insert(
        ROOT,
        HeaderValue::from_static(if session.root { "true" } else { "false" }),
    );
    Ok(())
}

/// The groups for `X-Forwarded-Groups`: comma-separated, each name
/// percent-encoded where it holds `%`, `,` or a byte outside visible ASCII,
/// so a group named `admin,staff` stays one group (`admin%2Cstaff`) and
/// every name fits a header.
pub fn encode_groups(groups: &[String]) -> String {
    let mut joined = String::new();
    for (index, group) in groups.iter().enumerate() {
        if index > 0 {
            joined.push(',');
        }
        for byte in group.bytes() {
            if byte.is_ascii_graphic() && byte != b'%' && byte != b',' || byte == b' ' {
                joined.push(char::from(byte));
            } else {
                joined.push_str(&format!("%{byte:02X}"));
            }
        }
    }
    joined
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::roles::Role;
    use crate::session::LoginMethod;

    fn session() -> Session {
        Session {
            sid: "x".into(),
            user: "alice".into(),
            email: None,
            preferred_username: Some("alice".into()),
            groups: vec!["admin".into(), "staff".into()],
            role: Role::Admin,
            root: false,
            method: LoginMethod::Oidc,
            expires_at: 0,
            id_token: None,
        }
    }

    #[test]
    fn a_user_without_groups_gets_no_groups_header_even_if_the_client_sent_one() {
        let mut headers = HeaderMap::new();
        headers.insert("X-Forwarded-Groups", HeaderValue::from_static("admin"));
        let mut session = session();
        session.groups.clear();
        strip_identity_headers(&mut headers);
        add_identity_headers(&mut headers, &session).expect("forwardable");
        assert_eq!(headers.get(GROUPS), None);
        assert_eq!(headers[USER], "alice");
    }

    #[test]
    fn spoofed_identity_headers_are_replaced_not_appended() {
        let mut headers = HeaderMap::new();
        headers.insert("X-Forwarded-User", HeaderValue::from_static("root"));
        headers.append("x-forwarded-user", HeaderValue::from_static("root2"));
        headers.insert("X-Forwarded-Email", HeaderValue::from_static("root@evil"));
        headers.insert("X-Portcullis-Root", HeaderValue::from_static("true"));
        headers.insert("X-Portcullis-Anything", HeaderValue::from_static("1"));
        strip_identity_headers(&mut headers);
        add_identity_headers(&mut headers, &session()).expect("forwardable");
        assert_eq!(headers.get_all(USER).iter().count(), 1);
        assert_eq!(headers[USER], "alice");
        assert_eq!(headers.get(EMAIL), None);
        assert_eq!(headers[ROOT], "false");
        assert_eq!(headers[ROLE], "admin");
        assert_eq!(headers[GROUPS], "admin,staff");
        assert!(headers.get("x-portcullis-anything").is_none());
    }

    #[test]
    fn underscore_spellings_of_owned_headers_are_stripped() {
        let mut headers = HeaderMap::new();
        for name in [
            "x_portcullis_role",
            "x_forwarded_user",
            "X-Forwarded_Groups",
            "x_real_ip",
            "forwarded",
            "x-forwarded-prefix",
            "x_forwarded_port",
        ] {
            headers.insert(
                HeaderName::try_from(name).expect("name"),
                HeaderValue::from_static("spoofed"),
            );
        }
        headers.insert("x_app_header", HeaderValue::from_static("kept"));
        headers.insert("x-forwardedness", HeaderValue::from_static("kept"));
        strip_identity_headers(&mut headers);
        let left: Vec<&str> = headers.keys().map(HeaderName::as_str).collect();
        assert_eq!(left.len(), 2, "{left:?}");
        assert!(headers.contains_key("x_app_header"));
        assert!(headers.contains_key("x-forwardedness"));
    }

    #[test]
    fn every_spelling_of_a_configured_header_is_stripped() {
        let mut headers = HeaderMap::new();
        for name in ["x-jwt-assertion", "X_Jwt_Assertion", "x-jwt_assertion"] {
            headers.append(
                HeaderName::try_from(name).expect("name"),
                HeaderValue::from_static("forged"),
            );
        }
        headers.insert("x-jwt-assertions", HeaderValue::from_static("kept"));
        strip_header_spellings(&mut headers, &HeaderName::from_static("x-jwt-assertion"));
        let left: Vec<&str> = headers.keys().map(HeaderName::as_str).collect();
        assert_eq!(left, ["x-jwt-assertions"]);
    }

    #[test]
    fn connection_cannot_remove_end_to_end_headers() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONNECTION,
            HeaderValue::from_static("host, cookie, content-length, authorization, x-private"),
        );
        headers.insert(header::HOST, HeaderValue::from_static("app.example"));
        headers.insert(header::COOKIE, HeaderValue::from_static("app=1"));
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic x"));
        headers.insert("x-private", HeaderValue::from_static("1"));
        headers.insert(
            "http2-settings",
            HeaderValue::from_static("AAMAAABkAAQAoAAAAAIAAAAA"),
        );
        strip_hop_by_hop(&mut headers, false);
        let mut left: Vec<&str> = headers.keys().map(HeaderName::as_str).collect();
        left.sort_unstable();
        assert_eq!(left, ["authorization", "content-length", "cookie", "host"]);
    }

    #[test]
    fn a_group_name_with_a_comma_stays_one_group() {
        let groups = ["admin,staff", "100%", "Ärzte", "plain one"].map(String::from);
        assert_eq!(
            encode_groups(&groups),
            "admin%2Cstaff,100%25,%C3%84rzte,plain one"
        );
    }

    #[test]
    fn a_session_value_no_header_can_carry_forwards_nothing() {
        let mut bad = session();
        bad.user = "a\nb".into();
        let mut headers = HeaderMap::new();
        assert_eq!(
            add_identity_headers(&mut headers, &bad),
            Err(Unforwardable("user"))
        );
        assert!(headers.is_empty());
    }

    #[test]
    fn only_the_sidecars_cookies_are_removed() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("app=1; s=secret; s_login=x"),
        );
        headers.append(header::COOKIE, HeaderValue::from_static("theme=dark"));
        strip_cookies(&mut headers, |name| name == "s" || name == "s_login");
        assert_eq!(headers[header::COOKIE], "app=1; theme=dark");
        let mut only_ours = HeaderMap::new();
        only_ours.insert(header::COOKIE, HeaderValue::from_static("s=secret"));
        strip_cookies(&mut only_ours, |name| name == "s");
        assert!(only_ours.get(header::COOKIE).is_none());
    }

    #[test]
    fn the_apps_non_ascii_cookies_pass_unchanged() {
        let mut headers = HeaderMap::new();
        let odd = HeaderValue::from_bytes(b"theme=d\xe9j\xe0; s=secret; lang=fr").expect("value");
        headers.insert(header::COOKIE, odd);
        strip_cookies(&mut headers, |name| name == "s");
        assert_eq!(
            headers[header::COOKIE].as_bytes(),
            b"theme=d\xe9j\xe0; lang=fr"
        );
    }

    #[test]
    fn hop_by_hop_headers_are_dropped_unless_upgrading() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, x-private"),
        );
        headers.insert("x-private", HeaderValue::from_static("1"));
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        let mut upgrading = headers.clone();
        strip_hop_by_hop(&mut headers, false);
        assert!(headers.is_empty(), "{headers:?}");
        upgrading.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        strip_hop_by_hop(&mut upgrading, true);
        assert_eq!(upgrading[header::UPGRADE], "websocket");
        assert_eq!(upgrading[header::CONNECTION], "upgrade");
    }

    #[test]
    fn headers_named_beside_a_non_ascii_connection_token_are_still_dropped() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONNECTION,
            HeaderValue::from_bytes(b"x-private, caf\xe9").expect("opaque bytes"),
        );
        headers.insert("x-private", HeaderValue::from_static("1"));
        strip_hop_by_hop(&mut headers, false);
        assert!(headers.is_empty(), "{headers:?}");
    }
}
