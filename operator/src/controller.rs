//! Wiring the kube-runtime Controller: what is watched and what triggers a reconcile.
//!
//! - `OidcSettings`: the primary resource;
//! - ConfigMaps the operator generated (label-selected), as owned children;
//! - Secrets, metadata only (no data is ever cached), mapped to the
//!   `OidcSettings` that reference or generate them.

use crate::context::Context;
use crate::crd::OidcSettings;
use crate::names::managed_selector;
use crate::reconcile::{error_policy, reconcile};
use crate::secret_refs::settings_for_secret;
use futures_util::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::core::PartialObjectMeta;
use kube::runtime::watcher::{self, watcher};
use kube::runtime::{Controller, WatchStreamExt};
use kube::{Api, Client, ResourceExt};
use std::future::Future;
use std::sync::Arc;
use tracing::{debug, warn};

/// Runs the controller until `shutdown` resolves (then finishes in-flight reconciles).
pub async fn run(
    client: Client,
    namespace: Option<&str>,
    ctx: Arc<Context>,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    let settings: Api<OidcSettings> = api(&client, namespace);
    let config_maps: Api<ConfigMap> = api(&client, namespace);
    let secrets: Api<PartialObjectMeta<Secret>> = api(&client, namespace);
    let controller = Controller::new(settings, watcher::Config::default().any_semantic());
    let store = controller.store();
    let secret_events = watcher(secrets, watcher::Config::default().any_semantic())
        .default_backoff()
        .touched_objects();
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
