//! The backup login's one-time enrolment code: `<name>-enrolment`.
//!
//! The code is made when the Secret is missing and read from it otherwise;
//! the generated Secret carries only its argon2id hash. A sidecar spends a
//! code when it enrols a browser; deleting `<name>-enrolment` after a use
//! is how the root admin gets a new one (the Secret watch brings the next
//! reconcile, which makes the code and its hash). Without a root admin the
//! Secret is deleted, when its labels say it is this `OidcSettings`'s: an
//! unused credential should not lie around.

use crate::crd::OidcSettings;
use crate::desired::objects::enrolment_secret;
use crate::error::Result;
use crate::names::{ENROLMENT_CODE_KEY, FIELD_MANAGER, enrolment_secret_name, generated_for};
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use portcullis_contract::enrolment::new_enrolment_code;
use tracing::info;

/// The current enrolment code of `settings`, made when there is none;
/// `None` without a root admin.
pub async fn current_code(
    settings: &OidcSettings,
    secrets: &Api<Secret>,
) -> Result<Option<String>> {
    let name = enrolment_secret_name(&settings.name_any());
    if settings.spec.root_admin.is_none() {
        let existing = secrets.get_metadata_opt(&name).await?;
        let ours =
            existing.is_some_and(|secret| generated_for(secret.labels(), &settings.name_any()));
        if ours {
            secrets.delete(&name, &DeleteParams::default()).await?;
            info!(secret = name, "deleted the enrolment code: no root admin");
        }
        return Ok(None);
    }
    if let Some(code) = secrets
        .get_opt(&name)
        .await?
        .as_ref()
        .and_then(|secret| super::inputs::value(secret, ENROLMENT_CODE_KEY))
    {
        return Ok(Some(code));
    }
    // Missing, or present without a code: a new one. Reconciles of one
    // `OidcSettings` never run at once, so no other code is made meanwhile.
    let code = new_enrolment_code();
    let secret = enrolment_secret(settings, &code)?;
    let params = PatchParams::apply(FIELD_MANAGER).force();
    secrets
        .patch(&name, &params, &Patch::Apply(&secret))
        .await?;
    info!(
        secret = name,
        "made a new enrolment code for the backup login"
    );
    Ok(Some(code))
}
