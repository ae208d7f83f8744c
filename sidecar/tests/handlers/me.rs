//! `/auth/me`: the current identity for scripts.

use crate::support::{Options, get, send, session_cookie, state, text};
use axum::http::StatusCode;
use portcullis_sidecar::access::roles::Role;

#[tokio::test]
async fn without_a_session_me_is_a_json_401_pointing_to_login() {
    let state = state(Options::default());
    let response = send(&state, get("/auth/me", None, None)).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body: serde_json::Value = serde_json::from_str(&text(response).await).expect("json");
    assert_eq!(body["error"], "unauthenticated");
    assert_eq!(body["login"], "/login");
}

#[tokio::test]
async fn with_a_session_me_describes_it() {
    let state = state(Options::default());
    let cookie = session_cookie(&state, "alice", Role::Trusted);
    let response = send(&state, get("/auth/me", None, Some(&cookie))).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: serde_json::Value = serde_json::from_str(&text(response).await).expect("json");
    assert_eq!(body["user"], "alice");
    assert_eq!(body["role"], "trusted");
    assert_eq!(body["root"], false);
}

#[tokio::test]
async fn a_cookie_sealed_with_other_keys_is_no_session() {
    let other = state(Options::default());
    let forged = session_cookie(&other, "mallory", Role::Admin);
    let state = state(Options::default());
    let response = send(&state, get("/auth/me", None, Some(&forged))).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}
