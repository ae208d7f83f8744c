//! Asking the running pods of an `OidcSettings` which settings they serve:
//! the IO around [`next_rollout`].
//!
//! Each pod's sidecar names the hash of the settings it loaded in its
//! admin port's `/readyz` (an answer it gives whether ready or not). The
//! pods are asked a bounded number at a time, each with a short timeout,
//! so a namespace of silent pods delays a reconcile by seconds, not
//! minutes.

use crate::context::Context;
use crate::crd::OidcSettings;
use crate::crd_rollout::RolloutStatus;
use crate::desired::forward_service::serving_pod_labels;
use crate::error::Result;
use crate::sidecar_admin::served_settings;
use crate::status::rollout::{PodReport, next_rollout};
use futures_util::{StreamExt, stream};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;
use kube::api::{Api, ListParams};
use std::net::{IpAddr, SocketAddr};

/// How many pods are asked at once.
const AT_ONCE: usize = 16;

/// The roll-out of `hash` to the running pods of `settings` in `namespace`.
pub async fn observe(
    settings: &OidcSettings,
    ctx: &Context,
    namespace: &str,
    hash: &str,
    now: &Time,
) -> Result<RolloutStatus> {
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), namespace);
    let listed = pods
        .list(&ListParams::default().labels(&selector(settings)))
        .await?;
    let running: Vec<(String, SocketAddr)> = listed
        .items
        .iter()
        .filter_map(|pod| Some((pod.name_any(), admin_address(pod, settings)?)))
        .collect();
    let mut reports: Vec<PodReport> = stream::iter(running)
        .map(|(name, address)| async move {
            PodReport {
                name,
                answer: served_settings(&ctx.admin_client, address).await,
            }
        })
        .buffer_unordered(AT_ONCE)
        .collect()
        .await;
    let old = super::status::newest(settings, ctx).and_then(|status| status.rollout);
    reports.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(next_rollout(old.as_ref(), hash, &reports, now))
}

/// The label selector of the pods serving `settings`: the injected ones,
/// or a forward-auth service's.
fn selector(settings: &OidcSettings) -> String {
    serving_pod_labels(settings)
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// The admin address of a running pod that is not being deleted; a pod
/// on its way out may serve older settings, as it should.
fn admin_address(pod: &Pod, settings: &OidcSettings) -> Option<SocketAddr> {
    if pod.metadata.deletion_timestamp.is_some() {
        return None;
    }
    let status = pod.status.as_ref()?;
    if status.phase.as_deref() != Some("Running") {
        return None;
    }
    let ip: IpAddr = status.pod_ip.as_deref()?.parse().ok()?;
    let port = u16::try_from(settings.spec.admin_port).ok()?;
    Some(SocketAddr::new(ip, port))
}
