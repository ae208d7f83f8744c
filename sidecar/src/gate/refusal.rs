//! Why the gate stopped a request, and the answer each door gives for it.

use crate::access::roles::NotInAllowedGroups;
use crate::http::error::AppError;
use crate::oidc::provider::DiscoveryFailure;
use axum::response::{IntoResponse, Redirect, Response};
use portcullis_contract::access::path::AmbiguousPath;

/// The gate's "no", with what the answer needs.
#[derive(Debug)]
pub enum Refusal {
    /// The path cannot be judged (it reads as different paths): 400.
    AmbiguousPath(AmbiguousPath),
    /// Nobody is signed in and a browser asked for a page: sign in, then
    /// come back to `return_to`.
    SignIn {
        /// The path and query to return to after signing in.
        return_to: String,
    },
    /// Nobody is signed in and a script asked: 401.
    Unauthenticated,
    /// The caller is signed in but may not: 403 (a page for a browser).
    Denied {
        /// Whether the client takes HTML.
        page: bool,
    },
    /// A bearer token that does not verify: 401.
    InvalidBearer,
    /// A bearer token's user is in none of the allowed groups: 403.
    NotAllowed(NotInAllowedGroups),
    /// The provider's keys could not be had to check a bearer token: 503.
    ProviderUnavailable(DiscoveryFailure),
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::SignIn { return_to } => {
                let query = url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("rd", &return_to)
                    .finish();
                Redirect::to(&format!("/auth/start?{query}")).into_response()
            }
            Refusal::AmbiguousPath(why) => AppError::from(why).into_response(),
            Refusal::Unauthenticated => AppError::Unauthenticated.into_response(),
            Refusal::Denied { page } => AppError::Denied { page }.into_response(),
            Refusal::InvalidBearer => AppError::InvalidBearer.into_response(),
            Refusal::NotAllowed(refused) => AppError::NotAllowed(refused).into_response(),
            Refusal::ProviderUnavailable(failure) => {
                AppError::ProviderUnavailable(failure).into_response()
            }
        }
    }
}
