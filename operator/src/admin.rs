//! The admin port: `/healthz`, `/readyz` and `/metrics`, apart from everything else.

use crate::metrics::Metrics;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// What the admin handlers read.
#[derive(Clone)]
pub struct AdminState {
    /// Metrics to expose.
    pub metrics: Arc<Metrics>,
    /// Set once the API server answered; leader or standby, the replica is ready.
    pub ready: Arc<AtomicBool>,
}

/// The admin router.
pub fn app(state: AdminState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state)
}

async fn readyz(State(state): State<AdminState>) -> impl IntoResponse {
    if state.ready.load(Ordering::Relaxed) {
        (StatusCode::OK, "ok")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready")
    }
}

async fn metrics(State(state): State<AdminState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.encode(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    fn state(ready: bool) -> AdminState {
        AdminState {
            metrics: Arc::new(Metrics::default()),
            ready: Arc::new(AtomicBool::new(ready)),
        }
    }

    async fn status(state: AdminState, path: &str) -> StatusCode {
        let request = Request::get(path).body(Body::empty()).expect("request");
        app(state)
            .oneshot(request)
            .await
            .expect("response")
            .status()
    }

    #[tokio::test]
    async fn readyz_follows_the_ready_flag() {
        assert_eq!(
            status(state(false), "/readyz").await,
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(status(state(true), "/readyz").await, StatusCode::OK);
        assert_eq!(status(state(false), "/healthz").await, StatusCode::OK);
        assert_eq!(status(state(false), "/metrics").await, StatusCode::OK);
    }
}
