//! Session-key lines: the format of the key file both sides write and read.
//!
//! The operator generates the Secret's `session-keys` and keeps what is there;
//! `portcullis-sidecar generate-key` prints a line for people who run the
//! sidecar by hand; the sidecar turns the lines into cookie keys. Generating
//! and checking a line lives here so that all three agree on what a valid
//! file is: one standard-base64 key of at least [`MIN_KEY_BYTES`] bytes per
//! line, blank lines and `#` comments skipped, the first line sealing new
//! cookies.

use base64::{Engine, engine::general_purpose::STANDARD};

/// Fewest random bytes a session key must hold.
pub const MIN_KEY_BYTES: usize = 32;

/// Random bytes in a generated key (more than the minimum).
const GENERATED_KEY_BYTES: usize = 48;

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

/// The keys of a key file, decoded, in file order (the first seals).
pub fn parse_key_file(text: &str) -> Result<Vec<Vec<u8>>, KeyFileError> {
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
        keys.push(bytes);
    }
    if keys.is_empty() {
        return Err(KeyFileError::Empty);
    }
    Ok(keys)
}

/// A new random key line for a key file (without the line break).
pub fn generate_key_line() -> String {
    STANDARD.encode(crate::random::random_bytes(GENERATED_KEY_BYTES))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_lines_parse_and_differ() {
        let (first, second) = (generate_key_line(), generate_key_line());
        assert_ne!(first, second);
        let keys = parse_key_file(&format!("{first}\n\n# old key\n{second}\n")).expect("valid");
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[0].len(), GENERATED_KEY_BYTES);
        assert_eq!(STANDARD.encode(&keys[0]), first);
    }

    #[test]
    fn key_file_problems_name_the_line() {
        assert_eq!(
            parse_key_file("\n# only a comment\n"),
            Err(KeyFileError::Empty)
        );
        assert_eq!(
            parse_key_file("%%%"),
            Err(KeyFileError::NotBase64 { line: 1 })
        );
        assert_eq!(
            parse_key_file(&format!("{}\nc2hvcnQ=", generate_key_line())),
            Err(KeyFileError::TooShort { line: 2, bytes: 5 })
        );
    }
}
