//! `/auth/oidc`: callbacks that do not belong to a login in this browser.

use crate::support::{Options, get, send, state, text};
use axum::http::StatusCode;

#[tokio::test]
async fn a_callback_without_code_or_state_is_a_400_page() {
    let state = state(Options::default());
    let response = send(&state, get("/auth/oidc", None, None)).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(text(response).await.contains("incomplete"));
}

#[tokio::test]
async fn a_callback_this_browser_did_not_start_is_refused() {
    let state = state(Options::default());
    let response = send(&state, get("/auth/oidc?code=abc&state=xyz123", None, None)).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let page = text(response).await;
    assert!(page.contains("no sign-in in progress"), "{page}");
    let metrics = state.metrics.render();
    assert!(
        metrics.contains("portcullis_logins_total{outcome=\"InvalidCallback\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_provider_error_shows_its_code_but_not_its_description() {
    let state = state(Options::default());
    let uri = "/auth/oidc?error=access_denied&error_description=Call%20555-0100%20now&state=s";
    let response = send(&state, get(uri, None, None)).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let page = text(response).await;
    assert!(page.contains("<code>access_denied</code>"), "{page}");
    assert!(!page.contains("555-0100"), "{page}");
}
