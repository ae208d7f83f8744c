//! The device cookie: a browser that completed a backup login before.
//!
//! It holds only a random device id, sealed with the session keys, so it
//! cannot be forged; it grants nothing by itself (the password is still
//! needed) but gives the browser its own backup-login budget, out of reach
//! of an attacker who exhausts the shared one (see [`crate::backup::budgets`]).

use crate::config::Settings;
use crate::session::cookie::{request_cookies, set_cookie};
use http::HeaderMap;

/// How long a browser stays known without another backup login (the most
/// browsers keep a cookie).
const DEVICE_SECONDS: i64 = 400 * 86_400;

fn cookie_name(settings: &Settings) -> String {
    format!("{}_device", settings.session.cookie_name)
}

/// The device id this browser carries, if its cookie opens.
pub fn known_device(settings: &Settings, headers: &HeaderMap) -> Option<String> {
    let name = cookie_name(settings);
    request_cookies(headers, &name).find_map(|sealed| settings.session.keys.open(&name, sealed))
}

/// The `Set-Cookie` value that keeps `device` (or a new id) known.
pub fn remember_device(settings: &Settings, device: Option<String>) -> String {
    let name = cookie_name(settings);
    let id = device.unwrap_or_else(|| portcullis_contract::random::url_safe_token(16));
    set_cookie(
        &name,
        settings.session.keys.seal(&name, &id),
        DEVICE_SECONDS,
        settings.session.host_cookie_scope(),
    )
}
