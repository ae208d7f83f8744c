//! The sidecar's router: its own few routes, and the proxy for everything else.

use super::backup::backup_login;
use super::csrf::refuse_cross_site_posts;
use super::jwks::jwks;
use super::login::{callback, login_page_handler, me, start};
use super::logout::{confirm, logout};
use super::observe::{in_flight_then_counted, time_own_handler, trace_layer};
use super::proxy::proxy;
use super::state::SharedState;
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
        .layer(middleware::from_fn_with_state(state.clone(), every_request))
        .layer(trace_layer())
        .with_state(state)
}

/// What every request goes through: counted in flight and by the status
/// of its answer, and refused when it is ambiguous about its host. One
/// layer rather than one each: every `from_fn` layer boxes the rest of the
/// router and its future again, about 4,000 instructions of a proxied
/// request each (`make bench-profile`).
async fn every_request(State(state): State<SharedState>, request: Request, next: Next) -> Response {
    in_flight_then_counted(&state.metrics, async {
        if has_more_than_one_host(&request) {
            (StatusCode::BAD_REQUEST, "more than one Host header").into_response()
        } else {
            next.run(request).await
        }
    })
    .await
}

/// A request with more than one `Host` is refused: the sidecar and the app
/// could each read a different one (RFC 9112 §3.2 asks for a 400).
fn has_more_than_one_host(request: &Request) -> bool {
    request
        .headers()
        .get_all(header::HOST)
        .iter()
        .nth(1)
        .is_some()
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
