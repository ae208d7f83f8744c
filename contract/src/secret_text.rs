//! What a secret file's content must be, read the same way on both sides.
//!
//! The sidecar reads the client secret (and the root admin's hash) from
//! files the operator fills from Secrets. A value that is empty or only
//! white space would be sent to the provider and refused there, at every
//! login; so the sidecar refuses it at start, and the operator, which reads
//! the same value from the referenced Secret, reports it in `status` by the
//! same rule instead of writing it.

/// The secret in a file's `text`: trailing line breaks removed (editors and
/// `kubectl create secret --from-file` add them), everything else kept.
pub fn secret_text(text: &str) -> Result<&str, BlankSecret> {
    let value = text.trim_end_matches(['\r', '\n']);
    if value.trim().is_empty() {
        Err(BlankSecret)
    } else {
        Ok(value)
    }
}

/// The secret is empty or only white space.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("is empty or only white space")]
pub struct BlankSecret;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_line_breaks_go_and_inner_spaces_stay() {
        assert_eq!(secret_text("s3cret\r\n"), Ok("s3cret"));
        assert_eq!(secret_text(" s3 cret \n"), Ok(" s3 cret "));
    }

    #[test]
    fn blank_secrets_are_refused() {
        for blank in ["", "\n", "   ", "\u{a0}\n", "\t\u{b}"] {
            assert_eq!(secret_text(blank), Err(BlankSecret), "{blank:?}");
        }
    }
}
