//! Identity signing keys: the format of the key file the operator writes and
//! the sidecar reads, and the public half the sidecar publishes.
//!
//! Like the session keys (see [`crate::session_keys`]), one key per line,
//! blank lines and `#` comments skipped, the first line in use: here it
//! signs, and every line's public key is published in the JWKS, so tokens
//! signed with an older key keep verifying while it is still listed. Each
//! line is a standard-base64 PKCS#8 document holding an ECDSA P-256 key
//! (JOSE `ES256`): what JWT libraries in most languages verify out of the
//! box. Generation and parsing go through `ring`, never hand-rolled
//! arithmetic. The key id is the key's RFC 7638 thumbprint, so it follows
//! the key and needs no bookkeeping.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::fmt;

/// The JOSE algorithm of every identity key.
pub const ALGORITHM: &str = "ES256";

/// Length of an uncompressed P-256 point: `0x04`, then x and y of 32 bytes each.
const UNCOMPRESSED_POINT_BYTES: usize = 65;

/// Why an identity key file was refused. Never carries key material.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdentityKeyError {
    /// No key lines at all.
    #[error(
        "holds no keys (one standard-base64 PKCS#8 P-256 key per line; `portcullis-sidecar generate-identity-key` prints one)"
    )]
    Empty,
    /// A line is not standard base64.
    #[error("line {line} is not standard base64")]
    NotBase64 {
        /// 1-based line number.
        line: usize,
    },
    /// A line is base64 but not a PKCS#8 ECDSA P-256 private key.
    #[error("line {line} is not a PKCS#8 ECDSA P-256 private key")]
    NotP256 {
        /// 1-based line number.
        line: usize,
    },
    /// The system's random generator failed while making a key.
    #[error("the system random generator failed")]
    Random,
}

/// One key of the file: the private key to sign with and its public half.
#[derive(Clone, PartialEq, Eq)]
pub struct IdentityKey {
    pkcs8: Vec<u8>,
    public: Jwk,
}

impl fmt::Debug for IdentityKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdentityKey(kid {})", self.public.kid)
    }
}

impl IdentityKey {
    /// The private key as PKCS#8 DER, for the one place that signs.
    pub fn pkcs8_der(&self) -> &[u8] {
        &self.pkcs8
    }

    /// The public key as a JWK.
    pub fn public(&self) -> &Jwk {
        &self.public
    }

    /// The key id tokens signed with this key carry.
    pub fn kid(&self) -> &str {
        &self.public.kid
    }
}

/// A public key as a JSON Web Key (RFC 7517, RFC 7518 §6.2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Jwk {
    /// Always `EC`.
    pub kty: &'static str,
    /// Always `P-256`.
    pub crv: &'static str,
    /// The point's x coordinate, base64url.
    pub x: String,
    /// The point's y coordinate, base64url.
    pub y: String,
    /// The RFC 7638 thumbprint, base64url.
    pub kid: String,
    /// Always [`ALGORITHM`].
    pub alg: &'static str,
    /// Always `sig`.
    #[serde(rename = "use")]
    pub use_: &'static str,
}

impl Jwk {
    /// The public JWK of an uncompressed P-256 point.
    fn from_point(point: &[u8]) -> Option<Self> {
        if point.len() != UNCOMPRESSED_POINT_BYTES || point[0] != 0x04 {
            return None;
        }
        let x = URL_SAFE_NO_PAD.encode(&point[1..33]);
        let y = URL_SAFE_NO_PAD.encode(&point[33..]);
        // RFC 7638 §3.2: the required members in lexicographic order, no whitespace.
        let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
        let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()));
        Some(Self {
            kty: "EC",
            crv: "P-256",
            x,
            y,
            kid,
            alg: ALGORITHM,
            use_: "sig",
        })
    }
}

/// The keys of a key file, in file order (the first signs).
pub fn parse_identity_keys(text: &str) -> Result<Vec<IdentityKey>, IdentityKeyError> {
    let rng = SystemRandom::new();
    let mut keys = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line_no = index + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let pkcs8 = STANDARD
            .decode(line)
            .map_err(|_| IdentityKeyError::NotBase64 { line: line_no })?;
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8, &rng)
            .map_err(|_| IdentityKeyError::NotP256 { line: line_no })?;
        let public = Jwk::from_point(pair.public_key().as_ref())
            .ok_or(IdentityKeyError::NotP256 { line: line_no })?;
        keys.push(IdentityKey { pkcs8, public });
    }
    if keys.is_empty() {
        return Err(IdentityKeyError::Empty);
    }
    Ok(keys)
}

/// A new random key line for an identity key file (without the line break).
pub fn generate_identity_key_line() -> Result<String, IdentityKeyError> {
    let document =
        EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
            .map_err(|_| IdentityKeyError::Random)?;
    Ok(STANDARD.encode(document.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line() -> String {
        generate_identity_key_line().expect("generated")
    }

    #[test]
    fn generated_lines_parse_into_distinct_public_keys() {
        let (first, second) = (line(), line());
        let keys =
            parse_identity_keys(&format!("{first}\n\n# older key\n{second}\n")).expect("valid");
        assert_eq!(keys.len(), 2);
        assert_ne!(keys[0].kid(), keys[1].kid());
        assert_eq!(STANDARD.encode(keys[0].pkcs8_der()), first);
        let jwk = keys[0].public();
        assert_eq!(
            (jwk.kty, jwk.crv, jwk.alg, jwk.use_),
            ("EC", "P-256", "ES256", "sig")
        );
        assert_eq!(URL_SAFE_NO_PAD.decode(&jwk.x).expect("x").len(), 32);
        assert_eq!(URL_SAFE_NO_PAD.decode(&jwk.y).expect("y").len(), 32);
    }

    #[test]
    fn the_kid_follows_the_key_not_its_position() {
        let (first, second) = (line(), line());
        let before = parse_identity_keys(&format!("{first}\n")).expect("valid");
        let rotated = parse_identity_keys(&format!("{second}\n{first}\n")).expect("valid");
        assert_eq!(rotated[1].kid(), before[0].kid());
        assert_eq!(rotated[1].public(), before[0].public());
    }

    #[test]
    fn the_kid_is_the_rfc_7638_thumbprint() {
        // RFC 7638 §3.2: SHA-256 over the required members, sorted, no whitespace.
        let point = [4u8; 65];
        let jwk = Jwk::from_point(&point).expect("a point");
        let canonical = format!(
            "{{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"{}\",\"y\":\"{}\"}}",
            jwk.x, jwk.y
        );
        assert_eq!(
            jwk.kid,
            URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
        );
        assert_eq!(jwk.kid.len(), 43);
    }

    #[test]
    fn key_file_problems_name_the_line_and_never_the_key() {
        assert_eq!(
            parse_identity_keys("\n# only a comment\n"),
            Err(IdentityKeyError::Empty)
        );
        assert_eq!(
            parse_identity_keys("%%%"),
            Err(IdentityKeyError::NotBase64 { line: 1 })
        );
        let session_key = crate::session_keys::generate_key_line();
        let error = parse_identity_keys(&format!("{}\n{session_key}", line()))
            .expect_err("a session key is no P-256 key");
        assert_eq!(error, IdentityKeyError::NotP256 { line: 2 });
        assert!(!error.to_string().contains(&session_key));
    }

    #[test]
    fn debug_output_shows_only_the_key_id() {
        let keys = parse_identity_keys(&line()).expect("valid");
        let shown = format!("{:?}", keys[0]);
        assert_eq!(shown, format!("IdentityKey(kid {})", keys[0].kid()));
    }
}
