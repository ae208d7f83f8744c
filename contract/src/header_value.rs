//! Which identity values a header carries exactly as the sidecar reads them.
//!
//! The sidecar passes the username and other identity values to the app in
//! headers, and decides who is root admin by comparing the username. Apps
//! trim header values, so ` root` would reach the app as `root` after the
//! sidecar decided it was someone else; a header cannot carry control
//! characters at all. The sidecar refuses such values in claims, and the
//! config refuses them in the root admin's name, by this one rule.

/// True for a value an identity header carries exactly as the sidecar
/// reads it: no surrounding whitespace and no control characters.
pub fn is_header_safe(value: &str) -> bool {
    value.trim() == value && !value.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::is_header_safe;

    #[test]
    fn plain_names_are_safe() {
        for value in ["root", "alice@example.com", "Ann Smith", "ünïcode"] {
            assert!(is_header_safe(value), "{value:?}");
        }
    }

    #[test]
    fn surrounding_spaces_and_control_characters_are_not() {
        for value in [" root", "root ", "root\t", "bell\u{7}user", "line\nbreak"] {
            assert!(!is_header_safe(value), "{value:?}");
        }
    }
}
