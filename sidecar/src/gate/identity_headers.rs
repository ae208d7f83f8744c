//! The headers that tell the app who is calling, and the ones it must never see.
//!
//! Whatever the client sent under an identity or forwarding header name, in
//! any spelling an app server may read as that name, is removed first, so
//! only the sidecar speaks for the user. So is every header by which app
//! servers and frameworks route a request to another path than the one the
//! gate judged. The sidecar's own cookies are removed too: the app has no
//! use for them and should not hold them.

use crate::session::Session;
use http::header::{HeaderMap, HeaderName, HeaderValue};

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

/// Every header of the identity, in the order above.
pub const IDENTITY: [HeaderName; 6] = [USER, GROUPS, EMAIL, PREFERRED_USERNAME, ROLE, ROOT];

/// Name prefixes of request headers only the sidecar may set: its own, and
/// the forwarding headers an app reads to learn who and where the client is.
const OWNED_PREFIXES: [&str; 2] = ["x-portcullis-", "x-forwarded-"];
/// Names of request headers only the sidecar may set, beside the prefixes:
/// forwarding headers, and headers that rewrite the request's URL or method
/// in app servers (Symfony and Laravel read `X-Original-URL` and
/// `X-Rewrite-URL`, IIS sets them, nginx setups pass `X-Original-URI` and
/// `X-Original-Method`, Envoy `X-Envoy-Original-Path`). The gate judged the
/// request's own path, so the app must route by it alone.
const OWNED_NAMES: [&str; 7] = [
    "forwarded",
    "x-real-ip",
    "x-original-url",
    "x-original-uri",
    "x-original-method",
    "x-rewrite-url",
    "x-envoy-original-path",
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
pub(crate) fn same_name(name: &[u8], owned: &[u8]) -> bool {
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
    use crate::access::roles::Role;
    use crate::session::LoginMethod;

    #[test]
    fn the_identity_headers_are_the_ones_the_contract_tells_proxies_to_copy() {
        let contract = portcullis_contract::paths::IDENTITY_HEADERS
            .map(|name| HeaderName::from_bytes(name.as_bytes()).expect("header name"));
        assert_eq!(IDENTITY, contract);
    }

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
            provider: None,
            refresh: None,
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
}
