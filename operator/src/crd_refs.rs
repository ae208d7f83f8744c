//! A reference to one key of a Secret, as every Secret an `OidcSettings`
//! names is referenced (`clientSecretRef`, `rootAdmin.passwordSecretRef`,
//! the session store's), and the provider's CA bundle, which may be in a
//! ConfigMap as well (where trust-manager and OpenShift put them).

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

/// A key of a Secret in the resource's namespace.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeyRef {
    /// The Secret's name.
    #[schemars(length(min = 1))]
    pub name: String,
    /// The key inside the Secret.
    #[schemars(length(min = 1))]
    pub key: String,
}

/// A key of a ConfigMap in the resource's namespace.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ConfigMapKeyRef {
    /// The ConfigMap's name.
    #[schemars(length(min = 1))]
    pub name: String,
    /// The key inside the ConfigMap.
    #[schemars(length(min = 1))]
    pub key: String,
}

/// Where the PEM of the CA certificates the provider's certificate chains
/// to is: one of a ConfigMap key (trust-manager's bundles, OpenShift's
/// injected `ca-bundle.crt`) and a Secret key.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.configMapRef) != has(self.secretRef)")
    .message("name exactly one of configMapRef and secretRef"))]
pub struct CaBundleRef {
    /// A key of a ConfigMap holding the PEM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map_ref: Option<ConfigMapKeyRef>,
    /// A key of a Secret holding the PEM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretKeyRef>,
}
