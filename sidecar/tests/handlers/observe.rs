//! What the router records about each request on the admin port's metrics.

use crate::support::{Options, get, send, state};

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
