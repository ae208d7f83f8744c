//! Which `OidcSettings` a Secret or ConfigMap event concerns.
//!
//! Secrets and ConfigMaps are watched metadata-only (no data is ever cached)
//! and each event is mapped here, against the controller's own cache of
//! `OidcSettings`, to the settings that read or generate that object, so a
//! rotated client secret or a renewed CA bundle reaches the sidecar at once
//! rather than at the next periodic check.

use crate::crd::OidcSettings;
use crate::names::{
    enrolment_secret_name, generated_name, kept_keys_secret_name, root_admin_secret_name,
};
use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;
use std::sync::Arc;

/// The names of the Secrets `settings` reads or writes.
pub fn secret_names(settings: &OidcSettings) -> Vec<String> {
    let name = settings.name_any();
    let mut names = vec![
        settings.spec.client_secret_ref.name.clone(),
        generated_name(&name),
        kept_keys_secret_name(&name),
    ];
    if let Some(root) = &settings.spec.root_admin {
        names.push(enrolment_secret_name(&name));
        match &root.password_secret_ref {
            Some(reference) => names.push(reference.name.clone()),
            None => names.push(root_admin_secret_name(&name)),
        }
    }
    if let Some(secret) = settings
        .spec
        .ca_bundle
        .as_ref()
        .and_then(|bundle| bundle.secret_ref.as_ref())
    {
        names.push(secret.name.clone());
    }
    if let Some(store) = &settings.spec.session_store {
        names.extend(
            store
                .references()
                .into_iter()
                .map(|(_, reference, _)| reference.name.clone()),
        );
    }
    names
}

/// The names of the ConfigMaps `settings` reads (its generated one is
/// watched as an owned child).
pub fn config_map_names(settings: &OidcSettings) -> Vec<String> {
    settings
        .spec
        .ca_bundle
        .as_ref()
        .and_then(|bundle| bundle.config_map_ref.as_ref())
        .map(|map| vec![map.name.clone()])
        .unwrap_or_default()
}

/// The settings in `all` that concern Secret `namespace/name`.
pub fn settings_for_secret(
    all: &[Arc<OidcSettings>],
    namespace: Option<&str>,
    name: &str,
) -> Vec<ObjectRef<OidcSettings>> {
    naming(all, namespace, name, secret_names)
}

/// The settings in `all` that read ConfigMap `namespace/name`.
pub fn settings_for_config_map(
    all: &[Arc<OidcSettings>],
    namespace: Option<&str>,
    name: &str,
) -> Vec<ObjectRef<OidcSettings>> {
    naming(all, namespace, name, config_map_names)
}

fn naming(
    all: &[Arc<OidcSettings>],
    namespace: Option<&str>,
    name: &str,
    names: fn(&OidcSettings) -> Vec<String>,
) -> Vec<ObjectRef<OidcSettings>> {
    all.iter()
        .filter(|settings| settings.namespace().as_deref() == namespace)
        .filter(|settings| names(settings).iter().any(|n| n == name))
        .map(|settings| ObjectRef::from_obj(settings.as_ref()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desired::config::tests::spec;

    fn settings(name: &str, namespace: &str) -> Arc<OidcSettings> {
        let mut settings = OidcSettings::new(name, spec());
        settings.metadata.namespace = Some(namespace.into());
        Arc::new(settings)
    }

    #[test]
    fn referenced_and_generated_secrets_map_to_their_settings() {
        let all = [settings("books", "media"), settings("films", "media")];
        let names = |secret: &str| -> Vec<String> {
            settings_for_secret(&all, Some("media"), secret)
                .into_iter()
                .map(|r| r.name)
                .collect()
        };
        assert_eq!(names("books-oidc"), ["books", "films"]);
        assert_eq!(names("books-portcullis"), ["books"]);
        assert_eq!(names("films-root-admin"), ["films"]);
        assert!(names("unrelated").is_empty());
    }

    #[test]
    fn the_session_store_secrets_map_to_their_settings() {
        let mut books = OidcSettings::new("books", spec());
        books.metadata.namespace = Some("media".into());
        books.spec.session_store = Some(
            serde_json::from_value(serde_json::json!({"redis": {
                "url": "rediss://redis:6380",
                "passwordSecretRef": {"name": "redis-auth", "key": "password"},
                "tls": {"caSecretRef": {"name": "redis-ca", "key": "ca.crt"}},
            }}))
            .expect("a store spec"),
        );
        let all = [Arc::new(books)];
        for secret in ["redis-auth", "redis-ca"] {
            let found = settings_for_secret(&all, Some("media"), secret);
            assert_eq!(found.len(), 1, "{secret}");
        }
    }

    #[test]
    fn the_ca_bundle_maps_from_its_config_map_or_secret() {
        let with_bundle = |bundle: serde_json::Value| {
            let mut books = OidcSettings::new("books", spec());
            books.metadata.namespace = Some("media".into());
            books.spec.ca_bundle = Some(serde_json::from_value(bundle).expect("a bundle"));
            [Arc::new(books)]
        };
        let from_map = with_bundle(
            serde_json::json!({"configMapRef": {"name": "company-roots", "key": "ca.crt"}}),
        );
        assert_eq!(
            settings_for_config_map(&from_map, Some("media"), "company-roots").len(),
            1
        );
        assert!(settings_for_secret(&from_map, Some("media"), "company-roots").is_empty());
        let from_secret = with_bundle(
            serde_json::json!({"secretRef": {"name": "company-roots", "key": "ca.crt"}}),
        );
        assert_eq!(
            settings_for_secret(&from_secret, Some("media"), "company-roots").len(),
            1
        );
        assert!(settings_for_config_map(&from_secret, Some("media"), "company-roots").is_empty());
    }

    #[test]
    fn other_namespaces_do_not_match() {
        let all = [settings("books", "media")];
        assert!(settings_for_secret(&all, Some("other"), "books-oidc").is_empty());
    }
}
