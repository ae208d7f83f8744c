//! Whatever an API client sends as a bearer token, reading it never panics,
//! and what passes the access-token checks is no ID token and not from the
//! future.
//!
//! The input's first line is an `Authorization` header value; the rest is a
//! JSON claims set, checked at a fixed time with a leeway of 0 to 300
//! seconds taken from the input's length. A token that is read:
//! - is not empty, has no surrounding white space, and is part of the
//!   header as sent;
//! - goes through the JWT reader without a panic.
//!
//! Claims that pass carry no `nonce`, `at_hash`, `c_hash`, `s_hash` or
//! `events` (a logout token's), a
//! `typ` of an access token or none, and an `iat` no later than the time
//! plus the leeway.

#![no_main]

use http::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use portcullis_sidecar::oidc::access_token::check_access_token;
use portcullis_sidecar::oidc::bearer::{bearer_token, parse_token};
use serde_json::{Map, Value};

const NOW: u64 = 1_800_000_000;

fuzz_target!(|data: &[u8]| {
    let (line, rest) = match data.iter().position(|byte| *byte == b'\n') {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[][..]),
    };
    if let Ok(value) = HeaderValue::from_bytes(line) {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, value);
        if let Some(token) = bearer_token(&headers) {
            assert!(!token.is_empty());
            assert_eq!(token, token.trim());
            assert!(line.windows(token.len()).any(|part| part == token.as_bytes()));
            let _ = parse_token(token);
        }
    }
    let Ok(Value::Object(claims)) = serde_json::from_slice::<Value>(rest) else {
        return;
    };
    let leeway = (data.len() % 301) as u64;
    if check_access_token(&claims, NOW, leeway).is_ok() {
        passed_is_an_access_token(&claims, leeway);
    }
});

fn passed_is_an_access_token(claims: &Map<String, Value>, leeway: u64) {
    for claim in ["nonce", "at_hash", "c_hash", "s_hash", "events"] {
        assert!(!claims.contains_key(claim), "{claim} passed");
    }
    if let Some(typ) = claims.get("typ") {
        let typ = typ.as_str().map(str::to_ascii_lowercase);
        assert!(
            matches!(typ.as_deref(), Some("bearer" | "at+jwt" | "application/at+jwt")),
            "typ {typ:?} passed"
        );
    }
    if let Some(issued) = claims.get("iat") {
        let issued = issued.as_f64().expect("a numeric iat");
        assert!(issued <= (NOW + leeway) as f64, "iat {issued} passed");
    }
}
