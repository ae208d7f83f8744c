//! What the public port records about each request: the admin port's
//! metrics, and the log lines of proxied requests.

use crate::support::{Options, get, send, session_cookie, state};
use axum::Router;
use axum::http::StatusCode;
use portcullis_sidecar::access::roles::Role;
use std::io::Write;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;

/// Log output kept in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_server_error_from_the_app_is_logged_with_its_status_and_method() {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind");
    let upstream = listener.local_addr().expect("address");
    let failing = Router::new().fallback(|| async { (StatusCode::SERVICE_UNAVAILABLE, "down") });
    tokio::spawn(async move { axum::serve(listener, failing).await });
    let state = state(Options {
        upstream,
        ..Options::default()
    });
    let cookie = session_cookie(&state, "alice", Role::Trusted);

    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _default = tracing::subscriber::set_default(subscriber);
    let response = send(&state, get("/books", Some("text/html"), Some(&cookie))).await;

    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let logged = String::from_utf8(captured.0.lock().expect("log buffer").clone()).expect("utf-8");
    assert!(
        logged.contains("the app answered with a server error"),
        "{logged}"
    );
    assert!(
        logged.contains("status=503") && logged.contains("method=GET"),
        "{logged}"
    );
    assert!(!logged.contains(&cookie), "{logged}");
}

#[tokio::test]
async fn own_handlers_are_timed_by_route_and_proxied_requests_are_not() {
    let state = state(Options::default());
    send(&state, get("/login?rd=%2Fsecret", None, None)).await;
    send(&state, get("/auth/me", None, None)).await;
    send(&state, get("/books", Some("text/html"), None)).await;
    let text = state.metrics.render();
    for route in ["/login", "/auth/me"] {
        assert!(
            text.contains(&format!(
                "portcullis_handler_latency_seconds_count{{route=\"{route}\"}} 1"
            )),
            "{route}: {text}"
        );
    }
    assert!(!text.contains("route=\"proxy\""), "{text}");
    assert!(
        !text.contains("secret"),
        "queries never become labels: {text}"
    );
}

#[tokio::test]
async fn the_in_flight_gauge_returns_to_zero_after_each_request() {
    let state = state(Options::default());
    send(&state, get("/login", None, None)).await;
    send(&state, get("/books", None, None)).await;
    let text = state.metrics.render();
    assert!(
        text.contains("portcullis_http_requests_in_flight 0"),
        "{text}"
    );
    assert!(
        text.contains("portcullis_http_requests_total{status=\"200\"} 1"),
        "{text}"
    );
}
