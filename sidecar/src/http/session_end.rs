//! Ending one session here: the log out the user asks for, and the
//! provider's front-channel logout, clear the same cookies (the session
//! itself joins the log-out list through [`crate::runtime::state::AppState::revoke_session`]).

use crate::config::Settings;
use crate::session::session_cookies::SessionCookies;
use axum::response::Response;

/// Clears every cookie the session may be under on `response`.
pub fn clear_session_cookies(settings: &Settings, response: &mut Response) {
    for name in settings.session.cookie_names() {
        SessionCookies::cleared(name, settings.session.cookie_scope())
            .append_to(response.headers_mut());
    }
}
