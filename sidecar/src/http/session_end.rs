//! Ending one session here: the log out the user asks for, and the
//! provider's front-channel logout, do the same two things, written once.

use crate::config::Settings;
use crate::runtime::state::{AppState, unix_now};
use crate::session::Session;
use crate::session::cookie::clear_cookie;
use crate::session::store::wire::Revocation;
use axum::http::{HeaderValue, header};
use axum::response::Response;

/// Adds `session` to the log-out list until its expiry, and announces it
/// to the other replicas when there is a store.
pub async fn revoke_session(state: &AppState, session: &Session) {
    let now = unix_now();
    let digest = state.revoked.revoke(&session.sid, session.expires_at, now);
    if let Some(store) = &state.store {
        store
            .announce(Revocation::of_session(digest, session.expires_at), now)
            .await;
    }
}

/// Clears every cookie the session may be under on `response`.
pub fn clear_session_cookies(settings: &Settings, response: &mut Response) {
    for name in settings.session.cookie_names() {
        let clear = clear_cookie(name, settings.session.secure_cookies);
        if let Ok(clear) = HeaderValue::from_str(&clear) {
            response.headers_mut().append(header::SET_COOKIE, clear);
        }
    }
}
