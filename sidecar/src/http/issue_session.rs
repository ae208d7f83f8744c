//! Issuing a session cookie, shared by both ways in (the code flow and the
//! backup login); its own module so neither login module imports the other.

use crate::config::Settings;
use crate::session::cookie::SessionTooLarge;
use crate::session::session_cookies::SessionCookies;
use crate::session::{Session, seal_session};
use axum::response::{IntoResponse, Redirect, Response};
use std::time::Duration;

/// Sets the session cookie and redirects to `return_to`.
pub fn session_response(
    settings: &Settings,
    session: &Session,
    lifetime: Duration,
    return_to: &str,
) -> Result<Response, SessionTooLarge> {
    let name = &settings.session.cookie_name;
    let parts = seal_session(&settings.session.keys, name, session)?;
    let mut response = Redirect::to(return_to).into_response();
    SessionCookies::new(
        name,
        parts,
        i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX),
        settings.session.cookie_scope(),
    )
    .append_to(response.headers_mut());
    Ok(response)
}
