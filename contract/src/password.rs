//! The root admin's password as argon2id PHC strings: one place that hashes
//! and verifies, shared by `hash-password`, the backup login and the operator.
//!
//! argon2id is memory-hard on purpose: every run fills 19 MiB. A process that
//! hashes often (the operator, for many `OidcSettings`) keeps a
//! [`PasswordWork`] and reuses its memory, instead of asking the allocator for
//! 19 MiB each time, which glibc's per-thread arenas keep and fragment.

use argon2::password_hash::{Output, ParamsString, SaltString, rand_core::OsRng};
use argon2::{Algorithm, Argon2, Block, Params, PasswordHash, Version};

/// Hashes with a memory cost above this are refused when verifying: a hash
/// planted with a huge cost would otherwise make every check allocate it.
const MAX_VERIFY_MEMORY_KIB: u32 = 256 * 1024;

/// Why a password could not be hashed.
#[derive(Debug, thiserror::Error)]
#[error("cannot hash the password: {0}")]
pub struct HashError(String);

impl HashError {
    /// The error of a hashing step that failed.
    pub(crate) fn from_display(error: impl std::fmt::Display) -> Self {
        Self(error.to_string())
    }
}

/// argon2id working memory, kept between runs.
pub struct PasswordWork {
    blocks: Vec<Block>,
}

impl Default for PasswordWork {
    fn default() -> Self {
        Self::new()
    }
}

impl PasswordWork {
    /// Working memory for the default parameters (allocated once, here).
    pub fn new() -> Self {
        Self {
            blocks: vec![Block::default(); Params::default().block_count()],
        }
    }

    /// Hashes `password` with argon2id (default parameters, random salt).
    pub fn hash(&mut self, password: &str) -> Result<String, HashError> {
        let salt = SaltString::generate(&mut OsRng);
        let params = Params::default();
        let output = self
            .run(
                password,
                &salt,
                Version::default(),
                &params,
                Params::DEFAULT_OUTPUT_LEN,
            )
            .map_err(|error| HashError(error.to_string()))?;
        let phc = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::default().into()),
            params: ParamsString::try_from(&params).map_err(|e| HashError(e.to_string()))?,
            salt: Some(salt.as_salt()),
            hash: Some(output),
        };
        Ok(phc.to_string())
    }

    /// True when `phc` is an argon2id hash of `password`. Slow on purpose: run
    /// it off the async threads.
    pub fn verify(&mut self, password: &str, phc: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(phc) else {
            return false;
        };
        let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
            return false;
        };
        let Ok(params) = Params::try_from(&parsed) else {
            return false;
        };
        let version = parsed
            .version
            .map_or(Ok(Version::default()), Version::try_from);
        if parsed.algorithm != Algorithm::Argon2id.ident()
            || params.m_cost() > MAX_VERIFY_MEMORY_KIB
        {
            return false;
        }
        let Ok(version) = version else {
            return false;
        };
        let salt = SaltString::from_b64(salt.as_str());
        salt.is_ok_and(|salt| {
            // `Output` compares in constant time.
            self.run(password, &salt, version, &params, expected.len())
                .is_ok_and(|computed| computed == expected)
        })
    }

    fn run(
        &mut self,
        password: &str,
        salt: &SaltString,
        version: Version,
        params: &Params,
        output_len: usize,
    ) -> argon2::password_hash::Result<Output> {
        let mut salt_bytes = [0u8; 64];
        let salt_bytes = salt.decode_b64(&mut salt_bytes)?;
        self.blocks.resize(params.block_count(), Block::default());
        let argon2 = Argon2::new(Algorithm::Argon2id, version, params.clone());
        Output::init_with(output_len, |out| {
            argon2
                .hash_password_into_with_memory(
                    password.as_bytes(),
                    salt_bytes,
                    out,
                    &mut self.blocks,
                )
                .map_err(|_| argon2::password_hash::Error::Crypto)
        })
    }
}

/// Hashes `password` with argon2id (default parameters, random salt).
pub fn hash_password(password: &str) -> Result<String, HashError> {
    PasswordWork::new().hash(password)
}

/// True when `phc` is an argon2id hash of `password`. Slow on purpose: run it off the async threads.
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordWork::new().verify(password, phc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::PasswordHasher;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let hash = hash_password("s3cret").expect("hash");
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify_password("s3cret", &hash));
        assert!(!verify_password("s3cret ", &hash));
        assert!(!verify_password("s3cret", "not a hash"));
    }

    #[test]
    fn reused_memory_gives_the_same_answers() {
        let mut work = PasswordWork::new();
        let first = work.hash("one").expect("hash");
        let second = work.hash("two").expect("hash");
        assert!(work.verify("one", &first));
        assert!(work.verify("two", &second));
        assert!(!work.verify("one", &second));
    }

    #[test]
    fn hashes_made_by_the_argon2_crate_itself_verify() {
        let salt = SaltString::generate(&mut OsRng);
        let params = Params::new(8 * 1024, 3, 1, Some(32)).expect("params");
        let hasher = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let phc = hasher
            .hash_password(b"pw", &salt)
            .expect("hash")
            .to_string();
        assert!(PasswordWork::new().verify("pw", &phc));
        assert!(!PasswordWork::new().verify("pw2", &phc));
    }

    #[test]
    fn other_algorithms_and_huge_costs_are_refused() {
        let salt = SaltString::generate(&mut OsRng);
        let argon2i = Argon2::new(Algorithm::Argon2i, Version::V0x13, Params::default());
        let phc = argon2i
            .hash_password(b"pw", &salt)
            .expect("hash")
            .to_string();
        assert!(!verify_password("pw", &phc));
        let huge = "$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";
        assert!(!verify_password("pw", huge));
    }
}
