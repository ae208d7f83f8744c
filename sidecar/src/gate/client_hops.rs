//! Who the client is: the peer, or the address a trusted proxy vouched for.
//!
//! `X-Forwarded-For` is believed only as far as trusted proxies wrote it, so
//! a client cannot choose the address the backup login's budgets, the logs
//! and the app's forwarding headers see.

use http::header::{HeaderMap, HeaderName};
use ipnet::IpNet;
use std::net::IpAddr;

/// The header a trusted proxy names the client in.
pub const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

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
        let is_trusted = |ip: &IpAddr| is_trusted_proxy(*ip, trusted);
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

/// Whether `ip` is one of the `trusted` proxies (`trustedProxies`).
pub fn is_trusted_proxy(ip: IpAddr, trusted: &[IpNet]) -> bool {
    trusted.iter().any(|net| net.contains(&ip))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

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
}
