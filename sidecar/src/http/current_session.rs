//! Reading the session a request carries.

use super::state::{AppState, unix_now};
use crate::config::Settings;
use crate::session::cookie::request_cookie;
use crate::session::{NoSession, Session, open_session};
use http::HeaderMap;

/// The valid session in `headers`, or why there is none.
///
/// A session logged out on this replica counts as invalid.
pub fn current_session(
    state: &AppState,
    settings: &Settings,
    headers: &HeaderMap,
) -> Result<Session, NoSession> {
    let name = &settings.session.cookie_name;
    let sealed = request_cookie(headers, name).ok_or(NoSession::Missing)?;
    let session = open_session(&settings.session.keys, name, sealed, unix_now())?;
    if state.revoked.is_revoked(&session.sid) {
        return Err(NoSession::Invalid);
    }
    Ok(session)
}
