//! The HTTP answer to the gate's "no": a sign-in redirect for a browser,
//! or the error page or JSON of [`AppError`].

use super::error::AppError;
use crate::gate::Refusal;
use axum::response::{IntoResponse, Redirect, Response};

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::SignIn { return_to } => {
                Redirect::to(&sign_in_start(&return_to)).into_response()
            }
            Refusal::AmbiguousPath(why) => AppError::from(why).into_response(),
            Refusal::Unauthenticated => AppError::Unauthenticated.into_response(),
            Refusal::Denied { page, set_cookie } => {
                let mut response = AppError::Denied { page }.into_response();
                if let Some(cookies) = set_cookie {
                    cookies.append_to(response.headers_mut());
                }
                response
            }
            Refusal::InvalidBearer => AppError::InvalidBearer.into_response(),
            Refusal::StoreUnavailable {
                retry_after_seconds,
            } => AppError::StoreUnavailable {
                retry_after_seconds,
            }
            .into_response(),
            Refusal::NotAllowed(refused) => AppError::NotAllowed(refused).into_response(),
            Refusal::ProviderUnavailable(failure) => {
                AppError::ProviderUnavailable(failure).into_response()
            }
        }
    }
}

/// Where a browser starts signing in to come back to `return_to`: the
/// sign-in start, relative, so the browser stays on the host it asked.
pub fn sign_in_start(return_to: &str) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("rd", return_to)
        .finish();
    format!("/auth/start?{query}")
}
