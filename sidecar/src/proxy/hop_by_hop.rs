//! Headers that belong to one hop, and the sidecar's own cookies: removed
//! from what the proxy forwards.
//!
//! Hop-by-hop headers (RFC 9110 §7.6.1) describe the client's connection to
//! the sidecar, not the request; forwarded, they would let a client steer
//! the sidecar's connection to the app (an `h2c` upgrade above all). The
//! sidecar's cookies (the session and its helpers) are no business of the
//! app's; the app's own cookies pass byte for byte.

use crate::session::cookie::cookie_header_pairs;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};

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
        .map(|pair| pair.as_bytes().trim_ascii())
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

#[cfg(test)]
mod tests {
    use super::*;

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
