//! Writing `status` only when it changed, with an Event when `Ready` flips
//! (its status, or its reason: a new cause of failure is news too).
//!
//! "Changed" is judged against the newest status known: the one this process
//! last wrote, else the one in the watch cache (which may lag behind a write
//! by a moment; judging on it alone wrote and announced `Ready` twice).

use crate::context::Context;
use crate::crd::OidcSettings;
use crate::crd::OidcSettingsStatus;
use crate::crd_forward::ForwardAuthStatus;
use crate::crd_rollout::RolloutStatus;
use crate::error::Result;
use crate::status::checks::{Check, expected_issuer};
use crate::status::conditions::{next_status, ready_condition, refused_status};
use crate::status::reason::Reason;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::events::{Event, EventType};
use kube::{Resource, ResourceExt};
use serde_json::json;
use tracing::warn;

/// Patches the status, with a forward-auth service's address and
/// snippets (`forward`) and the pods' roll-out (kept as it was when
/// `None`: nothing was written to roll out), if it differs; returns
/// whether `Ready` is `True`.
pub async fn report(
    settings: &OidcSettings,
    ctx: &Context,
    namespace: &str,
    checks: &[Check],
    forward: Option<ForwardAuthStatus>,
    rollout: Option<RolloutStatus>,
) -> Result<bool> {
    let old = newest(settings, ctx);
    let mut status = next_status(
        old.as_ref(),
        settings.metadata.generation,
        expected_issuer(&settings.spec),
        checks,
        now(),
    );
    status.forward_auth = forward;
    status.rollout = rollout.or_else(|| old.as_ref().and_then(|old| old.rollout.clone()));
    write(settings, ctx, namespace, old.as_ref(), status).await
}

/// Reports a request the API server refused (not a transient failure):
/// `Ready=False` with `reason` and the server's message, the other
/// conditions as they were.
pub async fn report_refusal(
    settings: &OidcSettings,
    ctx: &Context,
    namespace: &str,
    reason: Reason,
    message: String,
) -> Result<bool> {
    let old = newest(settings, ctx);
    let status = refused_status(
        old.as_ref(),
        settings.metadata.generation,
        expected_issuer(&settings.spec),
        reason,
        message,
        now(),
    );
    write(settings, ctx, namespace, old.as_ref(), status).await
}

/// The time now, to the second (as conditions carry it).
pub fn now() -> Time {
    Time(Timestamp::from_second(Timestamp::now().as_second()).unwrap_or_else(|_| Timestamp::now()))
}

/// The newest status known: the one this process last wrote, else the cached one.
pub fn newest(settings: &OidcSettings, ctx: &Context) -> Option<OidcSettingsStatus> {
    let uid = settings.uid().unwrap_or_default();
    let last_written = ctx
        .written_status
        .lock()
        .ok()
        .and_then(|written| written.get(&uid).cloned());
    last_written.or_else(|| settings.status.clone())
}

/// Writes `status` unless it equals `old`, with an Event when `Ready` flips.
async fn write(
    settings: &OidcSettings,
    ctx: &Context,
    namespace: &str,
    old: Option<&OidcSettingsStatus>,
    status: OidcSettingsStatus,
) -> Result<bool> {
    let uid = settings.uid().unwrap_or_default();
    let ready = ready_condition(Some(&status));
    let is_ready = ready.is_some_and(|c| c.status == "True");
    if old == Some(&status) {
        return Ok(is_ready);
    }
    let api: Api<OidcSettings> = Api::namespaced(ctx.client.clone(), namespace);
    api.patch_status(
        &settings.name_any(),
        &PatchParams::default(),
        &Patch::Merge(json!({ "status": status })),
    )
    .await?;
    if let Ok(mut written) = ctx.written_status.lock() {
        written.insert(uid, status.clone());
    }
    let was = ready_condition(old).map(|c| (c.status.clone(), c.reason.clone()));
    if let Some(ready) = ready
        && was.as_ref() != Some(&(ready.status.clone(), ready.reason.clone()))
    {
        let event = Event {
            type_: if is_ready {
                EventType::Normal
            } else {
                EventType::Warning
            },
            reason: ready.reason.clone(),
            note: Some(ready.message.chars().take(1000).collect()),
            action: "Reconcile".into(),
            secondary: None,
        };
        let reference = settings.object_ref(&());
        if let Err(error) = ctx.recorder.publish(&event, &reference).await {
            warn!(%error, "cannot publish an Event");
        }
    }
    Ok(is_ready)
}
