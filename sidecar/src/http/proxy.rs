//! Forwarding requests with a session to the app, streaming both ways.
//!
//! Method, path, query, `Host` and bodies pass through untouched; identity
//! headers are replaced by the sidecar's; the sidecar's cookies stay behind.
//! WebSocket handshakes are spliced byte for byte once the app agrees with
//! `101 Switching Protocols` (see [`super::upgrade`] for why nothing else is).

use super::current_session::current_session;
use super::error::AppError;
use super::forwarding::{ClientHops, set_forwarding_headers};
use super::identity_headers::{
    add_identity_headers, strip_cookies, strip_hop_by_hop, strip_identity_headers,
};
use super::state::SharedState;
use super::upgrade::{app_switched_to_websocket, is_websocket_handshake, splice};
use crate::config::Settings;
use crate::session::Session;
use crate::session::cookie::is_sidecar_cookie;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use std::net::SocketAddr;
use std::time::Instant;

/// Fallback handler: every path the sidecar does not serve itself.
pub async fn proxy(
    State(state): State<SharedState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let settings = state.settings.load_full();
    match current_session(&state, &settings, request.headers()) {
        Ok(session) => forward(&state, &settings, session, peer, request)
            .await
            .unwrap_or_else(IntoResponse::into_response),
        Err(_) if wants_page(&request) => {
            let target = request.uri().path_and_query().map_or("/", |pq| pq.as_str());
            let query = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("rd", target)
                .finish();
            Redirect::to(&format!("/auth/start?{query}")).into_response()
        }
        Err(_) => AppError::Unauthenticated.into_response(),
    }
}

/// A browser navigating to a page (as opposed to a script or API call).
fn wants_page(request: &Request) -> bool {
    let accepts_html = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|accept| accept.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    (request.method() == Method::GET || request.method() == Method::HEAD) && accepts_html
}

async fn forward(
    state: &SharedState,
    settings: &Settings,
    session: Session,
    peer: SocketAddr,
    mut request: Request,
) -> Result<Response, AppError> {
    let hops = ClientHops::decide(peer.ip(), request.headers(), &settings.trusted_proxies);
    let websocket = is_websocket_handshake(request.method(), request.version(), request.headers());
    let client_upgrade = websocket.then(|| hyper::upgrade::on(&mut request));

    let upstream = &settings.upstream;
    let path_and_query = request.uri().path_and_query().map_or("/", |pq| pq.as_str());
    let uri = format!(
        "http://{}:{}{}",
        upstream.host_str().unwrap_or("127.0.0.1"),
        upstream.port_or_known_default().unwrap_or(80),
        path_and_query
    );
    *request.uri_mut() = uri
        .parse::<Uri>()
        .map_err(|_| AppError::UpstreamUnavailable)?;

    let headers = request.headers_mut();
    strip_hop_by_hop(headers, websocket);
    strip_identity_headers(headers);
    strip_cookies(headers, |name| {
        settings
            .session
            .cookie_names()
            .any(|ours| is_sidecar_cookie(ours, name))
    });
    add_identity_headers(headers, &session).map_err(|error| {
        tracing::warn!(%error, user = %session.user.escape_debug(), "request refused");
        AppError::Unforwardable(error)
    })?;
    set_forwarding_headers(headers, &hops, settings.public_url.scheme() == "https");

    let started = Instant::now();
    let mut response = state.upstream.request(request).await.map_err(|error| {
        tracing::warn!(error = %error, "the app did not answer");
        AppError::UpstreamUnavailable
    })?;
    state
        .metrics
        .upstream_latency
        .observe(started.elapsed().as_secs_f64());

    if response.status() == StatusCode::SWITCHING_PROTOCOLS {
        let Some(client_upgrade) =
            client_upgrade.filter(|_| app_switched_to_websocket(response.headers()))
        else {
            tracing::warn!("the app switched protocols without a WebSocket handshake to match");
            return Err(AppError::UpstreamUnavailable);
        };
        let app_upgrade = hyper::upgrade::on(&mut response);
        tokio::spawn(splice(state.clone(), session, client_upgrade, app_upgrade));
    } else {
        strip_hop_by_hop(response.headers_mut(), false);
    }
    Ok(response.map(Body::new))
}
