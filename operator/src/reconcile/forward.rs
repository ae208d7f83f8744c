//! Applying, or removing when turned off, a forward-auth service's
//! Deployment and Service.
//!
//! Written with server-side apply under the operator's field manager, like
//! the generated ConfigMap and Secret, and only after the config they
//! mount was written. Removed only when the status says this operator ran
//! the service (`status.forwardAuth`) and the spec no longer asks for it,
//! and only objects carrying its labels: settings that never ran one cost
//! no request.

use crate::context::Context;
use crate::crd::OidcSettings;
use crate::desired::forward_service::forward_service;
use crate::error::Result;
use crate::names::{FIELD_MANAGER, forward_auth_name, generated_for};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt::Debug;
use tracing::info;

/// Makes the forward-auth Deployment and Service what `settings` asks
/// for; returns how many objects were written or deleted.
pub async fn apply(settings: &OidcSettings, ctx: &Context, namespace: &str) -> Result<usize> {
    let deployments: Api<Deployment> = Api::namespaced(ctx.client.clone(), namespace);
    let services: Api<Service> = Api::namespaced(ctx.client.clone(), namespace);
    match forward_service(settings, &ctx.sidecar)? {
        Some((deployment, service)) => {
            let params = PatchParams::apply(FIELD_MANAGER).force();
            let name = forward_auth_name(&settings.name_any());
            deployments
                .patch(&name, &params, &Patch::Apply(&deployment))
                .await?;
            services
                .patch(&name, &params, &Patch::Apply(&service))
                .await?;
            Ok(2)
        }
        None => {
            let ran_one = settings
                .status
                .as_ref()
                .is_some_and(|status| status.forward_auth.is_some());
            if !ran_one {
                return Ok(0);
            }
            let removed =
                remove(&deployments, settings).await? + remove(&services, settings).await?;
            if removed > 0 {
                info!(
                    removed,
                    "removed the forward-auth service (spec.forwardAuth is gone)"
                );
            }
            Ok(removed)
        }
    }
}

/// Deletes the forward-auth object of `settings` in `api` if this
/// operator made it for them.
async fn remove<K>(api: &Api<K>, settings: &OidcSettings) -> Result<usize>
where
    K: Resource + Clone + Debug + Serialize + DeserializeOwned,
{
    let name = forward_auth_name(&settings.name_any());
    let ours = api
        .get_opt(&name)
        .await?
        .is_some_and(|found| generated_for(found.labels(), &settings.name_any()));
    if !ours {
        return Ok(0);
    }
    api.delete(&name, &DeleteParams::default()).await?;
    Ok(1)
}
