//! Addresses and URLs in the config: where to listen, where the app is,
//! the public origin, the provider's discovery URL and the trusted proxies.
//!
//! Each is parsed with a real parser (`url`, `std::net`, `ipnet`), not a
//! pattern, so what passes here is what the sidecar can use.

use crate::paths::WELL_KNOWN_SUFFIX;
use crate::problems::Problems;
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};
use url::{Host, Url};

pub(super) fn socket_addr(problems: &mut Problems, field: &str, value: &str) -> Option<SocketAddr> {
    let parsed = value.parse().ok();
    if parsed.is_none() {
        problems.push(
            field,
            format!("`{value}` is not an address like `0.0.0.0:4180`"),
        );
    }
    parsed
}

pub(super) fn upstream_url(problems: &mut Problems, value: &str) -> Option<Url> {
    const FIELD: &str = "upstream";
    let url = match Url::parse(value) {
        Ok(url) => url,
        Err(error) => {
            problems.push(
                FIELD,
                format!("`{value}` is not a URL like `http://127.0.0.1:8080` ({error})"),
            );
            return None;
        }
    };
    let plain = url.scheme() == "http"
        && url.host().is_some()
        && url.path() == "/"
        && url.query().is_none()
        && url.username().is_empty()
        && url.password().is_none();
    if !plain {
        problems.push(
            FIELD,
            "must be `http://host:port` with no path, query or credentials",
        );
        return None;
    }
    Some(url)
}

pub(super) fn public_url(problems: &mut Problems, value: &str) -> Option<Url> {
    const FIELD: &str = "publicUrl";
    let url = match Url::parse(value) {
        Ok(url) => url,
        Err(error) => {
            problems.push(
                FIELD,
                format!("`{value}` is not a URL like `https://books.example.com` ({error})"),
            );
            return None;
        }
    };
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        problems.push(FIELD, "must be an http or https URL with a host");
        return None;
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        problems.push(FIELD, "must be an origin only (no path, query or fragment)");
        return None;
    }
    Some(url)
}

pub(super) fn issuer_from_well_known(problems: &mut Problems, value: &str) -> Option<String> {
    const FIELD: &str = "oidc.wellKnownUrl";
    let url = match Url::parse(value) {
        Ok(url) => url,
        Err(error) => {
            problems.push(FIELD, format!("`{value}` is not a URL ({error})"));
            return None;
        }
    };
    if !matches!(url.scheme(), "http" | "https") || url.query().is_some() {
        problems.push(FIELD, "must be an http(s) URL without a query");
        return None;
    }
    match value.strip_suffix(WELL_KNOWN_SUFFIX) {
        Some(issuer) if !issuer.is_empty() => Some(issuer.to_owned()),
        _ => {
            problems.push(FIELD, format!("must end with `{WELL_KNOWN_SUFFIX}`"));
            None
        }
    }
}

/// The trusted proxies as networks: a CIDR, or one address.
pub(super) fn trusted_proxies(problems: &mut Problems, entries: &[String]) -> Vec<IpNet> {
    entries
        .iter()
        .enumerate()
        .filter_map(|(index, entry)| {
            let parsed = entry
                .parse::<IpNet>()
                .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from));
            if parsed.is_err() {
                problems.push(
                    &format!("trustedProxies[{index}]"),
                    format!("`{entry}` is not an address or a CIDR such as 10.0.0.0/8"),
                );
            }
            parsed.ok()
        })
        .collect()
}

/// Whether `upstream` is the sidecar itself listening on `address`.
pub(super) fn is_own_address(upstream: &Url, address: SocketAddr) -> bool {
    let loopback = match upstream.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        Some(Host::Domain(name)) => name == "localhost",
        None => false,
    };
    loopback
        && address.port() != 0
        && upstream.port_or_known_default() == Some(address.port())
        && (address.ip().is_unspecified() || address.ip().is_loopback())
}
