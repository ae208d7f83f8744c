//! The backup login's one-time enrolment code: how a browser that never
//! completed a backup login gets a budget of its own.
//!
//! The backup login's shared budget can be emptied by anyone who floods
//! `/login?backup=1`; a browser that logged in before keeps its own budget
//! through its device cookie. A root admin on a new laptop has no such
//! cookie, so a code the operator (or `portcullis-sidecar enrol-code`)
//! generates stands in for it: entered with the password, a right code
//! makes the browser a known device before its password is checked.
//!
//! The code holds 100 random bits (20 characters of Crockford's base32,
//! shown in groups of four), so no budget is needed to keep it from being
//! guessed: the hash at rest is argon2id with a small memory cost, which
//! checks in about a millisecond. Case, dashes and spaces do not matter
//! when it is typed; `I`, `L` and `O` read as `1`, `1` and `0`.

use crate::password::HashError;
use argon2::password_hash::{PasswordHasher, SaltString, rand_core::OsRng};
use argon2::{Algorithm, Argon2, Params, PasswordHash, PasswordVerifier, Version};

/// Crockford's base32 alphabet: no `I`, `L`, `O` or `U`.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Characters of a code (5 bits each).
const CODE_LENGTH: usize = 20;
/// argon2id memory for a code (KiB): small, since the code is not guessable.
const MEMORY_KIB: u32 = 1024;
/// Hashes with a larger memory cost are refused when checking a code.
const MAX_VERIFY_MEMORY_KIB: u32 = 64 * 1024;

/// A new code, in groups of four: `7K3M-...`.
pub fn new_enrolment_code() -> String {
    let random = crate::random::random_bytes(CODE_LENGTH);
    let mut code = String::with_capacity(CODE_LENGTH + CODE_LENGTH / 4);
    for (index, byte) in random.iter().enumerate() {
        if index > 0 && index % 4 == 0 {
            code.push('-');
        }
        code.push(char::from(ALPHABET[usize::from(byte % 32)]));
    }
    code
}

/// A typed code in the form it is hashed in: upper case, without dashes and
/// white space, with `I`/`L` as `1` and `O` as `0`.
pub fn canonical_code(typed: &str) -> String {
    typed
        .chars()
        .filter(|c| *c != '-' && !c.is_whitespace())
        .map(|c| match c.to_ascii_uppercase() {
            'I' | 'L' => '1',
            'O' => '0',
            other => other,
        })
        .collect()
}

/// The argon2id PHC hash of `code` (as typed or as generated).
pub fn hash_enrolment_code(code: &str) -> Result<String, HashError> {
    let params = Params::new(MEMORY_KIB, 1, 1, None).map_err(HashError::from_display)?;
    let salt = SaltString::generate(&mut OsRng);
    Argon2::new(Algorithm::Argon2id, Version::default(), params)
        .hash_password(canonical_code(code).as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(HashError::from_display)
}

/// True when `phc` is the argon2id hash of the code `typed`; compared in
/// constant time by the argon2 crate.
pub fn code_matches(typed: &str, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let acceptable = parsed.algorithm == Algorithm::Argon2id.ident()
        && Params::try_from(&parsed).is_ok_and(|params| params.m_cost() <= MAX_VERIFY_MEMORY_KIB);
    acceptable
        && Argon2::default()
            .verify_password(canonical_code(typed).as_bytes(), &parsed)
            .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_is_twenty_characters_of_the_alphabet_in_groups_of_four() {
        let code = new_enrolment_code();
        let groups: Vec<&str> = code.split('-').collect();
        assert_eq!(groups.len(), 5, "{code}");
        assert!(groups.iter().all(|group| group.len() == 4), "{code}");
        assert!(
            canonical_code(&code).bytes().all(|b| ALPHABET.contains(&b)),
            "{code}"
        );
        assert_ne!(code, new_enrolment_code());
    }

    #[test]
    fn a_hash_matches_its_code_however_it_is_typed() {
        let code = "7K3M-0Q1Z-ABCD-EFGH-JKMN";
        let hash = hash_enrolment_code(code).expect("hash");
        assert!(hash.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"), "{hash}");
        assert!(code_matches(code, &hash));
        assert!(code_matches(" 7k3m oqiz abcd efgh jkmn ", &hash));
        assert!(!code_matches("7K3M-0Q1Z-ABCD-EFGH-JKMP", &hash));
        assert!(!code_matches("", &hash));
        assert!(!code_matches(code, "not a hash"));
    }

    #[test]
    fn a_hash_of_another_kind_or_cost_never_matches() {
        let argon2i = "$argon2i$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$AAAAAAAAAAAAAAAAAAAAAA";
        assert!(!code_matches("x", argon2i));
        let heavy = "$argon2id$v=19$m=1048576,t=1,p=1$c2FsdHNhbHQ$AAAAAAAAAAAAAAAAAAAAAA";
        assert!(!code_matches("x", heavy));
    }
}
