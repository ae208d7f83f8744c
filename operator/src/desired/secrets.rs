//! Secret values that must survive reconciles: session keys, identity
//! signing keys and the root hash.
//!
//! Session keys are generated once and then kept forever: a new key would log
//! every user out. To rotate, put a new key as the first line of the
//! generated Secret's `session-keys` and keep the old one below it for a
//! session lifetime; the operator keeps whatever is there. The identity
//! signing keys (`identity-keys`) work the same way: generated when
//! `signedIdentity` is first set, kept verbatim after (also while it is
//! unset, so switching it off and on does not change the key apps trust),
//! rotated by putting a new line first; every listed key stays published.
//!
//! The root-admin hash is kept while it still matches the password, so a
//! reconcile does not rewrite it (argon2 salts are random) and trigger a
//! rollout. argon2 is slow and memory-hard on purpose (about 25 ms and 19 MiB
//! a call), so the generated Secret records which version of the password
//! Secret the hash was made from: while that version is unchanged, the hash is
//! reused without running argon2 at all. The enrolment code's hash is kept
//! the same way, checked against the code each time (its argon2id is light).

use portcullis_contract::enrolment::{code_matches, hash_enrolment_code};
use portcullis_contract::identity_keys::IdentityKeyError;
use portcullis_contract::password::PasswordWork;

pub use portcullis_contract::password::HashError;

/// The session keys to write: the existing ones if present, else a new key.
pub fn session_keys(existing: Option<&str>, generate: impl FnOnce() -> String) -> String {
    match existing {
        Some(keys) if !keys.trim().is_empty() => keys.to_owned(),
        _ => format!("{}\n", generate()),
    }
}

/// The identity signing keys to write: the existing ones if present; else a
/// new key when `wanted` (the spec has `signedIdentity`), else none.
pub fn identity_keys<E>(
    existing: Option<&str>,
    wanted: bool,
    generate: impl FnOnce() -> Result<String, E>,
) -> Result<Option<String>, E> {
    match existing {
        Some(keys) if !keys.trim().is_empty() => Ok(Some(keys.to_owned())),
        _ if wanted => Ok(Some(format!("{}\n", generate()?))),
        _ => Ok(None),
    }
}

/// A fresh identity signing key line (PKCS#8 P-256, standard base64).
pub fn new_identity_key() -> Result<String, IdentityKeyError> {
    portcullis_contract::identity_keys::generate_identity_key_line()
}

/// A fresh session key line, as the sidecar's `generate-key` prints it.
pub fn new_session_key() -> String {
    portcullis_contract::session_keys::generate_key_line()
}

/// The existing hash, when it was made from this very version of the password Secret.
///
/// `source` identifies that version (uid and resourceVersion); `recorded` is
/// what the generated Secret says its hash was made from.
pub fn reusable_root_hash(
    existing: Option<&str>,
    recorded: Option<&str>,
    source: &str,
) -> Option<String> {
    let existing = existing.map(str::trim).filter(|hash| !hash.is_empty())?;
    (recorded == Some(source)).then(|| existing.to_owned())
}

/// The argon2id hash to write: `existing` if it verifies `password`, else a new one.
pub fn root_password_hash(
    work: &mut PasswordWork,
    password: &str,
    existing: Option<&str>,
) -> Result<String, HashError> {
    if let Some(existing) = existing.map(str::trim)
        && work.verify(password, existing)
    {
        return Ok(existing.to_owned());
    }
    work.hash(password)
}

/// The hash of the enrolment code to write: `existing` if it is the hash
/// of `code` (checking costs about a millisecond), else a new one.
pub fn enrolment_code_hash(code: &str, existing: Option<&str>) -> Result<String, HashError> {
    if let Some(existing) = existing.map(str::trim)
        && code_matches(code, existing)
    {
        return Ok(existing.to_owned());
    }
    hash_enrolment_code(code)
}

/// A strong random password for the generated root-admin Secret (32 bytes, base64url).
pub fn generate_password() -> String {
    portcullis_contract::random::url_safe_token(32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_enrolment_hash_is_kept_while_it_is_the_codes() {
        let hash = enrolment_code_hash("ABCD-EFGH", None).expect("hash");
        assert!(code_matches("ABCD-EFGH", &hash));
        let kept = enrolment_code_hash("ABCD-EFGH", Some(&format!("{hash}\n"))).expect("hash");
        assert_eq!(kept, hash);
        let renewed = enrolment_code_hash("WXYZ-0123", Some(&hash)).expect("hash");
        assert_ne!(renewed, hash);
        assert!(code_matches("WXYZ-0123", &renewed));
    }
    use portcullis_contract::password::verify_password;

    fn hash(password: &str, existing: Option<&str>) -> Result<String, HashError> {
        root_password_hash(&mut PasswordWork::new(), password, existing)
    }

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
        assert!(portcullis_contract::session_keys::parse_key_file(&keys).is_ok());
    }

    #[test]
    fn identity_keys_are_generated_once_when_wanted_and_kept_after() {
        let never = || -> Result<String, IdentityKeyError> { panic!("must not generate") };
        assert_eq!(identity_keys(None, false, never), Ok(None));
        let made = identity_keys(None, true, new_identity_key)
            .expect("generated")
            .expect("a key");
        let keys = portcullis_contract::identity_keys::parse_identity_keys(&made).expect("valid");
        assert_eq!(keys.len(), 1);
        assert_eq!(
            identity_keys(Some(&made), true, never),
            Ok(Some(made.clone()))
        );
        assert_eq!(
            identity_keys(Some(&made), false, never),
            Ok(Some(made.clone())),
            "kept while switched off"
        );
        assert_eq!(
            identity_keys(Some(" \n"), true, || Ok::<_, IdentityKeyError>("k".into())),
            Ok(Some("k\n".into()))
        );
    }

    #[test]
    fn rotated_identity_keys_are_kept_in_their_order() {
        let rotated = "new\nold\n";
        let never = || -> Result<String, IdentityKeyError> { panic!("must not generate") };
        assert_eq!(
            identity_keys(Some(rotated), true, never),
            Ok(Some(rotated.into()))
        );
    }

    #[test]
    fn hash_from_the_same_password_version_is_reused_without_argon2() {
        let reused = reusable_root_hash(Some("$argon2id$x\n"), Some("uid/7"), "uid/7");
        assert_eq!(reused.as_deref(), Some("$argon2id$x"));
    }

    #[test]
    fn changed_or_unknown_password_version_is_not_reused() {
        assert_eq!(reusable_root_hash(Some("h"), Some("uid/7"), "uid/8"), None);
        assert_eq!(reusable_root_hash(Some("h"), None, "uid/8"), None);
        assert_eq!(reusable_root_hash(None, Some("uid/8"), "uid/8"), None);
        assert_eq!(reusable_root_hash(Some(" "), Some("uid/8"), "uid/8"), None);
    }

    #[test]
    fn hash_that_still_verifies_is_kept() {
        let first = hash("pw", None).expect("hashes");
        assert!(first.starts_with("$argon2id$"));
        assert_eq!(hash("pw", Some(&first)).expect("keeps"), first);
    }

    #[test]
    fn changed_password_gets_a_new_hash() {
        let first = hash("pw", None).expect("hashes");
        let second = hash("other", Some(&first)).expect("hashes");
        assert_ne!(first, second);
        assert!(verify_password("other", &second));
    }

    #[test]
    fn garbage_existing_hash_is_replaced() {
        let replaced = hash("pw", Some("not a hash")).expect("hashes");
        assert!(verify_password("pw", &replaced));
    }

    #[test]
    fn generated_passwords_are_long_and_different() {
        let (a, b) = (generate_password(), generate_password());
        assert_ne!(a, b);
        assert!(a.len() >= 43, "{a}");
    }
}
