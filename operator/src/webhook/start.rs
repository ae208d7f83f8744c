//! Starting the webhook: its certificate loop and its HTTPS listener.
//!
//! Both run on every replica from the moment the API server answers,
//! independent of leader election, so a standby keeps admitting pods.

use crate::cli::{Args, CertSource};
use crate::metrics::Metrics;
use crate::sidecar_container::SidecarOptions;
use crate::webhook::admission::{AdmissionState, app};
use crate::webhook::tls::serve::{CertSlot, serve, server_config};
use crate::webhook::tls::store::{CertMode, CertStore};
use anyhow::{Context as _, Result};
use kube::{Api, Client};
use std::sync::Arc;
use std::time::Duration;
use tracing::info;

/// Starts the webhook; the returned slot holds a certificate once it serves.
pub async fn start(args: &Args, client: &Client, metrics: Arc<Metrics>) -> Result<Arc<CertSlot>> {
    let listener = tokio::net::TcpListener::bind(args.webhook_listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.webhook_listen))?;
    let slot = Arc::new(CertSlot::default());
    let validity = Duration::from_secs(args.webhook_cert_validity_seconds);
    let store = CertStore {
        secrets: Api::namespaced(client.clone(), &args.lease_namespace),
        secret_name: args.webhook_cert_secret.clone(),
        webhooks: Api::all(client.clone()),
        webhook_name: args.webhook_config.clone(),
        hosts: hosts(args),
        validity,
        check: Duration::from_secs(args.webhook_cert_check_seconds.max(1)),
        grace: (validity / 20).min(Duration::from_secs(2)),
        mode: match args.webhook_cert_mode {
            CertSource::SelfSigned => CertMode::SelfSigned,
            CertSource::External => CertMode::External,
        },
    };
    tokio::spawn(store.run(slot.clone(), metrics.clone()));
    let state = AdmissionState {
        client: client.clone(),
        options: Arc::new(sidecar_options(args)),
        metrics,
    };
    let config = server_config(slot.clone()).context("cannot configure the webhook's TLS")?;
    tokio::spawn(serve(listener, config, app(state)));
    info!(webhook = %args.webhook_listen, "webhook listening");
    Ok(slot)
}

/// The sidecar container the flags describe: injected by the webhook, and
/// run by a forward-auth service's Deployment.
pub fn sidecar_options(args: &Args) -> SidecarOptions {
    SidecarOptions {
        image: args.sidecar_image.clone(),
        pull_policy: args.sidecar_pull_policy.clone(),
        cpu_request: args.sidecar_cpu_request.clone(),
        memory_request: args.sidecar_memory_request.clone(),
        cpu_limit: args.sidecar_cpu_limit.clone(),
        memory_limit: args.sidecar_memory_limit.clone(),
        app_pre_stop_sleep_seconds: i64::from(args.app_pre_stop_sleep_seconds),
        image_pull_secrets: args.sidecar_image_pull_secrets.clone(),
        env: args.sidecar_env.clone(),
    }
}

/// `<service>.<namespace>.svc` and the extra hosts.
fn hosts(args: &Args) -> Vec<String> {
    let mut hosts = vec![format!(
        "{}.{}.svc",
        args.webhook_service, args.lease_namespace
    )];
    hosts.extend(
        args.webhook_extra_hosts
            .iter()
            .filter(|host| !host.is_empty())
            .cloned(),
    );
    hosts
}
