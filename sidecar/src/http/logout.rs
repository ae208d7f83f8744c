//! `/logout`: ends the session here and, by default, at the identity provider.
//!
//! GET only shows a confirmation form, so a link or an image cannot log
//! anyone out; the POST carries a CSRF token. The session id is revoked
//! until its expiry, so a saved copy of the cookie no longer opens.

use super::csrf;
use super::pages::{logout_page, message_page};
use super::session_end::clear_session_cookies;
use crate::config::Settings;
use crate::gate::current_session;
use crate::oidc::provider::Provider;
use crate::runtime::state::SharedState;
use crate::session::{LoginMethod, Session};
use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use url::Url;

/// Where the browser lands after log out.
const AFTER_LOGOUT_PATH: &str = "/login";

/// `GET /logout`: the confirmation form.
pub async fn confirm(State(state): State<SharedState>, headers: HeaderMap) -> Response {
    let settings = state.settings.load();
    let session = current_session(&state, &settings, &headers).ok();
    let (token, cookie) = csrf::issue(&settings, &headers);
    let page = logout_page(
        &token,
        session.as_ref().map(|session| session.user.as_str()),
    );
    ([(header::SET_COOKIE, cookie)], Html(page)).into_response()
}

/// The log-out form's fields.
#[derive(Deserialize)]
pub struct LogoutForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /logout`: revokes the session, clears the cookie, and continues to the provider.
pub async fn logout(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Form(form): Form<LogoutForm>,
) -> Response {
    let settings = state.settings.load_full();
    if !csrf::verify(&settings, &headers, &form.csrf) {
        let page = message_page(
            "Log out",
            "The log-out form expired. Please open /logout and try again.",
        );
        return (StatusCode::FORBIDDEN, Html(page)).into_response();
    }
    let session = current_session(&state, &settings, &headers).ok();
    let target = match &session {
        Some(session) => {
            state.revoke_session(session).await;
            tracing::info!(user = %session.user, "logged out");
            provider_logout_url(&state.provider, &settings, session)
                .map_or(AFTER_LOGOUT_PATH.to_owned(), String::from)
        }
        None => AFTER_LOGOUT_PATH.to_owned(),
    };
    let mut response = Redirect::to(&target).into_response();
    clear_session_cookies(&settings, &mut response);
    response
}

/// The provider's `end_session_endpoint` with `id_token_hint` and `post_logout_redirect_uri`,
/// when the session came from the provider, the setting allows it, and the provider has one.
fn provider_logout_url(provider: &Provider, settings: &Settings, session: &Session) -> Option<Url> {
    if session.method != LoginMethod::Oidc || !settings.oidc.logout_at_provider {
        return None;
    }
    let discovered = provider.cached(&settings.oidc.issuer)?;
    let mut url = discovered
        .metadata
        .additional_metadata()
        .end_session_endpoint
        .clone()?;
    let after = settings.public_url.join(AFTER_LOGOUT_PATH).ok()?;
    {
        let mut query = url.query_pairs_mut();
        query.append_pair("client_id", &settings.oidc.client_id);
        query.append_pair("post_logout_redirect_uri", after.as_str());
        if let Some(id_token) = &session.id_token {
            query.append_pair("id_token_hint", id_token);
        }
    }
    Some(url)
}
