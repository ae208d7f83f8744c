//! Reading the session a request carries: the caller, when a cookie says who.

use crate::config::Settings;
use crate::runtime::state::{AppState, unix_now};
use crate::session::session_cookies::whole_values;
use crate::session::{LoginMethod, NoSession, Session};
use http::HeaderMap;
use std::sync::Arc;

/// The valid session in `headers`, or why there is none.
///
/// Every cookie of the session's names is tried, in the order sent, so a
/// cookie of the same name planted by a sibling domain cannot shadow the
/// real one. A session logged out on this replica counts as invalid, also
/// when its cookie was opened before and is remembered (the revocation list
/// is read on every request).
pub fn current_session(
    state: &AppState,
    settings: &Settings,
    headers: &HeaderMap,
) -> Result<Arc<Session>, NoSession> {
    let now = unix_now();
    let mut why = NoSession::Missing;
    for name in settings.session.cookie_names() {
        for sealed in whole_values(headers, name) {
            let opened = state
                .opened
                .open(&settings.session.keys, name, &sealed, now);
            match opened {
                Ok(session) if !state.revoked.ends(&session) => return Ok(session),
                Ok(_) => why = NoSession::Invalid,
                Err(error) => why = error,
            }
        }
    }
    Err(why)
}

/// Whether the log-out list can vouch for `session` now: always without a
/// store; with one, while its copy is fresh. A root admin's backup session
/// is judged on the local copy alone, so the way back in keeps working
/// when the store is what broke.
pub fn list_vouches_for(state: &AppState, session: &Session) -> bool {
    match &state.store {
        None => true,
        Some(store) => store.is_fresh() || session.method == LoginMethod::Backup,
    }
}

/// Seconds a client should wait while the list cannot vouch.
pub fn store_retry_after(state: &AppState) -> u64 {
    state
        .store
        .as_ref()
        .map_or(1, |store| store.retry_after().as_secs())
}
