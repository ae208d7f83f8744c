//! Names, labels, keys and paths shared by the objects the operator writes.
//!
//! The mount paths are part of the contract with the webhook that injects the
//! sidecar: it mounts `<name>-portcullis` Secret at [`SECRET_DIR`] and the
//! ConfigMap at [`CONFIG_DIR`].

use std::collections::BTreeMap;

/// Field manager of every server-side apply.
pub const FIELD_MANAGER: &str = "portcullis-operator";
/// Where the sidecar container sees the generated Secret and ConfigMap.
pub use portcullis_contract::paths::{CONFIG_DIR, SECRET_DIR};
/// ConfigMap key holding the sidecar config.
pub const CONFIG_KEY: &str = portcullis_contract::paths::CONFIG_FILE;
/// Secret key: the OIDC client secret.
pub const CLIENT_SECRET_KEY: &str = "client-secret";
/// Secret key: session keys, one per line; the first seals new cookies.
pub const SESSION_KEYS_KEY: &str = "session-keys";
/// Secret key: identity signing keys (PKCS#8 P-256), one per line; the first signs.
pub const IDENTITY_KEYS_KEY: &str = "identity-keys";
/// Secret key: argon2id hash of the root admin's password.
pub const ROOT_HASH_KEY: &str = "root-password-hash";
/// Secret key: argon2id hash of the backup login's one-time enrolment code.
pub const ENROLMENT_HASH_KEY: &str = "enrolment-code-hash";
/// Key of the `<name>-enrolment` Secret holding the enrolment code.
pub const ENROLMENT_CODE_KEY: &str = "code";
/// Key of the generated root-admin Secret holding the password.
pub const ROOT_PASSWORD_KEY: &str = "password";
/// Key of the generated root-admin Secret holding the username.
pub const ROOT_USERNAME_KEY: &str = "username";
/// Generated Secret key: the session store's username (copied from its Secret).
pub const STORE_USERNAME_KEY: &str = "session-store-username";
/// Generated Secret key: the session store's password (copied from its Secret).
pub const STORE_PASSWORD_KEY: &str = "session-store-password";
/// Generated Secret key: the Sentinels' own password (copied from its Secret).
pub const STORE_SENTINEL_PASSWORD_KEY: &str = "session-store-sentinel-password";
/// Generated Secret key: the session store's CA (copied from its Secret).
pub const STORE_CA_KEY: &str = "session-store-ca.pem";
/// Generated Secret key: the provider's CA bundle (copied from its
/// ConfigMap or Secret).
pub const PROVIDER_CA_KEY: &str = "provider-ca.pem";
/// Annotation with a hash of the config and secret contents, for rollouts.
pub const CONFIG_HASH_ANNOTATION: &str = "portcullis.dev/config-hash";
/// Annotation on the generated Secret: `<uid>/<resourceVersion>` of the
/// password Secret its root-admin hash was made from.
pub const ROOT_PASSWORD_SOURCE_ANNOTATION: &str = "portcullis.dev/root-password-source";
/// Label naming the `OidcSettings` an object belongs to.
pub const SETTINGS_LABEL: &str = "portcullis.dev/settings";
/// Label a pod carries to get the sidecar: its value names the `OidcSettings`.
pub const INJECT_LABEL: &str = "portcullis.dev/inject";
/// Annotation the webhook puts on a pod it injected (value: the `OidcSettings`).
pub const INJECTED_ANNOTATION: &str = "portcullis.dev/injected";
/// Name of the injected sidecar container.
pub const SIDECAR_CONTAINER: &str = "portcullis";
/// Volume of the generated ConfigMap in an injected pod.
pub const CONFIG_VOLUME: &str = "portcullis-config";
/// Volume of the generated Secret in an injected pod.
pub const SECRET_VOLUME: &str = "portcullis-secret";
/// Named port of the sidecar's public listener.
pub const PUBLIC_PORT_NAME: &str = "portcullis";
/// Named port of the sidecar's admin listener (port names are at most 15
/// characters, so not `portcullis-admin`).
pub const ADMIN_PORT_NAME: &str = "portcullis-adm";
/// Label every generated object carries; also the watch selector.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";

/// True when `labels` say this operator made the object for the
/// `OidcSettings` called `settings`: the only objects it ever deletes.
pub fn generated_for(labels: &BTreeMap<String, String>, settings: &str) -> bool {
    labels.get(MANAGED_BY_LABEL).map(String::as_str) == Some(FIELD_MANAGER)
        && labels.get(SETTINGS_LABEL).map(String::as_str) == Some(settings)
}

/// Name of the generated ConfigMap and Secret.
pub fn generated_name(settings: &str) -> String {
    format!("{settings}-portcullis")
}

/// Name of the Secret holding the backup login's one-time enrolment code.
pub fn enrolment_secret_name(settings: &str) -> String {
    format!("{settings}-enrolment")
}

/// Name of the generated root-admin password Secret.
pub fn root_admin_secret_name(settings: &str) -> String {
    format!("{settings}-root-admin")
}

/// Name of the Secret that keeps the session and identity keys across a
/// delete and re-apply of the `OidcSettings` (no owner reference).
pub fn kept_keys_secret_name(settings: &str) -> String {
    format!("{settings}-keys")
}

/// Selector matching everything the operator generates.
pub fn managed_selector() -> String {
    format!("{MANAGED_BY_LABEL}={FIELD_MANAGER}")
}

/// Labels on every generated object.
pub fn common_labels(settings: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".into(), "portcullis".into()),
        ("app.kubernetes.io/instance".into(), settings.into()),
        ("app.kubernetes.io/component".into(), "auth-sidecar".into()),
        (MANAGED_BY_LABEL.into(), FIELD_MANAGER.into()),
        (SETTINGS_LABEL.into(), settings.into()),
    ])
}

/// Path of a generated Secret key as the sidecar sees it.
pub fn secret_path(key: &str) -> String {
    format!("{SECRET_DIR}/{key}")
}

/// Name of a forward-auth service's Deployment and Service.
pub fn forward_auth_name(settings: &str) -> String {
    format!("{settings}-portcullis-forward")
}

/// Named port of a forward-auth service's gRPC `ext_authz` listener.
pub const GRPC_PORT_NAME: &str = "grpc";
