//! Everything else: proxied with the sidecar's identity, or sent to log in.

use crate::support::{Options, get, header_text, send, session_cookie, state, text};
use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use portcullis_sidecar::roles::Role;
use serde_json::{Map, Value, json};
use std::net::{Ipv4Addr, SocketAddr};
use tokio::net::TcpListener;

/// An app on 127.0.0.1 that answers every request with the headers it got.
pub async fn echo_app() -> SocketAddr {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let app = Router::new().fallback(|request: Request| async move {
        let mut headers = Map::new();
        for (name, value) in request.headers() {
            let value = Value::from(value.to_str().unwrap_or("<binary>"));
            match headers.get_mut(name.as_str()) {
                Some(Value::Array(values)) => values.push(value),
                _ => {
                    headers.insert(name.as_str().to_owned(), Value::Array(vec![value]));
                }
            }
        }
        axum::Json(json!({"path": request.uri().to_string(), "headers": headers}))
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    address
}

#[tokio::test]
async fn a_browser_without_a_session_is_sent_to_log_in_and_back() {
    let state = state(Options::default());
    let response = send(&state, get("/books?page=2", Some("text/html"), None)).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        header_text(&response, header::LOCATION),
        "/auth/start?rd=%2Fbooks%3Fpage%3D2"
    );
}

#[tokio::test]
async fn a_script_without_a_session_gets_a_401() {
    let state = state(Options::default());
    let response = send(&state, get("/api/books", Some("application/json"), None)).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let posted = axum::http::Request::post("/books")
        .header(header::ACCEPT, "text/html")
        .body(Body::empty())
        .expect("request");
    let response = send(&state, posted).await;
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "a POST is never redirected to log in"
    );
}

#[tokio::test]
async fn the_app_gets_the_sidecars_identity_and_never_the_clients() {
    let upstream = echo_app().await;
    let state = state(Options {
        upstream,
        ..Options::default()
    });
    let session = session_cookie(&state, "alice", Role::Trusted);
    let request = axum::http::Request::get("/books?page=2")
        .header(header::COOKIE, format!("app_pref=dark; {session}"))
        .header("x-forwarded-user", "mallory")
        .header("X_Forwarded_User", "mallory")
        .header("x-portcullis-role", "admin")
        .header("x-portcullis-root", "true")
        .body(Body::empty())
        .expect("request");
    let response = send(&state, request).await;
    assert_eq!(response.status(), StatusCode::OK);
    let seen: Value = serde_json::from_str(&text(response).await).expect("json");
    assert_eq!(seen["path"], "/books?page=2");
    let headers = &seen["headers"];
    assert_eq!(headers["x-forwarded-user"], json!(["alice"]));
    assert_eq!(headers["x-forwarded-email"], json!(["alice@example.com"]));
    assert_eq!(headers["x-forwarded-groups"], json!(["readers"]));
    assert_eq!(headers["x-portcullis-role"], json!(["trusted"]));
    assert_eq!(headers["x-portcullis-root"], json!(["false"]));
    assert!(headers.get("x_forwarded_user").is_none(), "{headers}");
    assert_eq!(
        headers["cookie"],
        json!(["app_pref=dark"]),
        "the app's cookies pass, the sidecar's stay behind"
    );
}

#[tokio::test]
async fn an_app_that_does_not_answer_is_a_502_page() {
    let state = state(Options::default());
    let session = session_cookie(&state, "alice", Role::Untrusted);
    let response = send(&state, get("/books", Some("text/html"), Some(&session))).await;
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    assert!(text(response).await.contains("Application unavailable"));
}
