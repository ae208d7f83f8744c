//! What the public port reports about each request: the number of requests
//! in flight and of answers by status (every request), a tracing span named
//! after the route and how long the handler took (the sidecar's own pages),
//! and the app's latency and server errors (proxied requests). Proxied
//! requests get no span: making one cost about a twentieth of forwarding a
//! request (`make bench-profile`), and the few events on the proxy's way
//! say what they are about on their own.

use crate::observe::metrics::{Metrics, RouteLabels, StatusLabels};
use crate::runtime::state::SharedState;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use std::time::Instant;
use tower_http::classify::{ServerErrorsAsFailures, SharedClassifier};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::{Level, Span};

/// The route label of a request no route of the sidecar's matched.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// A span per request to the sidecar's own pages, `request{method, route}`,
/// with the response logged at debug level and server errors at error level. Query strings are left out: they can carry codes and states.
pub fn trace_layer() -> TraceLayer<SharedClassifier<ServerErrorsAsFailures>, fn(&Request) -> Span> {
    TraceLayer::new_for_http()
        .make_span_with(request_span as fn(&Request) -> Span)
        .on_response(DefaultOnResponse::new().level(Level::DEBUG))
}

fn request_span(request: &Request) -> Span {
    tracing::info_span!(
        "request",
        method = %request.method(),
        route = route_of(request),
    )
}

fn route_of(request: &Request) -> &str {
    request
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED_ROUTE, MatchedPath::as_str)
}

/// Counts the request as in flight until its response is ready (even when
/// the client goes away first and the future is dropped), then counts the
/// response by status. `answer` is the rest of the request's way.
pub async fn in_flight_then_counted(
    metrics: &Metrics,
    answer: impl Future<Output = Response>,
) -> Response {
    let _in_flight = InFlight::enter(metrics);
    let response = answer.await;
    metrics
        .requests
        .get_or_create(&StatusLabels {
            status: response.status().as_u16(),
        })
        .inc();
    response
}

/// Times a handler of the sidecar's own routes, labelled by route.
pub async fn time_own_handler(
    State(state): State<SharedState>,
    request: Request,
    next: Next,
) -> Response {
    let route = route_of(&request).to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    state
        .metrics
        .handler_latency
        .get_or_create(&RouteLabels { route })
        .observe(started.elapsed().as_secs_f64());
    response
}

/// Holds one unit of the in-flight gauge.
struct InFlight<'a>(&'a Metrics);

impl<'a> InFlight<'a> {
    fn enter(metrics: &'a Metrics) -> Self {
        metrics.in_flight.inc();
        Self(metrics)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.dec();
    }
}
