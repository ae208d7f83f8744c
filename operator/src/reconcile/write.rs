//! Server-side apply of the generated Secret and ConfigMap (and, first, of
//! the enrolment code they carry the hash of).
//!
//! The Secret goes first so a sidecar reloading the new config finds the
//! files it names. An object that already holds what it should is not
//! applied at all, so re-reconciles, re-checks and restarts write nothing.

use super::inputs::{Inputs, value};
use super::kept_keys;
use super::secret_keys::SecretValue;
use crate::context::Context;
use crate::crd::OidcSettings;
use crate::desired::objects::{SecretValues, generated};
use crate::desired::secrets::{
    enrolment_code_hash, identity_keys, new_identity_key, new_session_key, reusable_root_hash,
    root_password_hash, session_keys,
};
use crate::desired::unchanged::{config_map_unchanged, secret_unchanged};
use crate::error::Result;
use crate::names::{
    ENROLMENT_HASH_KEY, FIELD_MANAGER, IDENTITY_KEYS_KEY, ROOT_HASH_KEY,
    ROOT_PASSWORD_SOURCE_ANNOTATION, SESSION_KEYS_KEY, generated_name,
};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use portcullis_contract::config::SidecarConfig;
use tracing::debug;

/// What [`apply`] did: how many objects it wrote, and the hash of the
/// settings they now hold.
pub struct Applied {
    /// Objects written (0 when everything was current).
    pub written: usize,
    /// The content hash the ConfigMap and Secret carry.
    pub hash: String,
}

/// Applies `<name>-portcullis` Secret and ConfigMap where they differ from
/// what they should be.
pub async fn apply(
    settings: &OidcSettings,
    ctx: &Context,
    namespace: &str,
    config: &SidecarConfig,
    inputs: Inputs,
) -> Result<Applied> {
    let name = generated_name(&settings.name_any());
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), namespace);
    let config_maps: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), namespace);
    let (existing_secret, existing_config_map, kept) = tokio::try_join!(
        secrets.get_opt(&name),
        config_maps.get_opt(&name),
        kept_keys::read(&secrets, settings)
    )?;
    let existing = existing_secret.as_ref();

    let session_keys = session_keys(
        kept_keys::existing(kept.as_ref(), existing, SESSION_KEYS_KEY).as_deref(),
        new_session_key,
    );
    let identity_keys = identity_keys(
        kept_keys::existing(kept.as_ref(), existing, IDENTITY_KEYS_KEY).as_deref(),
        config.signed_identity.is_some(),
        new_identity_key,
    )?;
    // Kept first: a failure after this leaves the keys where the next
    // reconcile finds them.
    let mut written = kept_keys::keep(
        &secrets,
        settings,
        kept.as_ref(),
        &session_keys,
        identity_keys.as_deref(),
    )
    .await?;
    let (root_password_hash, root_password_source) = match inputs.root_password {
        None => (None, None),
        Some(password) => {
            let source = password.source.clone();
            (
                Some(root_hash(ctx, existing, password).await?),
                Some(source),
            )
        }
    };
    let enrolment_code_hash = super::enrolment::current_code(settings, &secrets)
        .await?
        .map(|code| {
            let previous = existing.and_then(|secret| value(secret, ENROLMENT_HASH_KEY));
            enrolment_code_hash(&code, previous.as_deref())
        })
        .transpose()?;
    let generated = generated(
        settings,
        config.to_yaml()?,
        SecretValues {
            client_secret: inputs.client_secret,
            session_keys,
            identity_keys,
            root_password_hash,
            root_password_source,
            enrolment_code_hash,
            store_files: inputs.store_files,
            provider_ca: inputs.provider_ca.map(|bundle| bundle.pem),
        },
    )?;
    let params = PatchParams::apply(FIELD_MANAGER).force();
    if !secret_unchanged(existing, &generated.secret) {
        secrets
            .patch(&name, &params, &Patch::Apply(&generated.secret))
            .await?;
        written += 1;
    }
    if !config_map_unchanged(existing_config_map.as_ref(), &generated.config_map) {
        config_maps
            .patch(&name, &params, &Patch::Apply(&generated.config_map))
            .await?;
        written += 1;
    }
    debug!(
        hash = generated.hash,
        written, "the generated Secret and ConfigMap are current"
    );
    Ok(Applied {
        written,
        hash: generated.hash,
    })
}

/// The root-admin hash: reused while the password Secret is the version it was
/// made from, else verified or made anew, a bounded number at a time.
async fn root_hash(
    ctx: &Context,
    existing: Option<&Secret>,
    password: SecretValue,
) -> Result<String> {
    let previous = existing.and_then(|secret| value(secret, ROOT_HASH_KEY));
    let recorded = existing.and_then(|secret| {
        secret
            .annotations()
            .get(ROOT_PASSWORD_SOURCE_ANNOTATION)
            .cloned()
    });
    if let Some(hash) =
        reusable_root_hash(previous.as_deref(), recorded.as_deref(), &password.source)
    {
        return Ok(hash);
    }
    let hash = ctx
        .hashing
        .slot()
        .await?
        .run(move |work| root_password_hash(work, &password.value, previous.as_deref()))
        .await??;
    Ok(hash)
}
