//! Every failure a visitor can meet, mapped to a response in one place.
//!
//! Pages say what went wrong in words a person can act on, one fixed message
//! per kind; JSON answers are for scripts (both in [`super::error_page`]).
//! The error chain (which can carry the HTTP client's internal addresses)
//! goes to the logs only, written by the handler that met the error, never
//! from `into_response`.

use crate::gate::IdentityNotWritten;
use crate::oidc::claims::ClaimsError;
use crate::oidc::flow::FlowError;
use crate::oidc::issuer_param::IssuerParamError;
use crate::oidc::pending::PendingError;
use crate::oidc::provider::{DiscoveryFailure, error_chain};
use crate::oidc::signed_in::IdentityRefused;

/// A failure that ends a request.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A script or API call without a session.
    #[error("not signed in")]
    Unauthenticated,
    /// The identity provider's discovery document is unavailable.
    #[error(transparent)]
    ProviderUnavailable(#[from] DiscoveryFailure),
    /// The provider redirected back with `error=...`.
    #[error("the identity provider returned `{code}`{}", described(description.as_deref()))]
    ProviderRefused {
        /// The OAuth error code.
        code: String,
        /// The provider's description, if any.
        description: Option<String>,
    },
    /// The callback lacks `code` or `state`.
    #[error("the sign-in response lacks `code` or `state`")]
    MalformedCallback,
    /// The callback does not match this browser's pending login.
    #[error(transparent)]
    Pending(#[from] PendingError),
    /// The callback names another provider, or none where one was promised.
    #[error(transparent)]
    IssuerParam(#[from] IssuerParamError),
    /// Code exchange or token validation failed.
    #[error(transparent)]
    Flow(#[from] FlowError),
    /// The claims do not make a login.
    #[error(transparent)]
    Claims(ClaimsError),
    /// The user is in none of the groups allowed to sign in.
    #[error(transparent)]
    NotAllowed(crate::access::roles::NotAllowed),
    /// The provider sent more (or longer) groups than one cookie can hold.
    #[error(transparent)]
    SessionTooLarge(#[from] crate::session::cookie::SessionTooLarge),
    /// The session holds a value no header can carry (issued before such
    /// values were refused at login).
    #[error(transparent)]
    Unforwardable(#[from] crate::gate::identity_headers::Unforwardable),
    /// The identity token for the app could not be signed.
    #[error(transparent)]
    IdentityUnsigned(#[from] crate::identity::signer::SignError),
    /// The app did not answer.
    #[error("the application is not reachable")]
    UpstreamUnavailable,
    /// A `CONNECT` request: the sidecar opens no tunnels.
    #[error("`CONNECT` is not passed to the application")]
    NotProxied,
    /// A signed-in caller whose role the access rules do not admit; a page
    /// for browsers (`page`), JSON for scripts.
    #[error("the access rules do not admit this caller")]
    Denied {
        /// Answer with an HTML page rather than JSON.
        page: bool,
    },
    /// A bearer token that does not verify: 401 with `WWW-Authenticate`,
    /// never a redirect (API clients cannot sign in).
    #[error("the bearer token is not valid")]
    InvalidBearer,
    /// The shared log-out list is too old to tell whether the session was
    /// ended on another replica: 503 with `Retry-After`, the cookie kept.
    #[error("the session store has been unreachable for longer than its staleness bound")]
    StoreUnavailable {
        /// Seconds to wait before trying again.
        retry_after_seconds: u64,
    },
    /// A path the app could read differently from the access rules.
    #[error(transparent)]
    AmbiguousPath(#[from] portcullis_contract::access::path::AmbiguousPath),
}

impl From<IdentityNotWritten> for AppError {
    fn from(error: IdentityNotWritten) -> Self {
        match error {
            IdentityNotWritten::Unforwardable(error) => Self::Unforwardable(error),
            IdentityNotWritten::Unsigned(error) => Self::IdentityUnsigned(error),
        }
    }
}

impl From<IdentityRefused> for AppError {
    fn from(refused: IdentityRefused) -> Self {
        match refused {
            IdentityRefused::Claims(error) => Self::Claims(error),
            IdentityRefused::NotAllowed(error) => Self::NotAllowed(error),
        }
    }
}

// === impl AppError ===

impl AppError {
    /// The whole error chain, for logs only: it can name internal addresses.
    pub fn chain(&self) -> String {
        error_chain(self)
    }
}

fn described(description: Option<&str>) -> String {
    description.map_or_else(String::new, |text| format!(": {text}"))
}
