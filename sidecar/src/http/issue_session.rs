//! Issuing a session cookie, shared by both ways in (the code flow and the
//! backup login); its own module so neither login module imports the other.

use crate::config::Settings;
use crate::session::cookie::{SessionTooLarge, set_cookie};
use crate::session::{Session, seal_session};
use axum::http::header;
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
    let sealed = seal_session(&settings.session.keys, name, session)?;
    let cookie = set_cookie(
        name,
        sealed,
        lifetime.as_secs() as i64,
        settings.session.secure_cookies,
    );
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to(return_to)).into_response())
}
