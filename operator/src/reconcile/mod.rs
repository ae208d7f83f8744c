//! One reconcile: read inputs, write the generated objects, report status.
//!
//! Nothing a user created is ever deleted or overwritten: a missing Secret
//! stops the writes and is reported, the objects written before stay. A spec
//! whose rendered config the sidecar would refuse (the contract crate's
//! validation, and its rule for secret values applied to the referenced
//! Secrets) is not written either: running sidecars keep the last good
//! config, and `Ready` says `InvalidSpec` with the sidecar's own words,
//! each problem naming the field of the spec.
//! A request the API server refuses for good (a missing permission) is
//! reported as `Ready=False` too, and retried with backoff like any error.

mod enrolment;
mod forward;
mod inputs;
mod kept_keys;
mod network;
mod provider_ca;
mod rollout;
mod secret_keys;
mod service_ports;
mod status;
#[cfg(test)]
mod tests;
mod write;

use crate::context::{Context, backoff, settings_key as key, spread};
use crate::crd::OidcSettings;
use crate::desired::config::sidecar_config;
use crate::desired::forward_service::service_name_problem;
use crate::error::{Error, Result};
use crate::spec_fields::in_spec_terms;
use crate::status::checks::{SecretsOutcome, checks, store_check};
use crate::status::forward_snippets::forward_status;
use crate::status::refusal::refusal_reason;
use crate::status::rollout::look_again_soon;
use crate::store_probe::probe;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::Action;
use portcullis_contract::validate::validate;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::{info, instrument, warn};

/// How often an unfinished roll-out is looked at: its completion time is
/// known to within this.
const ROLLOUT_LOOK: Duration = Duration::from_secs(5);

/// Reconciles one `OidcSettings`.
#[instrument(skip(settings, ctx), fields(namespace = settings.namespace(), name = settings.name_any()))]
pub async fn reconcile(settings: Arc<OidcSettings>, ctx: Arc<Context>) -> Result<Action> {
    ctx.metrics.reconcile_runs.inc();
    let started = Instant::now();
    let result = run(&settings, &ctx).await;
    if let Err(Error::Kube(kube::Error::Api(refused))) = &result
        && let Some(reason) = refusal_reason(refused.code)
        && let Some(namespace) = settings.namespace()
    {
        let message = format!("the API server refused a request: {}", refused.message);
        if let Err(error) =
            status::report_refusal(&settings, &ctx, &namespace, reason, message).await
        {
            warn!(%error, "cannot report the refusal in status");
        }
    }
    ctx.metrics
        .reconcile_duration
        .observe(started.elapsed().as_secs_f64());
    if result.is_ok()
        && let Ok(mut failures) = ctx.failures.lock()
    {
        failures.remove(&key(&settings));
    }
    result
}

/// Counts the failure and requeues with exponential backoff.
pub fn error_policy(settings: Arc<OidcSettings>, error: &Error, ctx: Arc<Context>) -> Action {
    ctx.metrics.failed(error.metric_reason());
    let attempts = ctx.failures.lock().map_or(1, |mut failures| {
        let count = failures.entry(key(&settings)).or_insert(0);
        *count = count.saturating_add(1);
        *count
    });
    let delay = backoff(attempts);
    warn!(%error, attempts, ?delay, name = settings.name_any(), "reconcile failed");
    Action::requeue(delay)
}

async fn run(settings: &OidcSettings, ctx: &Context) -> Result<Action> {
    let namespace = settings
        .namespace()
        .ok_or(crate::desired::objects::MissingMeta("namespace"))?;
    let secrets = Api::namespaced(ctx.client.clone(), &namespace);
    let config = sidecar_config(
        &settings.namespace().unwrap_or_default(),
        &settings.name_any(),
        &settings.spec,
    );
    let mut problems = validate(&config)
        .err()
        .map(|found| in_spec_terms(&found))
        .unwrap_or_default();
    let config_maps = Api::namespaced(ctx.client.clone(), &namespace);
    let inputs = inputs::read(settings, &secrets, &config_maps).await?;
    let provider_ca = inputs
        .as_ref()
        .ok()
        .and_then(|inputs| inputs.provider_ca.as_ref())
        .map(|bundle| bundle.roots.clone())
        .unwrap_or_default();
    if let Ok(inputs) = &inputs {
        problems.extend(inputs.problems.clone());
    }
    if settings.spec.forward_auth.is_some()
        && let Some(problem) = service_name_problem(&settings.name_any())
    {
        problems.push("metadata.name", problem);
    }
    let spec = if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.one_line())
    };
    let store = match (&config.session.store, &inputs) {
        (Some(store), Ok(inputs)) if spec.is_ok() => Some(probe(store, &inputs.store_files).await),
        _ => None,
    };
    let mut hash = None;
    let outcome = match inputs {
        Ok(_) if spec.is_err() => {
            info!(problems = ?spec, "the sidecar would refuse this spec; nothing written");
            SecretsOutcome::Resolved
        }
        Ok(inputs) => {
            let applied = write::apply(settings, ctx, &namespace, &config, inputs).await?;
            if applied.written > 0 {
                info!(written = applied.written, "wrote the generated objects");
            }
            forward::apply(settings, ctx, &namespace).await?;
            hash = Some(applied.hash);
            SecretsOutcome::Resolved
        }
        Err(missing) => {
            info!(?missing, "referenced Secret missing; nothing written");
            missing
        }
    };
    if network::apply(settings, ctx, &namespace).await? > 0 {
        info!("wrote the NetworkPolicy");
    }
    let discovery = ctx
        .discovery
        .get(&settings.spec.well_known_url, &provider_ca)
        .await;
    let mut checks = checks(&settings.spec, &spec, &outcome, &discovery);
    checks.extend(store.as_ref().map(store_check));
    checks.push(service_ports::check(settings, ctx, &namespace).await?);
    let forward = forward_status(&namespace, &settings.name_any(), &config);
    let now = status::now();
    let rollout = match &hash {
        Some(hash) => Some(rollout::observe(settings, ctx, &namespace, hash, &now).await?),
        None => None,
    };
    let watching = rollout
        .as_ref()
        .is_some_and(|rollout| look_again_soon(rollout, &now));
    let ready = status::report(settings, ctx, &namespace, &checks, forward, rollout).await?;
    let delay = if ready { ctx.recheck } else { ctx.retry };
    let delay = if watching {
        delay.min(ROLLOUT_LOOK)
    } else {
        delay
    };
    Ok(Action::requeue(spread(delay, &key(settings))))
}
