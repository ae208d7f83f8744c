//! Every failure a visitor can meet, mapped to a response in one place.
//!
//! Pages say what went wrong in words a person can act on, one fixed message
//! per kind ([`super::error_page`]); JSON answers are for scripts. The error chain (which can carry
//! the HTTP client's internal addresses) goes to the logs only, written by
//! the handler that met the error, never from `into_response`.

use super::error_page::page_of;
use super::pages::{error_page, notice_page};
use crate::gate::IdentityNotWritten;
use crate::oidc::claims::ClaimsError;
use crate::oidc::flow::FlowError;
use crate::oidc::issuer_param::IssuerParamError;
use crate::oidc::pending::PendingError;
use crate::oidc::provider::{DiscoveryFailure, error_chain};
use crate::oidc::signed_in::IdentityRefused;
use axum::Json;
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
    NotAllowed(crate::access::roles::NotInAllowedGroups),
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

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let page = page_of(&self);
        match self {
            AppError::Unauthenticated => {
                let body = json!({"error": "unauthenticated", "message": "sign in first", "login": "/login"});
                (page.status, Json(body)).into_response()
            }
            AppError::InvalidBearer => {
                let body = json!({"error": "invalid_token", "message": "the bearer token is not valid here"});
                let challenge = [(
                    axum::http::header::WWW_AUTHENTICATE,
                    r#"Bearer error="invalid_token""#,
                )];
                (page.status, challenge, Json(body)).into_response()
            }
            AppError::Denied { page: false } => {
                let body = json!({"error": "forbidden", "message": "the access rules do not admit this caller"});
                (page.status, Json(body)).into_response()
            }
            AppError::StoreUnavailable {
                retry_after_seconds,
            } => {
                let retry_after = [(
                    axum::http::header::RETRY_AFTER,
                    retry_after_seconds.max(1).to_string(),
                )];
                let body = Html(notice_page(page.title, &page.message));
                (page.status, retry_after, body).into_response()
            }
            AppError::UpstreamUnavailable | AppError::NotProxied => {
                (page.status, Html(notice_page(page.title, &page.message))).into_response()
            }
            _ => (
                page.status,
                Html(error_page(page.title, &page.message, page.code.as_deref())),
            )
                .into_response(),
        }
    }
}

fn described(description: Option<&str>) -> String {
    description.map_or_else(String::new, |text| format!(": {text}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::to_bytes;
    use axum::http::StatusCode;

    async fn body_of(error: AppError) -> (StatusCode, String) {
        let response = error.into_response();
        let status = response.status();
        let bytes = to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap_or_default();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    #[tokio::test]
    async fn token_failures_never_show_the_error_chain() {
        let error = AppError::Flow(FlowError::TokenExchange(
            "error sending request for url (http://10.0.0.7:8443/token)".into(),
        ));
        assert!(error.chain().contains("10.0.0.7"));
        let (status, page) = body_of(error).await;
        assert_eq!(status, StatusCode::BAD_GATEWAY);
        assert!(!page.contains("10.0.0.7"), "{page}");
        assert!(page.contains("could not be verified"), "{page}");
    }

    #[tokio::test]
    async fn an_unavailable_provider_page_does_not_name_its_address() {
        let error = AppError::ProviderUnavailable(DiscoveryFailure {
            issuer: "http://idp.internal:9000".into(),
            reason: "connection refused".into(),
        });
        let (status, page) = body_of(error).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(!page.contains("idp.internal"), "{page}");
        assert!(!page.contains("connection refused"), "{page}");
    }

    #[tokio::test]
    async fn the_providers_description_is_not_echoed_on_the_page() {
        let error = AppError::ProviderRefused {
            code: "access_denied".into(),
            description: Some("Call 555-0100 to unlock your account".into()),
        };
        let (status, page) = body_of(error).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(page.contains("<code>access_denied</code>"), "{page}");
        assert!(!page.contains("555-0100"), "{page}");
    }

    #[tokio::test]
    async fn a_hostile_claim_name_is_escaped_on_the_page() {
        let claim = "<script>alert(\"x\")</script>'";
        let error = AppError::Claims(ClaimsError::MissingUsername {
            claim: claim.into(),
        });
        let (status, page) = body_of(error).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(!page.contains("<script>"), "{page}");
        assert!(
            page.contains("`&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;'` claim"),
            "{page}"
        );
    }

    #[tokio::test]
    async fn an_unanswering_app_gets_a_plain_page() {
        let (status, page) = body_of(AppError::UpstreamUnavailable).await;
        assert_eq!(status, StatusCode::BAD_GATEWAY);
        assert!(
            page.contains("<h1>Application unavailable</h1><p>The application behind"),
            "{page}"
        );
    }

    #[tokio::test]
    async fn a_missing_session_is_a_json_401() {
        let (status, body) = body_of(AppError::Unauthenticated).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(body.contains("\"unauthenticated\""), "{body}");
    }
}
