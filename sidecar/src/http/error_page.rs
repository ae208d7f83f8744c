//! How each failure is answered: for a person, a status, a title and a
//! fixed message per kind, in words they can act on; for a script, JSON.
//! Never the error chain, which can name internal addresses; never what a
//! provider wrote.

use super::error::AppError;
use super::pages::{error_page, notice_page};
use crate::access::roles::NotAllowed;
use crate::oidc::claims::ClaimsError;
use crate::oidc::issuer_param::IssuerParamError;
use crate::oidc::pending::PendingError;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use portcullis_contract::email_domains::EmailRefusal;
use serde_json::json;
use std::borrow::Cow;

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

/// A page's status and words.
pub(super) struct Page {
    pub(super) status: StatusCode,
    pub(super) title: &'static str,
    pub(super) message: Cow<'static, str>,
    pub(super) code: Option<String>,
}

impl Page {
    fn not_completed(status: StatusCode, message: &'static str) -> Self {
        Page {
            status,
            title: "Sign-in could not be completed",
            message: message.into(),
            code: None,
        }
    }
}

/// What a visitor reads of `error`: a fixed message per kind, never the
/// error chain.
pub(super) fn page_of(error: &AppError) -> Page {
    match error {
        AppError::Unauthenticated => Page {
            status: StatusCode::UNAUTHORIZED,
            title: "Not signed in",
            message: "Sign in first.".into(),
            code: None,
        },
        AppError::ProviderUnavailable(_) => Page {
            status: StatusCode::SERVICE_UNAVAILABLE,
            title: "Identity provider unavailable",
            message: "The identity provider cannot be reached right now, so signing in is \
not possible. Please try again in a moment."
                .into(),
            code: None,
        },
        AppError::ProviderRefused { code, .. } => Page {
            status: if code == "access_denied" {
                StatusCode::FORBIDDEN
            } else {
                StatusCode::BAD_REQUEST
            },
            title: "Sign-in was not completed",
            message: provider_message(code).into(),
            code: Some(code.clone()),
        },
        AppError::MalformedCallback => Page::not_completed(
            StatusCode::BAD_REQUEST,
            "The sign-in response is incomplete. Please start again.",
        ),
        AppError::Pending(PendingError::Missing) => Page::not_completed(
            StatusCode::BAD_REQUEST,
            "This browser has no sign-in in progress; it may have been started in another \
browser or already finished. Please start again.",
        ),
        AppError::Pending(PendingError::StateMismatch) => Page::not_completed(
            StatusCode::BAD_REQUEST,
            "The sign-in response does not belong to this browser's sign-in. Please start again.",
        ),
        AppError::Pending(PendingError::Expired) => Page::not_completed(
            StatusCode::BAD_REQUEST,
            "The sign-in took too long. Please start again.",
        ),
        AppError::IssuerParam(IssuerParamError::Different) => Page::not_completed(
            StatusCode::BAD_REQUEST,
            "The sign-in response came from a different identity provider than the one \
configured. Please start again.",
        ),
        AppError::IssuerParam(IssuerParamError::Missing) => Page::not_completed(
            StatusCode::BAD_REQUEST,
            "The sign-in response does not name its identity provider, although this \
provider always does. Please start again.",
        ),
        AppError::Flow(_) => Page::not_completed(
            StatusCode::BAD_GATEWAY,
            "The identity provider's answer could not be verified. Please try again; if \
it keeps failing, an administrator should check the sidecar's logs.",
        ),
        AppError::Claims(
            ClaimsError::MissingUsername { claim } | ClaimsError::UsernameNotString { claim },
        ) => Page {
            status: StatusCode::FORBIDDEN,
            title: "Your account cannot be used here",
            message: format!(
                "The identity provider sent no usable username for your account: the \
`{claim}` claim, configured as the username claim, is missing or not text. An administrator \
should check the username claim setting."
            )
            .into(),
            code: None,
        },
        AppError::Claims(ClaimsError::UnsafeValue { claim }) => Page {
            status: StatusCode::FORBIDDEN,
            title: "Your account cannot be used here",
            message: format!(
                "The identity provider's `{claim}` claim for your account has surrounding spaces or control characters, so the application could read it differently from this sign-in. An administrator should correct it at the identity provider."
            )
            .into(),
            code: None,
        },
        AppError::NotAllowed(NotAllowed::Groups) => Page {
            status: StatusCode::FORBIDDEN,
            title: "Your account is not allowed here",
            message: "You signed in at the identity provider, but your account is in none of \
the groups allowed to use this application. Ask an administrator to add you to one of them."
                .into(),
            code: None,
        },
        AppError::NotAllowed(NotAllowed::Email(refused)) => Page {
            status: StatusCode::FORBIDDEN,
            title: "Your account is not allowed here",
            message: format!(
                "You signed in at the identity provider, but {}. Only some email domains may use this application: sign in with an account of one of them, or ask an administrator.",
                email_reason(*refused)
            )
            .into(),
            code: None,
        },
        AppError::SessionTooLarge(too_large) => Page {
            status: StatusCode::FORBIDDEN,
            title: "Your account has too many groups for this application",
            message: format!(
                "The identity provider sent {} groups, more than fit in this application's sign-in cookie. An administrator should send fewer groups to this application (a group filter or a narrower group claim at the identity provider).",
                too_large.groups
            )
            .into(),
            code: None,
        },
        AppError::Unforwardable(_) => Page {
            status: StatusCode::FORBIDDEN,
            title: "Please sign in again",
            message: "Your session holds a value the application cannot receive. Log out and sign in again."
                .into(),
            code: None,
        },
        AppError::Denied { .. } => Page {
            status: StatusCode::FORBIDDEN,
            title: "Not allowed",
            message: "Your account may not use this page. If you need it, ask an \
administrator for a role that allows it, then log out and sign in again."
                .into(),
            code: None,
        },
        AppError::InvalidBearer => Page {
            status: StatusCode::UNAUTHORIZED,
            title: "Token not accepted",
            message: "The bearer token is not valid here.".into(),
            code: None,
        },
        AppError::AmbiguousPath(_) => Page {
            status: StatusCode::BAD_REQUEST,
            title: "Address not accepted",
            message: "This address holds an encoded slash, a backslash, a control character \
or a broken escape, which the application could read differently. Use the plain address."
                .into(),
            code: None,
        },
        AppError::IdentityUnsigned(_) => Page {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            title: "Identity not signed",
            message: "The sign-in could not vouch for you to the application. Try again in a \
moment."
                .into(),
            code: None,
        },
        AppError::StoreUnavailable { .. } => Page {
            status: StatusCode::SERVICE_UNAVAILABLE,
            title: "Sign-in state unavailable",
            message: "This application cannot confirm your sign-in right now. You are still \
signed in: try again in a moment."
                .into(),
            code: None,
        },
        AppError::UpstreamUnavailable => Page {
            status: StatusCode::BAD_GATEWAY,
            title: "Application unavailable",
            message: "The application behind this sign-in did not answer. Try again in a \
moment."
                .into(),
            code: None,
        },
        AppError::NotProxied => Page {
            status: StatusCode::NOT_IMPLEMENTED,
            title: "Method not supported",
            message: "This address opens no tunnels: `CONNECT` is not passed to the \
application."
                .into(),
            code: None,
        },
    }
}

fn provider_message(code: &str) -> &'static str {
    match code {
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
    }
}

/// What an email refusal means, in the page's words.
fn email_reason(refused: EmailRefusal) -> &'static str {
    match refused {
        EmailRefusal::Missing => "the identity provider sent no email address for your account",
        EmailRefusal::Unverified => "the identity provider says your email address is not verified",
        EmailRefusal::OtherDomain => "your email address is not in a domain allowed here",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oidc::flow::FlowError;
    use crate::oidc::provider::DiscoveryFailure;
    use axum::body::to_bytes;

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
