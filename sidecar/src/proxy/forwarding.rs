//! The forwarding headers the app receives: who the client is, which host it
//! asked for, and over which scheme.
//!
//! A client's own forwarding headers were removed before (see
//! [`crate::gate::identity_headers`]), so every value here is the sidecar's: an
//! app that trusts `X-Forwarded-For` or `Forwarded` for an audit log or an
//! allow-list cannot be lied to by a client that talks to the sidecar.

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use ipnet::IpNet;
use std::net::IpAddr;

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");
const FORWARDED: HeaderName = HeaderName::from_static("forwarded");

/// Where a request came from, as the sidecar decided it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientHops {
    /// The client's address: the peer, or the address a trusted proxy vouched for.
    pub client: IpAddr,
    /// The client's address as text, written once for the headers that carry it.
    pub client_text: String,
    /// The `X-Forwarded-For` chain to pass on, ending with the peer.
    pub chain: String,
}

impl ClientHops {
    /// A client that reached the sidecar directly.
    pub fn direct(peer: IpAddr) -> Self {
        let client_text = ip_text(peer);
        Self {
            client: peer,
            chain: client_text.clone(),
            client_text,
        }
    }

    /// Who the client is, believing `X-Forwarded-For` only as far as it was
    /// written by `trusted` proxies: walking from the peer leftwards, the
    /// first address that is not a trusted proxy is the client. The chain
    /// passed on starts at that client; whatever the client itself wrote
    /// further left is dropped.
    pub fn decide(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> Self {
        let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
        if !is_trusted(&peer) {
            return Self::direct(peer);
        }
        let listed: Vec<&str> = headers
            .get_all(X_FORWARDED_FOR)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .collect();
        let mut hops = vec![peer];
        for entry in listed.iter().rev() {
            let Ok(ip) = entry.parse::<IpAddr>() else {
                break;
            };
            hops.push(ip);
            if !is_trusted(&ip) {
                break;
            }
        }
        let client = hops.last().copied().unwrap_or(peer);
        let chain = hops
            .iter()
            .rev()
            .map(IpAddr::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        Self {
            client,
            client_text: ip_text(client),
            chain,
        }
    }
}

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

/// `ip` as text. An IPv4 address, nearly every client's, is written digit by
/// digit: `Display` goes through the formatting machinery once per octet,
/// about 1,200 instructions of every proxied request (`make bench-profile`).
fn ip_text(ip: IpAddr) -> String {
    let IpAddr::V4(v4) = ip else {
        return ip.to_string();
    };
    let mut text = String::with_capacity(15);
    for (index, octet) in v4.octets().into_iter().enumerate() {
        if index > 0 {
            text.push('.');
        }
        if octet >= 100 {
            text.push(char::from(b'0' + octet / 100));
        }
        if octet >= 10 {
            text.push(char::from(b'0' + octet / 10 % 10));
        }
        text.push(char::from(b'0' + octet % 10));
    }
    text
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
    fn addresses_are_written_as_display_writes_them() {
        let mut checked = 0;
        for first in [0u8, 1, 9, 10, 99, 100, 127, 199, 200, 255] {
            for last in 0..=255u8 {
                let ip = IpAddr::from([first, last, first.wrapping_add(last), 255 - last]);
                assert_eq!(ip_text(ip), ip.to_string());
                checked += 1;
            }
        }
        assert_eq!(checked, 2560);
        let v6: IpAddr = "2001:db8::1".parse().expect("address");
        assert_eq!(ip_text(v6), "2001:db8::1");
    }

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

    fn forwarded_for(value: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(X_FORWARDED_FOR, HeaderValue::from_static(value));
        headers
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().expect("net")];
        let ingress: IpAddr = "10.1.2.3".parse().expect("ip");
        let outsider: IpAddr = "198.51.100.9".parse().expect("ip");
        let spoofed = forwarded_for("1.1.1.1, 203.0.113.5, 10.9.9.9");

        let via_ingress = ClientHops::decide(ingress, &spoofed, &trusted);
        assert_eq!(
            via_ingress.client,
            "203.0.113.5".parse::<IpAddr>().expect("ip")
        );
        assert_eq!(via_ingress.chain, "203.0.113.5, 10.9.9.9, 10.1.2.3");

        let direct = ClientHops::decide(outsider, &spoofed, &trusted);
        assert_eq!(direct, ClientHops::direct(outsider));
        assert_eq!(
            ClientHops::decide(ingress, &spoofed, &[]),
            ClientHops::direct(ingress)
        );

        let garbage = ClientHops::decide(ingress, &forwarded_for("evil, <script>"), &trusted);
        assert_eq!(garbage, ClientHops::direct(ingress));
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
