//! Reading the Secrets an `OidcSettings` references, and creating the
//! generated root-admin password once.

use crate::crd::{OidcSettings, SecretKeyRef};
use crate::desired::objects::root_admin_secret;
use crate::desired::secrets::generate_password;
use crate::error::Result;
use crate::names::{ROOT_PASSWORD_KEY, root_admin_secret_name};
use crate::status::checks::SecretsOutcome;
use crate::status::reason::Reason;
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::{Api, PostParams};
use tracing::info;

/// The secret values read for one reconcile.
pub struct Inputs {
    /// The OIDC client secret.
    pub client_secret: String,
    /// The root admin password, when a root admin is configured.
    pub root_password: Option<SecretValue>,
}

/// A key's value and which version of its Secret held it.
pub struct SecretValue {
    /// The value itself.
    pub value: String,
    /// `<uid>/<resourceVersion>` of the Secret it was read from.
    pub source: String,
}

/// Reads what `settings` references; `Ok(Err(..))` names what is missing.
pub async fn read(
    settings: &OidcSettings,
    secrets: &Api<Secret>,
) -> Result<Result<Inputs, SecretsOutcome>> {
    let spec = &settings.spec;
    let client_secret = match read_key(secrets, &spec.client_secret_ref, "clientSecretRef").await? {
        Ok(found) => found.value,
        Err(missing) => return Ok(Err(missing)),
    };
    let root_password = match &spec.root_admin {
        None => None,
        Some(root) => {
            let found = match &root.password_secret_ref {
                Some(reference) => {
                    read_key(secrets, reference, "rootAdmin.passwordSecretRef").await?
                }
                None => generated_password(settings, secrets, &root.username).await?,
            };
            match found {
                Ok(found) => Some(found),
                Err(missing) => return Ok(Err(missing)),
            }
        }
    };
    Ok(Ok(Inputs {
        client_secret,
        root_password,
    }))
}

async fn read_key(
    secrets: &Api<Secret>,
    reference: &SecretKeyRef,
    field: &str,
) -> Result<Result<SecretValue, SecretsOutcome>> {
    let secret = secrets.get_opt(&reference.name).await?;
    Ok(found_in(secret.as_ref(), reference, field))
}

/// The referenced key in `secret`, or what is missing, naming the field.
fn found_in(
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
    let found = value(secret, &reference.key).map(|value| SecretValue { value, source });
    found.ok_or_else(|| SecretsOutcome::Missing {
        reason: Reason::SecretKeyMissing,
        message: format!(
            "Secret {} has no key {} (spec.{field}.key), or its value is empty or not UTF-8",
            reference.name, reference.key
        ),
    })
}

/// The password of `<name>-root-admin`, creating that Secret if it does not exist.
/// An existing one is never overwritten.
async fn generated_password(
    settings: &OidcSettings,
    secrets: &Api<Secret>,
    username: &str,
) -> Result<Result<SecretValue, SecretsOutcome>> {
    let name = root_admin_secret_name(&settings.name_any());
    let reference = SecretKeyRef {
        name: name.clone(),
        key: ROOT_PASSWORD_KEY.into(),
    };
    let field = "rootAdmin (generated)";
    if let Some(existing) = secrets.get_opt(&name).await? {
        return Ok(found_in(Some(&existing), &reference, field));
    }
    let secret = root_admin_secret(settings, username, &generate_password())?;
    match secrets.create(&PostParams::default(), &secret).await {
        Ok(created) => {
            info!(secret = name, "generated the root admin password");
            Ok(found_in(Some(&created), &reference, field))
        }
        Err(kube::Error::Api(status)) if status.code == 409 => {
            read_key(secrets, &reference, field).await
        }
        Err(error) => Err(error.into()),
    }
}

/// A key's value as text, trailing newlines removed; `None` if absent, empty or not UTF-8.
pub fn value(secret: &Secret, key: &str) -> Option<String> {
    let bytes = secret.data.as_ref()?.get(key)?;
    let text = std::str::from_utf8(&bytes.0).ok()?;
    let text = text.trim_end_matches(['\r', '\n']);
    (!text.is_empty()).then(|| text.to_owned())
}
