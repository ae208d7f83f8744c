//! The generated ConfigMap and Secrets as Kubernetes objects.
//!
//! Every object carries the same labels, an owner reference to its
//! `OidcSettings` (so garbage collection, where it runs, cleans up) and the
//! content hash; the apply is then a plain server-side apply of these. The
//! generated root-admin password is the exception: it is not owned.

use crate::crd::OidcSettings;
use crate::desired::hash::content_hash;
use crate::names::{
    CLIENT_SECRET_KEY, CONFIG_HASH_ANNOTATION, CONFIG_KEY, ENROLMENT_CODE_KEY, ENROLMENT_HASH_KEY,
    IDENTITY_KEYS_KEY, PROVIDER_CA_KEY, ROOT_HASH_KEY, ROOT_PASSWORD_KEY,
    ROOT_PASSWORD_SOURCE_ANNOTATION, ROOT_USERNAME_KEY, SESSION_KEYS_KEY, common_labels,
    enrolment_secret_name, generated_name, kept_keys_secret_name, root_admin_secret_name,
};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::{Resource, ResourceExt};
use std::collections::BTreeMap;

/// The owner lacks the metadata an owner reference needs.
#[derive(Debug, thiserror::Error)]
#[error("OidcSettings has no {0} yet")]
pub struct MissingMeta(pub &'static str);

/// The values that go into the generated Secret.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValues {
    /// The OIDC client secret.
    pub client_secret: String,
    /// Session key lines.
    pub session_keys: String,
    /// Identity signing key lines, when generated (see [`super::secrets::identity_keys`]).
    pub identity_keys: Option<String>,
    /// argon2id hash of the root password, when a root admin is configured.
    pub root_password_hash: Option<String>,
    /// Which version of the password Secret that hash was made from.
    pub root_password_source: Option<String>,
    /// argon2id hash of the enrolment code, when a root admin is configured.
    pub enrolment_code_hash: Option<String>,
    /// The session store's credentials and CA, by key.
    pub store_files: Vec<(&'static str, String)>,
    /// The provider's CA bundle (PEM), when the spec names one.
    pub provider_ca: Option<String>,
}

impl std::fmt::Debug for SecretValues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretValues(..)")
    }
}

/// The generated ConfigMap and Secret, and the hash both carry.
#[derive(Debug, Clone)]
pub struct Generated {
    /// `<name>-portcullis` ConfigMap with `sidecar.yaml`.
    pub config_map: ConfigMap,
    /// `<name>-portcullis` Secret with the files the config points at.
    pub secret: Secret,
    /// The content hash annotation value.
    pub hash: String,
}

/// Builds the generated ConfigMap and Secret for `owner`.
pub fn generated(
    owner: &OidcSettings,
    config_yaml: String,
    values: SecretValues,
) -> Result<Generated, MissingMeta> {
    let mut data = BTreeMap::from([
        (CLIENT_SECRET_KEY.to_owned(), values.client_secret),
        (SESSION_KEYS_KEY.to_owned(), values.session_keys),
    ]);
    if let Some(hash) = values.root_password_hash {
        data.insert(ROOT_HASH_KEY.to_owned(), hash);
    }
    if let Some(keys) = values.identity_keys {
        data.insert(IDENTITY_KEYS_KEY.to_owned(), keys);
    }
    if let Some(hash) = values.enrolment_code_hash {
        data.insert(ENROLMENT_HASH_KEY.to_owned(), hash);
    }
    for (key, value) in values.store_files {
        data.insert(key.to_owned(), value);
    }
    if let Some(bundle) = values.provider_ca {
        data.insert(PROVIDER_CA_KEY.to_owned(), bundle);
    }
    let hash = content_hash(&config_yaml, &data);
    let meta = meta(owner, generated_name(&owner.name_any()), Some(&hash))?;
    let mut secret_meta = meta.clone();
    if let (Some(source), Some(annotations)) = (
        values.root_password_source,
        secret_meta.annotations.as_mut(),
    ) {
        annotations.insert(ROOT_PASSWORD_SOURCE_ANNOTATION.to_owned(), source);
    }
    Ok(Generated {
        config_map: ConfigMap {
            metadata: meta,
            data: Some(BTreeMap::from([(CONFIG_KEY.to_owned(), config_yaml)])),
            ..ConfigMap::default()
        },
        secret: Secret {
            metadata: secret_meta,
            type_: Some("Opaque".into()),
            data: Some(bytes(data)),
            ..Secret::default()
        },
        hash,
    })
}

/// The `<name>-enrolment` Secret holding the backup login's one-time
/// enrolment code, for the root admin to read with `kubectl`. Owned by the
/// `OidcSettings`: a new code is made whenever it is missing, so deleting
/// it is how a used code is replaced.
pub fn enrolment_secret(owner: &OidcSettings, code: &str) -> Result<Secret, MissingMeta> {
    let metadata = meta(owner, enrolment_secret_name(&owner.name_any()), None)?;
    Ok(Secret {
        metadata,
        type_: Some("Opaque".into()),
        data: Some(bytes(BTreeMap::from([(
            ENROLMENT_CODE_KEY.to_owned(),
            code.to_owned(),
        )]))),
        ..Secret::default()
    })
}

/// The `<name>-root-admin` Secret holding a generated password (created once).
///
/// It has no owner reference: it holds a credential people write down, and
/// deleting and re-applying the `OidcSettings` (a GitOps re-sync) must not
/// let garbage collection take it and a new password appear. The labels
/// still say whose it is.
pub fn root_admin_secret(
    owner: &OidcSettings,
    username: &str,
    password: &str,
) -> Result<Secret, MissingMeta> {
    let mut metadata = meta(owner, root_admin_secret_name(&owner.name_any()), None)?;
    metadata.owner_references = None;
    Ok(Secret {
        metadata,
        type_: Some("Opaque".into()),
        data: Some(bytes(BTreeMap::from([
            (ROOT_USERNAME_KEY.to_owned(), username.to_owned()),
            (ROOT_PASSWORD_KEY.to_owned(), password.to_owned()),
        ]))),
        ..Secret::default()
    })
}

/// The `<name>-keys` Secret: the session keys and, once made, the identity
/// keys, as the generated Secret carries them.
///
/// Like the generated root password it has no owner reference: deleting
/// and re-applying the `OidcSettings` (a GitOps re-sync, a prune) must not
/// let garbage collection take the keys and log every user out, or change
/// the keys apps verify the signed identity with. The labels still say
/// whose it is.
pub fn kept_keys_secret(
    owner: &OidcSettings,
    session_keys: &str,
    identity_keys: Option<&str>,
) -> Result<Secret, MissingMeta> {
    let mut metadata = meta(owner, kept_keys_secret_name(&owner.name_any()), None)?;
    metadata.owner_references = None;
    let mut data = BTreeMap::from([(SESSION_KEYS_KEY.to_owned(), session_keys.to_owned())]);
    if let Some(identity_keys) = identity_keys {
        data.insert(IDENTITY_KEYS_KEY.to_owned(), identity_keys.to_owned());
    }
    Ok(Secret {
        metadata,
        type_: Some("Opaque".into()),
        data: Some(bytes(data)),
        ..Secret::default()
    })
}

/// Name, namespace, labels, owner reference and (optionally) the content hash
/// of an object generated for `owner`.
pub(crate) fn meta(
    owner: &OidcSettings,
    name: String,
    hash: Option<&str>,
) -> Result<ObjectMeta, MissingMeta> {
    let namespace = owner.namespace().ok_or(MissingMeta("namespace"))?;
    Ok(ObjectMeta {
        name: Some(name),
        namespace: Some(namespace),
        labels: Some(common_labels(&owner.name_any())),
        annotations: hash
            .map(|hash| BTreeMap::from([(CONFIG_HASH_ANNOTATION.to_owned(), hash.to_owned())])),
        owner_references: Some(vec![owner_ref(owner)?]),
        ..ObjectMeta::default()
    })
}

fn owner_ref(owner: &OidcSettings) -> Result<OwnerReference, MissingMeta> {
    owner.controller_owner_ref(&()).ok_or(MissingMeta("uid"))
}

fn bytes(data: BTreeMap<String, String>) -> BTreeMap<String, ByteString> {
    data.into_iter()
        .map(|(key, value)| (key, ByteString(value.into_bytes())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desired::config::tests::spec;

    fn owner() -> OidcSettings {
        let mut owner = OidcSettings::new("books", spec());
        owner.metadata.namespace = Some("media".into());
        owner.metadata.uid = Some("uid-1".into());
        owner
    }

    fn values() -> SecretValues {
        SecretValues {
            client_secret: "s3cret".into(),
            session_keys: "key\n".into(),
            identity_keys: None,
            root_password_hash: Some("$argon2id$...".into()),
            root_password_source: Some("uid-2/41".into()),
            enrolment_code_hash: Some("$argon2id$m=1024...".into()),
            store_files: Vec::new(),
            provider_ca: None,
        }
    }

    #[test]
    fn generated_objects_are_named_labelled_and_owned() {
        let generated = generated(&owner(), "x: 1\n".into(), values()).expect("built");
        let meta = &generated.secret.metadata;
        assert_eq!(meta.name.as_deref(), Some("books-portcullis"));
        assert_eq!(meta.namespace.as_deref(), Some("media"));
        let owner_ref = &meta.owner_references.as_ref().expect("owner")[0];
        assert_eq!(owner_ref.kind, "OidcSettings");
        assert_eq!(owner_ref.controller, Some(true));
        let labels = meta.labels.as_ref().expect("labels");
        assert_eq!(
            labels["app.kubernetes.io/managed-by"],
            "portcullis-operator"
        );
        assert_eq!(generated.config_map.metadata.labels, meta.labels);
        assert_eq!(
            generated.config_map.metadata.owner_references,
            meta.owner_references
        );
        let annotations = meta.annotations.as_ref().expect("annotations");
        assert_eq!(annotations[CONFIG_HASH_ANNOTATION], generated.hash);
        assert_eq!(annotations[ROOT_PASSWORD_SOURCE_ANNOTATION], "uid-2/41");
        let config_map_annotations = generated.config_map.metadata.annotations.expect("hash");
        assert!(!config_map_annotations.contains_key(ROOT_PASSWORD_SOURCE_ANNOTATION));
    }

    #[test]
    fn secret_holds_the_three_files() {
        let generated = generated(&owner(), "x: 1\n".into(), values()).expect("built");
        let data = generated.secret.data.expect("data");
        assert_eq!(data[CLIENT_SECRET_KEY].0, b"s3cret");
        assert_eq!(data[SESSION_KEYS_KEY].0, b"key\n");
        assert!(data.contains_key(ROOT_HASH_KEY));
    }

    #[test]
    fn identity_keys_are_in_the_secret_only_when_generated() {
        let without = generated(&owner(), "x: 1\n".into(), values()).expect("built");
        assert!(
            !without
                .secret
                .data
                .expect("data")
                .contains_key(IDENTITY_KEYS_KEY)
        );
        let mut with_keys = values();
        with_keys.identity_keys = Some("signing key\n".into());
        let with = generated(&owner(), "x: 1\n".into(), with_keys).expect("built");
        assert_ne!(with.hash, without.hash, "a new key rolls the pods");
        assert_eq!(
            with.secret.data.expect("data")[IDENTITY_KEYS_KEY].0,
            b"signing key\n"
        );
    }

    #[test]
    fn owner_without_uid_is_refused() {
        let mut owner = owner();
        owner.metadata.uid = None;
        assert!(generated(&owner, String::new(), values()).is_err());
    }

    #[test]
    fn root_admin_secret_has_username_and_password() {
        let secret = root_admin_secret(&owner(), "admin", "pw").expect("built");
        assert_eq!(secret.metadata.name.as_deref(), Some("books-root-admin"));
        assert_eq!(
            secret.metadata.owner_references, None,
            "survives a re-apply"
        );
        let labels = secret.metadata.labels.as_ref().expect("labels");
        assert_eq!(labels["portcullis.dev/settings"], "books");
        let data = secret.data.expect("data");
        assert_eq!(data[ROOT_PASSWORD_KEY].0, b"pw");
        assert_eq!(data[ROOT_USERNAME_KEY].0, b"admin");
    }
}
