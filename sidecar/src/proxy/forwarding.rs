//! The forwarding headers the app receives: who the client is (as the gate
//! decided it, [`ClientHops`]), which host it asked for, and over which scheme.
//!
//! A client's own forwarding headers were removed before (see
//! [`crate::gate::identity_headers`]), so every value here is the sidecar's: an
//! app that trusts `X-Forwarded-For` or `Forwarded` for an audit log or an
//! allow-list cannot be lied to by a client that talks to the sidecar.

use crate::gate::ClientHops;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use std::net::IpAddr;

use crate::gate::client_hops::X_FORWARDED_FOR;
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");
const FORWARDED: HeaderName = HeaderName::from_static("forwarded");

/// Sets `X-Forwarded-For`, `X-Real-IP`, `X-Forwarded-Host`,
/// `X-Forwarded-Proto` and `Forwarded` (RFC 7239) from the sidecar's view.
pub fn set_forwarding_headers(headers: &mut HeaderMap, hops: &ClientHops, https: bool) {
    let proto = if https { "https" } else { "http" };
    if let Ok(chain) = HeaderValue::from_str(&hops.chain) {
        headers.insert(X_FORWARDED_FOR, chain);
    }
    if let Ok(client) = HeaderValue::from_str(&hops.client_text) {
        headers.insert(X_REAL_IP, client);
    }
    let host = headers
        .get(header::HOST)
        .filter(|host| is_plain_host(host.as_bytes()))
        .cloned();
    let mut forwarded = String::with_capacity(64);
    forwarded.push_str("for=");
    push_forwarded_node(&mut forwarded, hops);
    forwarded.push_str(";proto=");
    forwarded.push_str(proto);
    if let Some(host) = host {
        if let Ok(text) = host.to_str() {
            forwarded.push_str(";host=\"");
            forwarded.push_str(text);
            forwarded.push('"');
        }
        headers.insert(X_FORWARDED_HOST, host);
    }
    headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static(proto));
    if let Ok(forwarded) = HeaderValue::from_str(&forwarded) {
        headers.insert(FORWARDED, forwarded);
    }
}

/// The client as a node of `Forwarded: for=`: IPv6 addresses are bracketed and quoted.
fn push_forwarded_node(forwarded: &mut String, hops: &ClientHops) {
    match hops.client {
        IpAddr::V4(_) => forwarded.push_str(&hops.client_text),
        IpAddr::V6(_) => {
            forwarded.push_str("\"[");
            forwarded.push_str(&hops.client_text);
            forwarded.push_str("]\"");
        }
    }
}

/// A `Host` value made only of the characters a host and port may hold.
fn is_plain_host(host: &[u8]) -> bool {
    !host.is_empty()
        && host
            .iter()
            .all(|byte| byte.is_ascii_alphanumeric() || b".-:[]".contains(byte))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_forwarding_header_is_the_sidecars_view() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("books.example:8443"));
        let hops = ClientHops::direct("192.0.2.7".parse().expect("ip"));
        set_forwarding_headers(&mut headers, &hops, true);
        assert_eq!(headers[X_FORWARDED_FOR], "192.0.2.7");
        assert_eq!(headers[X_REAL_IP], "192.0.2.7");
        assert_eq!(headers[X_FORWARDED_HOST], "books.example:8443");
        assert_eq!(headers[X_FORWARDED_PROTO], "https");
        assert_eq!(
            headers[FORWARDED],
            "for=192.0.2.7;proto=https;host=\"books.example:8443\""
        );
    }

    #[test]
    fn ipv6_clients_are_quoted_and_odd_hosts_left_out() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("evil\";for=1.2.3.4"));
        let hops = ClientHops::direct("2001:db8::1".parse().expect("ip"));
        set_forwarding_headers(&mut headers, &hops, false);
        assert_eq!(headers[FORWARDED], "for=\"[2001:db8::1]\";proto=http");
        assert!(headers.get(X_FORWARDED_HOST).is_none());
    }
}
