//! `POST /auth/backchannel-logout`: the provider says a session ended there
//! (OpenID Connect Back-Channel Logout 1.0), and it ends here too, on every
//! replica.
//!
//! The route answers only when `oidc.backChannelLogout` is on and the
//! provider's discovery document says it sends logout tokens. The token is
//! checked as section 2.6 asks ([`crate::oidc::logout_token`]), its `jti`
//! is used once (across replicas through the store, and on this replica in
//! memory, which also holds when the store does not answer), and the
//! sessions it names join the log-out list, announced to the other
//! replicas as a log out here is. Success is 200 with `Cache-Control:
//! no-store`, also for a session no replica knows; a refused token is 400
//! with a JSON error naming why. Nothing of the token is logged.

use crate::config::Settings;
use crate::oidc::logout_token::{
    LogoutOrder, LogoutTokenError, accepted_algorithms, check_claims, verified_claims,
};
use crate::oidc::provider::{Discovered, DiscoveryFailure, TokenSource};
use crate::runtime::state::{SharedState, unix_now};
use crate::session::revoked::sid_digest;
use axum::Form;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::sync::Arc;

/// The form the provider posts.
#[derive(Deserialize)]
pub struct LogoutTokenForm {
    #[serde(default)]
    logout_token: String,
}

/// `POST /auth/backchannel-logout`.
pub async fn backchannel_logout(
    State(state): State<SharedState>,
    Form(form): Form<LogoutTokenForm>,
) -> Response {
    let settings = state.settings.load_full();
    let discovered = match state.provider.get(&settings.oidc.issuer).await {
        Ok(discovered) => discovered,
        Err(failure) => return provider_unavailable(&failure),
    };
    let sends = discovered
        .metadata
        .additional_metadata()
        .sends_back_channel_logouts();
    if !settings.oidc.back_channel_logout || !sends {
        return json_error(
            StatusCode::NOT_FOUND,
            "back-channel logout is off here (oidc.backChannelLogout, or the provider does not say it sends logout tokens)",
        );
    }
    if form.logout_token.is_empty() {
        return refused("the form has no `logout_token`");
    }
    let now = unix_now();
    let order = match verify(&state, &settings, discovered, &form.logout_token, now).await {
        Ok(order) => order,
        Err(Refusal::Token(error)) => return refused(&error.to_string()),
        Err(Refusal::Provider(failure)) => return provider_unavailable(&failure),
    };
    if !first_use(&state, &order, now).await {
        return refused("the logout token was already used");
    }
    if let Some(revocation) = order.revocation(now, settings.session.max_lifetime.as_secs()) {
        state.revoked.apply_all([&revocation], now);
        if let Some(store) = &state.store {
            store.announce(revocation, now).await;
        }
    }
    tracing::info!(
        scope = if order.sid.is_some() {
            "session"
        } else {
            "user"
        },
        "sessions ended by the provider's back-channel logout"
    );
    (
        StatusCode::OK,
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
    )
        .into_response()
}

/// Why a token was not taken.
enum Refusal {
    Token(LogoutTokenError),
    Provider(DiscoveryFailure),
}

/// The order `token` carries, checked against the provider's keys (new
/// ones fetched once, at most every few seconds, when none matches).
async fn verify(
    state: &SharedState,
    settings: &Settings,
    discovered: Arc<Discovered>,
    token: &str,
    now: u64,
) -> Result<LogoutOrder, Refusal> {
    let claims = match signed_claims(&discovered, token) {
        Err(LogoutTokenError::UnknownKey) => {
            let fresher = state
                .provider
                .refresh_after_key_failure(&discovered, TokenSource::LogoutToken)
                .await
                .map_err(Refusal::Provider)?;
            signed_claims(&fresher, token)
        }
        other => other,
    }
    .map_err(Refusal::Token)?;
    check_claims(
        &claims,
        discovered.declared_issuer(),
        &settings.oidc.client_id,
        now,
    )
    .map_err(Refusal::Token)
}

/// The claims of `token` if a key of `discovered` signed it.
fn signed_claims(
    discovered: &Discovered,
    token: &str,
) -> Result<serde_json::Map<String, serde_json::Value>, LogoutTokenError> {
    let metadata = &discovered.metadata;
    let keys = serde_json::to_value(metadata.jwks()).unwrap_or_default();
    let advertised: Vec<String> = metadata
        .id_token_signing_alg_values_supported()
        .iter()
        .filter_map(|algorithm| serde_json::to_value(algorithm).ok())
        .filter_map(|name| name.as_str().map(str::to_owned))
        .collect();
    let algorithms = accepted_algorithms(advertised.iter().map(String::as_str));
    verified_claims(token, &keys, &algorithms)
}

/// Whether the token's `jti` is used for the first time: on this replica,
/// and across replicas when the store answers (a store that does not is
/// logged, and this replica's memory decides).
async fn first_use(state: &SharedState, order: &LogoutOrder, now: u64) -> bool {
    let digest = sid_digest(&order.jti);
    let until = order.jti_kept_until();
    if !state.logout_tokens_seen.first_use(&digest, until, now) {
        return false;
    }
    let Some(store) = &state.store else {
        return true;
    };
    match store
        .first_use_for(&format!("logout-token:{digest}"), until.saturating_sub(now))
        .await
    {
        Ok(first) => first,
        Err(error) => {
            tracing::warn!(%error, "the session store did not record the logout token's id; this replica's memory decides");
            true
        }
    }
}

fn refused(why: &str) -> Response {
    tracing::warn!(reason = why, "back-channel logout refused");
    json_error(StatusCode::BAD_REQUEST, why)
}

fn provider_unavailable(failure: &DiscoveryFailure) -> Response {
    tracing::warn!(reason = %failure, "back-channel logout cannot be checked: the provider's keys are unavailable");
    let mut response = json_error(
        StatusCode::SERVICE_UNAVAILABLE,
        "the provider's keys are unavailable",
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    response
}

/// `{"error": ..., "error_description": why}` with `status`.
fn json_error(status: StatusCode, why: &str) -> Response {
    let code = match status {
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::SERVICE_UNAVAILABLE => "temporarily_unavailable",
        _ => "invalid_request",
    };
    let body = serde_json::json!({"error": code, "error_description": why});
    (
        status,
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        axum::Json(body),
    )
        .into_response()
}
