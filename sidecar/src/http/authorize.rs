//! The access check in front of the proxy: who is calling, what the path
//! needs, and the answer when the two do not fit.
//!
//! The path the rules see is the request's own path, normalised; never the
//! query and never a header such as `X-Forwarded-Uri` or `X-Original-URL`
//! that a client could set (those are stripped before the app sees them
//! anyway). The app still receives the path exactly as the client sent it.

use super::current_session::current_session;
use super::error::AppError;
use super::state::SharedState;
use crate::access::{Caller, Verdict, verdict};
use crate::config::Settings;
use crate::metrics::{AccessOutcome, BearerResult};
use crate::oidc::bearer::{BearerError, bearer_token, verify_bearer};
use crate::session::Session;
use axum::extract::Request;
use axum::http::{HeaderMap, Method, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use portcullis_contract::access::Access;
use std::sync::Arc;

/// What the access check reads of a request: never its body.
#[derive(Clone, Copy)]
pub struct Asked<'a> {
    method: &'a Method,
    uri: &'a Uri,
    headers: &'a HeaderMap,
}

impl<'a> Asked<'a> {
    /// The parts of `request` the check reads.
    pub fn of(request: &'a Request) -> Self {
        Self {
            method: request.method(),
            uri: request.uri(),
            headers: request.headers(),
        }
    }

    fn method(&self) -> &Method {
        self.method
    }

    fn uri(&self) -> &Uri {
        self.uri
    }

    fn headers(&self) -> &HeaderMap {
        self.headers
    }
}

/// The identity to forward (`None` on a public path without one), or the
/// answer that ends the request.
pub async fn authorize(
    state: &SharedState,
    settings: &Settings,
    request: Asked<'_>,
) -> Result<Option<Arc<Session>>, Response> {
    let metrics = &state.metrics;
    let needed = settings
        .access
        .required(request.method().as_str(), request.uri().path())
        .map_err(|why| {
            metrics.access(AccessOutcome::AmbiguousPath);
            tracing::info!(method = %request.method(), reason = %why, "ambiguous path refused");
            AppError::from(why).into_response()
        })?;
    let session = match current_session(state, settings, request.headers()) {
        Ok(session) => Some(session),
        Err(_) => bearer_identity(state, settings, request, needed).await?,
    };
    let caller = session.as_ref().map(|session| Caller {
        role: session.role,
        root: session.root,
    });
    match verdict(needed, caller) {
        Verdict::Public => {
            metrics.access(AccessOutcome::Public);
            Ok(session)
        }
        Verdict::Allowed => {
            metrics.access(AccessOutcome::Allowed);
            Ok(session)
        }
        Verdict::SignIn => {
            metrics.access(AccessOutcome::SignInRequired);
            Err(sign_in(request))
        }
        Verdict::Denied => {
            metrics.access(AccessOutcome::Denied);
            if let Some(session) = &session {
                tracing::info!(
                    user = %session.user.escape_debug(),
                    role = session.role.as_str(),
                    needed = needed.as_str(),
                    method = %request.method(),
                    "access denied by the rules"
                );
            }
            Err(AppError::Denied {
                page: accepts_html(request),
            }
            .into_response())
        }
    }
}

/// The identity of a bearer token, when bearer tokens are accepted and the
/// request sent one. A token that does not verify ends a request that needs
/// a caller (401); on a public path the request goes on without identity.
async fn bearer_identity(
    state: &SharedState,
    settings: &Settings,
    request: Asked<'_>,
    needed: Access,
) -> Result<Option<Arc<Session>>, Response> {
    let (Some(audiences), Some(token)) = (
        settings.bearer_audiences.as_deref(),
        bearer_token(request.headers()),
    ) else {
        return Ok(None);
    };
    match verify_bearer(&state.provider, settings, audiences, token).await {
        Ok(session) => {
            state.metrics.bearer(BearerResult::Accepted);
            Ok(Some(Arc::new(session)))
        }
        Err(error) => {
            state.metrics.bearer(BearerResult::Refused);
            tracing::info!(reason = %error, "bearer token refused");
            match error {
                _ if needed == Access::Public => Ok(None),
                BearerError::ProviderUnavailable(failure) => {
                    Err(AppError::ProviderUnavailable(failure).into_response())
                }
                BearerError::NotAllowed(refused) => {
                    Err(AppError::NotAllowed(refused).into_response())
                }
                _ => Err(AppError::InvalidBearer.into_response()),
            }
        }
    }
}

/// A page view goes to the sign-in and comes back; anything else gets a 401.
fn sign_in(request: Asked<'_>) -> Response {
    if wants_page(request) {
        let target = request.uri().path_and_query().map_or("/", |pq| pq.as_str());
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("rd", target)
            .finish();
        Redirect::to(&format!("/auth/start?{query}")).into_response()
    } else {
        AppError::Unauthenticated.into_response()
    }
}

fn accepts_html(request: Asked<'_>) -> bool {
    request
        .headers()
        .get(header::ACCEPT)
        .and_then(|accept| accept.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

/// A browser navigating to a page (as opposed to a script or API call).
fn wants_page(request: Asked<'_>) -> bool {
    (request.method() == Method::GET || request.method() == Method::HEAD) && accepts_html(request)
}
