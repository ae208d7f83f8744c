//! Writes the session-cookie seeds that have to be sealed under the fuzz key:
//! `cargo run --example seeds` (from `fuzz/`). The other seeds are plain
//! files, written by hand.

use portcullis_fuzz::{COOKIE_NAME, LEGACY_COOKIE_NAME, NOW, keys};
use portcullis_sidecar::access::roles::Role;
use portcullis_sidecar::session::session_cookies::cookie_header;
use portcullis_sidecar::session::{LoginMethod, Session, seal_session};
use std::fs;
use std::path::Path;

fn main() -> std::io::Result<()> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/session_cookie");
    fs::create_dir_all(&dir)?;
    let session = Session {
        sid: "b3lG2cO7m0pQx1Zr".into(),
        user: "alice".into(),
        email: Some("alice@example.com".into()),
        preferred_username: Some("alice".into()),
        groups: vec!["admin".into(), "staff".into()],
        role: Role::Admin,
        root: false,
        method: LoginMethod::Oidc,
        expires_at: NOW + 3600,
        id_token: Some("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln".into()),
        provider: None,
        refresh: None,
    };
    let backup = Session {
        sid: "Vq0s9nK2aL5tYw8e".into(),
        user: "admin".into(),
        email: None,
        preferred_username: None,
        groups: Vec::new(),
        role: Role::Admin,
        root: true,
        method: LoginMethod::Backup,
        expires_at: NOW + 8 * 3600,
        id_token: None,
        provider: None,
        refresh: None,
    };
    let expired = Session {
        expires_at: NOW - 1,
        ..session.clone()
    };
    let seal = |name: &str, session: &Session| {
        let mut parts = seal_session(keys(), name, session).expect("a seed session fits");
        parts.remove(0)
    };
    let sealed = seal(COOKIE_NAME, &session);
    let legacy = seal(LEGACY_COOKIE_NAME, &backup);
    let large = Session {
        id_token: Some("eyJhbGciOiJSUzI1NiJ9.".repeat(200)),
        ..session.clone()
    };
    let parts = seal_session(keys(), COOKIE_NAME, &large).expect("fits in parts");
    assert_eq!(parts.len(), 2, "a seed in two parts");
    let old = seal(COOKIE_NAME, &expired);
    let seeds = [
        ("sealed", format!("{COOKIE_NAME}={sealed}")),
        (
            "sealed-among-app-cookies",
            format!("theme=dark; {COOKIE_NAME}={sealed}; lang=fr"),
        ),
        (
            "planted-first",
            format!("{COOKIE_NAME}=planted; {COOKIE_NAME}={sealed}"),
        ),
        (
            "legacy-backup-login",
            format!("{LEGACY_COOKIE_NAME}={legacy}"),
        ),
        ("expired", format!("{COOKIE_NAME}={old}")),
        ("split-in-two", cookie_header(COOKIE_NAME, &parts)),
        (
            "plaintext-session",
            serde_json::to_string(&session).expect("json"),
        ),
    ];
    for (name, text) in seeds {
        fs::write(dir.join(name), text)?;
    }
    Ok(())
}
