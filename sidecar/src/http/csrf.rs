//! CSRF tokens for the sidecar's own forms (backup login, log out).
//!
//! The form carries a random token; a cookie carries the same token sealed
//! with the session keys. A cross-site page can neither read the cookie nor
//! forge one that opens, so it cannot submit a matching pair.

use crate::config::Settings;
use crate::session::cookie::{request_cookie, set_cookie};
use http::HeaderMap;
use subtle::ConstantTimeEq;

/// Lifetime of a form's token.
const CSRF_SECONDS: i64 = 3600;

fn cookie_name(settings: &Settings) -> String {
    format!("{}_csrf", settings.session.cookie_name)
}

/// A new token for a form, and the `Set-Cookie` value that goes with it.
pub fn issue(settings: &Settings) -> (String, String) {
    let token = portcullis_contract::random::url_safe_token(32);
    let name = cookie_name(settings);
    let sealed = settings.session.keys.seal(&name, &token);
    let cookie = set_cookie(&name, sealed, CSRF_SECONDS, settings.session.secure_cookies);
    (token, cookie)
}

/// True when the form's token matches the one sealed in this browser's cookie.
pub fn verify(settings: &Settings, headers: &HeaderMap, form_token: &str) -> bool {
    let name = cookie_name(settings);
    let Some(expected) =
        request_cookie(headers, &name).and_then(|sealed| settings.session.keys.open(&name, sealed))
    else {
        return false;
    };
    !form_token.is_empty() && bool::from(expected.as_bytes().ct_eq(form_token.as_bytes()))
}
