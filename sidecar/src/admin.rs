//! The admin port: liveness, readiness and metrics, apart from the app's traffic.
//!
//! Readiness means "settings are loaded and the proxy is serving". An
//! identity provider outage is reported here but never makes the pod
//! unready: the backup login and existing sessions must keep working.

use crate::http::state::SharedState;
use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::json;

/// The admin router.
pub fn admin_app(state: SharedState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state)
}

async fn readyz(State(state): State<SharedState>) -> impl IntoResponse {
    let issuer = state.settings.load().oidc.issuer.clone();
    let provider = match (
        state.provider.cached(&issuer),
        state.provider.last_failure(),
    ) {
        (Some(_), _) => json!({"status": "ok", "issuer": issuer}),
        (None, Some(failure)) => {
            json!({"status": "unreachable", "issuer": issuer, "reason": failure.reason})
        }
        (None, None) => json!({"status": "pending", "issuer": issuer}),
    };
    axum::Json(json!({"ready": true, "identityProvider": provider}))
}

async fn metrics(State(state): State<SharedState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
}
