//! Wiring the kube-runtime Controller: what is watched and what triggers a reconcile.
//!
//! - `OidcSettings`: the primary resource, when its generation changes (a new
//!   spec), not on the status writes the operator itself makes;
//! - ConfigMaps the operator generated (label-selected), as owned children;
//! - Secrets and ConfigMaps, metadata only (no data is ever cached), mapped
//!   to the `OidcSettings` that reference or generate them.

use crate::context::Context;
use crate::crd::OidcSettings;
use crate::names::managed_selector;
use crate::reconcile::{error_policy, reconcile};
use crate::watched_refs::{settings_for_config_map, settings_for_secret};
use futures_util::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::core::PartialObjectMeta;
use kube::runtime::controller::Config;
use kube::runtime::watcher::{self, watcher};
use kube::runtime::{Controller, WatchStreamExt, predicates, reflector};
use kube::{Api, Client, ResourceExt};
use std::future::Future;
use std::sync::Arc;
use tracing::{debug, warn};

/// Runs the controller until `shutdown` resolves (then finishes in-flight
/// reconciles), with at most `concurrency` reconciles at once (0: no limit).
pub async fn run(
    client: Client,
    namespace: Option<&str>,
    concurrency: u16,
    ctx: Arc<Context>,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    let settings: Api<OidcSettings> = api(&client, namespace);
    let config_maps: Api<ConfigMap> = api(&client, namespace);
    let secrets: Api<PartialObjectMeta<Secret>> = api(&client, namespace);
    let referenced_maps: Api<PartialObjectMeta<ConfigMap>> = api(&client, namespace);
    let (store, writer) = reflector::store();
    let forget = ctx.clone();
    let spec_changes = watcher(settings, watcher::Config::default().any_semantic())
        .default_backoff()
        .inspect_ok(move |event| {
            if let watcher::Event::Delete(settings) = event {
                forget.forget(settings);
            }
        })
        .reflect(writer)
        .applied_objects()
        .predicate_filter(predicates::generation, Default::default());
    let controller = Controller::for_stream(spec_changes, store.clone())
        .with_config(Config::default().concurrency(concurrency));
    let secret_events = watcher(secrets, watcher::Config::default().any_semantic())
        .default_backoff()
        .touched_objects();
    let config_map_events = watcher(referenced_maps, watcher::Config::default().any_semantic())
        .default_backoff()
        .touched_objects();
    let settings_cache = store.clone();
    controller
        .owns(
            config_maps,
            watcher::Config::default().labels(&managed_selector()),
        )
        .watches_stream(secret_events, move |secret| {
            settings_for_secret(
                &store.state(),
                secret.namespace().as_deref(),
                &secret.name_any(),
            )
        })
        .watches_stream(config_map_events, move |map| {
            settings_for_config_map(
                &settings_cache.state(),
                map.namespace().as_deref(),
                &map.name_any(),
            )
        })
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            match result {
                Ok((object, _)) => debug!(%object, "reconciled"),
                Err(error) => warn!(%error, "controller error"),
            }
        })
        .await;
}

fn api<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
    K::DynamicType: Default,
{
    match namespace {
        Some(namespace) => Api::namespaced(client.clone(), namespace),
        None => Api::all(client.clone()),
    }
}
