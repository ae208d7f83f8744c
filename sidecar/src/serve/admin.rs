//! The admin port: liveness, readiness and metrics, apart from the app's traffic.
//!
//! Readiness means "settings are loaded and the proxy is serving", until
//! SIGTERM: from then on `/readyz` answers 503 so the endpoint is taken out
//! of the Service while requests are still served (see `server`). An
//! identity provider outage is reported here (from the background refresh,
//! which asks the provider every 30 s) but never makes the pod unready: the
//! backup login and existing sessions must keep working. With a session
//! store, a new replica is ready once it tried to load the shared log-out
//! list (loaded, or found the store away); a store outage after that is
//! reported but never makes the pod unready either. The body also names
//! the hash of the settings being served, to compare with the generated
//! ConfigMap's `portcullis.dev/config-hash` annotation.

use crate::runtime::state::SharedState;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::json;
use std::sync::atomic::Ordering;

/// The admin router.
pub fn admin_app(state: SharedState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state)
}

async fn readyz(State(state): State<SharedState>) -> impl IntoResponse {
    let settings = state.settings.load();
    let issuer = settings.oidc.issuer.clone();
    let cached = state.provider.cached(&issuer).is_some();
    let failure = state
        .provider
        .last_failure()
        .filter(|failure| failure.issuer == issuer);
    let provider = match (failure, cached) {
        (Some(failure), cached) => json!({
            "status": "unreachable",
            "issuer": issuer,
            "reason": failure.reason,
            "usingCachedDocument": cached,
        }),
        (None, true) => json!({"status": "ok", "issuer": issuer}),
        (None, false) => json!({"status": "pending", "issuer": issuer}),
    };
    let draining = state.draining.load(Ordering::SeqCst);
    let store_loading = state
        .store
        .as_ref()
        .is_some_and(|store| !store.first_load_tried());
    let ready = !draining && !store_loading;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let store = state.store.as_ref().map(|store| {
        json!({
            "status": match (store_loading, store.is_reachable()) {
                (true, _) => "loading",
                (false, true) => "ok",
                (false, false) => "unreachable",
            },
            "fresh": store.is_fresh(),
        })
    });
    let body = json!({
        "ready": ready,
        "draining": draining,
        "identityProvider": provider,
        "sessionStore": store,
        "config": {"hash": settings.config_hash},
    });
    (status, axum::Json(body))
}

async fn metrics(State(state): State<SharedState>) -> impl IntoResponse {
    if let Some(store) = &state.store {
        state
            .metrics
            .store_reachable
            .set(i64::from(store.is_reachable()));
        state.metrics.store_fresh.set(i64::from(store.is_fresh()));
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
}
