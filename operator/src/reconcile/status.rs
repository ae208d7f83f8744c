//! Writing `status` only when it changed, with an Event when `Ready` flips.
//!
//! "Changed" is judged against the newest status known: the one this process
//! last wrote, else the one in the watch cache (which may lag behind a write
//! by a moment; judging on it alone wrote and announced `Ready` twice).

use crate::context::Context;
use crate::crd::OidcSettings;
use crate::error::Result;
use crate::status::checks::{Check, expected_issuer};
use crate::status::conditions::{next_status, ready_condition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::events::{Event, EventType};
use kube::{Resource, ResourceExt};
use serde_json::json;
use tracing::warn;

/// Patches the status if it differs; returns whether `Ready` is `True`.
pub async fn report(
    settings: &OidcSettings,
    ctx: &Context,
    namespace: &str,
    checks: &[Check],
) -> Result<bool> {
    let now = Time(
        Timestamp::from_second(Timestamp::now().as_second()).unwrap_or_else(|_| Timestamp::now()),
    );
    let uid = settings.uid().unwrap_or_default();
    let last_written = ctx
        .written_status
        .lock()
        .ok()
        .and_then(|written| written.get(&uid).cloned());
    let old = last_written.as_ref().or(settings.status.as_ref());
    let status = next_status(
        old,
        settings.metadata.generation,
        expected_issuer(&settings.spec),
        checks,
        now,
    );
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
    let was = ready_condition(old).map(|c| c.status.clone());
    if let Some(ready) = ready
        && was.as_deref() != Some(ready.status.as_str())
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
