//! Reading the original request from a forward-auth question.
//!
//! Three contracts are spoken:
//! - **nginx** (`auth_request`, ingress-nginx's `auth-url`): `X-Original-URL`
//!   (`$scheme://$http_host$request_uri`) and `X-Original-Method`;
//! - **Traefik** (`ForwardAuth`): `X-Forwarded-Method`, `X-Forwarded-Host`
//!   and `X-Forwarded-Uri` (with `X-Forwarded-Proto`, not needed here);
//! - **Envoy** (HTTP `ext_authz`): the question is the original request
//!   itself, its path behind the prefix [`ENVOY_AUTHZ_PREFIX`], with its
//!   method and `Host`; no header names it. Over gRPC, the `CheckRequest`'s
//!   attributes name them.
//!
//! The target is taken as the proxy sent it, not normalised on the way:
//! the gate's rules judge exactly what the app will be sent. A question
//! that names its request both ways is refused, since the proxy set one
//! and a client the other; so is one from a peer that is not a trusted
//! proxy, whatever it says, and one for a host this service does not
//! protect. Only these exact names are read: a `X_Original_URL` is not
//! taken for `X-Original-URL`.

use crate::config::hosts::{Hosts, is_plain_host, plain_host};
use crate::gate::client_hops::is_trusted_proxy;
use http::uri::Authority;
use http::{HeaderMap, Method, Uri};
use ipnet::IpNet;
use portcullis_contract::paths::ENVOY_AUTHZ_PREFIX;
use std::net::IpAddr;

/// Which proxy's contract a question follows, and so how it is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Contract {
    /// nginx's `auth_request`: only 2xx, 401 and 403 mean anything to it,
    /// so a sign-in is a 401 that carries where to sign in.
    Nginx,
    /// Traefik's `ForwardAuth`: a refusal is sent to the client as it is,
    /// so a sign-in is the redirect itself.
    Traefik,
    /// Envoy's HTTP `ext_authz`: as Traefik's, and the proxy keeps a
    /// client's header the answer does not name, so every identity header
    /// is answered, empty when there is no identity.
    Envoy,
}

/// The request a proxy asks about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Original {
    /// Its method.
    pub method: Method,
    /// Its target, in origin form (path and query as sent).
    pub uri: Uri,
    /// Its host (and port, when one was named), a host this service
    /// answers for.
    pub authority: Authority,
    /// The contract the question followed.
    pub contract: Contract,
}

/// Why a forward-auth question is not believed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NotBelieved {
    /// The peer is not a trusted proxy.
    #[error(
        "{0} is not in `trustedProxies`: a forward-auth service answers only the proxies listed there"
    )]
    UntrustedPeer(IpAddr),
    /// Neither contract's headers are there.
    #[error(
        "the question names no original request: send `X-Original-URL` and `X-Original-Method` (nginx), or `X-Forwarded-Method`, `X-Forwarded-Host` and `X-Forwarded-Uri` (Traefik)"
    )]
    Unnamed,
    /// Both contracts' headers are there: one of them came from a client.
    #[error(
        "both `X-Original-URL` and `X-Forwarded-Uri` name an original request: one of them came from the client"
    )]
    BothContracts,
    /// A header the contract needs is missing.
    #[error("`{0}` is missing")]
    Missing(&'static str),
    /// A header the contract needs once is there more than once.
    #[error("`{0}` is sent more than once")]
    Repeated(&'static str),
    /// A header's value cannot be read.
    #[error("`{header}` is not valid: {why}")]
    Malformed {
        /// The header.
        header: &'static str,
        /// What is wrong with it.
        why: &'static str,
    },
    /// The original request is for a host this service does not protect.
    #[error("the request is for host `{0}`, which this service does not protect")]
    OtherHost(String),
}

impl NotBelieved {
    /// Whether the question is refused as not allowed (403) rather than
    /// as malformed (400).
    pub fn is_forbidden(&self) -> bool {
        matches!(self, Self::UntrustedPeer(_) | Self::OtherHost(_))
    }
}

const ORIGINAL_URL: &str = "x-original-url";
const ORIGINAL_METHOD: &str = "x-original-method";
const FORWARDED_METHOD: &str = "x-forwarded-method";
const FORWARDED_HOST: &str = "x-forwarded-host";
const FORWARDED_URI: &str = "x-forwarded-uri";

/// The original request of a question from `peer`, believed only when
/// `peer` is in `trusted` and the request is for one of `hosts`.
///
/// Hosts are compared by name only: behind a load balancer that ends TLS,
/// nginx sees `http` and no port where the browser used `https`.
pub fn original_request(
    peer: IpAddr,
    headers: &HeaderMap,
    trusted: &[IpNet],
    hosts: Hosts,
) -> Result<Original, NotBelieved> {
    from_trusted_proxy(peer, trusted)?;
    let original = match (
        headers.contains_key(ORIGINAL_URL),
        headers.contains_key(FORWARDED_URI),
    ) {
        (true, true) => return Err(NotBelieved::BothContracts),
        (false, false) => return Err(NotBelieved::Unnamed),
        (true, false) => nginx(headers)?,
        (false, true) => traefik(headers)?,
    };
    protected(hosts, &original.authority)?;
    Ok(original)
}

/// The original request of Envoy's question `method target` from `peer`:
/// `target` is [`ENVOY_AUTHZ_PREFIX`] and the original path and query,
/// `Host` the original host. Believed as [`original_request`] is.
pub fn envoy_request(
    peer: IpAddr,
    method: &Method,
    target: &str,
    headers: &HeaderMap,
    trusted: &[IpNet],
    hosts: Hosts,
) -> Result<Original, NotBelieved> {
    from_trusted_proxy(peer, trusted)?;
    let malformed = |why| NotBelieved::Malformed {
        header: "the request target",
        why,
    };
    let original = target
        .strip_prefix(ENVOY_AUTHZ_PREFIX)
        .ok_or_else(|| malformed("does not start with the ext_authz prefix"))?;
    let uri = origin_form(original).ok_or_else(|| malformed("names no path after the prefix"))?;
    let authority = authority_in(headers, "host", "Host")?;
    protected(hosts, &authority)?;
    Ok(Original {
        method: method.clone(),
        uri,
        authority,
        contract: Contract::Envoy,
    })
}

/// The original request of Envoy's gRPC question from `peer`: Envoy names
/// its `method`, `path` (with the query) and `host` in the `CheckRequest`'s
/// attributes, never in a header a client could send. Believed as
/// [`original_request`] is.
pub fn envoy_check_request(
    peer: IpAddr,
    method: &str,
    path: &str,
    host: &str,
    trusted: &[IpNet],
    hosts: Hosts,
) -> Result<Original, NotBelieved> {
    const METHOD: &str = "attributes.request.http.method";
    const PATH: &str = "attributes.request.http.path";
    const HOST: &str = "attributes.request.http.host";
    from_trusted_proxy(peer, trusted)?;
    let method = self::method(non_empty(method, METHOD)?, METHOD)?;
    let uri = origin_form(non_empty(path, PATH)?).ok_or(NotBelieved::Malformed {
        header: PATH,
        why: "not a path such as `/books?page=2`",
    })?;
    let authority = authority_of(non_empty(host, HOST)?, HOST)?;
    protected(hosts, &authority)?;
    Ok(Original {
        method,
        uri,
        authority,
        contract: Contract::Envoy,
    })
}

/// `value`, which `shown` must give.
fn non_empty<'a>(value: &'a str, shown: &'static str) -> Result<&'a str, NotBelieved> {
    if value.is_empty() {
        Err(NotBelieved::Missing(shown))
    } else {
        Ok(value)
    }
}

/// Whether `peer` is one of the `trusted` proxies.
pub(super) fn from_trusted_proxy(peer: IpAddr, trusted: &[IpNet]) -> Result<(), NotBelieved> {
    if is_trusted_proxy(peer, trusted) {
        Ok(())
    } else {
        Err(NotBelieved::UntrustedPeer(peer))
    }
}

/// Whether `authority` names one of `hosts`, by name.
fn protected(hosts: Hosts, authority: &Authority) -> Result<(), NotBelieved> {
    if hosts.protects(authority.host()) {
        Ok(())
    } else {
        Err(NotBelieved::OtherHost(authority.host().to_owned()))
    }
}

/// The request an nginx question names.
fn nginx(headers: &HeaderMap) -> Result<Original, NotBelieved> {
    let url = one(headers, ORIGINAL_URL, "X-Original-URL")?;
    let method = method(
        one(headers, ORIGINAL_METHOD, "X-Original-Method")?,
        "X-Original-Method",
    )?;
    let malformed = |why| NotBelieved::Malformed {
        header: "X-Original-URL",
        why,
    };
    if url.contains('#') {
        return Err(malformed("holds a fragment, which no request target has"));
    }
    let parsed = Uri::try_from(url).map_err(|_| malformed("not a URL"))?;
    if !matches!(parsed.scheme_str(), Some("http" | "https")) {
        return Err(malformed("not an http or https URL"));
    }
    let authority = parsed
        .authority()
        .filter(|authority| is_plain_host(authority))
        .ok_or_else(|| malformed("names no host, or a user before its host"))?
        .clone();
    let target = parsed
        .path_and_query()
        .map_or("/", |target| target.as_str());
    Ok(Original {
        method,
        uri: origin_form(target).ok_or_else(|| malformed("its path is not a request target"))?,
        authority,
        contract: Contract::Nginx,
    })
}

/// The request a Traefik question names.
fn traefik(headers: &HeaderMap) -> Result<Original, NotBelieved> {
    let method = method(
        one(headers, FORWARDED_METHOD, "X-Forwarded-Method")?,
        "X-Forwarded-Method",
    )?;
    let authority = authority_in(headers, FORWARDED_HOST, "X-Forwarded-Host")?;
    let target = one(headers, FORWARDED_URI, "X-Forwarded-Uri")?;
    let uri = origin_form(target).ok_or(NotBelieved::Malformed {
        header: "X-Forwarded-Uri",
        why: "not a path such as `/books?page=2`",
    })?;
    Ok(Original {
        method,
        uri,
        authority,
        contract: Contract::Traefik,
    })
}

/// The single `host[:port]` value of `name`.
fn authority_in(
    headers: &HeaderMap,
    name: &'static str,
    shown: &'static str,
) -> Result<Authority, NotBelieved> {
    authority_of(one(headers, name, shown)?, shown)
}

/// The `host[:port]` value `shown` gives: a host, and no user before it.
fn authority_of(value: &str, shown: &'static str) -> Result<Authority, NotBelieved> {
    plain_host(value).ok_or(NotBelieved::Malformed {
        header: shown,
        why: "not a host",
    })
}

/// The single value of `name`, as text.
fn one<'a>(
    headers: &'a HeaderMap,
    name: &'static str,
    shown: &'static str,
) -> Result<&'a str, NotBelieved> {
    let mut values = headers.get_all(name).iter();
    let value = values.next().ok_or(NotBelieved::Missing(shown))?;
    if values.next().is_some() {
        return Err(NotBelieved::Repeated(shown));
    }
    value.to_str().map_err(|_| NotBelieved::Malformed {
        header: shown,
        why: "not visible ASCII",
    })
}

fn method(value: &str, shown: &'static str) -> Result<Method, NotBelieved> {
    Method::from_bytes(value.as_bytes()).map_err(|_| NotBelieved::Malformed {
        header: shown,
        why: "not an HTTP method",
    })
}

/// `target` as an origin-form URI: it must start with a `/`, and hold no
/// `#`: a request target has no fragment (RFC 9112 §3.2), and a parser
/// would drop it and judge a shorter path than the app may read.
fn origin_form(target: &str) -> Option<Uri> {
    if target.contains('#') {
        return None;
    }
    let uri = Uri::try_from(target).ok()?;
    (target.starts_with('/') && uri.scheme().is_none() && uri.authority().is_none()).then_some(uri)
}

#[cfg(test)]
mod tests;
