//! Server-side apply of the generated Secret and ConfigMap.
//!
//! The Secret goes first so a sidecar reloading the new config finds the
//! files it names. Applying identical content is a no-op on the API server,
//! so re-reconciles and restarts write nothing.

use super::inputs::{Inputs, value};
use crate::context::Context;
use crate::crd::OidcSettings;
use crate::desired::config::sidecar_yaml;
use crate::desired::objects::{SecretValues, generated};
use crate::desired::secrets::{new_session_key, root_password_hash, session_keys};
use crate::error::Result;
use crate::names::{FIELD_MANAGER, ROOT_HASH_KEY, SESSION_KEYS_KEY, generated_name};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use tracing::debug;

/// Applies `<name>-portcullis` Secret and ConfigMap.
pub async fn apply(
    settings: &OidcSettings,
    ctx: &Context,
    namespace: &str,
    inputs: Inputs,
) -> Result<()> {
    let name = generated_name(&settings.name_any());
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), namespace);
    let config_maps: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), namespace);
    let existing = secrets.get_opt(&name).await?;
    let existing_value = |key: &str| existing.as_ref().and_then(|secret| value(secret, key));

    let session_keys = session_keys(
        existing_value(SESSION_KEYS_KEY)
            .map(|keys| format!("{keys}\n"))
            .as_deref(),
        new_session_key,
    );
    let root_password_hash = match inputs.root_password {
        None => None,
        Some(password) => {
            let previous = existing_value(ROOT_HASH_KEY);
            let hash = tokio::task::spawn_blocking(move || {
                root_password_hash(&password, previous.as_deref())
            })
            .await??;
            Some(hash)
        }
    };
    let generated = generated(
        settings,
        sidecar_yaml(&settings.spec)?,
        SecretValues {
            client_secret: inputs.client_secret,
            session_keys,
            root_password_hash,
        },
    )?;
    let params = PatchParams::apply(FIELD_MANAGER).force();
    secrets
        .patch(&name, &params, &Patch::Apply(&generated.secret))
        .await?;
    config_maps
        .patch(&name, &params, &Patch::Apply(&generated.config_map))
        .await?;
    debug!(
        hash = generated.hash,
        "applied the generated Secret and ConfigMap"
    );
    Ok(())
}
