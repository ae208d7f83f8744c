//! Reading the Secrets an `OidcSettings` references, and creating the
//! generated root-admin password once.
//!
//! The generated password Secret is not owned by the `OidcSettings` (one
//! made by an earlier version loses its owner reference here), so deleting
//! and re-applying the resource keeps the password; it is deleted when the
//! resource stops using it.

use super::provider_ca::{ProviderCa, read_bundle};
use super::secret_keys::{SecretValue, found_in, read_key, text};
use crate::crd::{OidcSettings, SecretKeyRef};
use crate::desired::objects::root_admin_secret;
use crate::desired::secrets::generate_password;
use crate::error::Result;
use crate::names::{ROOT_PASSWORD_KEY, generated_for, root_admin_secret_name};
use crate::spec_fields::referenced_value;
use crate::status::checks::SecretsOutcome;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use portcullis_contract::problems::Problems;
use portcullis_contract::secret_text::secret_text;
use serde_json::json;
use tracing::info;

/// The secret values read for one reconcile.
pub struct Inputs {
    /// The OIDC client secret.
    pub client_secret: String,
    /// The root admin password, when a root admin is configured.
    pub root_password: Option<SecretValue>,
    /// The session store's credentials and CA, by generated Secret key.
    pub store_files: Vec<(&'static str, String)>,
    /// The provider's CA bundle, when the spec names one.
    pub provider_ca: Option<ProviderCa>,
    /// What is wrong with the values themselves, named by the spec field
    /// that references them (a blank client secret, which the sidecar
    /// would refuse).
    pub problems: Problems,
}

/// Reads what `settings` references; `Ok(Err(..))` names what is missing.
pub async fn read(
    settings: &OidcSettings,
    secrets: &Api<Secret>,
    config_maps: &Api<ConfigMap>,
) -> Result<Result<Inputs, SecretsOutcome>> {
    let spec = &settings.spec;
    let mut problems = Problems::default();
    let client_secret = match read_key(secrets, &spec.client_secret_ref, "clientSecretRef").await? {
        Ok(found) => {
            referenced_value(
                &mut problems,
                "clientSecretRef",
                &spec.client_secret_ref,
                &found.value,
            );
            found.value
        }
        Err(missing) => return Ok(Err(missing)),
    };
    let generates = spec
        .root_admin
        .as_ref()
        .is_some_and(|root| root.password_secret_ref.is_none());
    if !generates {
        remove_unused_generated(settings, secrets).await?;
    }
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
                Ok(found) => {
                    if let Some(reference) = &root.password_secret_ref {
                        let field = "rootAdmin.passwordSecretRef";
                        referenced_value(&mut problems, field, reference, &found.value);
                    }
                    Some(found)
                }
                Err(missing) => return Ok(Err(missing)),
            }
        }
    };
    let mut store_files = Vec::new();
    for (field, reference, key) in spec
        .session_store
        .iter()
        .flat_map(|store| store.references())
    {
        match read_key(secrets, reference, field).await? {
            Ok(found) => {
                referenced_value(&mut problems, field, reference, &found.value);
                store_files.push((key, found.value));
            }
            Err(missing) => return Ok(Err(missing)),
        }
    }
    let provider_ca = match &spec.ca_bundle {
        None => None,
        Some(reference) => {
            match read_bundle(reference, secrets, config_maps, &mut problems).await? {
                Ok(bundle) => Some(bundle),
                Err(missing) => return Ok(Err(missing)),
            }
        }
    };
    Ok(Ok(Inputs {
        client_secret,
        root_password,
        store_files,
        provider_ca,
        problems,
    }))
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
        if existing
            .owner_references()
            .iter()
            .any(|owner| owner.kind == "OidcSettings")
        {
            // Made by an earlier version, owned: let it go, so garbage
            // collection never takes the password with a deleted OidcSettings.
            let orphan = json!({"metadata": {"ownerReferences": null}});
            secrets
                .patch(&name, &PatchParams::default(), &Patch::Merge(&orphan))
                .await?;
            info!(
                secret = name,
                "removed the owner reference of the generated root admin password"
            );
        }
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

/// Deletes `<name>-root-admin` when this `OidcSettings` no longer uses a
/// generated password (it names `passwordSecretRef`, or has no root admin):
/// an unused credential should not lie around. Only a Secret this operator
/// generated for this `OidcSettings` (by its labels) is ever deleted.
async fn remove_unused_generated(settings: &OidcSettings, secrets: &Api<Secret>) -> Result<()> {
    let owner = settings.name_any();
    let name = root_admin_secret_name(&owner);
    let Some(existing) = secrets.get_metadata_opt(&name).await? else {
        return Ok(());
    };
    if generated_for(existing.labels(), &owner) {
        secrets.delete(&name, &DeleteParams::default()).await?;
        info!(
            secret = name,
            "deleted the generated root admin password: spec.rootAdmin no longer uses it"
        );
    }
    Ok(())
}

/// A key's value as text, trailing newlines removed; `None` if absent,
/// blank or not UTF-8.
pub fn value(secret: &Secret, key: &str) -> Option<String> {
    secret_text(&text(secret, key)?).ok().map(str::to_owned)
}
