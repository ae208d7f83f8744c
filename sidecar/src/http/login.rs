//! The login pages and the two legs of the code flow: `/auth/start` and `/auth/oidc`.

use super::error::AppError;
use super::issue_session::session_response;
use super::pages::login_page;
use crate::config::Settings;
use crate::gate::caller::{list_vouches_for, store_retry_after};
use crate::gate::{Fresh, current_session, fresh_session};
use crate::http::backup_login::backup_form;
use crate::http::return_path::return_target_or_default;
use crate::observe::metrics::LoginOutcome;
use crate::oidc::flow::{authorization_request, finish_login};
use crate::oidc::issuer_param::check_issuer_param;
use crate::oidc::pending::{
    PENDING_LOGIN_SECONDS, PendingError, PendingLogin, pending_cookie_name, pending_cookie_prefix,
    pending_cookies_to_forget,
};
use crate::oidc::signed_in::{Proof, session_from_claims};
use crate::runtime::state::{SharedState, unix_now};
use crate::session::LoginMethod;
use crate::session::cookie::{clear_cookie, request_cookie_pairs, request_cookies, set_cookie};
use crate::session::kept_refresh::keep_in_store;
use crate::session::model::Refresh;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use std::time::Duration;

/// Longest provider error description shown on the error page.
const MAX_DESCRIPTION_CHARS: usize = 200;

/// Query of `/login` and `/auth/start`.
#[derive(Debug, Default, Deserialize)]
pub struct LoginQuery {
    /// Where to return after login.
    pub rd: Option<String>,
    /// `1` shows the root admin's backup login form.
    pub backup: Option<String>,
}

/// `GET /login`: the "Sign in" button, or with `?backup=1` the backup login form.
pub async fn login_page_handler(
    State(state): State<SharedState>,
    Query(query): Query<LoginQuery>,
    headers: HeaderMap,
) -> Response {
    let settings = state.settings.load();
    let return_to = return_target_or_default(query.rd.as_deref(), settings.hosts());
    if query
        .backup
        .as_deref()
        .is_some_and(|flag| flag == "1" || flag == "true")
    {
        return backup_form(&settings, &headers, &return_to, None, StatusCode::OK);
    }
    Html(login_page(&return_to, None)).into_response()
}

/// `GET /auth/start`: sends the browser to the provider with state, nonce and PKCE.
pub async fn start(
    State(state): State<SharedState>,
    Query(query): Query<LoginQuery>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let settings = state.settings.load_full();
    let discovered = state
        .provider
        .get(&settings.oidc.issuer)
        .await
        .map_err(|failure| {
            state.metrics.login(LoginOutcome::ProviderUnavailable);
            let error = AppError::from(failure);
            tracing::warn!(reason = %error.chain(), "sign-in impossible: identity provider unavailable");
            error
        })?;
    let return_to = return_target_or_default(query.rd.as_deref(), settings.hosts());
    let (url, pending) = authorization_request(&discovered, &settings.oidc, return_to, unix_now());
    let cookie_name = pending_cookie_name(&settings.session.cookie_name, &pending.state)
        .unwrap_or_else(|| format!("{}_login", settings.session.cookie_name));
    let cookie = set_cookie(
        &cookie_name,
        pending.seal(&settings.session.keys, &cookie_name),
        PENDING_LOGIN_SECONDS as i64,
        settings.session.host_cookie_scope(),
    );
    let mut response = ([(header::SET_COOKIE, cookie)], Redirect::to(url.as_str())).into_response();
    for name in forgotten_sign_ins(&settings, &headers) {
        if let Ok(clear) =
            HeaderValue::from_str(&clear_cookie(&name, settings.session.host_cookie_scope()))
        {
            response.headers_mut().append(header::SET_COOKIE, clear);
        }
    }
    Ok(response)
}

/// The pending-login cookies this browser should drop as a new sign-in starts.
fn forgotten_sign_ins(settings: &Settings, headers: &HeaderMap) -> Vec<String> {
    let prefix = pending_cookie_prefix(&settings.session.cookie_name);
    let found = request_cookie_pairs(headers)
        .filter(|(name, _)| name.starts_with(&prefix))
        .map(|(name, sealed)| {
            let started_at = settings
                .session
                .keys
                .open(name, sealed)
                .and_then(|json| serde_json::from_str::<PendingLogin>(&json).ok())
                .map(|pending| pending.started_at);
            (name.to_owned(), started_at)
        })
        .collect();
    pending_cookies_to_forget(found)
}

/// Query of the provider's redirect back to `/auth/oidc`.
#[derive(Debug, Default, Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
    iss: Option<String>,
}

/// `GET /auth/oidc`: finishes the login and issues the session cookie.
pub async fn callback(
    State(state): State<SharedState>,
    Query(query): Query<CallbackQuery>,
    headers: HeaderMap,
) -> Response {
    let settings = state.settings.load_full();
    let pending_name = query
        .state
        .as_deref()
        .and_then(|returned| pending_cookie_name(&settings.session.cookie_name, returned));
    let outcome = finish(&state, &settings, pending_name.as_deref(), query, &headers).await;
    state.metrics.login(match &outcome {
        Ok(_) => LoginOutcome::Success,
        Err(AppError::ProviderRefused { .. }) => LoginOutcome::ProviderError,
        Err(AppError::Pending(_) | AppError::MalformedCallback | AppError::IssuerParam(_)) => {
            LoginOutcome::InvalidCallback
        }
        Err(AppError::Claims(_) | AppError::SessionTooLarge(_) | AppError::NotAllowed(_)) => {
            LoginOutcome::BadClaims
        }
        Err(AppError::ProviderUnavailable(_)) => LoginOutcome::ProviderUnavailable,
        Err(_) => LoginOutcome::TokenFailure,
    });
    if let Err(error) = &outcome {
        tracing::warn!(reason = %error.chain(), "login failed");
    }
    let mut response = outcome.unwrap_or_else(IntoResponse::into_response);
    if let Some(pending_name) = &pending_name
        && let Ok(clear) = HeaderValue::from_str(&clear_cookie(
            pending_name,
            settings.session.host_cookie_scope(),
        ))
    {
        response.headers_mut().append(header::SET_COOKIE, clear);
    }
    response
}

async fn finish(
    state: &SharedState,
    settings: &Settings,
    pending_name: Option<&str>,
    query: CallbackQuery,
    headers: &HeaderMap,
) -> Result<Response, AppError> {
    let now = unix_now();
    let pending = matching_pending(settings, pending_name, query.state.as_deref(), headers, now);
    if let Some(code) = query.error {
        // The provider's text is shown only to the browser whose sign-in it
        // answers: anyone can send a link to /auth/oidc?error=…
        let description = query
            .error_description
            .filter(|_| pending.is_ok())
            .map(|text| text.chars().take(MAX_DESCRIPTION_CHARS).collect());
        return Err(AppError::ProviderRefused {
            code: error_code(&code),
            description,
        });
    }
    let Some(code) = query.code.filter(|_| query.state.is_some()) else {
        return Err(AppError::MalformedCallback);
    };
    let pending = pending?;
    let discovered = state.provider.get(&settings.oidc.issuer).await?;
    check_issuer_param(
        query.iss.as_deref(),
        discovered.declared_issuer(),
        discovered
            .metadata
            .additional_metadata()
            .promises_issuer_param(),
    )?;
    let login = finish_login(
        &state.provider,
        discovered,
        &settings.oidc,
        &state.provider.http(),
        code,
        &pending,
    )
    .await?;
    let lifetime = login
        .expires_in
        .unwrap_or(settings.session.fallback_lifetime)
        .clamp(Duration::from_secs(1), settings.session.max_lifetime);
    let ends_at = now + settings.session.max_lifetime.as_secs();
    let refresh = login.refresh_token.map(|token| Refresh {
        token,
        in_store: false,
        ends_at,
    });
    let proof = Proof {
        method: LoginMethod::Oidc,
        expires_at: now + lifetime.as_secs(),
        id_token: Some(login.id_token),
        signed_in_at: now,
        refresh,
    };
    let session = session_from_claims(&login.claims, settings, proof)?;
    let session = match &state.store {
        Some(store) => keep_in_store(store, &settings.session.keys, session, now).await,
        None => session,
    };
    // A session that is renewed keeps its cookie until its end.
    let lifetime = Duration::from_secs(session.last_moment().saturating_sub(now));
    tracing::info!(user = %session.user, role = session.role.as_str(), root = session.root, "login succeeded");
    Ok(session_response(
        settings,
        &session,
        lifetime,
        &pending.return_to,
    )?)
}

/// The pending login this callback answers: every cookie of its name is
/// tried, so one planted by a sibling domain cannot hide the real one.
fn matching_pending(
    settings: &Settings,
    pending_name: Option<&str>,
    state: Option<&str>,
    headers: &HeaderMap,
    now: u64,
) -> Result<PendingLogin, PendingError> {
    let (Some(name), Some(state)) = (pending_name, state) else {
        return Err(PendingError::Missing);
    };
    let mut why = PendingError::Missing;
    for sealed in request_cookies(headers, name) {
        match PendingLogin::open_matching(&settings.session.keys, name, Some(sealed), state, now) {
            Ok(pending) => return Ok(pending),
            Err(error) => why = error,
        }
    }
    Err(why)
}

/// An OAuth error code as shown on the page: its token characters only.
fn error_code(code: &str) -> String {
    let plain = code
        .bytes()
        .all(|byte| byte.is_ascii_alphanumeric() || b"_.-".contains(&byte));
    if plain && !code.is_empty() {
        code.chars().take(64).collect()
    } else {
        "error".to_owned()
    }
}

/// `GET /auth/me`: the current identity as JSON, or 401.
pub async fn me(
    State(state): State<SharedState>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let settings = state.settings.load_full();
    let session =
        current_session(&state, &settings, &headers).map_err(|_| AppError::Unauthenticated)?;
    if !list_vouches_for(&state, &session) {
        return Err(AppError::StoreUnavailable {
            retry_after_seconds: store_retry_after(&state),
        });
    }
    let (session, set_cookie) = match fresh_session(&state, &settings, session).await {
        Fresh::Same(session) => (session, None),
        Fresh::Renewed(session, cookie) => (session, Some(cookie)),
        Fresh::Gone => return Err(AppError::Unauthenticated),
    };
    let body = serde_json::json!({
        "user": session.user,
        "email": session.email,
        "preferredUsername": session.preferred_username,
        "groups": session.groups,
        "role": session.role,
        "root": session.root,
        "method": session.method,
        "expiresAt": session.expires_at,
    });
    let mut response = (StatusCode::OK, axum::Json(body)).into_response();
    if let Some(cookies) = set_cookie {
        cookies.append_to(response.headers_mut());
    }
    Ok(response)
}
