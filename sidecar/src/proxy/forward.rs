//! Forwarding requests with a session to the app, streaming both ways.
//!
//! Method, path, query, `Host` and bodies pass through untouched; identity
//! headers are replaced by the sidecar's (none on a public path without a
//! session), with a signed token of the identity when configured (see
//! [`crate::identity`]); the sidecar's cookies stay behind. the gate ([`crate::gate`])
//! decides first whether the request goes through at all.
//! WebSocket handshakes are spliced byte for byte once the app agrees with
//! `101 Switching Protocols` (see [`crate::proxy::upgrade`] for why nothing else is).

use crate::config::{Settings, Upstream};
use crate::gate::ClientHops;
use crate::gate::{Asked, Pass, decide};
use crate::http::error::AppError;
use crate::proxy::app_connection::{AppConnection, send_on_own_connection};
use crate::proxy::connection_slot::ConnectionSlot;
use crate::proxy::forwarding::set_forwarding_headers;
use crate::proxy::hop_by_hop::{strip_cookies, strip_hop_by_hop};
use crate::proxy::upgrade::{app_switched_to_websocket, is_websocket_handshake, splice};
use crate::runtime::state::SharedState;
use crate::session::cookie::is_sidecar_cookie;
use axum::body::Body;
use axum::extract::Request;
use axum::http::header::{self, Entry};
use axum::http::uri::PathAndQuery;
use axum::http::{HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use std::time::Instant;

/// At most how many headers a forwarded request gains: `Host`, six of
/// identity, five of forwarding, and the signed identity.
const HEADERS_ADDED: usize = 13;

/// Every path the sidecar does not serve itself ([`crate::serve::routes::OWN_PATHS`]),
/// from the client at `peer`, for the app at `upstream`.
pub async fn proxy_request(
    state: &SharedState,
    settings: &Settings,
    upstream: &Upstream,
    peer: SocketAddr,
    request: Request,
) -> Response {
    match decide(state, settings, Asked::of(&request)).await {
        Ok(mut pass) => {
            // A renewed session's cookie goes with any answer, the app's or
            // an error: the old refresh token must never be sent again.
            let set_cookie = pass.set_cookie.take();
            let mut response = forward(state, settings, upstream, pass, peer, request)
                .await
                .unwrap_or_else(IntoResponse::into_response);
            if let Some(cookies) = set_cookie {
                cookies.append_to(response.headers_mut());
            }
            response
        }
        Err(refusal) => refusal.into_response(),
    }
}

async fn forward(
    state: &SharedState,
    settings: &Settings,
    upstream: &Upstream,
    pass: Pass,
    peer: SocketAddr,
    mut request: Request,
) -> Result<Response, AppError> {
    let hops = ClientHops::decide(peer.ip(), request.headers(), &settings.trusted_proxies);
    let websocket = is_websocket_handshake(request.method(), request.version(), request.headers());
    let client_upgrade = websocket.then(|| hyper::upgrade::on(&mut request));
    let slot = request.extensions().get::<ConnectionSlot>().cloned();
    let app_connection = request.extensions_mut().remove::<AppConnection>();
    if request.method() == Method::CONNECT {
        return Err(AppError::NotProxied);
    }
    origin_form(request.uri_mut());

    let headers = request.headers_mut();
    // Room for the headers set below, made once: the map the server parsed
    // holds only what the client sent, and would otherwise grow (and rehash)
    // two or three times on the way.
    headers.reserve(HEADERS_ADDED);
    if let Entry::Vacant(host) = headers.entry(header::HOST)
        && let Ok(app) = HeaderValue::from_str(upstream.authority.as_str())
    {
        // An HTTP/1.0 request may come without one: the app gets its own name.
        host.insert(app);
    }
    strip_hop_by_hop(headers, websocket);
    strip_cookies(headers, |name| {
        settings
            .session
            .cookie_names()
            .any(|ours| is_sidecar_cookie(ours, name))
    });
    pass.write_identity(state, settings, headers)?;
    set_forwarding_headers(headers, &hops, settings.public_url.scheme() == "https");

    let method = request.method().clone();
    let started = Instant::now();
    let authority = &upstream.authority;
    let answered = match app_connection.filter(|_| !websocket) {
        Some(app_connection) => app_connection.send(authority, request).await,
        // Boxed: rare, and large enough to weigh on every request's future.
        None => Box::pin(send_on_own_connection(authority, request)).await,
    };
    let mut response = answered.map_err(|error| {
        tracing::warn!(%method, %error, "the app did not answer");
        AppError::UpstreamUnavailable
    })?;
    state
        .metrics
        .upstream_latency
        .observe(started.elapsed().as_secs_f64());
    if response.status().is_server_error() {
        tracing::warn!(%method, status = response.status().as_u16(), "the app answered with a server error");
    }

    if response.status() == StatusCode::SWITCHING_PROTOCOLS {
        let Some(client_upgrade) =
            client_upgrade.filter(|_| app_switched_to_websocket(response.headers()))
        else {
            tracing::warn!("the app switched protocols without a WebSocket handshake to match");
            return Err(AppError::UpstreamUnavailable);
        };
        let app_upgrade = hyper::upgrade::on(&mut response);
        tokio::spawn(splice(
            state.clone(),
            pass.identity,
            slot,
            client_upgrade,
            app_upgrade,
        ));
    } else {
        strip_hop_by_hop(response.headers_mut(), false);
    }
    Ok(response.map(Body::new))
}

/// Turns the request target into the origin-form the app expects (the path
/// and query, RFC 9112 §3.2.1), whatever form the client sent. The usual
/// origin-form target is left as it is; `OPTIONS *` keeps its `*`.
fn origin_form(uri: &mut Uri) {
    if uri.scheme().is_none() && uri.authority().is_none() {
        return;
    }
    let path_and_query = uri
        .path_and_query()
        .cloned()
        .unwrap_or_else(|| PathAndQuery::from_static("/"));
    *uri = Uri::from(path_and_query);
}
