//! Applying, or removing when turned off, the generated NetworkPolicy.
//!
//! Like the Secret and ConfigMap, the policy is written only when it differs
//! from what exists. Only a policy this operator generated (it carries the
//! managed-by label) is ever deleted.

use crate::context::Context;
use crate::crd::OidcSettings;
use crate::desired::network_policy::network_policy;
use crate::desired::unchanged::network_policy_unchanged;
use crate::error::Result;
use crate::names::{FIELD_MANAGER, MANAGED_BY_LABEL, generated_name};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use tracing::info;

/// Makes `<name>-portcullis` NetworkPolicy what the resource asks for;
/// returns how many objects were written or deleted.
pub async fn apply(settings: &OidcSettings, ctx: &Context, namespace: &str) -> Result<usize> {
    let name = generated_name(&settings.name_any());
    let api: Api<NetworkPolicy> = Api::namespaced(ctx.client.clone(), namespace);
    let existing = api.get_opt(&name).await?;
    match network_policy(settings, ctx.operator_peer.as_ref())? {
        Some(desired) => {
            if network_policy_unchanged(existing.as_ref(), &desired) {
                return Ok(0);
            }
            let params = PatchParams::apply(FIELD_MANAGER).force();
            api.patch(&name, &params, &Patch::Apply(&desired)).await?;
            Ok(1)
        }
        None => {
            let ours = existing.is_some_and(|policy| {
                policy.labels().get(MANAGED_BY_LABEL).map(String::as_str) == Some(FIELD_MANAGER)
            });
            if !ours {
                return Ok(0);
            }
            api.delete(&name, &DeleteParams::default()).await?;
            info!(
                policy = name,
                "deleted the NetworkPolicy (spec.networkPolicy.enabled is false)"
            );
            Ok(1)
        }
    }
}
