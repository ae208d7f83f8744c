//! The answer to a forward-auth question, in the asking proxy's terms.
//!
//! A request the gate lets through is answered `200` with the identity
//! headers (and the signed identity) for the proxy to copy onto the request
//! it forwards, and a renewed session's `Set-Cookie` for the client. A
//! refusal is the reverse proxy's answer to the same request, except that
//! nginx reads nothing but 2xx, 401 and 403: a browser sent to sign in gets
//! a `401` whose `Location` is the sign-in start, for the proxy's
//! `error_page 401` to redirect to. Other failures (a path that reads two
//! ways, a store or provider outage) stay 400 or 503, which nginx turns
//! into a 500: closed, never open. Envoy's `ext_authz` sets on the request
//! the headers an answer names and keeps the client's others, so its
//! answers name every identity header, empty where there is no identity.

use super::original::{Contract, NotBelieved, Original, envoy_request, original_request};
use crate::config::Settings;
use crate::config::hosts::Hosts;
use crate::gate::identity_headers::IDENTITY;
use crate::gate::{Asked, Refusal, decide};
use crate::http::refusal::sign_in_start;
use crate::runtime::state::SharedState;
use crate::session::session_cookies::SessionCookies;
use axum::body::Body;
use axum::extract::Request;
use axum::http::uri::Authority;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use portcullis_contract::paths::{ENVOY_AUTHZ_PREFIX, FORWARD_AUTH_PATH};
use std::net::SocketAddr;

/// What a forward-auth service answers for a path of its own it does not
/// serve: it has no app behind it.
const NO_APP: &str = "this is a forward-auth service: a proxy asks it at /auth/verify (nginx, Traefik) or under /auth/envoy (Envoy's ext_authz), and no app is behind it";

/// Every request to a forward-auth service that is not for one of the
/// sidecar's own pages, from `peer`.
pub async fn answer(
    state: &SharedState,
    settings: &Settings,
    peer: SocketAddr,
    request: Request,
) -> Response {
    let path = request.uri().path();
    let believed = if path == FORWARD_AUTH_PATH {
        original_request(
            peer.ip(),
            request.headers(),
            &settings.trusted_proxies,
            settings.hosts(),
        )
    } else if path.starts_with(ENVOY_AUTHZ_PREFIX) {
        let target = request
            .uri()
            .path_and_query()
            .map_or(path, |target| target.as_str());
        envoy_request(
            peer.ip(),
            request.method(),
            target,
            request.headers(),
            &settings.trusted_proxies,
            settings.hosts(),
        )
    } else {
        return (StatusCode::NOT_FOUND, NO_APP).into_response();
    };
    let original = match believed {
        Ok(original) => original,
        Err(why) => return not_believed(&why),
    };
    match judge(state, settings, &original, request.headers()).await {
        Ok(passed) => passed.into_http(settings, original.contract),
        Err(refused) => refused,
    }
}

/// What the gate lets through: the identity headers a proxy sets on the
/// request it forwards, and a renewed session's cookies for the client.
pub struct Passed {
    /// The identity headers, only those the caller has.
    pub identity: HeaderMap,
    /// The renewed session's cookies, if the session was renewed.
    pub set_cookie: Option<SessionCookies>,
}

impl Passed {
    /// The `200` answer over HTTP under `contract`.
    fn into_http(self, settings: &Settings, contract: Contract) -> Response {
        let mut headers = self.identity;
        if contract == Contract::Envoy {
            answer_every_identity_header(&mut headers, settings.signed_identity_header());
        }
        let mut response = Response::new(Body::empty());
        *response.headers_mut() = headers;
        no_store(&mut response);
        if let Some(cookies) = self.set_cookie {
            cookies.append_to(response.headers_mut());
        }
        response
    }
}

/// The gate's verdict on `original`, a request the client sent with
/// `headers`: what passes, or the refusal answered under the question's
/// contract, the same over HTTP and gRPC.
pub async fn judge(
    state: &SharedState,
    settings: &Settings,
    original: &Original,
    headers: &HeaderMap,
) -> Result<Passed, Response> {
    let asked = Asked::new(&original.method, &original.uri, headers);
    match decide(state, settings, asked).await {
        Ok(mut pass) => {
            let mut identity = HeaderMap::new();
            if let Err(error) = pass.write_identity(state, settings, &mut identity) {
                let mut response = crate::http::error::AppError::from(error).into_response();
                no_store(&mut response);
                return Err(response);
            }
            Ok(Passed {
                identity,
                set_cookie: pass.set_cookie.take(),
            })
        }
        Err(refusal) => Err(refused(settings, original, refusal)),
    }
}

/// Every identity header, the signed identity's (`signed`) among them,
/// empty where the pass carries none: Envoy sets the headers an answer
/// names on the request and keeps the client's others.
fn answer_every_identity_header(headers: &mut HeaderMap, signed: Option<&HeaderName>) {
    for name in IDENTITY.iter().chain(signed) {
        if let header::Entry::Vacant(vacant) = headers.entry(name) {
            vacant.insert(HeaderValue::from_static(""));
        }
    }
}

/// The refusal's answer to the question about `original`, under its
/// contract.
fn refused(settings: &Settings, original: &Original, refusal: Refusal) -> Response {
    let mut response = match refusal {
        Refusal::SignIn { return_to } => {
            let status = match original.contract {
                Contract::Nginx => StatusCode::UNAUTHORIZED,
                Contract::Traefik | Contract::Envoy => StatusCode::SEE_OTHER,
            };
            let mut response = status.into_response();
            let start = sign_in_location(settings.hosts(), &original.authority, &return_to);
            if let Ok(start) = HeaderValue::try_from(start) {
                response.headers_mut().insert(header::LOCATION, start);
            }
            response
        }
        refusal => refusal.into_response(),
    };
    no_store(&mut response);
    response
}

/// Where a browser asking `authority` for `return_to` starts signing in:
/// on its own host, relative, when that is the public URL's; else on the
/// public URL's host, coming back to the absolute URL it asked for.
fn sign_in_location(hosts: Hosts, authority: &Authority, return_to: &str) -> String {
    if hosts.is_public(authority.host()) {
        return sign_in_start(return_to);
    }
    let start = sign_in_start(&hosts.url_on(authority, return_to));
    hosts
        .public_url()
        .join(&start)
        .map_or(start, |absolute| absolute.to_string())
}

/// A question that is not believed: 403 from an untrusted peer or for a
/// host not protected here, 400 when the proxy's headers are wrong.
pub fn not_believed(why: &NotBelieved) -> Response {
    tracing::warn!(reason = %why, "forward-auth question refused");
    let status = if why.is_forbidden() {
        StatusCode::FORBIDDEN
    } else {
        StatusCode::BAD_REQUEST
    };
    let mut response = (status, why.to_string()).into_response();
    no_store(&mut response);
    response
}

/// A verdict is for one request: never cached on the way.
fn no_store(response: &mut Response) {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}
