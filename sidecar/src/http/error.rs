//! Every failure a visitor can meet, mapped to a response in one place.
//!
//! Pages say what went wrong in words a person can act on; JSON answers are
//! for scripts. Internal details (addresses, tokens) never reach either.

use super::pages::error_page;
use crate::oidc::claims::ClaimsError;
use crate::oidc::flow::FlowError;
use crate::oidc::issuer_param::IssuerParamError;
use crate::oidc::pending::PendingError;
use crate::oidc::provider::DiscoveryFailure;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde_json::json;

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
    #[error("the identity provider returned `{code}`")]
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
    Claims(#[from] ClaimsError),
    /// The session holds a value no header can carry (issued before such
    /// values were refused at login).
    #[error(transparent)]
    Unforwardable(#[from] super::identity_headers::Unforwardable),
    /// The provider sent more (or longer) groups than one cookie can hold.
    #[error(transparent)]
    SessionTooLarge(#[from] crate::session::cookie::SessionTooLarge),
    /// The app did not answer.
    #[error("the application is not reachable")]
    UpstreamUnavailable,
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let message = self.to_string();
        let (status, title, code) = match &self {
            AppError::Unauthenticated => {
                let body = json!({"error": "unauthenticated", "message": "sign in first", "login": "/login"});
                return (StatusCode::UNAUTHORIZED, Json(body)).into_response();
            }
            AppError::ProviderUnavailable(failure) => {
                tracing::warn!(reason = %failure.reason, "sign-in impossible: identity provider unavailable");
                let message = "The identity provider cannot be reached right now, so signing in is not possible. \
Please try again in a moment.";
                let page = error_page("Identity provider unavailable", message, None);
                return (StatusCode::SERVICE_UNAVAILABLE, Html(page)).into_response();
            }
            AppError::ProviderRefused { code, description } => {
                let page = error_page(
                    "Sign-in was not completed",
                    &provider_message(code, description.as_deref()),
                    Some(code),
                );
                let status = if code == "access_denied" {
                    StatusCode::FORBIDDEN
                } else {
                    StatusCode::BAD_REQUEST
                };
                return (status, Html(page)).into_response();
            }
            AppError::MalformedCallback | AppError::Pending(_) | AppError::IssuerParam(_) => (
                StatusCode::BAD_REQUEST,
                "Sign-in could not be completed",
                None,
            ),
            AppError::Flow(_) => (
                StatusCode::BAD_GATEWAY,
                "Sign-in could not be completed",
                None,
            ),
            AppError::Unforwardable(_) => (StatusCode::FORBIDDEN, "Please sign in again", None),
            AppError::SessionTooLarge(_) => (
                StatusCode::FORBIDDEN,
                "Your account has too many groups for this application",
                None,
            ),
            AppError::Claims(_) => (
                StatusCode::FORBIDDEN,
                "Your account cannot be used here",
                None,
            ),
            AppError::UpstreamUnavailable => {
                let page = super::pages::layout(
                    "Application unavailable",
                    "<h1>Application unavailable</h1><p>The application behind this sign-in did not answer. \
Try again in a moment.</p>",
                );
                return (StatusCode::BAD_GATEWAY, Html(page)).into_response();
            }
        };
        (status, Html(error_page(title, &message, code))).into_response()
    }
}

fn provider_message(code: &str, description: Option<&str>) -> String {
    let known = match code {
        "access_denied" => "The identity provider denied access, or the sign-in was cancelled.",
        "login_required" | "interaction_required" | "consent_required" => {
            "The identity provider needs you to sign in there first."
        }
        "invalid_scope" => {
            "The identity provider refused the requested scopes; an administrator should check the scope setting."
        }
        "unauthorized_client" | "invalid_client" | "invalid_request" => {
            "The identity provider refused this application's request; an administrator should check the client settings."
        }
        _ => "The identity provider returned an error.",
    };
    match description {
        Some(description) if !description.is_empty() => format!("{known} ({description})"),
        _ => known.to_owned(),
    }
}
