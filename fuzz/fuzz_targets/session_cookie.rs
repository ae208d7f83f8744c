//! Opening a session cookie never panics, and only a value sealed under the
//! key opens.
//!
//! The input is read twice. First as a whole `Cookie` header (bytes, so odd
//! and non-UTF-8 cookies are included): every pair `request_cookie_pairs`
//! yields is trimmed and holds no `;`, and every whole session value
//! `whole_values` offers (a cookie as sent, or parts joined) goes through
//! `open_session` under the fixed key ring. Then as a plaintext sealed
//! under that key, so the session JSON parser and the expiry check see
//! arbitrary input too: whatever opens must seal (in one cookie or in
//! parts) and be read back from its cookies to the same session.

#![no_main]

use http::header::{COOKIE, HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use portcullis_fuzz::{COOKIE_NAME, LEGACY_COOKIE_NAME, NOW, keys};
use portcullis_sidecar::session::cookie::{
    NoSession, open_session, request_cookie_pairs, seal_session,
};
use portcullis_sidecar::session::session_cookies::{cookie_header, whole_values};

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = HeaderValue::from_bytes(data) {
        let mut headers = HeaderMap::new();
        headers.append(COOKIE, value);
        for (name, value) in request_cookie_pairs(&headers) {
            assert!(!name.contains(';') && !value.contains(';'));
            assert_eq!(name, name.trim());
            assert_eq!(value, value.trim());
        }
        for name in [COOKIE_NAME, LEGACY_COOKIE_NAME] {
            for sealed in whole_values(&headers, name) {
                let _ = check_open(name, &sealed);
            }
        }
    }
    if let Ok(plaintext) = std::str::from_utf8(data) {
        let sealed = keys().seal(COOKIE_NAME, plaintext);
        if let Ok(session) = check_open(COOKIE_NAME, &sealed) {
            // A session too large for a cookie is refused whole, never sealed.
            let Ok(parts) = seal_session(keys(), COOKIE_NAME, &session) else {
                return;
            };
            let header = HeaderValue::from_str(&cookie_header(COOKIE_NAME, &parts))
                .expect("sealed parts make a header");
            let mut headers = HeaderMap::new();
            headers.append(COOKIE, header);
            let wholes: Vec<_> = whole_values(&headers, COOKIE_NAME).collect();
            assert_eq!(wholes.len(), 1, "one whole value from the parts");
            let reopened = open_session(keys(), COOKIE_NAME, &wholes[0], NOW);
            let mut expected = session;
            if reopened
                .as_ref()
                .is_ok_and(|again| again.id_token.is_none())
            {
                // An ID token too large for the cookie is dropped, nothing else.
                expected.id_token = None;
            }
            assert_eq!(reopened, Ok(expected));
        }
        // A value sealed for one cookie name never opens as another.
        assert_eq!(
            open_session(keys(), LEGACY_COOKIE_NAME, &sealed, NOW),
            Err(NoSession::Invalid)
        );
    }
});

/// Opens `sealed`, checking that whatever opens has not expired.
fn check_open(name: &str, sealed: &str) -> Result<portcullis_sidecar::session::Session, NoSession> {
    let opened = open_session(keys(), name, sealed, NOW);
    if let Ok(session) = &opened {
        assert!(!session.is_expired(NOW));
    }
    opened
}
