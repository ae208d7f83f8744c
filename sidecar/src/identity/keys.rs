//! The identity key file turned into what signing and publishing need,
//! once per settings load: the first key as a `jsonwebtoken` encoding key,
//! and every key's public half as the JWKS body, ready to send.
//!
//! The format is the contract crate's
//! [`portcullis_contract::identity_keys`]; nothing here prints key material.

use axum::body::Bytes;
use jsonwebtoken::EncodingKey;
use portcullis_contract::identity_keys::{IdentityKeyError, Jwk, parse_identity_keys};
use serde::Serialize;
use std::fmt;

/// The key that signs and the keys that are published.
#[derive(Clone)]
pub struct SigningKeys {
    signer: EncodingKey,
    kid: String,
    published: Vec<String>,
    jwks: Bytes,
}

#[derive(Serialize)]
struct JwkSet<'a> {
    keys: Vec<&'a Jwk>,
}

impl fmt::Debug for SigningKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SigningKeys(signs with {}, publishes {:?})",
            self.kid, self.published
        )
    }
}

impl SigningKeys {
    /// Parses a key file: the first key signs, every key is published.
    pub fn parse(text: &str) -> Result<Self, IdentityKeyError> {
        let keys = parse_identity_keys(text)?;
        let first = keys.first().ok_or(IdentityKeyError::Empty)?;
        let set = JwkSet {
            keys: keys.iter().map(|key| key.public()).collect(),
        };
        let jwks = serde_json::to_vec(&set).map_err(|_| IdentityKeyError::Empty)?;
        Ok(Self {
            signer: EncodingKey::from_ec_der(first.pkcs8_der()),
            kid: first.kid().to_owned(),
            published: keys.iter().map(|key| key.kid().to_owned()).collect(),
            jwks: Bytes::from(jwks),
        })
    }

    /// The key new tokens are signed with.
    pub fn encoding_key(&self) -> &EncodingKey {
        &self.signer
    }

    /// The key id of [`Self::encoding_key`].
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The key ids in the JWKS, signing key first.
    pub fn published(&self) -> &[String] {
        &self.published
    }

    /// The JWKS document (`{"keys": [...]}`), serialised.
    pub fn jwks(&self) -> Bytes {
        self.jwks.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_contract::identity_keys::generate_identity_key_line;

    fn line() -> String {
        generate_identity_key_line().expect("generated")
    }

    #[test]
    fn after_a_rotation_the_new_key_signs_and_the_old_one_stays_published() {
        let old_line = line();
        let before = SigningKeys::parse(&old_line).expect("valid");
        let after = SigningKeys::parse(&format!("{}\n{old_line}\n", line())).expect("valid");
        assert_ne!(after.kid(), before.kid());
        assert_eq!(after.published().len(), 2);
        assert_eq!(after.published()[0], after.kid());
        assert_eq!(after.published()[1], before.kid());
    }

    #[test]
    fn the_jwks_lists_every_public_key_and_no_private_part() {
        let keys = SigningKeys::parse(&format!("{}\n{}\n", line(), line())).expect("valid");
        let jwks: serde_json::Value = serde_json::from_slice(&keys.jwks()).expect("json");
        let listed = jwks["keys"].as_array().expect("keys");
        assert_eq!(listed.len(), 2);
        for (jwk, kid) in listed.iter().zip(keys.published()) {
            assert_eq!(jwk["kid"], kid.as_str());
            assert_eq!(jwk["kty"], "EC");
            assert_eq!(jwk["crv"], "P-256");
            assert_eq!(jwk["alg"], "ES256");
            assert_eq!(jwk["use"], "sig");
            assert!(jwk.get("d").is_none(), "private scalar published: {jwk}");
        }
    }

    #[test]
    fn debug_output_names_key_ids_only() {
        let text = line();
        let keys = SigningKeys::parse(&text).expect("valid");
        let shown = format!("{keys:?}");
        assert!(shown.contains(keys.kid()), "{shown}");
        assert!(!shown.contains(&text), "{shown}");
    }
}
