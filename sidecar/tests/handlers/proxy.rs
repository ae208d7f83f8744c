//! Everything else: proxied with the sidecar's identity, or sent to log in.

use crate::support::{
    Options, csrf_pair, get, header_text, post_form, send, session_cookie, settings, state, text,
};
use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use portcullis_sidecar::access::roles::Role;
use portcullis_sidecar::runtime::state::SharedState;
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

/// State whose app is a fresh [`echo_app`].
pub async fn state_with_echo_app() -> SharedState {
    state(Options {
        upstream: echo_app().await,
        ..Options::default()
    })
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
    let state = state_with_echo_app().await;
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

/// Headers by which app servers and frameworks route a request to another
/// path than the one the gate judged (Symfony, IIS, Envoy, Flask).
const URL_REWRITES: [&str; 8] = [
    "X-Original-URL",
    "X_Original_URL",
    "X-Rewrite-URL",
    "X-Original-URI",
    "X-Envoy-Original-Path",
    "X-Forwarded-Prefix",
    "X_Forwarded_Path",
    "X-Original-Method",
];

#[tokio::test]
async fn headers_that_rewrite_the_url_never_reach_the_app() {
    let state = state_with_echo_app().await;
    let mut request = axum::http::Request::get("/books");
    for name in URL_REWRITES {
        request = request.header(name, "/admin");
    }
    let session = session_cookie(&state, "alice", Role::Trusted);
    let request = request
        .header(header::COOKIE, session)
        .body(Body::empty())
        .expect("request");
    let response = send(&state, request).await;
    assert_eq!(response.status(), StatusCode::OK);
    let seen: Value = serde_json::from_str(&text(response).await).expect("json");
    for name in URL_REWRITES {
        let lower = name.to_ascii_lowercase();
        assert!(seen["headers"].get(&lower).is_none(), "{name}: {seen}");
    }
}

#[tokio::test]
async fn an_app_that_does_not_answer_is_a_502_page() {
    let state = state(Options::default());
    let session = session_cookie(&state, "alice", Role::Untrusted);
    let response = send(&state, get("/books", Some("text/html"), Some(&session))).await;
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    assert!(text(response).await.contains("Application unavailable"));
}

/// A proxied `GET /books` with `cookie`, asking for JSON (a refusal is a 401, not a redirect).
fn api_get(cookie: &str) -> axum::http::Request<Body> {
    get("/books", Some("application/json"), Some(cookie))
}

#[tokio::test]
async fn a_logged_out_session_is_refused_even_though_its_cookie_was_opened_before() {
    let state = state_with_echo_app().await;
    let session = session_cookie(&state, "alice", Role::Trusted);
    for _ in 0..2 {
        let response = send(&state, api_get(&session)).await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    assert_eq!(
        state.opened.len(),
        1,
        "the cookie is remembered, so the next request takes the remembered path"
    );
    let (token, csrf_cookie) = csrf_pair(&state, "/logout", Some(&session)).await;
    let cookies = format!("{session}; {csrf_cookie}");
    let logout = send(
        &state,
        post_form("/logout", &[("csrf", token.as_str())], Some(&cookies)),
    )
    .await;
    assert_eq!(logout.status(), StatusCode::SEE_OTHER);
    let response = send(&state, api_get(&session)).await;
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "a saved copy of a remembered cookie no longer opens"
    );
}

#[tokio::test]
async fn a_remembered_cookie_no_longer_opens_once_a_reload_removed_its_key() {
    let upstream = echo_app().await;
    let options = Options {
        upstream,
        ..Options::default()
    };
    let state = state(options);
    let session = session_cookie(&state, "alice", Role::Trusted);
    let response = send(&state, api_get(&session)).await;
    assert_eq!(response.status(), StatusCode::OK);
    // New settings with a new key file, as a config reload swaps them in.
    state.settings.store(std::sync::Arc::new(settings(options)));
    let response = send(&state, api_get(&session)).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_target_in_absolute_form_reaches_the_app_as_a_path() {
    let state = state_with_echo_app().await;
    let session = session_cookie(&state, "alice", Role::Trusted);
    for (target, path) in [
        ("http://elsewhere.example/books?page=2", "/books?page=2"),
        ("http://elsewhere.example", "/"),
    ] {
        let request = axum::http::Request::get(target)
            .header(header::HOST, "books.example")
            .header(header::COOKIE, &session)
            .body(Body::empty())
            .expect("request");
        let response = send(&state, request).await;
        assert_eq!(response.status(), StatusCode::OK, "{target}");
        let seen: Value = serde_json::from_str(&text(response).await).expect("json");
        assert_eq!(seen["path"], path, "{target}");
        assert_eq!(seen["headers"]["host"], json!(["books.example"]));
    }
}

#[tokio::test]
async fn a_request_without_host_reaches_the_app_under_the_apps_own_name() {
    let state = state_with_echo_app().await;
    let session = session_cookie(&state, "alice", Role::Trusted);
    let request = axum::http::Request::get("/books")
        .version(axum::http::Version::HTTP_10)
        .header(header::COOKIE, session)
        .body(Body::empty())
        .expect("request");
    let response = send(&state, request).await;
    assert_eq!(response.status(), StatusCode::OK);
    let seen: Value = serde_json::from_str(&text(response).await).expect("json");
    let settings = state.settings.load();
    let app = settings
        .door
        .upstream()
        .expect("a proxy")
        .authority
        .to_string();
    assert_eq!(seen["headers"]["host"], json!([app]));
}

#[tokio::test]
async fn a_connect_request_is_refused_and_opens_no_tunnel() {
    let state = state_with_echo_app().await;
    let session = session_cookie(&state, "alice", Role::Admin);
    for (target, status) in [
        ("/tunnel", StatusCode::NOT_IMPLEMENTED),
        // No path at all: refused before, as an address the rules cannot read.
        ("elsewhere.example:443", StatusCode::BAD_REQUEST),
    ] {
        let request = axum::http::Request::connect(target)
            .header(header::COOKIE, &session)
            .body(Body::empty())
            .expect("request");
        let response = send(&state, request).await;
        assert_eq!(response.status(), status, "{target}");
    }
}
