//! The sidecar's router: its own few routes, and the proxy for everything else.

use super::backup::backup_login;
use super::csrf::refuse_cross_site_posts;
use super::jwks::jwks;
use super::login::{callback, login_page_handler, me, start};
use super::logout::{confirm, logout};
use super::observe::{time_own_handler, trace_layer, track_in_flight};
use super::proxy::proxy;
use super::state::SharedState;
use crate::metrics::StatusLabels;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use portcullis_contract::paths::{CALLBACK_PATH, JWKS_PATH};

/// The public router (listen address).
pub fn app(state: SharedState) -> Router {
    Router::new()
        .route("/login", get(login_page_handler).post(backup_login))
        .route("/logout", get(confirm).post(logout))
        .route("/auth/start", get(start))
        .route(CALLBACK_PATH, get(callback))
        .route("/auth/me", get(me))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            refuse_cross_site_posts,
        ))
        .route_layer(middleware::from_fn(own_page_headers))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            time_own_handler,
        ))
        // Added after the layers of the pages above: the keys may be cached.
        .route(JWKS_PATH, get(jwks))
        .fallback(proxy)
        .layer(middleware::from_fn(refuse_ambiguous_host))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            count_responses,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            track_in_flight,
        ))
        .layer(trace_layer())
        .with_state(state)
}

/// A request with more than one `Host` is refused: the sidecar and the app
/// could each read a different one (RFC 9112 §3.2 asks for a 400).
async fn refuse_ambiguous_host(request: Request, next: Next) -> Response {
    if request
        .headers()
        .get_all(header::HOST)
        .iter()
        .nth(1)
        .is_some()
    {
        return (StatusCode::BAD_REQUEST, "more than one Host header").into_response();
    }
    next.run(request).await
}

/// Sidecar pages are never cached or framed.
async fn own_page_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        ),
    );
    response
}

async fn count_responses(
    State(state): State<SharedState>,
    request: Request,
    next: Next,
) -> Response {
    let response = next.run(request).await;
    state
        .metrics
        .requests
        .get_or_create(&StatusLabels {
            status: response.status().as_u16(),
        })
        .inc();
    response
}
