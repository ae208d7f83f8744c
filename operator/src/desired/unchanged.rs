//! Whether a generated object already is what it should be, so the apply can
//! be skipped.
//!
//! A server-side apply of identical content changes nothing, but it is still a
//! write request that the API server and etcd must process. At a thousand
//! `OidcSettings`, re-applying on every re-check is a write storm; comparing
//! first makes a settled cluster cost only reads.

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::BTreeMap;

/// True when `existing` has the data and the metadata `desired` asks for.
pub fn secret_unchanged(existing: Option<&Secret>, desired: &Secret) -> bool {
    existing.is_some_and(|existing| {
        contains_all(&existing.data, &desired.data)
            && existing.string_data.is_none()
            && meta_unchanged(&existing.metadata, &desired.metadata)
    })
}

/// True when `existing` has the data and the metadata `desired` asks for.
pub fn config_map_unchanged(existing: Option<&ConfigMap>, desired: &ConfigMap) -> bool {
    existing.is_some_and(|existing| {
        contains_all(&existing.data, &desired.data)
            && contains_all::<ByteString>(&existing.binary_data, &desired.binary_data)
            && meta_unchanged(&existing.metadata, &desired.metadata)
    })
}

/// True when `existing` has the spec and the metadata `desired` asks for.
pub fn network_policy_unchanged(existing: Option<&NetworkPolicy>, desired: &NetworkPolicy) -> bool {
    existing.is_some_and(|existing| {
        existing.spec == desired.spec && meta_unchanged(&existing.metadata, &desired.metadata)
    })
}

/// Every label, annotation and owner reference of `desired` is on `existing`.
fn meta_unchanged(existing: &ObjectMeta, desired: &ObjectMeta) -> bool {
    contains_all(&existing.labels, &desired.labels)
        && contains_all(&existing.annotations, &desired.annotations)
        && desired.owner_references.iter().flatten().all(|wanted| {
            existing
                .owner_references
                .iter()
                .flatten()
                .any(|o| o == wanted)
        })
}

/// Every key of `desired` is in `existing` with the same value. Keys that
/// others added are theirs: a server-side apply would not remove them either.
fn contains_all<V: PartialEq>(
    existing: &Option<BTreeMap<String, V>>,
    desired: &Option<BTreeMap<String, V>>,
) -> bool {
    desired.iter().flatten().all(|(key, value)| {
        existing
            .as_ref()
            .and_then(|existing| existing.get(key))
            .is_some_and(|found| found == value)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

    fn map(pairs: &[(&str, &str)]) -> Option<BTreeMap<String, String>> {
        Some(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    fn owner(uid: &str) -> OwnerReference {
        OwnerReference {
            api_version: "portcullis.dev/v1alpha1".into(),
            kind: "OidcSettings".into(),
            name: "books".into(),
            uid: uid.into(),
            controller: Some(true),
            ..OwnerReference::default()
        }
    }

    fn config_map(data: &str, hash: &str) -> ConfigMap {
        ConfigMap {
            metadata: ObjectMeta {
                labels: map(&[("app", "portcullis")]),
                annotations: map(&[("hash", hash)]),
                owner_references: Some(vec![owner("uid-1")]),
                ..ObjectMeta::default()
            },
            data: map(&[("sidecar.yaml", data)]),
            ..ConfigMap::default()
        }
    }

    fn secret(value: &str) -> Secret {
        Secret {
            metadata: config_map("", "h").metadata,
            data: Some(BTreeMap::from([(
                "client-secret".to_owned(),
                ByteString(value.as_bytes().to_vec()),
            )])),
            ..Secret::default()
        }
    }

    #[test]
    fn identical_objects_are_unchanged() {
        let desired = config_map("x: 1", "h1");
        assert!(config_map_unchanged(Some(&desired.clone()), &desired));
        assert!(secret_unchanged(Some(&secret("s")), &secret("s")));
    }

    #[test]
    fn a_missing_object_must_be_written() {
        assert!(!config_map_unchanged(None, &config_map("x: 1", "h1")));
        assert!(!secret_unchanged(None, &secret("s")));
    }

    #[test]
    fn labels_and_annotations_added_by_others_do_not_count() {
        let desired = config_map("x: 1", "h1");
        let mut existing = desired.clone();
        existing.metadata.labels = map(&[("app", "portcullis"), ("team", "media")]);
        existing.metadata.annotations = map(&[("hash", "h1"), ("note", "hi")]);
        existing.metadata.resource_version = Some("42".into());
        assert!(config_map_unchanged(Some(&existing), &desired));
    }

    #[test]
    fn changed_data_hash_label_or_owner_must_be_written() {
        let desired = config_map("x: 1", "h1");
        assert!(!config_map_unchanged(
            Some(&config_map("x: 2", "h1")),
            &desired
        ));
        assert!(!config_map_unchanged(
            Some(&config_map("x: 1", "h0")),
            &desired
        ));
        let mut relabelled = desired.clone();
        relabelled.metadata.labels = map(&[("app", "other")]);
        assert!(!config_map_unchanged(Some(&relabelled), &desired));
        let mut orphaned = desired.clone();
        orphaned.metadata.owner_references = None;
        assert!(!config_map_unchanged(Some(&orphaned), &desired));
    }

    #[test]
    fn a_secret_value_edited_by_hand_is_restored() {
        assert!(!secret_unchanged(Some(&secret("edited")), &secret("s")));
    }

    #[test]
    fn keys_added_by_others_do_not_count() {
        let mut extra = secret("s");
        if let Some(data) = extra.data.as_mut() {
            data.insert("extra".into(), ByteString(b"x".to_vec()));
        }
        assert!(secret_unchanged(Some(&extra), &secret("s")));
    }
}
