//! The session and identity keys, kept in `<name>-keys` apart from the
//! generated Secret, so they outlive the `OidcSettings` that made them.
//!
//! The generated `<name>-portcullis` Secret is owned by the `OidcSettings`
//! and goes with it; a GitOps re-sync that deletes and re-applies the
//! resource would otherwise make new session keys (every user logged out)
//! and new identity keys (every app's cached keys wrong). The keys are read
//! from the generated Secret while it exists (where a rotation by hand
//! edits them), else from `<name>-keys`, and written to `<name>-keys`
//! before the generated Secret. To start over with new keys, delete both.

use super::inputs::value;
use crate::crd::OidcSettings;
use crate::desired::objects::kept_keys_secret;
use crate::error::Result;
use crate::names::{FIELD_MANAGER, IDENTITY_KEYS_KEY, SESSION_KEYS_KEY, kept_keys_secret_name};
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use tracing::info;

/// The Secret that keeps the keys of `settings`, if it exists.
pub async fn read(secrets: &Api<Secret>, settings: &OidcSettings) -> kube::Result<Option<Secret>> {
    secrets
        .get_opt(&kept_keys_secret_name(&settings.name_any()))
        .await
}

/// The keys under `key`: the generated Secret's, else the kept ones (the
/// generated Secret went with a deleted `OidcSettings`), as key-file text
/// (one key per line, a final newline).
pub fn existing(kept: Option<&Secret>, generated: Option<&Secret>, key: &str) -> Option<String> {
    generated
        .and_then(|secret| value(secret, key))
        .or_else(|| kept.and_then(|secret| value(secret, key)))
        .map(|keys| format!("{keys}\n"))
}

/// Writes `<name>-keys` when it does not hold `session_keys` and
/// `identity_keys`; returns how many objects were written (0 or 1).
pub async fn keep(
    secrets: &Api<Secret>,
    settings: &OidcSettings,
    kept: Option<&Secret>,
    session_keys: &str,
    identity_keys: Option<&str>,
) -> Result<usize> {
    let holds = |key: &str, wanted: Option<&str>| {
        kept.and_then(|secret| value(secret, key)).as_deref() == wanted.map(str::trim_end)
    };
    if holds(SESSION_KEYS_KEY, Some(session_keys)) && holds(IDENTITY_KEYS_KEY, identity_keys) {
        return Ok(0);
    }
    let secret = kept_keys_secret(settings, session_keys, identity_keys)?;
    let name = kept_keys_secret_name(&settings.name_any());
    secrets
        .patch(
            &name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&secret),
        )
        .await?;
    info!(
        secret = name,
        "kept the session keys apart from the generated Secret"
    );
    Ok(1)
}
