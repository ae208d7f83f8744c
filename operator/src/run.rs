//! The process: logging, admin port, webhook, leader election, controller, shutdown.
//!
//! Every replica serves the webhook and is ready once it has a certificate.
//! Only the Lease holder runs the controller. A leader that cannot renew in
//! time stops reconciling and exits (its replacement starts clean); on
//! SIGTERM it finishes in-flight reconciles and releases the Lease so a
//! standby takes over at once.

use crate::admin::{AdminState, app};
use crate::cli::{Args, LogFormat};
use crate::cluster_version::ClusterVersion;
use crate::context::Context;
use crate::desired::network_policy::operator_peer;
use crate::discovery::DiscoveryCache;
use crate::leader::lease::Elector;
use crate::metrics::Metrics;
use anyhow::{Context as _, Result, bail};
use kube::Client;
use kube::runtime::events::{Recorder, Reporter};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tracing::{error, info, warn};

/// Runs the operator until SIGTERM/SIGINT, or until leadership is lost (an error).
pub async fn run(args: Args) -> Result<()> {
    init_logging(args.log_format);
    let metrics = Arc::new(Metrics::default());
    let ready = Arc::new(AtomicBool::new(false));
    let listener = tokio::net::TcpListener::bind(args.admin_listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.admin_listen))?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let admin = app(AdminState {
        metrics: metrics.clone(),
        ready: ready.clone(),
    });
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, admin).await {
            error!(%error, "admin server stopped");
        }
    });
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop_tx.send(true);
    });
    info!(admin = %args.admin_listen, "admin port listening");

    let client = Client::try_default()
        .await
        .context("cannot configure the Kubernetes client")?;
    client
        .apiserver_version()
        .await
        .context("the API server does not answer")?;
    // Ready once the webhook serves a certificate; leader election goes on meanwhile.
    let slot = crate::webhook::start::start(&args, &client, metrics.clone()).await?;
    let ready_flag = ready.clone();
    tokio::spawn(async move {
        while slot.served().is_none() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        ready_flag.store(true, Ordering::Relaxed);
    });

    let identity = args.identity.clone().unwrap_or_else(default_identity);
    let duration = Duration::from_secs(args.lease_seconds.max(2));
    let elector = Elector::new(
        kube::Api::namespaced(client.clone(), &args.lease_namespace),
        args.lease_name.clone(),
        identity.clone(),
        duration,
    );
    if !acquire(&elector, duration, stop_rx.clone()).await {
        info!("stopped before becoming leader");
        return Ok(());
    }
    metrics.leader.set(1);
    info!(identity, "became leader");

    let (lost_tx, lost_rx) = watch::channel(false);
    let renewer = tokio::spawn(renew(elector.clone(), duration, lost_tx));
    let cluster_version = match client.apiserver_version().await {
        Ok(info) => ClusterVersion::of(&info),
        Err(error) => {
            warn!(%error, "cannot read the API server's version; its warnings are not given");
            None
        }
    };
    info!(version = ?cluster_version.map(|version| version.to_string()), "the cluster's Kubernetes version");
    let ctx = Arc::new(Context {
        client: client.clone(),
        cluster_version,
        sidecar: crate::webhook::start::sidecar_options(&args),
        discovery: DiscoveryCache::new(
            Duration::from_secs(args.discovery_timeout_seconds),
            Duration::from_secs(args.discovery_cache_seconds),
            Duration::from_secs(args.discovery_cache_seconds.min(5)),
        ),
        admin_client: crate::sidecar_admin::admin_client(),
        operator_peer: operator_peer(&args.lease_namespace, &args.own_pod_labels),
        metrics: metrics.clone(),
        recorder: Recorder::new(
            client.clone(),
            Reporter {
                controller: "portcullis-operator".into(),
                instance: Some(identity.clone()),
            },
        ),
        recheck: Duration::from_secs(args.recheck_seconds),
        retry: Duration::from_secs(args.retry_seconds),
        failures: Default::default(),
        hashing: portcullis_contract::password_pool::PasswordPool::new(args.concurrent_hashes),
        written_status: Default::default(),
    });
    let stop = wait_true(stop_rx.clone());
    let lost = wait_true(lost_rx.clone());
    crate::controller::run(
        client,
        args.namespace.as_deref(),
        args.concurrent_reconciles,
        ctx,
        async move {
            tokio::select! { () = stop => {}, () = lost => {} }
        },
    )
    .await;
    renewer.abort();
    metrics.leader.set(0);
    if *lost_rx.borrow() {
        bail!("lost the leader Lease; exiting so a fresh replica takes over");
    }
    if let Err(error) = elector.release().await {
        warn!(%error, "cannot release the Lease; the next leader waits for it to expire");
    }
    info!("stopped");
    Ok(())
}

/// Tries to lead every `duration / 3` until it works (`true`) or a stop arrives (`false`).
async fn acquire(elector: &Elector, duration: Duration, mut stop: watch::Receiver<bool>) -> bool {
    loop {
        match elector.try_lead().await {
            Ok(true) => return true,
            Ok(false) => {}
            Err(error) => warn!(%error, "cannot read or take the Lease"),
        }
        tokio::select! {
            () = tokio::time::sleep(duration / 3) => {}
            _ = stop.wait_for(|stop| *stop) => return false,
        }
    }
}

/// Renews every `duration / 3`; signals `lost` when another holder appears or
/// no renewal succeeded for two thirds of `duration`.
async fn renew(elector: Elector, duration: Duration, lost: watch::Sender<bool>) {
    let mut last_ok = Instant::now();
    loop {
        tokio::time::sleep(duration / 3).await;
        match elector.try_lead().await {
            Ok(true) => last_ok = Instant::now(),
            Ok(false) => {
                error!("another replica holds the Lease");
                let _ = lost.send(true);
                return;
            }
            Err(error) => {
                warn!(%error, "cannot renew the Lease");
                if last_ok.elapsed() > duration * 2 / 3 {
                    error!("Lease not renewed in time");
                    let _ = lost.send(true);
                    return;
                }
            }
        }
    }
}

async fn wait_true(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|value| *value).await;
}

fn default_identity() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "portcullis-operator".into());
    format!("{host}-{}", std::process::id())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut term) = signal(SignalKind::terminate()) else {
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    info!("shutdown requested");
}

fn init_logging(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match format {
        LogFormat::Json => builder.json().init(),
        // Colour only on a terminal: logs written to a file stay plain text.
        LogFormat::Plain => {
            use std::io::IsTerminal;
            builder.with_ansi(std::io::stdout().is_terminal()).init();
        }
    }
}
