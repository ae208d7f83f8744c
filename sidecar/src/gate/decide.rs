//! The decision: the access the path needs, who is calling, and whether the
//! two fit.
//!
//! The path the rules see is the request's own path, normalised; never the
//! query and never a header a client could set. The app still receives the
//! path exactly as the client sent it. A session cookie is tried first; a
//! bearer token only when there is no valid session and bearer tokens are
//! accepted.

use super::asked::Asked;
use super::caller::current_session;
use super::pass::Pass;
use super::refusal::Refusal;
use super::verdict::{Caller, Verdict, verdict};
use crate::config::Settings;
use crate::http::state::AppState;
use crate::observe::metrics::{AccessOutcome, BearerResult};
use crate::oidc::bearer::{BearerError, bearer_token, verify_bearer};
use crate::session::Session;
use portcullis_contract::access::Access;
use std::sync::Arc;

/// Whether `request` may pass under `settings`, and as whom; counted in the
/// access metrics by outcome.
pub async fn decide(
    state: &AppState,
    settings: &Settings,
    request: Asked<'_>,
) -> Result<Pass, Refusal> {
    let metrics = &state.metrics;
    let needed = settings
        .access
        .required(request.method().as_str(), request.uri().path())
        .map_err(|why| {
            metrics.access(AccessOutcome::AmbiguousPath);
            tracing::info!(method = %request.method(), reason = %why, "ambiguous path refused");
            Refusal::AmbiguousPath(why)
        })?;
    let identity = match current_session(state, settings, request.headers()) {
        Ok(session) => Some(session),
        Err(_) => bearer_identity(state, settings, request, needed).await?,
    };
    let caller = identity.as_ref().map(|session| Caller {
        role: session.role,
        root: session.root,
    });
    match verdict(needed, caller) {
        Verdict::Public => {
            metrics.access(AccessOutcome::Public);
            Ok(Pass { identity })
        }
        Verdict::Allowed => {
            metrics.access(AccessOutcome::Allowed);
            Ok(Pass { identity })
        }
        Verdict::SignIn => {
            metrics.access(AccessOutcome::SignInRequired);
            Err(if request.wants_page() {
                Refusal::SignIn {
                    return_to: request.return_target().to_owned(),
                }
            } else {
                Refusal::Unauthenticated
            })
        }
        Verdict::Denied => {
            metrics.access(AccessOutcome::Denied);
            if let Some(session) = &identity {
                tracing::info!(
                    user = %session.user.escape_debug(),
                    role = session.role.as_str(),
                    needed = needed.as_str(),
                    method = %request.method(),
                    "access denied by the rules"
                );
            }
            Err(Refusal::Denied {
                page: request.accepts_html(),
            })
        }
    }
}

/// The identity of a bearer token, when bearer tokens are accepted and the
/// request sent one. A token that does not verify ends a request that needs
/// a caller (401); on a public path the request goes on without identity.
async fn bearer_identity(
    state: &AppState,
    settings: &Settings,
    request: Asked<'_>,
    needed: Access,
) -> Result<Option<Arc<Session>>, Refusal> {
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
                    Err(Refusal::ProviderUnavailable(failure))
                }
                BearerError::NotAllowed(refused) => Err(Refusal::NotAllowed(refused)),
                _ => Err(Refusal::InvalidBearer),
            }
        }
    }
}
