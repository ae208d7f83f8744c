//! Reading Envoy's `CheckRequest`: the original request from the
//! attributes Envoy fills, and the client's headers the gate reads (the
//! session cookie, `Authorization`, `Accept`).
//!
//! Envoy sends the headers either merged in a map or, with
//! `encode_raw_headers`, as a list of raw values; both are read. Pseudo
//! headers (`:path`, `:authority`) are skipped: the attributes name the
//! request, and a header never does.

use crate::config::hosts::Hosts;
use crate::forward::original::{NotBelieved, Original, envoy_check_request, from_trusted_proxy};
use envoy_types::pb::envoy::service::auth::v3::CheckRequest;
use envoy_types::pb::envoy::service::auth::v3::attribute_context::HttpRequest;
use http::{HeaderMap, HeaderName, HeaderValue};
use ipnet::IpNet;
use std::net::IpAddr;

/// What `attributes.request.http` names: it must be there.
const HTTP: &str = "attributes.request.http";
/// Where the headers are, for a message that names a bad one.
const HEADERS: &str = "attributes.request.http.headers";

/// A believed `CheckRequest`: the request Envoy holds.
#[derive(Debug)]
pub struct Question {
    /// Its method, target and contract (Envoy's).
    pub original: Original,
    /// The client's headers, pseudo headers left out.
    pub headers: HeaderMap,
}

/// The question `check` from `peer`, believed only when `peer` is in
/// `trusted` and the request is for one of `hosts`.
pub fn question_of(
    peer: IpAddr,
    check: &CheckRequest,
    trusted: &[IpNet],
    hosts: Hosts,
) -> Result<Question, NotBelieved> {
    let http = check
        .attributes
        .as_ref()
        .and_then(|attributes| attributes.request.as_ref())
        .and_then(|request| request.http.as_ref());
    // The peer is judged before the message: an untrusted one learns
    // nothing about what a question must hold.
    from_trusted_proxy(peer, trusted)?;
    let http = http.ok_or(NotBelieved::Missing(HTTP))?;
    let original = envoy_check_request(peer, &http.method, &http.path, &http.host, trusted, hosts)?;
    Ok(Question {
        original,
        headers: client_headers(http)?,
    })
}

/// The client's headers: the raw list when Envoy sends one, else the map.
fn client_headers(http: &HttpRequest) -> Result<HeaderMap, NotBelieved> {
    let mut headers = HeaderMap::new();
    let raw = http
        .header_map
        .as_ref()
        .filter(|map| !map.headers.is_empty());
    match raw {
        Some(map) => {
            for header in &map.headers {
                let value = if header.raw_value.is_empty() {
                    header.value.as_bytes()
                } else {
                    &header.raw_value
                };
                add(&mut headers, &header.key, value)?;
            }
        }
        None => {
            for (name, value) in &http.headers {
                add(&mut headers, name, value.as_bytes())?;
            }
        }
    }
    Ok(headers)
}

/// Appends `name: value` unless it is a pseudo header.
fn add(headers: &mut HeaderMap, name: &str, value: &[u8]) -> Result<(), NotBelieved> {
    if name.starts_with(':') {
        return Ok(());
    }
    let malformed = |why| NotBelieved::Malformed {
        header: HEADERS,
        why,
    };
    let name = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| malformed("holds a name that is not a header name"))?;
    let value = HeaderValue::from_bytes(value)
        .map_err(|_| malformed("holds a value no header can carry"))?;
    headers.append(name, value);
    Ok(())
}

#[cfg(test)]
mod tests;
