//! A forward-auth question is believed only from a trusted proxy, for the
//! public host, and read as exactly the request its contract names.
//!
//! The input is a header block, one `name: value` per line (lines that make
//! no header are skipped), with set-up lines: `@peer: <ip>` (the TCP peer;
//! `10.0.0.0/8` is the trusted proxies), `@method: <method>` and
//! `@target: <request target>` (Envoy's question line). Both readings,
//! the header contracts' and Envoy's, are asked. Afterwards:
//!
//! - a peer outside the trusted proxies is never believed;
//! - a believed question names an origin-form target (a path starting with
//!   `/`, no scheme, no host), for `books.example.com`;
//! - the nginx contract is read only from `X-Original-URL`, the Traefik one
//!   only from `X-Forwarded-Uri`, never when both are sent, and the target
//!   is the one that header carries, as sent;
//! - Envoy's target is the question's own, behind `/auth/envoy`.

#![no_main]

use http::Method;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use ipnet::IpNet;
use libfuzzer_sys::fuzz_target;
use portcullis_sidecar::config::hosts::Hosts;
use portcullis_sidecar::forward::original::{Contract, envoy_request, original_request};
use std::net::IpAddr;
use url::Url;

fuzz_target!(|data: &[u8]| {
    let trusted: [IpNet; 1] = ["10.0.0.0/8".parse().expect("net")];
    let public_url = Url::parse("https://books.example.com").expect("url");
    let mut peer: IpAddr = "10.1.2.3".parse().expect("ip");
    let mut method = Method::GET;
    let mut target = String::from("/auth/envoy/");
    let mut headers = HeaderMap::new();
    for line in data.split(|byte| *byte == b'\n') {
        let Some(colon) = line.iter().position(|byte| *byte == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
        match name {
            b"@peer" => {
                if let Some(ip) = std::str::from_utf8(value).ok().and_then(|v| v.parse().ok()) {
                    peer = ip;
                }
            }
            b"@method" => {
                if let Ok(parsed) = Method::from_bytes(value) {
                    method = parsed;
                }
            }
            b"@target" => target = String::from_utf8_lossy(value).into_owned(),
            _ => {
                if let (Ok(name), Ok(value)) =
                    (HeaderName::from_bytes(name), HeaderValue::from_bytes(value))
                {
                    headers.append(name, value);
                }
            }
        }
    }
    let trusted_peer = trusted[0].contains(&peer);

    let others = ["films.example.com".to_owned()];
    let hosts = Hosts::new(&public_url, &others);
    let read = original_request(peer, &headers, &trusted, hosts);
    if let Ok(original) = &read {
        assert!(trusted_peer, "believed from {peer}");
        assert!(
            hosts.protects(original.authority.host()),
            "{}",
            original.authority
        );
        assert!(
            !original.authority.as_str().contains('@'),
            "{}",
            original.authority
        );
        let uri = original.uri.to_string();
        assert!(uri.starts_with('/'), "{uri}");
        assert!(original.uri.scheme().is_none() && original.uri.authority().is_none());
        let named_by = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        match original.contract {
            Contract::Nginx => {
                assert!(!headers.contains_key("x-forwarded-uri"));
                let url = named_by("x-original-url").expect("read from X-Original-URL");
                assert!(url.ends_with(&uri) || uri == "/", "{url} -> {uri}");
            }
            Contract::Traefik => {
                assert!(!headers.contains_key("x-original-url"));
                assert_eq!(named_by("x-forwarded-uri"), Some(uri.as_str()));
            }
            Contract::Envoy => panic!("no header reads as Envoy's contract"),
        }
    } else if !trusted_peer {
        assert!(read.is_err());
    }

    let envoy = envoy_request(peer, &method, &target, &headers, &trusted, hosts);
    if let Ok(original) = envoy {
        assert!(trusted_peer, "believed from {peer}");
        assert_eq!(original.contract, Contract::Envoy);
        assert_eq!(original.method, method);
        let uri = original.uri.to_string();
        assert!(uri.starts_with('/'), "{uri}");
        assert_eq!(format!("/auth/envoy{uri}"), target);
    }
});
