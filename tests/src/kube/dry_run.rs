//! A server-side dry run of any object on the real API server, strict about
//! unknown fields: what `kubectl apply --server-side --dry-run=server
//! --validate=strict` does, for rendered charts and the examples.

use anyhow::{Context, Result};
use kube::Client;
use kube::api::{Api, DynamicObject, Patch, PatchParams, ValidationDirective};
use kube::core::GroupVersionKind;
use kube::discovery::{Scope, pinned_kind};

/// What the API server made of an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DryRun {
    /// Accepted; its kind.
    Accepted(String),
    /// Its kind is not served here (a CRD that is not installed).
    UnknownKind(String),
}

/// Dry-runs `object` as a server-side apply by `manager`; a namespaced
/// object goes to `namespace`, whatever namespace it names.
pub async fn dry_run_apply(
    client: &Client,
    namespace: &str,
    object: &serde_yaml::Value,
    manager: &str,
) -> Result<DryRun> {
    let mut object: DynamicObject = serde_yaml::from_value(object.clone())?;
    let types = object.types.clone().context("apiVersion and kind")?;
    let gvk = GroupVersionKind::try_from(&types)?;
    let Ok((resource, capabilities)) = pinned_kind(client, &gvk).await else {
        return Ok(DryRun::UnknownKind(types.kind));
    };
    let api: Api<DynamicObject> = match capabilities.scope {
        Scope::Namespaced => {
            object.metadata.namespace = Some(namespace.to_owned());
            Api::namespaced_with(client.clone(), namespace, &resource)
        }
        Scope::Cluster => Api::all_with(client.clone(), &resource),
    };
    let name = object.metadata.name.clone().context("name")?;
    api.patch(
        &name,
        &PatchParams::apply(manager)
            .dry_run()
            .validation(ValidationDirective::Strict),
        &Patch::Apply(&object),
    )
    .await
    .with_context(|| format!("{} {name}", types.kind))?;
    Ok(DryRun::Accepted(types.kind))
}
