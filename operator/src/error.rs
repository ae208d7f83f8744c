//! Errors of a reconcile; each maps to a short metric reason.

use crate::desired::objects::MissingMeta;
use crate::desired::secrets::HashError;

/// Why a reconcile failed (it is retried with backoff).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The API server refused or could not be reached.
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// The sidecar config could not be rendered.
    #[error("cannot render the sidecar config: {0}")]
    Render(#[from] serde_yaml::Error),
    /// The root admin password could not be hashed.
    #[error(transparent)]
    Hash(#[from] HashError),
    /// No identity signing key could be generated.
    #[error("cannot generate the identity signing key: {0}")]
    IdentityKey(#[from] portcullis_contract::identity_keys::IdentityKeyError),
    /// The object lacks metadata needed for owner references.
    #[error(transparent)]
    Meta(#[from] MissingMeta),
    /// Password hashing did not finish (its job failed, or the operator is
    /// shutting down).
    #[error("password hashing stopped: {0}")]
    Hashing(#[from] portcullis_contract::password_pool::PoolError),
}

/// Result with the reconcile [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A short label for the failures metric.
    pub fn metric_reason(&self) -> &'static str {
        match self {
            Error::Kube(_) => "kube",
            Error::Render(_) => "render",
            Error::Hash(_) => "hash",
            Error::IdentityKey(_) => "identity_key",
            Error::Meta(_) => "metadata",
            Error::Hashing(_) => "task",
        }
    }
}
