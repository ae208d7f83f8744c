//! Reading one key of a referenced Secret, with the version it was read
//! from, or a message naming the spec field when the Secret or key is
//! missing: how every referenced Secret is read.

use crate::crd::SecretKeyRef;
use crate::error::Result;
use crate::status::checks::SecretsOutcome;
use crate::status::reason::Reason;
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::Api;

/// A key's value and which version of its Secret held it.
pub struct SecretValue {
    /// The value itself.
    pub value: String,
    /// `<uid>/<resourceVersion>` of the Secret it was read from.
    pub source: String,
}

/// The key `reference` names, read from its Secret, or what is missing.
pub async fn read_key(
    secrets: &Api<Secret>,
    reference: &SecretKeyRef,
    field: &str,
) -> Result<Result<SecretValue, SecretsOutcome>> {
    let secret = secrets.get_opt(&reference.name).await?;
    Ok(found_in(secret.as_ref(), reference, field))
}

/// The referenced key in `secret`, or what is missing, naming the field.
pub fn found_in(
    secret: Option<&Secret>,
    reference: &SecretKeyRef,
    field: &str,
) -> Result<SecretValue, SecretsOutcome> {
    let Some(secret) = secret else {
        return Err(SecretsOutcome::Missing {
            reason: Reason::SecretNotFound,
            message: format!(
                "Secret {} (spec.{field}.name) not found in this namespace",
                reference.name
            ),
        });
    };
    let source = format!(
        "{}/{}",
        secret.metadata.uid.as_deref().unwrap_or_default(),
        secret.resource_version().unwrap_or_default()
    );
    let found = text(secret, &reference.key).map(|value| SecretValue { value, source });
    found.ok_or_else(|| SecretsOutcome::Missing {
        reason: Reason::SecretKeyMissing,
        message: format!(
            "Secret {} has no key {} (spec.{field}.key), or its value is not UTF-8",
            reference.name, reference.key
        ),
    })
}

/// A key's value as text, trailing newlines removed, blank or not; `None`
/// if absent or not UTF-8.
pub fn text(secret: &Secret, key: &str) -> Option<String> {
    let bytes = secret.data.as_ref()?.get(key)?;
    let text = std::str::from_utf8(&bytes.0).ok()?;
    Some(text.trim_end_matches(['\r', '\n']).to_owned())
}
