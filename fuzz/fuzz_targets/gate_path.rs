//! No spelling of a path reaches the admin area past the access rules.
//!
//! The input is a request target, as `http::Uri` parses it (inputs it
//! refuses never reach the sidecar). The rules make `/static/**` public for
//! `GET` and give `/admin/**` to admins. An independent, deliberately lax
//! reading of the path stands for the app servers behind the sidecar: `;`
//! parameters cut, escapes decoded twice, `\` read as `/`, case ignored,
//! trailing dots and spaces dropped (a segment of dots and spaces only is
//! `.` or `..`), dot segments resolved. Whenever that reading is under
//! `/admin`, the gate either refuses the path or requires an admin.
//!
//! The normal form is a fixed point of the normalisation, and holds no
//! escape that decodes into another escape.

#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_contract::access::path::{Params, normalise};
use portcullis_contract::access::{Access, AuthorizationConfig};
use portcullis_sidecar::access::AccessRules;
use std::sync::OnceLock;

const RULES: &str = r#"{"rules": [
  {"path": "/static/**", "methods": ["GET", "HEAD"], "allow": "public"},
  {"path": "/admin/**", "allow": "admin"}
]}"#;

fn rules() -> &'static AccessRules {
    static RULES_ONCE: OnceLock<AccessRules> = OnceLock::new();
    RULES_ONCE.get_or_init(|| {
        let config: AuthorizationConfig = serde_json::from_str(RULES).expect("rules");
        AccessRules::compile(&config).0
    })
}

/// Percent-decodes every escape of hex digits; other bytes as they are.
fn decode(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let hex = |at: usize| bytes.get(at).and_then(|b| char::from(*b).to_digit(16));
        match (bytes[index], hex(index + 1), hex(index + 2)) {
            (b'%', Some(high), Some(low)) => {
                out.push(u8::try_from(high * 16 + low).unwrap_or_default());
                index += 3;
            }
            (byte, _, _) => {
                out.push(byte);
                index += 1;
            }
        }
    }
    out
}

/// How the laxest app server behind the sidecar could read `path`.
fn lax_reading(path: &str) -> String {
    let without_params: Vec<&str> = path
        .split('/')
        .map(|segment| segment.split(';').next().unwrap_or_default())
        .collect();
    let twice = decode(&decode(without_params.join("/").as_bytes()));
    let text = String::from_utf8_lossy(&twice)
        .replace('\\', "/")
        .to_ascii_lowercase();
    let mut segments: Vec<&str> = Vec::new();
    for segment in text.split('/') {
        let kept = segment.trim_end_matches(['.', ' ']);
        if kept.is_empty() {
            if segment.matches('.').count() >= 2 {
                segments.pop();
            }
        } else {
            segments.push(kept);
        }
    }
    format!("/{}", segments.join("/"))
}

fuzz_target!(|data: &[u8]| {
    let Ok(uri) = http::Uri::try_from(data) else {
        return;
    };
    let path = uri.path();
    if !path.starts_with('/') {
        return;
    }
    for params in [Params::Keep, Params::Strip] {
        if let Ok(normal) = normalise(path, params) {
            assert_eq!(normalise(&normal, params), Ok(normal.clone()), "{path:?}");
            let once = decode(normal.as_bytes());
            assert_eq!(decode(&once), once, "{path:?}: {normal:?} decodes twice");
        }
    }
    let lax = lax_reading(path);
    if lax == "/admin" || lax.starts_with("/admin/") {
        for method in ["GET", "POST"] {
            if let Ok(needed) = rules().required(method, path) {
                assert!(
                    needed >= Access::Admin,
                    "{method} {path:?} is {lax:?} to a lax server but needs only {needed:?}"
                );
            }
        }
    }
});
