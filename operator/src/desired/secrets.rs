//! Secret values that must survive reconciles: session keys and the root hash.
//!
//! Session keys are generated once and then kept forever: a new key would log
//! every user out. To rotate, put a new key as the first line of the
//! generated Secret's `session-keys` and keep the old one below it for a
//! session lifetime; the operator keeps whatever is there. The root-admin
//! hash is kept while it still verifies against the password, so a reconcile
//! does not rewrite it (argon2 salts are random) and trigger a rollout.

use portcullis_sidecar::password::{hash_password, verify_password};

pub use portcullis_sidecar::password::HashError;

/// The session keys to write: the existing ones if present, else a new key.
pub fn session_keys(existing: Option<&str>, generate: impl FnOnce() -> String) -> String {
    match existing {
        Some(keys) if !keys.trim().is_empty() => keys.to_owned(),
        _ => format!("{}\n", generate()),
    }
}

/// A fresh session key line, as the sidecar's `generate-key` prints it.
pub fn new_session_key() -> String {
    portcullis_sidecar::session::keys::generate_key_line()
}

/// The argon2id hash to write: `existing` if it verifies `password`, else a new one.
pub fn root_password_hash(password: &str, existing: Option<&str>) -> Result<String, HashError> {
    if let Some(existing) = existing.map(str::trim)
        && verify_password(password, existing)
    {
        return Ok(existing.to_owned());
    }
    hash_password(password)
}

/// A strong random password for the generated root-admin Secret (32 bytes, base64url).
pub fn generate_password() -> String {
    portcullis_sidecar::random::url_safe_token(32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn existing_session_keys_are_kept_verbatim() {
        let kept = session_keys(Some("new\nold\n"), || panic!("must not generate"));
        assert_eq!(kept, "new\nold\n");
    }

    #[test]
    fn missing_or_blank_session_keys_are_generated_once() {
        assert_eq!(session_keys(None, || "k".into()), "k\n");
        assert_eq!(session_keys(Some(" \n"), || "k".into()), "k\n");
    }

    #[test]
    fn generated_session_key_is_accepted_by_the_sidecar() {
        let keys = session_keys(None, new_session_key);
        assert!(portcullis_sidecar::session::keys::KeyRing::parse(&keys).is_ok());
    }

    #[test]
    fn hash_that_still_verifies_is_kept() {
        let first = root_password_hash("pw", None).expect("hashes");
        assert!(first.starts_with("$argon2id$"));
        assert_eq!(
            root_password_hash("pw", Some(&first)).expect("keeps"),
            first
        );
    }

    #[test]
    fn changed_password_gets_a_new_hash() {
        let first = root_password_hash("pw", None).expect("hashes");
        let second = root_password_hash("other", Some(&first)).expect("hashes");
        assert_ne!(first, second);
        assert!(verify_password("other", &second));
    }

    #[test]
    fn garbage_existing_hash_is_replaced() {
        let hash = root_password_hash("pw", Some("not a hash")).expect("hashes");
        assert!(verify_password("pw", &hash));
    }

    #[test]
    fn generated_passwords_are_long_and_different() {
        let (a, b) = (generate_password(), generate_password());
        assert_ne!(a, b);
        assert!(a.len() >= 43, "{a}");
    }
}
