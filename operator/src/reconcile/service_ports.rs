//! Reading what the Services warning needs: the namespace's Services, and
//! only where the cluster cannot resolve the sidecar's port by name (no
//! list call on Kubernetes 1.33 and later).

use crate::context::Context;
use crate::crd::OidcSettings;
use crate::error::Result;
use crate::status::check::Check;
use crate::status::service_ports::service_ports;
use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, ListParams};

/// The [`service_ports`] check of `settings` in `namespace`.
pub async fn check(settings: &OidcSettings, ctx: &Context, namespace: &str) -> Result<Check> {
    let version = ctx.cluster_version;
    let services = match version {
        Some(version) if !version.resolves_named_sidecar_ports() => {
            let api: Api<Service> = Api::namespaced(ctx.client.clone(), namespace);
            api.list(&ListParams::default()).await?.items
        }
        _ => Vec::new(),
    };
    Ok(service_ports(
        version,
        &services,
        settings.spec.listen_port,
        settings.spec.admin_port,
    ))
}
