//! A session due for renewal is renewed before the request goes on, and
//! the answer carries its new cookie.
//!
//! Only a session the provider sent a refresh token for is renewed, when a
//! request comes within `session.refreshSkewSeconds` of its access token's
//! expiry, up to its end (`session.maxLifetimeSeconds` from the sign-in).
//! Requests of one session share one renewal ([`Refreshes`]), and with a
//! session store, so do the replicas ([`renew_once_across`]). A refused
//! renewal ends the session at once (it joins the log-out list); while the
//! provider cannot answer, the session is served until its access token's
//! expiry plus `session.refreshGraceSeconds`, then it needs a sign-in.
//!
//! [`Refreshes`]: crate::session::refreshes::Refreshes

use super::renewal_across::renew_once_across;
use crate::config::Settings;
use crate::observe::metrics::RefreshResult;
use crate::oidc::refresh::{RefreshError, redeem, renewed};
use crate::runtime::state::{AppState, unix_now};
use crate::session::kept_refresh::{TokenMissing, keep_in_store, token_of};
use crate::session::refreshes::RefreshOutcome;
use crate::session::revoked::sid_digest;
use crate::session::session_cookies::SessionCookies;
use crate::session::{Session, seal_session};
use std::sync::Arc;

/// The session a request goes on with.
pub enum Fresh {
    /// As it came: not due, or renewal failing within the grace.
    Same(Arc<Session>),
    /// Renewed: the session, and the `Set-Cookie`s the answer must carry.
    Renewed(Arc<Session>, SessionCookies),
    /// Over: the provider refused to renew it, or the grace has passed.
    Gone,
}

/// Whether `session` should be renewed before a request goes on with it.
pub fn renewal_due(settings: &Settings, session: &Session) -> bool {
    session.wants_refresh(unix_now(), settings.session.refresh_skew.as_secs())
}

/// `session`, renewed first when it is due.
pub async fn fresh_session(state: &AppState, settings: &Settings, session: Arc<Session>) -> Fresh {
    let now = unix_now();
    let skew = settings.session.refresh_skew.as_secs();
    if !session.wants_refresh(now, skew) {
        return Fresh::Same(session);
    }
    let outcome = match token_of(state.store.as_deref(), &settings.session.keys, &session).await {
        Ok(token) => {
            let key = format!("{}:{}", session.sid, sid_digest(&token));
            state
                .refreshes
                .run(&key, now, || {
                    let here = renew(state, settings, &session, token, now);
                    renew_once_across(state, settings, &key, here)
                })
                .await
        }
        Err(TokenMissing::Gone) => {
            tracing::info!(user = %session.user.escape_debug(), "session ended: its refresh token is no longer kept");
            state.metrics.refresh(RefreshResult::Ended);
            RefreshOutcome::Ended
        }
        Err(unavailable @ TokenMissing::StoreUnavailable(_)) => {
            tracing::warn!(user = %session.user.escape_debug(), reason = %unavailable, "session not renewed: served until the grace ends");
            state.metrics.refresh(RefreshResult::Unavailable);
            RefreshOutcome::Unavailable
        }
    };
    match outcome {
        RefreshOutcome::Renewed(renewed) => match cookie_for(settings, &renewed) {
            Some(cookie) => Fresh::Renewed(renewed, cookie),
            None => Fresh::Same(session),
        },
        RefreshOutcome::Ended => {
            state.revoke_session(&session).await;
            Fresh::Gone
        }
        RefreshOutcome::Unavailable => {
            let grace = settings.session.refresh_grace.as_secs();
            if now < session.expires_at.saturating_add(grace) {
                Fresh::Same(session)
            } else {
                Fresh::Gone
            }
        }
    }
}

/// Asks the provider; the outcome in the words every waiting request shares.
async fn renew(
    state: &AppState,
    settings: &Settings,
    session: &Session,
    token: String,
    now: u64,
) -> RefreshOutcome {
    let metrics = &state.metrics;
    let Some(link) = &session.provider else {
        return RefreshOutcome::Ended;
    };
    let discovered = match state.provider.get(&settings.oidc.issuer).await {
        Ok(discovered) => discovered,
        Err(failure) => {
            tracing::warn!(reason = %failure, "session not renewed: the provider's settings are unavailable");
            metrics.refresh(RefreshResult::Unavailable);
            return RefreshOutcome::Unavailable;
        }
    };
    let renewal = redeem(
        &state.provider,
        discovered,
        settings,
        &state.provider.http(),
        &token,
        &link.subject,
    )
    .await
    .and_then(|mut renewal| {
        // A provider that does not rotate keeps the token just used.
        renewal.refresh_token.get_or_insert(token);
        renewed(settings, session, renewal, now)
    });
    match renewal {
        Ok(renewed) => {
            let renewed = match &state.store {
                Some(store) => keep_in_store(store, &settings.session.keys, renewed, now).await,
                None => renewed,
            };
            tracing::info!(user = %renewed.user.escape_debug(), role = renewed.role.as_str(), "session renewed");
            metrics.refresh(RefreshResult::Renewed);
            RefreshOutcome::Renewed(Arc::new(renewed))
        }
        Err(RefreshError::Unavailable(reason)) => {
            tracing::warn!(user = %session.user.escape_debug(), %reason, "session not renewed: served until the grace ends");
            metrics.refresh(RefreshResult::Unavailable);
            RefreshOutcome::Unavailable
        }
        Err(refused) => {
            tracing::info!(user = %session.user.escape_debug(), reason = %refused, "session ended: not renewed");
            metrics.refresh(RefreshResult::Ended);
            RefreshOutcome::Ended
        }
    }
}

/// The `Set-Cookie`s of `session`, sealed, kept until its end.
fn cookie_for(settings: &Settings, session: &Session) -> Option<SessionCookies> {
    let name = &settings.session.cookie_name;
    let parts = seal_session(&settings.session.keys, name, session).ok()?;
    let lifetime = session.last_moment().saturating_sub(unix_now());
    Some(SessionCookies::new(
        name,
        parts,
        i64::try_from(lifetime).unwrap_or(i64::MAX),
        settings.session.cookie_scope(),
    ))
}
