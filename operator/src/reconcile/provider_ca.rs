//! Reading the provider's CA bundle an `OidcSettings` names, from a
//! ConfigMap key or a Secret key, and checking that it holds PEM
//! certificates before the sidecar is told to trust it. The certificates
//! read here are the ones the provider check trusts, so the bundle is
//! parsed once per reconcile.

use super::secret_keys::{SecretValue, read_key};
use crate::crd::{CaBundleRef, ConfigMapKeyRef};
use crate::error::Result;
use crate::status::checks::SecretsOutcome;
use crate::status::reason::Reason;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::Api;
use portcullis_contract::ca_bundle::certificates;
use portcullis_contract::problems::Problems;

/// A CA bundle as read: the PEM the sidecar gets, and its certificates.
pub struct ProviderCa {
    /// The PEM, as the ConfigMap or Secret holds it.
    pub pem: String,
    /// Its certificates (DER); empty when it holds none that can be read.
    pub roots: Vec<Vec<u8>>,
}

/// The bundle `reference` names, or what is missing; a bundle that holds
/// no readable certificate is a problem of the spec, named by its field.
pub async fn read_bundle(
    reference: &CaBundleRef,
    secrets: &Api<Secret>,
    config_maps: &Api<ConfigMap>,
    problems: &mut Problems,
) -> Result<std::result::Result<ProviderCa, SecretsOutcome>> {
    let (field, found) = match (&reference.config_map_ref, &reference.secret_ref) {
        (Some(map), _) => (
            "caBundle.configMapRef",
            in_config_map(config_maps.get_opt(&map.name).await?.as_ref(), map),
        ),
        (None, Some(secret)) => (
            "caBundle.secretRef",
            read_key(secrets, secret, "caBundle.secretRef")
                .await?
                .map(|found: SecretValue| found.value),
        ),
        // The schema asks for exactly one.
        (None, None) => {
            return Ok(Ok(ProviderCa {
                pem: String::new(),
                roots: Vec::new(),
            }));
        }
    };
    Ok(found.map(|pem| {
        let roots = certificates(&pem)
            .map_err(|error| problems.push(field, format!("the CA bundle {error}")))
            .unwrap_or_default();
        ProviderCa { pem, roots }
    }))
}

/// The referenced key of `map`, or what is missing, naming the field.
fn in_config_map(
    map: Option<&ConfigMap>,
    reference: &ConfigMapKeyRef,
) -> std::result::Result<String, SecretsOutcome> {
    let Some(map) = map else {
        return Err(SecretsOutcome::Missing {
            reason: Reason::ConfigMapNotFound,
            message: format!(
                "ConfigMap {} (spec.caBundle.configMapRef.name) not found in this namespace",
                reference.name
            ),
        });
    };
    map.data
        .as_ref()
        .and_then(|data| data.get(&reference.key))
        .cloned()
        .ok_or_else(|| SecretsOutcome::Missing {
            reason: Reason::ConfigMapKeyMissing,
            message: format!(
                "ConfigMap {} has no key {} (spec.caBundle.configMapRef.key)",
                reference.name, reference.key
            ),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn reference() -> ConfigMapKeyRef {
        ConfigMapKeyRef {
            name: "company-roots".into(),
            key: "ca-bundle.crt".into(),
        }
    }

    #[test]
    fn a_missing_config_map_or_key_is_named() {
        let Err(SecretsOutcome::Missing { reason, message }) = in_config_map(None, &reference())
        else {
            panic!("missing");
        };
        assert_eq!(reason, Reason::ConfigMapNotFound);
        assert!(message.contains("company-roots"), "{message}");
        let empty = ConfigMap::default();
        let Err(SecretsOutcome::Missing { reason, message }) =
            in_config_map(Some(&empty), &reference())
        else {
            panic!("missing");
        };
        assert_eq!(reason, Reason::ConfigMapKeyMissing);
        assert!(message.contains("ca-bundle.crt"), "{message}");
    }

    #[test]
    fn the_key_of_a_config_map_is_read() {
        let map = ConfigMap {
            data: Some(BTreeMap::from([("ca-bundle.crt".into(), "PEM".into())])),
            ..ConfigMap::default()
        };
        assert_eq!(
            in_config_map(Some(&map), &reference()).ok(),
            Some("PEM".into())
        );
    }
}
