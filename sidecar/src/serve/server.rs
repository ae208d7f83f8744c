//! Running the sidecar: its listeners (public, admin, and Envoy's gRPC
//! `ext_authz` when configured), background discovery, graceful shutdown.
//!
//! Shutdown happens in two steps, because in Kubernetes the pod's endpoint
//! leaves the Service (and every node's proxy rules) only some time after the
//! pod is told to stop, and connections keep arriving meanwhile:
//! 1. at SIGTERM, `/readyz` answers 503 at once and everything keeps being
//!    served, new connections included, for the drain delay;
//! 2. then the public listener closes, idle connections are closed, and
//!    in-flight requests get up to [`DRAIN_TIMEOUT`] to finish.

use crate::config::Settings;
use crate::forward::check::service::serve_check;
use crate::observe::metrics::Metrics;
use crate::runtime::state::{AppState, SharedState};
use crate::serve::admin::admin_app;
use crate::serve::listener::serve_bounded;
use crate::serve::routes::PublicApp;
use crate::session::store::link::keep_in_sync;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// How long in-flight requests may take to finish once the listener closed.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves until SIGTERM or Ctrl-C, keeps serving (reported not ready) for
/// `drain_delay`, then drains in-flight requests for a bounded time.
pub async fn serve(
    settings: Settings,
    config_path: PathBuf,
    drain_delay: Duration,
) -> anyhow::Result<()> {
    let mut metrics = Metrics::default();
    if settings.session.store.is_some() {
        metrics.register_store();
    }
    let metrics = Arc::new(metrics);
    let state: SharedState = Arc::new(AppState::new(settings, metrics)?);
    let settings = state.settings.load_full();

    let public = TcpListener::bind(settings.listen).await?;
    let admin = TcpListener::bind(settings.admin_listen).await?;
    let grpc = match settings.grpc_listen {
        Some(address) => Some(TcpListener::bind(address).await?),
        None => None,
    };
    tracing::info!(
        listen = %public.local_addr()?,
        admin = %admin.local_addr()?,
        grpc = ?grpc.as_ref().and_then(|grpc| grpc.local_addr().ok()),
        door = %settings.door,
        issuer = %settings.oidc.issuer,
        "portcullis sidecar is serving"
    );

    let discovery_state = state.clone();
    tokio::spawn(
        state
            .provider
            .clone()
            .keep_fresh(move || discovery_state.settings.load().oidc.issuer.clone()),
    );

    tokio::spawn(crate::serve::reload::watch(state.clone(), config_path));
    if let Some(store) = &state.store {
        tokio::spawn(keep_in_sync(store.clone(), state.revoked.clone()));
    }

    let (stop_tx, stop_rx) = watch::channel(false);
    let public_app = PublicApp::new(state.clone());
    let public_server = serve_bounded(
        public,
        move |peer, request| public_app.clone().serve(peer, request),
        settings.connections,
        stop_rx.clone(),
    );
    let admin_server = axum::serve(admin, admin_app(state.clone()))
        .with_graceful_shutdown(stopped(stop_rx.clone()));
    let check_server = {
        let state = state.clone();
        let stop = stop_rx.clone();
        async move {
            match grpc {
                Some(grpc) => serve_check(grpc, state, stop)
                    .await
                    .map_err(anyhow::Error::from),
                None => Ok(()),
            }
        }
    };
    let servers = async {
        let ((), admin, check) =
            tokio::join!(public_server, admin_server.into_future(), check_server);
        admin?;
        check
    };
    tokio::pin!(servers);

    tokio::select! {
        result = &mut servers => return result,
        () = shutdown_signal() => {}
    }
    state.draining.store(true, Ordering::SeqCst);
    tracing::info!(
        ?drain_delay,
        "shutting down: reported not ready, still serving until the endpoint is removed"
    );
    tokio::select! {
        result = &mut servers => return result,
        () = tokio::time::sleep(drain_delay) => {}
    }
    tracing::info!("shutting down: no new connections, finishing in-flight requests");
    let _ = stop_tx.send(true);
    match tokio::time::timeout(DRAIN_TIMEOUT, servers).await {
        Ok(result) => result,
        Err(_) => {
            tracing::warn!(
                "in-flight requests did not finish within {DRAIN_TIMEOUT:?}; stopping anyway"
            );
            Ok(())
        }
    }
}

async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
