//! The forward-auth door in-process: whom it answers, for which host, and
//! what its answers carry. (Its verdicts, request by request, are held to
//! the gate's in `gate_vectors`.)

use crate::support::{Options, send, send_from, session_cookie, state, text};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use portcullis_sidecar::access::roles::Role;
use portcullis_sidecar::runtime::state::SharedState;
use std::net::SocketAddr;

fn forward_auth() -> SharedState {
    state(Options {
        forward_auth: true,
        extra: "authorization:\n  rules:\n    - {path: /healthz, allow: public}\n",
        ..Options::default()
    })
}

/// nginx's question about `GET url`, with `headers` beside.
fn question(url: &str, headers: &[(&str, &str)]) -> Request<Body> {
    let mut request = Request::builder()
        .uri("/auth/verify")
        .header("x-original-url", url)
        .header("x-original-method", "GET")
        .header(header::ACCEPT, "application/json");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.body(Body::empty()).expect("request")
}

#[tokio::test]
async fn a_question_from_a_peer_that_is_not_a_trusted_proxy_is_refused_whatever_it_carries() {
    let state = forward_auth();
    let admin = session_cookie(&state, "alice", Role::Admin);
    let stranger: SocketAddr = "192.0.2.1:40000".parse().expect("address");
    let request = question(
        "http://127.0.0.1:4180/",
        &[(header::COOKIE.as_str(), admin.as_str())],
    );
    let response = send_from(&state, stranger, request).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(response.headers().get("x-forwarded-user").is_none());
    assert!(text(response).await.contains("trustedProxies"));
}

#[tokio::test]
async fn identity_headers_a_client_sent_are_never_answered() {
    let state = forward_auth();
    let forged = [
        ("x-forwarded-user", "admin"),
        ("x-portcullis-role", "admin"),
        ("x-portcullis-root", "true"),
        ("x-forwarded-groups", "admin"),
    ];
    let anonymous = send(&state, question("http://127.0.0.1:4180/healthz", &forged)).await;
    assert_eq!(anonymous.status(), StatusCode::OK);
    for (name, _) in forged {
        assert!(anonymous.headers().get(name).is_none(), "{name} was echoed");
    }
    let ursula = session_cookie(&state, "ursula", Role::Untrusted);
    let mut signed_in = forged.to_vec();
    signed_in.push((header::COOKIE.as_str(), &ursula));
    let answer = send(&state, question("http://127.0.0.1:4180/", &signed_in)).await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(answer.headers()["x-forwarded-user"], "ursula");
    assert_eq!(answer.headers()["x-portcullis-role"], "untrusted");
    assert_eq!(answer.headers()["x-portcullis-root"], "false");
    assert_eq!(answer.headers()[header::CACHE_CONTROL], "no-store");
}

#[tokio::test]
async fn a_question_about_a_host_nobody_configured_is_refused() {
    let state = forward_auth();
    let admin = session_cookie(&state, "alice", Role::Admin);
    let cookie = [(header::COOKIE.as_str(), admin.as_str())];
    let ours = send(&state, question("http://127.0.0.1:4180/", &cookie)).await;
    assert_eq!(ours.status(), StatusCode::OK, "the public URL's own host");
    let other = send(&state, question("http://apps.example.com/", &cookie)).await;
    assert_eq!(other.status(), StatusCode::FORBIDDEN);
    assert!(other.headers().get("x-forwarded-user").is_none());
    assert!(text(other).await.contains("apps.example.com"));
}

#[tokio::test]
async fn a_forward_auth_service_serves_its_own_pages_and_proxies_nothing() {
    let state = forward_auth();
    let page = |uri: &str| Request::get(uri).body(Body::empty()).expect("request");
    let app = send(&state, page("/books")).await;
    assert_eq!(app.status(), StatusCode::NOT_FOUND);
    assert!(text(app).await.contains("forward-auth"));
    assert_eq!(send(&state, page("/login")).await.status(), StatusCode::OK);
    let unnamed = send(&state, page("/auth/verify")).await;
    assert_eq!(unnamed.status(), StatusCode::BAD_REQUEST);
    assert!(text(unnamed).await.contains("X-Original-URL"));
}

#[tokio::test]
async fn envoy_is_answered_every_identity_header_so_a_clients_own_cannot_stay() {
    let state = forward_auth();
    let question = |cookie: Option<&str>| {
        let mut request = Request::get("/auth/envoy/healthz")
            .header(header::HOST, "127.0.0.1:4180")
            .header("x-forwarded-user", "admin");
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        request.body(Body::empty()).expect("request")
    };
    let anonymous = send(&state, question(None)).await;
    assert_eq!(anonymous.status(), StatusCode::OK);
    for name in [
        "x-forwarded-user",
        "x-forwarded-groups",
        "x-forwarded-email",
        "x-forwarded-preferred-username",
        "x-portcullis-role",
        "x-portcullis-root",
    ] {
        assert_eq!(
            anonymous.headers()[name],
            "",
            "{name}: Envoy would keep the client's"
        );
    }
    let ursula = session_cookie(&state, "ursula", Role::Untrusted);
    let signed_in = send(&state, question(Some(&ursula))).await;
    assert_eq!(signed_in.headers()["x-forwarded-user"], "ursula");
    let stranger: SocketAddr = "192.0.2.1:40000".parse().expect("address");
    let refused = send_from(&state, stranger, question(Some(&ursula))).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn envoy_is_answered_the_signed_identity_header_too_empty_without_a_caller() {
    let state = state(Options {
        forward_auth: true,
        extra: "signedIdentity:\n  keyFile: /secrets/identity-keys\n  headerName: X-Jwt-Assertion\nauthorization:\n  rules:\n    - {path: /healthz, allow: public}\n",
        ..Options::default()
    });
    let request = Request::get("/auth/envoy/healthz")
        .header(header::HOST, "127.0.0.1:4180")
        .header("x-jwt-assertion", "a token the client brought")
        .body(Body::empty())
        .expect("request");
    let anonymous = send(&state, request).await;
    assert_eq!(anonymous.status(), StatusCode::OK);
    assert_eq!(
        anonymous.headers()["x-jwt-assertion"],
        "",
        "Envoy would keep the client's token"
    );
}
