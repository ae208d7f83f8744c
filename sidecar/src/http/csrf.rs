//! CSRF protection for the sidecar's own forms (backup login, log out).
//!
//! Two checks, each enough against a cross-site form on its own:
//! - The browser holds a random secret in a sealed cookie, set once and
//!   kept. Each form carries its own token: the secret and an expiry,
//!   sealed with the session keys. A cross-site page can neither read the
//!   cookie nor forge a token that opens, so it cannot submit a matching
//!   pair; and since the secret is kept, every form a browser was given
//!   stays valid for its lifetime (several tabs work).
//! - A POST whose `Origin` (or, without one, `Referer`) names another origin
//!   than `publicUrl` is refused before anything else.

use super::pages::message_page;
use crate::config::Settings;
use crate::runtime::state::{SharedState, unix_now};
use crate::session::cookie::{request_cookies, set_cookie};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use http::HeaderMap;
use http::header::{ORIGIN, REFERER};
use http::{Method, StatusCode};
use subtle::ConstantTimeEq;
use url::Url;

/// Lifetime of a form's token.
const FORM_SECONDS: u64 = 3600;
/// Lifetime of the browser's secret; renewed whenever a form is issued.
const BROWSER_SECONDS: i64 = 86_400;

fn cookie_name(settings: &Settings) -> String {
    format!("{}_csrf", settings.session.cookie_name)
}

fn form_name(settings: &Settings) -> String {
    format!("{}_csrf_form", settings.session.cookie_name)
}

/// The browser's secret from its cookie, if one opens.
fn browser_secret(settings: &Settings, headers: &HeaderMap) -> Option<String> {
    let name = cookie_name(settings);
    request_cookies(headers, &name).find_map(|sealed| settings.session.keys.open(&name, sealed))
}

/// A new token for a form, and the `Set-Cookie` value that keeps (or
/// starts) this browser's secret.
pub fn issue(settings: &Settings, headers: &HeaderMap) -> (String, String) {
    let secret = browser_secret(settings, headers)
        .unwrap_or_else(|| portcullis_contract::random::url_safe_token(32));
    let keys = &settings.session.keys;
    let token = keys.seal(
        &form_name(settings),
        &format!("{secret}.{}", unix_now() + FORM_SECONDS),
    );
    let name = cookie_name(settings);
    let cookie = set_cookie(
        &name,
        keys.seal(&name, &secret),
        BROWSER_SECONDS,
        settings.session.host_cookie_scope(),
    );
    (token, cookie)
}

/// True when the form's token is unexpired and belongs to this browser.
pub fn verify(settings: &Settings, headers: &HeaderMap, form_token: &str) -> bool {
    let Some(opened) = settings.session.keys.open(&form_name(settings), form_token) else {
        return false;
    };
    let Some((secret, expires_at)) = opened.rsplit_once('.') else {
        return false;
    };
    let fresh = expires_at
        .parse::<u64>()
        .is_ok_and(|expires_at| unix_now() < expires_at);
    let Some(expected) = browser_secret(settings, headers) else {
        return false;
    };
    fresh && bool::from(expected.as_bytes().ct_eq(secret.as_bytes()))
}

/// False when the request says it comes from a page of another origin.
///
/// Browsers send `Origin` on every cross-site POST; `Referer` is the
/// fallback for older ones. A request with neither (a script) is left to
/// the token check.
pub fn same_origin(settings: &Settings, headers: &HeaderMap) -> bool {
    let public = settings.public_url.origin();
    let claimed = headers
        .get(ORIGIN)
        .or_else(|| headers.get(REFERER))
        .map(|value| value.to_str().ok().and_then(|text| Url::parse(text).ok()));
    match claimed {
        None => true,
        Some(Some(url)) => url.origin() == public,
        Some(None) => false,
    }
}

/// Refuses every POST to the sidecar's own routes that says it comes from
/// a page of another origin (see [`same_origin`]).
pub async fn refuse_cross_site_posts(
    State(state): State<SharedState>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() == Method::POST && !same_origin(&state.settings.load(), request.headers()) {
        tracing::warn!(
            path = request.uri().path(),
            "form post from another site refused"
        );
        let page = message_page("Refused", "This form was sent from another site.");
        return (StatusCode::FORBIDDEN, Html(page)).into_response();
    }
    next.run(request).await
}
