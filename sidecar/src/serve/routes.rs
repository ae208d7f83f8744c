//! The public port's entry: the sidecar's own few pages through a router,
//! and the door for everything else (the proxy, or the forward-auth
//! answer).
//!
//! A request for any other path goes straight to the proxy, past the
//! router: its dispatch, layers and boxed futures cost about a sixth of a
//! proxied request (`make bench-profile`), and the proxy needs none of them.

use crate::config::Door;
use crate::forward;
use crate::http::backchannel_logout::backchannel_logout;
use crate::http::backup_login::backup_login;
use crate::http::csrf::refuse_cross_site_posts;
use crate::http::frontchannel_logout::frontchannel_logout;
use crate::http::jwks::jwks;
use crate::http::login::{callback, login_page_handler, me, start};
use crate::http::logout::{confirm, logout};
use crate::http::observe::{in_flight_then_counted, time_own_handler, trace_layer};
use crate::proxy::proxy_request;
use crate::runtime::state::SharedState;
use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use portcullis_contract::paths::{
    BACKCHANNEL_LOGOUT_PATH, CALLBACK_PATH, FRONTCHANNEL_LOGOUT_PATH, JWKS_PATH,
};
use std::net::SocketAddr;
use tower::ServiceExt;

/// A page the sidecar answers itself; every other path belongs to the app.
/// One list: the router is built from it and [`OWN_PATHS`] read from it, so
/// the two cannot drift apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OwnPage {
    /// `/login`: the login page, and the root admin's form behind `?backup=1`.
    Login,
    /// `/logout`: the log-out confirmation and the log out itself.
    Logout,
    /// `/auth/start`: where a login starts, the redirect to the provider.
    Start,
    /// `/auth/oidc`: the provider's callback.
    Callback,
    /// `/auth/me`: the current identity as JSON.
    Me,
    /// The identity signing keys (JWKS), which apps may cache.
    PublicKeys,
    /// `/auth/backchannel-logout`: where the provider posts logout tokens.
    BackChannelLogout,
    /// `/auth/frontchannel-logout`: what the provider's sign-out page frames.
    FrontChannelLogout,
}

impl OwnPage {
    /// Every page.
    pub const ALL: [OwnPage; 8] = [
        Self::Login,
        Self::Logout,
        Self::Start,
        Self::Callback,
        Self::Me,
        Self::PublicKeys,
        Self::BackChannelLogout,
        Self::FrontChannelLogout,
    ];

    /// The page's path.
    pub const fn path(self) -> &'static str {
        match self {
            Self::Login => "/login",
            Self::Logout => "/logout",
            Self::Start => "/auth/start",
            Self::Callback => CALLBACK_PATH,
            Self::Me => "/auth/me",
            Self::PublicKeys => JWKS_PATH,
            Self::BackChannelLogout => BACKCHANNEL_LOGOUT_PATH,
            Self::FrontChannelLogout => FRONTCHANNEL_LOGOUT_PATH,
        }
    }

    /// The page's handlers.
    fn handlers(self) -> MethodRouter<SharedState> {
        match self {
            Self::Login => get(login_page_handler).post(backup_login),
            Self::Logout => get(confirm).post(logout),
            Self::Start => get(start),
            Self::Callback => get(callback),
            Self::Me => get(me),
            Self::PublicKeys => get(jwks),
            Self::BackChannelLogout => post(backchannel_logout),
            Self::FrontChannelLogout => get(frontchannel_logout),
        }
    }
}

/// Every path the sidecar answers itself ([`OwnPage::ALL`]'s paths).
pub const OWN_PATHS: [&str; OwnPage::ALL.len()] = {
    let mut paths = [""; OwnPage::ALL.len()];
    let mut index = 0;
    while index < paths.len() {
        paths[index] = OwnPage::ALL[index].path();
        index += 1;
    }
    paths
};

/// What the router answers for a path it does not serve (never reached
/// from [`PublicApp::serve`], which sends it [`OWN_PATHS`] only).
const NOT_OWN: &str = "not a page of the sidecar";

/// The public port's requests, each to the router or to the proxy.
#[derive(Clone)]
pub struct PublicApp {
    router: Router,
    state: SharedState,
}

impl PublicApp {
    /// The public port's app on `state`.
    pub fn new(state: SharedState) -> Self {
        Self {
            router: app(state.clone()),
            state,
        }
    }

    /// Answers `request` from `peer`: counted in flight and by the status of
    /// its answer, refused when it is ambiguous about its host, then served
    /// by the page it names or proxied. The router's handlers find the
    /// peer in the request's `ConnectInfo`, which the caller sets.
    pub async fn serve(self, peer: SocketAddr, request: Request) -> Response {
        let state = &self.state;
        in_flight_then_counted(&state.metrics, async {
            if has_more_than_one_host(&request) {
                (StatusCode::BAD_REQUEST, "more than one Host header").into_response()
            } else if OWN_PATHS.contains(&request.uri().path()) {
                match self.router.oneshot(request).await {
                    Ok(response) => response,
                    Err(never) => match never {},
                }
            } else {
                let settings = state.settings.load_full();
                // Boxed: the proxy's future is kilobytes, and the server
                // would otherwise copy it whole on its way in, every request.
                match &settings.door {
                    Door::Proxy(upstream) => {
                        Box::pin(proxy_request(state, &settings, upstream, peer, request)).await
                    }
                    Door::ForwardAuth => {
                        Box::pin(forward::answer(state, &settings, peer, request)).await
                    }
                }
            }
        })
        .await
    }
}

/// The router of the sidecar's own pages ([`OwnPage`]).
pub fn app(state: SharedState) -> Router {
    let pages = OwnPage::ALL
        .into_iter()
        .filter(|page| *page != OwnPage::PublicKeys)
        .fold(Router::new(), |router, page| {
            router.route(page.path(), page.handlers())
        });
    pages
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
        .route(OwnPage::PublicKeys.path(), OwnPage::PublicKeys.handlers())
        .fallback(|| async { (StatusCode::NOT_FOUND, NOT_OWN) })
        .layer(trace_layer())
        .with_state(state)
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

/// Sidecar pages are never cached or framed, except by whom a page's own
/// policy names (the front-channel logout, framed by the provider).
async fn own_page_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
            ),
        );
    }
    response
}
