//! The decision: the access the path needs, who is calling, and whether the
//! two fit.
//!
//! The path the rules see is the request's own path, normalised; never the
//! query and never a header a client could set. The method is the
//! request's own, or the strictest of those it may name for the app to act
//! on ([`MethodOverrides`]). The app still receives the
//! path exactly as the client sent it. A session cookie is tried first; a
//! bearer token only when there is no valid session and bearer tokens are
//! accepted.

use super::asked::Asked;
use super::caller::{current_session, list_vouches_for, store_retry_after};
use super::method_overrides::MethodOverrides;
use super::pass::Pass;
use super::refresh::{Fresh, fresh_session, renewal_due};
use super::refusal::Refusal;
use super::verdict::{Caller, Verdict, verdict};
use crate::config::Settings;
use crate::observe::metrics::{AccessOutcome, BearerResult};
use crate::oidc::bearer::{BearerError, bearer_token, verify_bearer};
use crate::runtime::state::AppState;
use crate::session::Session;
use portcullis_contract::access::Access;
use portcullis_contract::access::path::AmbiguousPath;
use std::sync::Arc;

/// Whether `request` may pass under `settings`, and as whom; counted in the
/// access metrics by outcome.
pub async fn decide(
    state: &AppState,
    settings: &Settings,
    request: Asked<'_>,
) -> Result<Pass, Refusal> {
    let metrics = &state.metrics;
    let needed = needed_access(settings, request).map_err(|why| {
        metrics.access(AccessOutcome::AmbiguousPath);
        tracing::info!(method = %request.method(), reason = %why, "ambiguous path refused");
        Refusal::AmbiguousPath(why)
    })?;
    let (identity, set_cookie) = match current_session(state, settings, request.headers()) {
        Ok(session) if !renewal_due(settings, &session) && list_vouches_for(state, &session) => {
            (Some(session), None)
        }
        Ok(session) if list_vouches_for(state, &session) => {
            // Boxed: a renewal's future is large and rare; held inline, it
            // would be copied with every request's.
            match Box::pin(fresh_session(state, settings, session)).await {
                Fresh::Same(session) => (Some(session), None),
                Fresh::Renewed(session, cookie) => (Some(session), Some(cookie)),
                Fresh::Gone => (
                    bearer_identity(state, settings, request, needed).await?,
                    None,
                ),
            }
        }
        Ok(_) => {
            metrics.access(AccessOutcome::StoreUnavailable);
            return Err(Refusal::StoreUnavailable {
                retry_after_seconds: store_retry_after(state),
            });
        }
        Err(_) => (
            bearer_identity(state, settings, request, needed).await?,
            None,
        ),
    };
    let caller = identity.as_ref().map(|session| Caller {
        role: session.role,
        root: session.root,
    });
    match verdict(needed, caller) {
        Verdict::Public => {
            metrics.access(AccessOutcome::Public);
            Ok(Pass {
                identity,
                set_cookie,
            })
        }
        Verdict::Allowed => {
            metrics.access(AccessOutcome::Allowed);
            Ok(Pass {
                identity,
                set_cookie,
            })
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
                set_cookie,
            })
        }
    }
}

/// The access `request` needs: its method's, or the strictest of the
/// methods it may be acted on as ([`MethodOverrides`]).
fn needed_access(settings: &Settings, request: Asked<'_>) -> Result<Access, AmbiguousPath> {
    let own = request.method().as_str();
    let path = request.uri().path();
    let overrides = MethodOverrides::of(&request);
    if overrides.is_empty() {
        return settings.access.required(own, path);
    }
    let named = overrides.named.iter().map(String::as_str);
    let from_body = overrides
        .any_from_body
        .then(|| settings.access.named_methods())
        .into_iter()
        .flatten();
    settings
        .access
        .required_of_any(std::iter::once(own).chain(named).chain(from_body), path)
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
    let (Some(bearer), Some(token)) = (settings.bearer.as_ref(), bearer_token(request.headers()))
    else {
        return Ok(None);
    };
    match verify_bearer(&state.provider, settings, bearer, token).await {
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
