//! Whatever headers a client sends, the app hears only the sidecar's word
//! on who the user is and where the request came from.
//!
//! The input is a header block, one `name: value` per line (names and
//! values as bytes, through `HeaderName::from_bytes` and
//! `HeaderValue::from_bytes`; lines that make no header are skipped).
//! Lines starting with `@` set up the request instead: `@peer: <ip>` (the
//! TCP peer; `10.0.0.0/8` and `fd00::/8` are trusted proxies), `@user`,
//! `@groups`, `@email: <claim value>` (the session, made from these as
//! claims through `identity_from_claims`, as at login; a value that is
//! JSON is taken as JSON), `@root` (the session is the root admin's),
//! `@https` (the public URL is https), `@method: <method>` and `@http10`. The headers then go through the same steps, in the same
//! order, as the proxy's `forward`. Afterwards:
//!
//! - `X-Forwarded-User`, `X-Portcullis-Role` and `X-Portcullis-Root` have
//!   exactly one value each, the session's, which the app reads unchanged;
//! - no header whose name, lowercased with `_` read as `-`, starts with
//!   `x-portcullis-` or `x-forwarded-` is left but the ones the sidecar set,
//!   each once and with the sidecar's value;
//! - `Forwarded` and `X-Real-IP` are only the sidecar's (no `_` spelling);
//! - no header that rewrites the URL or method in app servers
//!   (`X-Original-URL`, `X-Rewrite-URL`, ...) is left, in any spelling;
//! - no `Connection`, `Upgrade` (but on a WebSocket handshake, where
//!   `Connection: upgrade` is the sidecar's), `HTTP2-Settings` or other
//!   hop-by-hop header is left;
//! - no cookie of the sidecar's is left, and the app's cookies are kept.

#![no_main]

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Version};
use ipnet::IpNet;
use libfuzzer_sys::fuzz_target;
use portcullis_fuzz::{COOKIE_NAME, LEGACY_COOKIE_NAME, NOW};
use portcullis_sidecar::gate::ClientHops;
use portcullis_sidecar::proxy::forwarding::set_forwarding_headers;
use portcullis_sidecar::gate::identity_headers::{
    self as identity, add_identity_headers, strip_identity_headers,
};
use portcullis_sidecar::proxy::hop_by_hop::{strip_cookies, strip_hop_by_hop};
use portcullis_sidecar::proxy::upgrade::is_websocket_handshake;
use portcullis_sidecar::oidc::claim_path::ClaimPath;
use portcullis_sidecar::oidc::claims::identity_from_claims;
use portcullis_sidecar::access::roles::{RoleMapping, grant_for};
use portcullis_sidecar::session::cookie::is_sidecar_cookie;
use portcullis_sidecar::session::model::bounded_groups;
use portcullis_sidecar::session::{LoginMethod, Session};
use serde_json::{Map, Value};
use std::net::IpAddr;

const ROOT_USERNAME: &str = "admin";

/// The request as the fuzz input describes it.
struct Request {
    headers: HeaderMap,
    peer: IpAddr,
    claims: Map<String, Value>,
    root: bool,
    https: bool,
    method: Method,
    version: Version,
}

fuzz_target!(|data: &[u8]| {
    let request = parse(data);
    let Some(session) = session(&request) else {
        return;
    };
    let trusted: Vec<IpNet> = ["10.0.0.0/8", "fd00::/8"]
        .iter()
        .map(|net| net.parse().expect("net"))
        .collect();
    let https = request.https;
    let mut headers = request.headers.clone();

    // The proxy's `forward`, step by step.
    let hops = ClientHops::decide(request.peer, &headers, &trusted);
    let websocket = is_websocket_handshake(&request.method, request.version, &headers);
    strip_hop_by_hop(&mut headers, websocket);
    strip_identity_headers(&mut headers);
    let ours = |name: &str| {
        [COOKIE_NAME, LEGACY_COOKIE_NAME]
            .iter()
            .any(|cookie| is_sidecar_cookie(cookie, name))
    };
    strip_cookies(&mut headers, ours);
    // A session made from claims that login accepted always fits the headers.
    add_identity_headers(&mut headers, &session).expect("accepted claims are forwardable");
    set_forwarding_headers(&mut headers, &hops, https);

    // Identity: exactly one value each, read by the app as the session's.
    let root = if session.root { "true" } else { "false" };
    for (name, expected) in [
        (identity::USER, session.user.as_str()),
        (identity::ROLE, session.role.as_str()),
        (identity::ROOT, root),
    ] {
        let values: Vec<&HeaderValue> = headers.get_all(&name).iter().collect();
        assert_eq!(values.len(), 1, "{name}: {values:?} for {expected:?}");
        assert_eq!(values[0].as_bytes(), expected.as_bytes(), "{name}");
        assert_eq!(
            values[0].as_bytes().trim_ascii(),
            expected.as_bytes(),
            "{name}: the app would read {expected:?} as another value"
        );
    }

    // Every owned name left is one the sidecar set, once, with its value.
    // One comma-separated item per group: a comma inside a name is encoded.
    let groups = identity::encode_groups(&session.groups);
    if !session.groups.is_empty() {
        assert_eq!(
            groups.split(',').count(),
            session.groups.len(),
            "{groups:?}"
        );
    }
    let proto = if https { "https" } else { "http" };
    let host = request
        .headers
        .get(header::HOST)
        .filter(|host| is_plain_host(host.as_bytes()));
    let mut sidecars: Vec<(&str, Option<&[u8]>)> = vec![
        ("x-forwarded-user", Some(session.user.as_bytes())),
        ("x-forwarded-groups", Some(groups.as_bytes())),
        (
            "x-forwarded-email",
            session.email.as_deref().map(str::as_bytes),
        ),
        (
            "x-forwarded-preferred-username",
            session.preferred_username.as_deref().map(str::as_bytes),
        ),
        ("x-portcullis-role", Some(session.role.as_str().as_bytes())),
        ("x-portcullis-root", Some(root.as_bytes())),
        ("x-forwarded-for", Some(hops.chain.as_bytes())),
        ("x-forwarded-host", host.map(HeaderValue::as_bytes)),
        ("x-forwarded-proto", Some(proto.as_bytes())),
    ];
    let client = hops.client.to_string();
    let node = match hops.client {
        IpAddr::V4(_) => client.clone(),
        IpAddr::V6(_) => format!("\"[{client}]\""),
    };
    let mut forwarded = format!("for={node};proto={proto}");
    if let Some(host) = host.and_then(|host| host.to_str().ok()) {
        forwarded.push_str(&format!(";host=\"{host}\""));
    }
    sidecars.push(("forwarded", Some(forwarded.as_bytes())));
    sidecars.push(("x-real-ip", Some(client.as_bytes())));
    for name in headers.keys() {
        let spelled: String = name
            .as_str()
            .chars()
            .map(|c| {
                if c == '_' {
                    '-'
                } else {
                    c.to_ascii_lowercase()
                }
            })
            .collect();
        let rewrites = [
            "x-original-url",
            "x-original-uri",
            "x-original-method",
            "x-rewrite-url",
            "x-envoy-original-path",
        ];
        assert!(
            !rewrites.contains(&spelled.as_str()),
            "{name}, which rewrites the URL in app servers, is left"
        );
        let owned = spelled.starts_with("x-portcullis-")
            || spelled.starts_with("x-forwarded-")
            || spelled == "forwarded"
            || spelled == "x-real-ip";
        if !owned {
            continue;
        }
        let expected = sidecars
            .iter()
            .find(|(sidecar, _)| *sidecar == name.as_str())
            .and_then(|(_, value)| *value);
        let values: Vec<&[u8]> = headers
            .get_all(name)
            .iter()
            .map(HeaderValue::as_bytes)
            .collect();
        // A value a header cannot carry (a control character in an email)
        // is left out, never passed on in the client's spelling.
        assert!(
            values.is_empty() || (values.len() == 1 && Some(values[0]) == expected),
            "{name} is not the sidecar's: {values:?}"
        );
    }

    // Hop-by-hop headers are gone; a WebSocket keeps `Connection: upgrade`.
    for name in [
        "keep-alive",
        "proxy-connection",
        "http2-settings",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
    ] {
        assert!(!headers.contains_key(name), "{name} left");
    }
    if websocket {
        let connection: Vec<_> = headers.get_all(header::CONNECTION).iter().collect();
        assert_eq!(connection, [HeaderValue::from_static("upgrade")]);
        assert_eq!(headers.get_all(header::UPGRADE).iter().count(), 1);
    } else {
        assert!(!headers.contains_key(header::CONNECTION), "connection left");
        assert!(!headers.contains_key(header::UPGRADE), "upgrade left");
    }

    // The sidecar's cookies stay behind; the app's pass in order.
    let cookie_names = |headers: &HeaderMap| -> Vec<Vec<u8>> {
        headers
            .get_all(header::COOKIE)
            .iter()
            .flat_map(|value| value.as_bytes().split(|byte| *byte == b';'))
            .map(<[u8]>::trim_ascii)
            .filter(|pair| !pair.is_empty())
            .map(|pair| pair.split(|byte| *byte == b'=').next().unwrap_or(pair))
            .map(|name| name.trim_ascii().to_vec())
            .collect()
    };
    let sent = cookie_names(&request.headers);
    let apps: Vec<Vec<u8>> = sent
        .into_iter()
        .filter(|name| !std::str::from_utf8(name).is_ok_and(ours))
        .collect();
    assert_eq!(cookie_names(&headers), apps);
});

/// Reads the header block and the `@` lines.
fn parse(data: &[u8]) -> Request {
    let mut request = Request {
        headers: HeaderMap::new(),
        peer: IpAddr::from([192, 0, 2, 7]),
        claims: Map::new(),
        root: false,
        https: false,
        method: Method::GET,
        version: Version::HTTP_11,
    };
    for line in data.split(|byte| *byte == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let (name, value) = match line.iter().position(|byte| *byte == b':') {
            Some(colon) => (&line[..colon], line[colon + 1..].trim_ascii()),
            None => (line, &b""[..]),
        };
        let text = String::from_utf8_lossy(value).into_owned();
        match name {
            b"@peer" => {
                if let Ok(peer) = text.parse() {
                    request.peer = peer;
                }
            }
            b"@user" => claim(&mut request.claims, "preferred_username", value),
            b"@email" => claim(&mut request.claims, "email", value),
            b"@groups" => claim(&mut request.claims, "groups", value),
            b"@root" => request.root = true,
            b"@https" => request.https = true,
            b"@http10" => request.version = Version::HTTP_10,
            b"@method" => {
                if let Ok(method) = Method::from_bytes(value) {
                    request.method = method;
                }
            }
            _ => {
                if let (Ok(name), Ok(value)) =
                    (HeaderName::from_bytes(name), HeaderValue::from_bytes(value))
                {
                    request.headers.append(name, value);
                }
            }
        }
    }
    request
}

/// A claim from an `@` line's value: JSON when it parses, else the text.
fn claim(claims: &mut Map<String, Value>, name: &str, value: &[u8]) {
    let value = serde_json::from_slice(value)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(value).into_owned()));
    claims.insert(name.to_owned(), value);
}

/// The session a login with these claims gets, as the login callback builds it.
fn session(request: &Request) -> Option<Session> {
    let mut claims = request.claims.clone();
    if request.root {
        claims.insert("preferred_username".into(), ROOT_USERNAME.into());
    }
    claims
        .entry("preferred_username")
        .or_insert_with(|| "alice".into());
    let groups = ClaimPath::parse("groups").ok()?;
    let identity = identity_from_claims(&claims, "preferred_username", &groups).ok()?;
    login(identity)
}

fn login(identity: portcullis_sidecar::oidc::claims::Identity) -> Option<Session> {
    let grant = grant_for(
        &identity.user,
        &identity.groups,
        Some(ROOT_USERNAME),
        &RoleMapping::default(),
    )
    .ok()?;
    Some(Session {
        sid: "fuzz".into(),
        user: identity.user,
        email: identity.email,
        preferred_username: identity.preferred_username,
        groups: bounded_groups(identity.groups),
        role: grant.role,
        root: grant.root,
        method: LoginMethod::Oidc,
        expires_at: NOW + 3600,
        id_token: None,
        provider: None,
        refresh: None,
    })
}

/// The sidecar's own test for a `Host` it passes on.
fn is_plain_host(host: &[u8]) -> bool {
    !host.is_empty()
        && host
            .iter()
            .all(|byte| byte.is_ascii_alphanumeric() || b".-:[]".contains(byte))
}
