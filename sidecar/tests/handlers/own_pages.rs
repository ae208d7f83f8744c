//! The sidecar's own pages: security headers, the login page, and hostile `rd`.

use crate::support::{CLIENT, Options, get, header_text, send, state, text};
use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{Request, StatusCode, header};
use portcullis_sidecar::serve::routes::{OWN_PATHS, app};
use tower::ServiceExt;

#[tokio::test]
async fn own_pages_are_never_cached_framed_or_sniffed() {
    let state = state(Options::default());
    for uri in ["/login", "/login?backup=1", "/logout", "/auth/me"] {
        let response = send(&state, get(uri, None, None)).await;
        assert_eq!(
            header_text(&response, header::CACHE_CONTROL),
            "no-store",
            "{uri}"
        );
        assert_eq!(
            header_text(&response, header::X_FRAME_OPTIONS),
            "DENY",
            "{uri}"
        );
        assert_eq!(
            header_text(&response, header::X_CONTENT_TYPE_OPTIONS),
            "nosniff",
            "{uri}"
        );
        assert!(
            header_text(&response, header::CONTENT_SECURITY_POLICY)
                .contains("frame-ancestors 'none'"),
            "{uri}"
        );
    }
}

#[tokio::test]
async fn the_login_page_keeps_a_safe_return_path() {
    let state = state(Options::default());
    let response = send(&state, get("/login?rd=%2Fbooks%3Fpage%3D2", None, None)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let page = text(response).await;
    assert!(page.contains("value=\"/books?page=2\""), "{page}");
}

#[tokio::test]
async fn a_hostile_return_path_on_the_login_page_becomes_the_root() {
    let state = state(Options::default());
    for hostile in [
        "https%3A%2F%2Fevil.example%2F",
        "%2F%2Fevil.example",
        "%2F%5Cevil.example",
        "javascript%3Aalert(1)",
    ] {
        let response = send(&state, get(&format!("/login?rd={hostile}"), None, None)).await;
        let page = text(response).await;
        assert!(
            page.contains("name=\"rd\" value=\"/\""),
            "{hostile}: {page}"
        );
        assert!(!page.contains("evil.example"), "{hostile}: {page}");
    }
}

#[tokio::test]
async fn starting_a_login_without_a_reachable_provider_is_a_503_without_its_address() {
    let state = state(Options::default());
    let issuer = state.settings.load().oidc.issuer.clone();
    let response = send(&state, get("/auth/start?rd=%2Fbooks", None, None)).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let page = text(response).await;
    assert!(page.contains("Identity provider unavailable"), "{page}");
    assert!(!page.contains(&issuer), "{page}");
    assert!(page.contains("/login?backup=1"), "{page}");
}

#[tokio::test]
async fn a_request_with_two_host_headers_is_refused() {
    let state = state(Options::default());
    let request = Request::get("/login")
        .header(header::HOST, "books.example.com")
        .header(header::HOST, "evil.example")
        .body(Body::empty())
        .expect("request");
    let response = send(&state, request).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn every_path_the_sidecar_claims_is_a_route_of_its_router() {
    let state = state(Options::default());
    for path in OWN_PATHS {
        let response = app(state.clone())
            .layer(MockConnectInfo(CLIENT))
            .oneshot(get(path, Some("text/html"), None))
            .await
            .expect("the router never fails");
        let body = text(response).await;
        assert!(
            !body.contains("not a page of the sidecar"),
            "{path}: {body}"
        );
    }
}

#[tokio::test]
async fn a_path_beside_one_of_the_sidecars_is_the_apps() {
    let state = state(Options::default());
    for path in ["/login/", "/Login", "/auth/me/x", "/auth", "/logout.html"] {
        let response = send(&state, get(path, Some("text/html"), None)).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path}");
        assert!(
            header_text(&response, header::LOCATION).starts_with("/auth/start?rd="),
            "{path}"
        );
    }
}
