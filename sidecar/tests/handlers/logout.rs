//! `/logout`: a confirmation form, a CSRF-guarded POST, and revocation.

use crate::support::{
    Options, SESSION_COOKIE, csrf_pair, get, header_text, post_form, send, session_cookie,
    set_cookies, state, text,
};
use axum::http::{StatusCode, header};
use portcullis_sidecar::access::roles::Role;

#[tokio::test]
async fn get_only_asks_for_confirmation() {
    let state = state(Options::default());
    let session = session_cookie(&state, "alice", Role::Untrusted);
    let response = send(&state, get("/logout", None, Some(&session))).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        !set_cookies(&response)
            .iter()
            .any(|pair| pair.starts_with(&format!("{SESSION_COOKIE}="))),
        "GET leaves the session alone"
    );
    let page = text(response).await;
    assert!(
        page.contains("signed in as <strong>alice</strong>"),
        "{page}"
    );
    let me = send(&state, get("/auth/me", None, Some(&session))).await;
    assert_eq!(me.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_post_without_the_csrf_pair_does_not_log_out() {
    let state = state(Options::default());
    let session = session_cookie(&state, "alice", Role::Untrusted);
    let response = send(
        &state,
        post_form("/logout", &[("csrf", "guess")], Some(&session)),
    )
    .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let me = send(&state, get("/auth/me", None, Some(&session))).await;
    assert_eq!(me.status(), StatusCode::OK);
}

#[tokio::test]
async fn logging_out_clears_the_cookie_and_revokes_saved_copies() {
    let state = state(Options::default());
    let session = session_cookie(&state, "alice", Role::Untrusted);
    let (token, csrf_cookie) = csrf_pair(&state, "/logout", Some(&session)).await;
    let cookies = format!("{session}; {csrf_cookie}");
    let response = send(
        &state,
        post_form("/logout", &[("csrf", token.as_str())], Some(&cookies)),
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        header_text(&response, header::LOCATION),
        "/login",
        "without a known end_session_endpoint, log out ends at the login page"
    );
    assert!(
        set_cookies(&response).contains(&format!("{SESSION_COOKIE}=")),
        "the session cookie is cleared"
    );
    let me = send(&state, get("/auth/me", None, Some(&session))).await;
    assert_eq!(
        me.status(),
        StatusCode::UNAUTHORIZED,
        "a saved copy of the cookie no longer opens"
    );
}

#[tokio::test]
async fn a_post_from_another_origin_or_an_opaque_one_does_not_log_out() {
    let state = state(Options::default());
    let session = session_cookie(&state, "alice", Role::Untrusted);
    let (token, csrf_cookie) = csrf_pair(&state, "/logout", Some(&session)).await;
    let cookies = format!("{session}; {csrf_cookie}");
    for origin in ["https://evil.example", "null"] {
        let mut request = post_form("/logout", &[("csrf", token.as_str())], Some(&cookies));
        request
            .headers_mut()
            .insert(header::ORIGIN, axum::http::HeaderValue::from_static(origin));
        let response = send(&state, request).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{origin}");
    }
    let me = send(&state, get("/auth/me", None, Some(&session))).await;
    assert_eq!(me.status(), StatusCode::OK, "still signed in");
}
