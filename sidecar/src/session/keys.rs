//! Session keys: the first seals, every listed key opens.
//!
//! Cookies are sealed with the `cookie` crate's private jar (AES-256-GCM with
//! the cookie name as associated data), never with hand-rolled crypto. Keeping
//! old keys in the list after adding a new one first rotates keys without
//! logging anybody out.

use base64::{Engine, engine::general_purpose::STANDARD};
use cookie::{Cookie, CookieJar, Key};
use std::fmt;

/// Fewest random bytes a session key must hold.
pub const MIN_KEY_BYTES: usize = 32;

/// Why a key file was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyFileError {
    /// No key lines at all.
    #[error(
        "holds no keys (one standard-base64 key per line; `portcullis-sidecar generate-key` prints one)"
    )]
    Empty,
    /// A line is not standard base64.
    #[error("line {line} is not standard base64")]
    NotBase64 {
        /// 1-based line number.
        line: usize,
    },
    /// A line decodes to fewer than [`MIN_KEY_BYTES`] bytes.
    #[error("line {line} holds {bytes} bytes; a key needs at least {MIN_KEY_BYTES}")]
    TooShort {
        /// 1-based line number.
        line: usize,
        /// Decoded length.
        bytes: usize,
    },
}

/// The ordered list of session keys.
#[derive(Clone)]
pub struct KeyRing {
    keys: Vec<Key>,
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyRing({} keys)", self.keys.len())
    }
}

impl KeyRing {
    /// Parses a key file: one standard-base64 key per line; blank lines and `#` comments skipped.
    pub fn parse(text: &str) -> Result<Self, KeyFileError> {
        let mut keys = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let line_no = index + 1;
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bytes = STANDARD
                .decode(line)
                .map_err(|_| KeyFileError::NotBase64 { line: line_no })?;
            if bytes.len() < MIN_KEY_BYTES {
                return Err(KeyFileError::TooShort {
                    line: line_no,
                    bytes: bytes.len(),
                });
            }
            keys.push(Key::derive_from(&bytes));
        }
        if keys.is_empty() {
            return Err(KeyFileError::Empty);
        }
        Ok(Self { keys })
    }

    /// Seals `plaintext` for a cookie called `name` with the first key.
    pub fn seal(&self, name: &str, plaintext: &str) -> String {
        let mut jar = CookieJar::new();
        jar.private_mut(&self.keys[0])
            .add(Cookie::new(name.to_owned(), plaintext.to_owned()));
        jar.get(name)
            .map(|sealed| sealed.value().to_owned())
            .unwrap_or_default()
    }

    /// Opens a sealed value with any key; `None` when no key authenticates it.
    pub fn open(&self, name: &str, sealed: &str) -> Option<String> {
        self.keys.iter().find_map(|key| {
            let jar = CookieJar::new();
            jar.private(key)
                .decrypt(Cookie::new(name.to_owned(), sealed.to_owned()))
                .map(|cookie| cookie.value().to_owned())
        })
    }
}

/// A new random key line for a key file.
pub fn generate_key_line() -> String {
    STANDARD.encode(crate::random::random_bytes(48))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(lines: &[String]) -> KeyRing {
        KeyRing::parse(&lines.join("\n")).expect("valid keys")
    }

    #[test]
    fn sealed_value_opens_with_the_same_ring() {
        let keys = ring(&[generate_key_line()]);
        let sealed = keys.seal("s", "hello");
        assert_ne!(sealed, "hello");
        assert_eq!(keys.open("s", &sealed).as_deref(), Some("hello"));
    }

    #[test]
    fn rotated_ring_opens_cookies_sealed_by_the_old_first_key() {
        let (old, new) = (generate_key_line(), generate_key_line());
        let before = ring(std::slice::from_ref(&old));
        let after = ring(&[new, old]);
        let sealed = before.seal("s", "still logged in");
        assert_eq!(after.open("s", &sealed).as_deref(), Some("still logged in"));
    }

    #[test]
    fn tampered_or_foreign_values_do_not_open() {
        let keys = ring(&[generate_key_line()]);
        let sealed = keys.seal("s", "hello");
        let mut bytes = sealed.clone().into_bytes();
        let middle = bytes.len() / 2;
        bytes[middle] = if bytes[middle] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).expect("ascii");
        assert_eq!(keys.open("s", &tampered), None);
        assert_eq!(keys.open("other-name", &sealed), None);
        assert_eq!(ring(&[generate_key_line()]).open("s", &sealed), None);
        assert_eq!(keys.open("s", "not even base64 !!"), None);
        assert_eq!(keys.open("s", ""), None);
    }

    #[test]
    fn key_file_problems_name_the_line() {
        assert_eq!(
            KeyRing::parse("\n# only a comment\n").err(),
            Some(KeyFileError::Empty)
        );
        assert_eq!(
            KeyRing::parse("%%%").err(),
            Some(KeyFileError::NotBase64 { line: 1 })
        );
        assert_eq!(
            KeyRing::parse(&format!("{}\nc2hvcnQ=", generate_key_line())).err(),
            Some(KeyFileError::TooShort { line: 2, bytes: 5 })
        );
    }
}
