//! Session keys: the first seals, every listed key opens.
//!
//! Cookies are sealed with the `cookie` crate's private jar (AES-256-GCM with
//! the cookie name as associated data), never with hand-rolled crypto. Keeping
//! old keys in the list after adding a new one first rotates keys without
//! logging anybody out. The key file's format is the contract crate's
//! [`portcullis_contract::session_keys`]; this module only turns its keys into
//! the cookie crate's.

use cookie::{Cookie, CookieJar, Key};
use portcullis_contract::session_keys::{KeyFileError, parse_key_file};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// The ordered list of session keys.
#[derive(Clone)]
pub struct KeyRing {
    keys: Vec<Key>,
    id: u64,
}

/// Key rings parsed by this process so far: each gets the next number.
static RINGS_PARSED: AtomicU64 = AtomicU64::new(0);

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyRing({} keys)", self.keys.len())
    }
}

impl KeyRing {
    /// Parses a key file: one standard-base64 key per line; blank lines and `#` comments skipped.
    pub fn parse(text: &str) -> Result<Self, KeyFileError> {
        let keys = parse_key_file(text)?;
        Ok(Self {
            keys: keys.iter().map(|bytes| Key::derive_from(bytes)).collect(),
            id: RINGS_PARSED.fetch_add(1, Ordering::Relaxed),
        })
    }

    /// This ring's number in this process: two rings with the same number
    /// are clones of one parse, so they open the same values. Memories of
    /// what a ring opened are bound to it, so a reload (perhaps with a key
    /// removed) never finds what the old ring opened.
    pub fn id(&self) -> u64 {
        self.id
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

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_contract::session_keys::generate_key_line;

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
    fn refused_key_file_gives_the_reason() {
        assert_eq!(
            KeyRing::parse("%%%").err(),
            Some(KeyFileError::NotBase64 { line: 1 })
        );
    }
}
