//! A reference to one key of a Secret, as every Secret an `OidcSettings`
//! names is referenced (`clientSecretRef`, `rootAdmin.passwordSecretRef`,
//! the session store's).

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
